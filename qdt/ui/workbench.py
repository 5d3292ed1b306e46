"""The workbench: what every dock, dialog and panel of the app may use, in one object.

As napari's ``ViewerModel`` or QGIS's ``QgisInterface``, the :class:`Workbench` owns the state a
panel works on, and the main window only composes the widgets around it: docks and dialogs
get the workbench in their constructor and never read the main window's attributes.

What it owns (attributes):

- ``project`` (:class:`qdt.project.Project` or None) and ``layers`` (its layer list, or empty);
  the selection lives on the layers (``layer.selection``; :meth:`Workbench.select`);
- ``scene`` (:class:`qdt.render.Scene` or None) and ``view`` (the 3D view widget:
  ``request_render()``, ``camera_changed``, ``picked``);
- ``edits`` (:class:`qdt.ui.editing.EditManager`: edit mode per layer) and ``undo_group``
  (its ``QUndoGroup``: Ctrl+Z / Ctrl+Y);
- ``tasks`` (:class:`qdt.ui.tasks.TaskRunner`) and :meth:`Workbench.run_with_progress` (the
  status bar's progress bar and cancel button);
- ``settings`` (``QSettings``), ``panels`` (name → installed panel widget) and ``dialog_parent``
  (the widget to parent dialogs and message boxes on — a parent, not something to read).

Signals:

- ``project_loaded(Project)``: a project's layers are in the scene (also a new untitled one);
- ``layers_changed()``: layers were added to or removed from the project;
- ``picked(PickResult | None)``: a click in the 3D view (after the window updated selection
  and inspector);
- ``camera_changed()``: the camera moved (navigation, fly-to, bookmark, overview click);
- ``message(str, int)``: a status-bar line and its timeout in ms; ``logged(str)``: a message-log
  line; ``error(str, str)``: an error for the user (title, message);
- ``busy(TaskHandle | None, started: bool)``: the task the status bar shows (None when no task
  runs; ``started``: it has just started, else an older one shows again), ``progress(float, str)``
  that task's progress.

New panels (wave 2 and on) do not touch the window: they register a factory with
:func:`qdt.ui.panels.register_panel` and build themselves from the workbench.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from qdt.tasks import Task
from qdt.ui.tasks import TaskHandle, TaskRunner


@dataclass(frozen=True)
class PanelAction:
    """An action a panel contributes: put in the menu titled ``menu`` (created before the menu
    ``before`` when missing) and, when ``toolbar`` is given, on that toolbar (object name)."""

    action: QAction
    menu: str | None = None
    toolbar: str | None = None
    before: str | None = None


class Workbench(QObject):
    """The state panels work on (see the module docstring).

    Parameters
    ----------
    view
        The 3D view widget (``request_render()``, signals ``camera_changed`` and ``picked``).
    dialog_parent
        Parent of the dialogs and message boxes panels open (the main window).
    settings
        Persistent settings (a fresh ``QSettings()`` by default).
    """

    project_loaded = Signal(object)
    layers_changed = Signal()
    picked = Signal(object)
    camera_changed = Signal()
    message = Signal(str, int)
    logged = Signal(str)
    error = Signal(str, str)
    progress = Signal(float, str)
    busy = Signal(object, bool)

    def __init__(self, view: Any, dialog_parent: QWidget | None = None, settings: QSettings | None = None) -> None:
        super().__init__(dialog_parent)
        from qdt.ui.editing import EditManager

        self.view = view
        self.dialog_parent = dialog_parent
        self.settings = settings if settings is not None else QSettings()
        self.project: Any = None
        self.scene: Any = None
        self.tasks = TaskRunner(self)
        # commits run on their own runner: waiting for them (closing) never waits for a long load
        self.edits = EditManager(self, runner=TaskRunner(self))
        self.edits.dialog_parent = dialog_parent
        self.panels: dict[str, QWidget] = {}
        self.actions: list[PanelAction] = []
        self.status_widgets: list[QWidget] = []  # placed at the right of the window's status bar
        self.inspector_widgets: list[QWidget] = []  # placed under the inspector's attribute tree
        self._progress_tasks: list[TaskHandle] = []
        view.camera_changed.connect(self.camera_changed)

    # --- state -----------------------------------------------------------------------------------
    @property
    def layers(self) -> Any:
        """The project's layer list (an empty list without a project)."""
        return self.project.layers if self.project is not None else []

    @property
    def undo_group(self) -> Any:
        """The ``QUndoGroup`` of the layers in edit mode (the active one follows the edited layer)."""
        return self.edits.group

    def vector_layers(self) -> list[Any]:
        from qdt.layers import VectorLayer

        return [layer for layer in self.layers if isinstance(layer, VectorLayer)]

    # --- panels ----------------------------------------------------------------------------------
    def add_action(self, action: QAction, menu: str | None = None, *, toolbar: str | None = None,
                   before: str | None = None) -> QAction:
        """Offer ``action`` in the window's menu ``menu`` and/or on ``toolbar`` (see :class:`PanelAction`).
        Call it from a panel factory; the window places the actions after building the panels."""
        self.actions.append(PanelAction(action, menu, toolbar, before))
        return action

    def add_status_widget(self, widget: QWidget) -> QWidget:
        """Show ``widget`` permanently in the window's status bar (e.g. a broker state); from a panel factory."""
        self.status_widgets.append(widget)
        return widget

    def add_inspector_widget(self, widget: QWidget) -> QWidget:
        """Show ``widget`` in the inspector under the picked feature's attributes (e.g. its history chart)."""
        self.inspector_widgets.append(widget)
        return widget

    # --- view ------------------------------------------------------------------------------------
    def request_render(self) -> None:
        """Ask the 3D view for one render (coalesced; never renders a closed view)."""
        self.view.request_render()

    def notify_camera_moved(self) -> None:
        """Tell everyone the camera moved (a panel that moved it: bookmarks, overview, zoom)."""
        self.camera_changed.emit()

    def fly_to_feature(self, layer: Any, fid: int) -> bool:
        """Frame feature ``fid`` of ``layer`` in the 3D view. False, with a status-bar message,
        when the scene does not draw that feature."""
        if self.scene is None:
            return False
        try:
            self.scene.fly_to_feature(layer, int(fid))
        except KeyError as exc:
            self.show_message(str(exc).strip("'\""), 8000)
            return False
        self.request_render()
        self.notify_camera_moved()
        return True

    def fly_to_extent(self, bounds: Any) -> None:
        """Frame (xmin, ymin, xmax, ymax) in the 3D view."""
        if self.scene is None:
            return
        self.scene.fly_to_extent(tuple(float(v) for v in bounds))
        self.request_render()
        self.notify_camera_moved()

    def select(self, layer: Any, fids: Any) -> None:
        """Make ``fids`` the selection of ``layer`` (views follow its event) and redraw."""
        layer.selection = np.asarray(list(fids), dtype=np.int64).tolist()
        self.request_render()

    # --- messages --------------------------------------------------------------------------------
    def show_message(self, text: str, timeout_ms: int = 8000) -> None:
        self.message.emit(text, int(timeout_ms))

    def log(self, text: str) -> None:
        self.logged.emit(text)

    def report_error(self, title: str, message: str) -> None:
        self.error.emit(title, message)

    # --- long work -------------------------------------------------------------------------------
    def run_with_progress(self, task: Task, connect: Callable[[TaskHandle], Any] | None = None) -> TaskHandle:
        """Run ``task`` on the task runner with the status bar's progress bar and cancel button;
        ``connect(handle)`` connects the caller's slots before the worker starts. With several
        tasks running, the bar and the cancel button belong to the newest; the older ones show
        again when it ends."""

        def setup(handle: TaskHandle) -> None:
            self._progress_tasks.append(handle)
            handle.progress.connect(lambda f, m, h=handle: self._on_progress(f, m, h))
            for sig in (handle.finished, handle.failed, handle.cancelled):
                sig.connect(lambda *_a, h=handle: self._end_progress(h))
            if connect is not None:
                connect(handle)
            self.busy.emit(handle, True)

        return self.tasks.start(task, setup)

    @property
    def busy_handle(self) -> TaskHandle | None:
        """The task the status bar shows (None: none running)."""
        return self._progress_tasks[-1] if self._progress_tasks else None

    def cancel_current(self) -> None:
        """Cancel the task the status bar shows. Also when its worker has just ended: its result is
        still queued, and a cancel the user clicked before seeing it wins."""
        if self.busy_handle is not None:
            self.busy_handle.cancel()

    def cancel_all(self) -> None:
        """Cancel every task shown in the status bar (a new project replaces the old one; closing)."""
        for handle in list(self._progress_tasks):
            handle.cancel()

    def _end_progress(self, handle: TaskHandle) -> None:
        if handle in self._progress_tasks:
            self._progress_tasks.remove(handle)
        self.busy.emit(self.busy_handle, False)

    def _on_progress(self, fraction: float, message: str, handle: TaskHandle) -> None:
        if handle is self.busy_handle:  # an older task under the newest one: the bar shows the newest
            self.progress.emit(fraction, message)
