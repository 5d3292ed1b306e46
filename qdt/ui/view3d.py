"""The 3D view: a QVTKRenderWindowInteractor hosting the render Scene.

Renders are requested, never forced: any number of requests within one event-loop turn
produce one render, and nothing renders into a hidden or closed widget.

Navigation never queues up. A render request starts a zero-interval QTimer, which Qt fires only
after every input event already waiting has been handled; the mouse moves that arrived while a
slow frame (software OpenGL) was drawn therefore all move the camera first (cheap), and one frame
shows the latest state: a tilt stops when the mouse stops. While frames take longer than
:data:`LAG_FRAME_S` a quiet "rendering" label (:attr:`View3D.render_indicator`, shown in the main
window's status bar) is visible during the frame, and hover picking pauses during drags.
"""

from __future__ import annotations

import numpy as np
import PySide6.QtCore  # noqa: F401 - select PySide6 for vtkmodules.qt before importing it
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget
from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTerrain
from vtkmodules.vtkRenderingCore import vtkRenderer

from qdt.render.interaction import QdtInteractorStyle
from qdt.render.offscreen import grab_image

CLICK_TOLERANCE_PX = 4  # a press and release closer than this is a click, not a drag
LAG_FRAME_S = 0.1  # frames slower than this (10 a second) lag behind the mouse: say so


class GuiRelay(QObject):
    """Delivers a scene's layer events on the thread this object lives in (the GUI thread).

    ``deliver(handler, args)`` emits a Qt signal connected to :meth:`_call` with an automatic
    connection: emitted on the GUI thread the handler runs at once (the edit is visible when the
    call returns); emitted on any other thread (a live IoT feed, a worker) Qt queues it to the GUI
    thread's event loop, so VTK objects are only touched where they are drawn.
    """

    _relay = Signal(object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._relay.connect(self._call, Qt.ConnectionType.AutoConnection)

    def deliver(self, handler, args: tuple) -> None:  # noqa: ANN001 - any callable
        self._relay.emit(handler, args)

    def _call(self, handler, args: tuple) -> None:  # noqa: ANN001
        handler(*args)


class View3D(QWidget):
    """Signals: ``picked(object)`` with a PickResult or None after a click on the view;
    ``cursor_moved(object)`` with world (x, y, z) under the cursor or None."""

    picked = Signal(object)
    cursor_moved = Signal(object)
    camera_changed = Signal()
    camera_shown = Signal()  # a frame shows a camera that moved since the last frame (any cause)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.vtk_widget = QVTKRenderWindowInteractor(self)
        layout.addWidget(self.vtk_widget)
        self.renderer = vtkRenderer()
        self.render_window = self.vtk_widget.GetRenderWindow()
        # The scene uses FXAA and depth peeling; both need a single-sampled framebuffer
        # (with VTK's default 8 samples the on-screen image stays black on Mesa).
        self.render_window.SetMultiSamples(0)
        self.render_window.SetAlphaBitPlanes(True)
        self.render_window.AddRenderer(self.renderer)
        self.interactor = self.render_window.GetInteractor()
        self.interactor.SetInteractorStyle(vtkInteractorStyleTerrain())
        self.scene = None
        self.relay = GuiRelay(self)
        self._closed = False
        self._render_pending = False
        self.last_frame_s = 0.0
        self.frames = 0  # frames drawn (tests and benchmarks read it)
        from qdt.ui.i18n import tr

        self.render_indicator = QLabel(tr("渲染中…"))
        self.render_indicator.setObjectName("render_indicator")
        self.render_indicator.setStyleSheet("color: #888;")
        self.render_indicator.hide()
        # a real zero timer (not a posted call): it fires after the input events already queued
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(0)
        self._render_timer.timeout.connect(self._render_now)
        self._indicator_timer = QTimer(self)  # the label goes when the view has been still a moment
        self._indicator_timer.setSingleShot(True)
        self._indicator_timer.setInterval(300)
        self._indicator_timer.timeout.connect(self._hide_indicator)
        self._press_pos: tuple[int, int] | None = None
        self._hover_pos: tuple[int, int] | None = None
        self._hover_timer = QTimer(self)
        self._hover_timer.setSingleShot(True)
        self._hover_timer.setInterval(60)  # pick under the cursor at most ~16 times a second
        self._hover_timer.timeout.connect(self._report_cursor)
        self.interactor.AddObserver("LeftButtonPressEvent", self._on_press, 1.0)
        self.interactor.AddObserver("LeftButtonReleaseEvent", self._on_release, 1.0)
        self.interactor.AddObserver("MouseMoveEvent", self._on_move, 1.0)
        self.interactor.AddObserver("EndInteractionEvent", lambda *_: self.camera_changed.emit())
        self.interactor.AddObserver("MouseWheelForwardEvent", lambda *_: self.camera_changed.emit(), -1.0)
        self.interactor.AddObserver("MouseWheelBackwardEvent", lambda *_: self.camera_changed.emit(), -1.0)
        self.vtk_widget.Initialize()

    # --- scene ------------------------------------------------------------------------
    def set_scene(self, scene) -> None:  # noqa: ANN001 - qdt.render.scene.Scene
        self.scene = scene
        scene.request_render = self.request_render
        scene.deliver = self.relay.deliver  # layer events reach the scene on the GUI thread
        # map navigation (pan under the cursor, orbit, zoom to the cursor, speed scaled by distance);
        # the view keeps the reference VTK does not hold
        self.style = QdtInteractorStyle(scene)
        self.interactor.SetInteractorStyle(self.style)
        self.request_render()

    # --- coalesced rendering --------------------------------------------------------------
    def request_render(self) -> None:
        if self._closed or self._render_pending:
            return
        self._render_pending = True
        if self.last_frame_s > LAG_FRAME_S:
            self.render_indicator.show()
        self._render_timer.start()

    def _render_now(self) -> None:
        import time

        self._render_pending = False
        if self._closed or not self.isVisible():
            return
        start = time.perf_counter()
        self.render_window.Render()
        self.last_frame_s = time.perf_counter() - start
        self.frames += 1
        camera_time = self.renderer.GetActiveCamera().GetMTime()
        if camera_time != getattr(self, "_camera_time", None):
            self._camera_time = camera_time
            self.camera_shown.emit()
        if self.last_frame_s <= LAG_FRAME_S:
            self.render_indicator.hide()
        else:
            self._indicator_timer.start()

    def _hide_indicator(self) -> None:
        if not self._render_pending:
            self.render_indicator.hide()

    def render_image(self) -> np.ndarray:
        """Render now and return the window's image as (h, w, 3) uint8, top row first."""
        self.render_window.Render()
        return grab_image(self.render_window)

    # --- mouse -----------------------------------------------------------------------------
    def _event_pos(self) -> tuple[int, int]:
        x, y = self.interactor.GetEventPosition()
        return int(x), int(y)

    def _on_press(self, *_: object) -> None:
        self._press_pos = self._event_pos()

    def _on_release(self, *_: object) -> None:
        if self._press_pos is None:
            return
        x0, y0 = self._press_pos
        x1, y1 = self._event_pos()
        self._press_pos = None
        if abs(x1 - x0) <= CLICK_TOLERANCE_PX and abs(y1 - y0) <= CLICK_TOLERANCE_PX:
            self.pick_at(x1, y1)

    def pick_at(self, x: int, y: int) -> object:
        """Pick at VTK display coordinates (origin bottom-left) and emit ``picked``."""
        result = self.scene.pick(x, y) if self.scene is not None else None
        self.picked.emit(result)
        return result

    def _on_move(self, *_: object) -> None:
        style = getattr(self, "style", None)
        if style is not None and getattr(style, "_dragging", False):
            return  # no hover picks while the user drags: every millisecond goes to the frame
        self._hover_pos = self._event_pos()
        if not self._hover_timer.isActive():
            self._hover_timer.start()

    def _report_cursor(self) -> None:
        if self.scene is None or self._hover_pos is None or self._closed:
            return
        result = self.scene.pick(*self._hover_pos)
        self.cursor_moved.emit(None if result is None else tuple(result.world_xyz))

    # --- lifetime ----------------------------------------------------------------------------
    def close_view(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._hover_timer.stop()
        self._render_timer.stop()
        self._indicator_timer.stop()
        if self.scene is not None:
            self.scene.close()
            self.scene = None
        self.render_window.Finalize()
        self.vtk_widget.Finalize()

    def closeEvent(self, event) -> None:  # noqa: ANN001, N802
        self.close_view()
        super().closeEvent(event)

