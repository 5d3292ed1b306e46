"""QDT main window: 3D view in the centre, layer tree, inspector, bookmarks and message log docks,
measure tools, status bar.

The window composes; the state lives in its :class:`~qdt.ui.workbench.Workbench` (``workbench``:
project, layers, edits and undo group, task runner, settings, scene), which every dock and dialog
gets instead of the window. Data panels come from the registry in :mod:`qdt.ui.panels`.

Project state the user can change (layers, visibility, opacity, styles, camera, bookmarks) marks
the project modified (``*`` in the title); closing or opening another project with unsaved
changes asks first. Long work (opening a project, reading added layers) runs on the task runner
with a progress bar and a cancel button in the status bar.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qdt.crs import to_lonlat
from qdt.project import Camera, LayerEntry, Project, ProjectError, attach_layers, load_project, open_layers
from qdt.project import save_project as write_project
from qdt.tasks import Task, check_cancel
from qdt.ui.bookmarks import BookmarksDock
from qdt.ui.db_refresh import attach_view_window_loading
from qdt.ui.export_dialog import add_export_actions
from qdt.ui.i18n import LANGUAGES, language, tr
from qdt.ui.inspector import InspectorDock
from qdt.ui.layertree import LayerTreeDock
from qdt.ui.measure import MeasureDock, MeasureTool
from qdt.ui.panels import install_panels
from qdt.ui.resources import app_icon, icon
from qdt.ui.style_dialog import StyleDialog
from qdt.ui.tasks import TaskHandle
from qdt.ui.tiles_streaming import attach_tile_streaming
from qdt.ui.view3d import View3D
from qdt.ui.workbench import Workbench

RECENT_KEY = "recentProjects"
RECENT_MAX = 10
# OGC "standardized rendering pixel" of 0.28 mm (OGC 05-077r4 SLD/SE §10.2; also WMTS), used by
# QGIS too, to turn metres per pixel into a map scale
PIXEL_SIZE_M = 0.00028
CAMERA_TOLERANCE_M = 0.01  # a camera moved less than this is where it was (clicks end "interactions" too)


def app_title() -> str:
    return tr("QDT 青岛数字底板")


class MainWindow(QMainWindow):
    """Signals: ``project_loaded(Project)`` when a project's layers are in the scene;
    ``project_failed(str)`` when a project cannot be opened; ``project_saved(Path)``;
    ``layers_added(list[Layer], list[str])`` after adding layers (the layers, the error messages)."""

    project_loaded = Signal(object)
    project_failed = Signal(str)
    project_saved = Signal(object)
    layers_added = Signal(object, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{app_title()}[*]")
        self.setWindowIcon(app_icon())
        self.resize(1400, 900)
        self.setAcceptDrops(True)
        self._load_handle: TaskHandle | None = None
        self._shown_task: TaskHandle | None = None  # the task the status bar shows
        self._clean_camera: dict[str, Any] | None = None
        self._closed = False

        self.view = View3D(self)
        self.setCentralWidget(self.view)
        self.workbench = bench = Workbench(self.view, self)
        self.layer_tree = LayerTreeDock(self)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.layer_tree)
        self.inspector = InspectorDock(self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.inspector)
        self.bookmarks = BookmarksDock(bench)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.bookmarks)
        self.bookmarks.hide()
        self.measure = MeasureTool(bench)
        self.measure_dock = MeasureDock(self.measure, self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.measure_dock)
        self.measure_dock.hide()
        self.log_dock = QDockWidget(tr("消息日志"), self)
        self.log_dock.setObjectName("MessageLogDock")
        self.log = QPlainTextEdit(self.log_dock)
        self.log.setReadOnly(True)
        self.log_dock.setWidget(self.log)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.log_dock.hide()

        self._build_actions()
        from qdt.ui.statusbar import ElidingStatusBar

        self.setStatusBar(ElidingStatusBar(self))  # long messages never cover the coordinates
        self._build_status_bar()
        self.view.camera_shown.connect(self._show_camera)  # programmatic moves too (fly to, bookmarks)
        self.view.cursor_moved.connect(self._show_cursor)
        bench.camera_changed.connect(self.camera_moved)
        self.view.picked.connect(self._on_picked)
        # after the window's selection and inspector update; measuring clicks place points, they do not
        # choose features, so the panels (the attribute table's layer and filter) do not hear them
        self.view.picked.connect(lambda result: None if self.measure.active else bench.picked.emit(result))
        bench.message.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        bench.logged.connect(self._log)
        bench.error.connect(self._report_error)
        bench.progress.connect(self._on_progress)
        bench.busy.connect(self._on_busy)
        self.layer_tree.zoom_to_layer.connect(self.zoom_to_layer)
        self.layer_tree.style_requested.connect(self.edit_style)
        self.layer_tree.remove_requested.connect(self.remove_entry)
        self.bookmarks.changed.connect(self.mark_modified)
        self.measure.result.connect(self._show_measure)
        self.measure_dock.query_button.clicked.connect(lambda: self.query_drawn_shape())
        data_toolbar = self.addToolBar(tr("数据工具栏"))
        data_toolbar.setObjectName("DataToolBar")
        install_panels(self, bench, self.panels_menu)
        self.inspector.set_edit_manager(bench.edits)
        if "charts" in bench.panels:  # the inspector keeps most of the right column; the charts need less
            self.resizeDocks([self.inspector, bench.panels["charts"]], [560, 320], Qt.Orientation.Vertical)
        # windowed layers (a database) load only what the camera sees, refreshed off the GUI thread as
        # it moves, and learn of other workstations' commits
        self.db_refresher = attach_view_window_loading(bench)
        self.db_refresher.listen()
        # 3D Tiles layers load for the camera in the background (a GUI-thread timer, loader threads)
        self.tile_streaming = attach_tile_streaming(bench)

    # --- the workbench's state, for scripts and tests (docks use the workbench itself) ---------
    @property
    def project(self) -> Project | None:
        return self.workbench.project

    @project.setter
    def project(self, project: Project | None) -> None:
        self.workbench.project = project

    @property
    def scene(self) -> Any:
        return self.workbench.scene

    @scene.setter
    def scene(self, scene: Any) -> None:
        self.workbench.scene = scene

    @property
    def tasks(self) -> Any:
        return self.workbench.tasks

    @property
    def edits(self) -> Any:
        return self.workbench.edits

    @property
    def panels(self) -> dict[str, Any]:
        return self.workbench.panels

    @property
    def panels_actions(self) -> dict[str, QAction]:
        """The data panels' main actions by name (``"query"``, ``"undo"``, ``"redo"``, ``"table"``)."""
        out: dict[str, QAction] = {}
        for panel in self.workbench.panels.values():
            out.update(getattr(panel, "panel_actions", {}))
        return out

    def has_uncommitted_edits(self) -> bool:
        return self.workbench.edits.has_uncommitted_edits()

    def confirm_uncommitted_edits(self) -> bool:
        """Ask what to do with uncommitted edits; True when the caller may go on."""
        return self.workbench.edits.confirm_close()

    # --- actions, menus, toolbar ---------------------------------------------------------
    def _action(self, text: str, slot, icon_name: str | None = None, shortcut=None, tip: str = "") -> QAction:  # noqa: ANN001
        act = QAction(text, self)
        if icon_name:
            act.setIcon(icon(icon_name))
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.setStatusTip(tip or text.split("(")[0])
        act.setToolTip(tip or text.split("(")[0])
        act.triggered.connect(slot)
        return act

    def _build_actions(self) -> None:
        a = self._action
        self.act_open = a(tr("打开项目(&O)…"), self.choose_project, "open", QKeySequence.StandardKey.Open,
                          tr("打开 QDT 项目文件 (.qdt)"))
        self.act_save = a(tr("保存项目(&S)"), self.save, "save", QKeySequence.StandardKey.Save, tr("保存当前项目"))
        self.act_save_as = a(tr("项目另存为(&A)…"), self.save_as, "save_as", "Ctrl+Shift+S",
                             tr("将项目保存到新的文件"))
        self.act_add_layer = a(tr("添加图层(&L)…"), self.choose_layers, "add_layer", "Ctrl+L",
                               tr("从文件添加图层（GeoPackage、Shapefile、GeoJSON、GeoTIFF、CityJSON）"))
        self.act_remove_layer = a(tr("移除图层(&R)"), self.remove_current_layer, "remove_layer", None,
                                  tr("从项目中移除所选图层"))
        self.act_quit = a(tr("退出(&Q)"), self.close, None, QKeySequence.StandardKey.Quit)
        self.act_full = a(tr("全图显示(&F)"), self.zoom_full, "zoom_full", "Home", tr("缩放到全部图层"))
        self.act_north = a(tr("正北朝上(&N)"), self.north_up, "north_up", "N", tr("视图旋转为正北朝上"))
        self.act_underground = a(tr("地下模式(&U)"), self.set_underground, "underground", "U",
                                 tr("地表与建筑半透明，显示地下管线"))
        self.act_underground.setCheckable(True)
        self.act_zoom_layer = a(tr("缩放到图层(&Z)"), self._zoom_current_layer, "zoom_layer", "Ctrl+Shift+L",
                                tr("缩放到所选图层"))
        self.act_add_bookmark = a(tr("新建空间书签(&B)"), self.bookmarks.add_current, "bookmark", "Ctrl+B",
                                  tr("以当前视图新建空间书签"))
        self.act_measure = {
            "distance": a(tr("测量距离(&D)"), lambda on: self.set_measure_mode("distance" if on else None),
                          "measure_distance", "Ctrl+Shift+M", tr("测量水平距离与空间距离")),
            "area": a(tr("测量面积(&E)"), lambda on: self.set_measure_mode("area" if on else None),
                      "measure_area", "Ctrl+Shift+J", tr("测量水平面积")),
            "height": a(tr("测量高度(&H)"), lambda on: self.set_measure_mode("height" if on else None),
                        "measure_height", "Ctrl+Shift+H", tr("测量建筑高出地面的高度")),
        }
        self.measure_group = QActionGroup(self)
        self.measure_group.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
        for act in self.act_measure.values():
            act.setCheckable(True)
            self.measure_group.addAction(act)
        self.act_stop_measure = a(tr("结束测量"), lambda: self.set_measure_mode(None), None, "Escape")

        menu = self.menuBar()
        file_menu = menu.addMenu(tr("文件(&F)"))
        file_menu.addAction(self.act_open)
        self.recent_menu = file_menu.addMenu(tr("最近的项目(&R)"))
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addAction(self.act_save)
        file_menu.addAction(self.act_save_as)
        file_menu.addSeparator()
        self.export_actions = add_export_actions(self.workbench, file_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        layer_menu = menu.addMenu(tr("图层(&L)"))
        layer_menu.addAction(self.act_add_layer)
        layer_menu.addAction(a(tr("添加 PostGIS 图层(&D)…"), self.choose_database_layers, "add_layer", None,
                               tr("从共享的 PostGIS 数据库添加图层（按视图范围加载）")))
        layer_menu.addAction(self.act_remove_layer)
        layer_menu.addAction(a(tr("图层样式(&Y)…"), self._style_current_layer, "style", "Ctrl+Shift+Y",
                               tr("设置所选图层的样式与不透明度")))
        layer_menu.addAction(self.act_zoom_layer)
        view_menu = menu.addMenu(tr("视图(&V)"))
        view_menu.addAction(self.act_full)
        view_menu.addAction(self.act_north)
        view_menu.addAction(self.act_underground)
        view_menu.addSeparator()
        for act in self.act_measure.values():
            view_menu.addAction(act)
        view_menu.addSeparator()
        view_menu.addAction(self.act_add_bookmark)
        self.panels_menu = view_menu.addMenu(tr("面板(&P)"))
        for dock in (self.layer_tree, self.inspector, self.bookmarks, self.measure_dock, self.log_dock):
            self.panels_menu.addAction(dock.toggleViewAction())
        self.bookmarks.toggleViewAction().setShortcut(QKeySequence("Ctrl+Shift+B"))
        settings_menu = menu.addMenu(tr("设置(&S)"))
        lang_menu = settings_menu.addMenu(tr("界面语言(&L)"))
        self.language_group = QActionGroup(self)
        chosen = str(QSettings().value("ui/language", language()))
        self.language_actions: dict[str, QAction] = {}
        for code, name in LANGUAGES.items():
            act = QAction(name, self, checkable=True)
            act.setChecked(code == chosen)
            act.triggered.connect(lambda _checked=False, c=code: self.choose_language(c))
            self.language_group.addAction(act)
            lang_menu.addAction(act)
            self.language_actions[code] = act
        help_menu = menu.addMenu(tr("帮助(&H)"))
        help_menu.addAction(a(tr("关于 QDT(&A)"), self._about))
        self.addAction(self.act_stop_measure)

        tb = self.addToolBar(tr("主工具栏"))
        tb.setObjectName("MainToolBar")
        for act in (self.act_open, self.act_save, self.act_add_layer):
            tb.addAction(act)
        tb.addSeparator()
        for act in (self.act_full, self.act_north, self.act_underground, self.act_add_bookmark):
            tb.addAction(act)
        mtb = self.addToolBar(tr("测量工具栏"))
        mtb.setObjectName("MeasureToolBar")
        for act in self.act_measure.values():
            mtb.addAction(act)

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.coord_label = QLabel("")
        self.coord_label.setMinimumWidth(420)
        self.camera_label = QLabel("")
        self.crs_label = QLabel("EPSG:4549 · " + tr("1985国家高程基准"))
        self.crs_label.setToolTip(tr("CGCS2000 / 3度带高斯-克吕格 中央经线120°E；高程 1985国家高程基准 (EPSG:5737)"))
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(200)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.cancel_button = QToolButton()
        self.cancel_button.setText(tr("取消"))
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel_loading)
        sb.addPermanentWidget(self.view.render_indicator)  # "rendering" while frames lag the mouse
        sb.addPermanentWidget(self.coord_label)
        sb.addPermanentWidget(self.camera_label)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_button)
        sb.addPermanentWidget(self.crs_label)

    # --- modified state --------------------------------------------------------------------------
    def mark_modified(self, *_: object) -> None:
        """The project differs from its file (any change the project file stores)."""
        if self.project is not None:
            self.project.dirty = True

    def _dirty_changed(self, dirty: bool) -> None:
        self.setWindowModified(bool(dirty))

    def _update_title(self) -> None:
        name = self.project.name if self.project is not None else ""
        where = f" ({self.project.path.name})" if self.project is not None and self.project.path else ""
        self.setWindowTitle(f"{name}{where}[*] — {app_title()}" if name else f"{app_title()}[*]")
        self.setWindowModified(bool(self.project and self.project.dirty))

    def _watch_layer(self, layer: Any) -> None:
        for event in (layer.events.visible, layer.events.opacity, layer.events.style, layer.events.name):
            event.connect(self.mark_modified)

    def _unwatch_layer(self, layer: Any) -> None:
        for event in (layer.events.visible, layer.events.opacity, layer.events.style, layer.events.name):
            event.disconnect(self.mark_modified)

    def camera_moved(self) -> None:
        """The camera may have moved (navigation, bookmark, zoom): update the status bar and the
        modified state (the camera is saved with the project)."""
        self._show_camera()
        if self.scene is None or self.project is None:
            return
        state = self.scene.camera_state()
        if self._clean_camera is None or any(
                np.linalg.norm(np.subtract(state[k], self._clean_camera[k])) > CAMERA_TOLERANCE_M
                for k in ("position", "focal_point")):
            self.mark_modified()

    def ask_unsaved_changes(self) -> QMessageBox.StandardButton:
        """Ask whether to save the modified project: Save, Discard or Cancel."""
        box = QMessageBox(QMessageBox.Icon.Question, tr("保存更改"),
                          tr("项目“{name}”已修改。是否保存更改？").format(name=self.project.name),
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("UnsavedChangesBox")
        box.button(QMessageBox.StandardButton.Save).setText(tr("保存"))
        box.button(QMessageBox.StandardButton.Discard).setText(tr("不保存"))
        box.button(QMessageBox.StandardButton.Cancel).setText(tr("取消"))
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        return QMessageBox.StandardButton(box.exec())

    def maybe_save(self) -> bool:
        """True when the current project may be closed (saved, discarded, or unmodified)."""
        if not self.confirm_uncommitted_edits():
            return False
        if self.project is None or not self.project.dirty:
            return True
        answer = self.ask_unsaved_changes()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    # --- projects ------------------------------------------------------------------------------
    def choose_project(self) -> None:
        if not self.maybe_save():
            return
        start = str(self.project.base_dir) if self.project else str(Path.cwd())
        path, _ = QFileDialog.getOpenFileName(self, tr("打开项目"), start, tr("QDT 项目") + " (*.qdt);;"
                                              + tr("所有文件") + " (*)")
        if path:
            self.open_project(path)

    @staticmethod
    def recent_projects() -> list[str]:
        value = QSettings().value(RECENT_KEY, []) or []
        return [str(v) for v in ([value] if isinstance(value, str) else value)]

    def _remember(self, path: Path) -> None:
        recent = [p for p in self.recent_projects() if p != str(path)]
        QSettings().setValue(RECENT_KEY, [str(path), *recent][:RECENT_MAX])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_projects()
        for i, path in enumerate(recent):
            act = self.recent_menu.addAction(f"&{(i + 1) % 10} {path}")
            act.setEnabled(os.path.exists(path))
            act.triggered.connect(lambda _c=False, p=path: self.open_recent(p))
        if not recent:
            self.recent_menu.addAction(tr("（无）")).setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction(tr("清除列表"), lambda: QSettings().setValue(RECENT_KEY, []))

    def open_recent(self, path: str) -> None:
        if self.maybe_save():
            self.open_project(path)

    def open_project(self, path: str | Path) -> TaskHandle | None:
        """Parse the project now, open its layers on a worker thread, then build the scene here."""
        try:
            project = load_project(path)
        except ProjectError as exc:
            self._report_error(tr("无法打开项目"), str(exc))
            self.project_failed.emit(str(exc))
            return None
        self.cancel_all_tasks()
        task = Task(tr("正在打开项目 {name}…").format(name=project.name),
                    lambda progress, cancelled: open_layers(project, progress, cancelled))

        def connect(handle: TaskHandle) -> None:
            self._load_handle = handle
            handle.finished.connect(self._on_project_opened)
            handle.failed.connect(self._on_project_failed)
            handle.cancelled.connect(lambda: self.statusBar().showMessage(tr("已取消打开项目"), 5000))

        return self.run_with_progress(task, connect)

    def run_with_progress(self, task: Task, connect: Any) -> TaskHandle:
        """Run a task with the status bar's progress bar and cancel button (see
        :meth:`qdt.ui.workbench.Workbench.run_with_progress`)."""
        return self.workbench.run_with_progress(task, connect)

    @property
    def _busy(self) -> TaskHandle | None:
        """The task the status bar's progress bar and cancel button show (None: none running)."""
        return self.workbench.busy_handle

    def cancel_loading(self) -> None:
        """Cancel the task the status bar shows (opening a project, reading layers, a query ...)."""
        self.workbench.cancel_current()

    def cancel_all_tasks(self) -> None:
        """Cancel every running task (a new project replaces the old one; the window closes)."""
        self.workbench.cancel_all()
        if self._load_handle is not None:
            self._load_handle.cancel()

    def _on_busy(self, handle: TaskHandle | None, started: bool) -> None:
        """The status bar follows the newest running task (none: bar and cancel button hidden)."""
        self._shown_task = handle
        if handle is None:
            self.progress.hide()
            self.cancel_button.hide()
            return
        if started:
            self.progress.setValue(0)
            self.progress.show()
        self.cancel_button.setVisible(handle.task.cancellable)
        self.statusBar().showMessage(handle.task.title)

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        if message:
            self.statusBar().showMessage(tr("正在读取 {name}…").format(name=message))

    def _on_project_failed(self, message: str, details: str) -> None:
        self._log(details)
        self._report_error(tr("无法打开项目"), message)
        self.project_failed.emit(message)

    def _close_project(self) -> None:
        self.set_measure_mode(None)
        if self.project is not None:
            self.project.events.dirty.disconnect(self._dirty_changed)
            for layer in self.project.layers:
                self._unwatch_layer(layer)
        if self.scene is not None:
            self.scene.close()
            self.scene = None
        self.inspector.show_pick(None)

    def _new_scene(self, project: Project) -> None:
        from qdt.render.scene import Scene

        self.scene = Scene(project.layers, renderer=self.view.renderer)
        self.view.set_scene(self.scene)

    def _on_project_opened(self, project: Project) -> None:
        self._close_project()
        self.project = project
        attach_layers(project)
        self._new_scene(project)
        self.layer_tree.set_project(project)
        self.bookmarks.refresh()
        if project.camera is not None:
            self.scene.set_camera(project.camera)
        else:
            self.scene.frame_all()
        if project.ui.get("underground"):
            self.set_underground(True)
        else:
            self.set_underground(False)
        self.crs_label.setText(f"{project.crs} · " + tr("1985国家高程基准"))
        self.view.request_render()
        for entry in project.entries:
            for w in entry.warnings:
                self._log(f"[{entry.name}] {w}")
            if entry.layer is not None:
                self._watch_layer(entry.layer)
        bad = project.unavailable
        if bad:
            lines = "\n".join(e.error or e.name for e in bad)
            self._log(lines)
            box = QMessageBox(QMessageBox.Icon.Warning, tr("部分图层不可用"),
                              tr("{n} 个图层无法加载，已标记为不可用：").format(n=len(bad)) + f"\n{lines}",
                              parent=self)
            box.setObjectName("UnavailableLayersBox")
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()  # non-modal: the window stays usable
        if any(e.needs_fix for e in project.entries):
            self.offer_table_fixes()
        self.offer_server_approval()
        n = len(project.layers)
        self.statusBar().showMessage(tr("已打开项目 {name}：{n} 个图层").format(name=project.name, n=n), 8000)
        self._show_camera()
        self._clean_camera = self.scene.camera_state()
        project.dirty = False
        project.events.dirty.connect(self._dirty_changed)
        self._update_title()
        if project.path is not None:
            self._remember(project.path)
        self.workbench.project_loaded.emit(project)  # the panels first, then the window's listeners
        self.project_loaded.emit(project)

    def offer_server_approval(self) -> None:
        """Database servers a (shared) project names that the user never approved: QDT did not
        connect, so no stored password went to them. Ask once; a yes is remembered and the
        project reopens (a non-modal question: the window stays usable)."""
        from qdt.io.postgis.connection import (
            DatabaseError,
            approve_server,
            conninfo_of,
            is_database_source,
            unapproved_servers,
        )

        pending: dict[str, list[str]] = {}
        for entry in self.project.unavailable if self.project is not None else []:
            if not is_database_source(entry.source):
                continue
            try:
                conninfo = conninfo_of(entry.source)
                servers = unapproved_servers(conninfo)
            except DatabaseError:
                continue
            if servers:
                pending[conninfo] = servers
        if not pending:
            return
        hosts = sorted({h for servers in pending.values() for h in servers})
        box = QMessageBox(QMessageBox.Icon.Question, tr("连接未确认的数据库服务器？"),
                          tr("此项目要求连接以下数据库服务器，QDT 从未连接过它们，因此尚未连接。"
                             "连接时，您保存的数据库密码（.pgpass 或 PGPASSWORD）可能发送给它们。是否信任并连接？")
                          + "\n" + "\n".join(hosts),
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setObjectName("ServerApprovalBox")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def approve() -> None:
            for conninfo in pending:
                approve_server(conninfo, remember=True)
            if self.project is not None and self.project.path is not None and not self.project.dirty:
                self.open_project(self.project.path)

        box.accepted.connect(approve)
        box.open()

    def offer_table_fixes(self) -> None:
        """Database tables that lack a primary key (unavailable) or a spatial index (slow): offer to
        create them, as ``qdt db fix`` does (a non-modal question: the window stays usable)."""
        entries = [e for e in self.project.entries if e.needs_fix] if self.project is not None else []
        if not entries:
            return
        missing = {"primary key": tr("主键"), "spatial index": tr("空间索引")}
        lines = "\n".join(f"{e.name} ({e.layer_name})：" + tr("缺少") + missing.get(e.needs_fix, e.needs_fix)
                          for e in entries)
        box = QMessageBox(QMessageBox.Icon.Question, tr("数据库表需要修复"),
                          tr("以下数据库表缺少 QDT 需要的结构，是否现在创建？") + f"\n{lines}",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setObjectName("TableFixBox")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.accepted.connect(lambda: self.fix_database_tables(entries))
        box.open()

    def fix_database_tables(self, entries: list[LayerEntry]) -> TaskHandle:
        """Add the missing primary keys / spatial indexes of ``entries``' tables on a worker, then
        reopen the project so the repaired layers load."""
        from qdt.io.postgis import conninfo_of, fix_table, split_layer
        from qdt.project.loading import layer_source

        jobs = []
        for entry in entries:
            schema, table = split_layer(layer_source(entry).layer)
            jobs.append((conninfo_of(entry.source), schema, table))

        def work(progress: Any, cancelled: Any) -> list[str]:
            done: list[str] = []
            for i, (conninfo, schema, table) in enumerate(jobs):
                check_cancel(cancelled)
                progress(i / len(jobs), f"{schema}.{table}")
                done += fix_table(conninfo, schema, table)
            return done

        def finished(done: list[str]) -> None:
            for line in done:
                self._log(line)
            self.statusBar().showMessage(tr("已修复 {n} 处数据库表结构").format(n=len(done)), 8000)
            if self.project is not None and self.project.path is not None and not self.project.dirty:
                self.open_project(self.project.path)

        def connect(handle: TaskHandle) -> None:
            handle.finished.connect(finished)
            handle.failed.connect(lambda message, _d: self._report_error(tr("无法修复数据库表"), message))

        return self.run_with_progress(Task(tr("正在修复数据库表…"), work), connect)

    def _ensure_project(self) -> Project:
        """The current project, or a new untitled one (layers added before any project is open)."""
        if self.project is None:
            project = Project(name=tr("未命名项目"))
            self._close_project()
            self.project = project
            self._new_scene(project)
            self.layer_tree.set_project(project)
            self.bookmarks.refresh()
            project.events.dirty.connect(self._dirty_changed)
            self._update_title()
        return self.project

    def save(self) -> bool:
        """Save to the project's file (asks for a name when it has none)."""
        if self.project is None:
            return False
        if self.project.path is None:
            return self.save_as()
        return self.save_project(self.project.path)

    def save_as(self) -> bool:
        if self.project is None:
            return False
        start = str(self.project.path or (Path.cwd() / f"{self.project.name}.qdt"))
        path, _ = QFileDialog.getSaveFileName(self, tr("项目另存为"), start, tr("QDT 项目") + " (*.qdt)")
        if not path:
            return False
        return self.save_project(path)

    def save_project(self, path: str | Path) -> bool:
        """Write the project (camera, UI state, layers' visibility/opacity/styles, bookmarks) atomically
        to ``path`` (``.qdt`` added when missing); the file's paths become relative to it."""
        if self.project is None:
            return False
        path = Path(path)
        if path.suffix.lower() != ".qdt":
            path = path.with_name(path.name + ".qdt")
        if self.scene is not None and self.scene.origin is not None:
            self.project.camera = Camera.from_dict(self.scene.camera_state())
        self.project.ui = {**self.project.ui, "underground": self.act_underground.isChecked()}
        try:
            target = write_project(self.project, path)
        except ProjectError as exc:
            self._report_error(tr("无法保存项目"), str(exc))
            return False
        if self.scene is not None:
            self._clean_camera = self.scene.camera_state()
        self._update_title()
        self._remember(target)
        self.statusBar().showMessage(tr("已保存项目 {path}").format(path=target), 8000)
        self.project_saved.emit(target)
        return True

    # --- adding and removing layers -------------------------------------------------------------
    def choose_layers(self) -> None:
        start = str(self.project.base_dir) if self.project else str(Path.cwd())
        filters = (tr("空间数据") + " (*.gpkg *.shp *.geojson *.json *.tif *.tiff *.gml *.ifc);;"
                   + tr("三维模型") + " (tileset.json *.gml *.citygml *.ifc *.city.json);;" + tr("所有文件") + " (*)")
        paths, _ = QFileDialog.getOpenFileNames(self, tr("添加图层"), start, filters)
        if paths:
            self.add_layer_files(paths)

    def choose_database_layers(self) -> None:
        """Layer → 添加 PostGIS 图层: a connection (libpq service or ``host=… dbname=…``, never a
        password), then the tables to add, as QGIS's data source manager."""
        from PySide6.QtWidgets import QLineEdit

        from qdt.io import ReadError, list_layers
        from qdt.io.postgis import URI_PREFIX

        last = str(QSettings().value("db/last_connection", "service=")) or "service="
        text, ok = QInputDialog.getText(self, tr("添加 PostGIS 图层"),
                                        tr("连接（libpq 服务名 service=… 或 host=… dbname=… user=…；密码放在 "
                                           ".pgpass 或环境变量中）"), QLineEdit.EchoMode.Normal, last)
        if not ok or not text.strip():
            return
        uri = URI_PREFIX + text.strip()
        try:
            tables = list_layers(uri)  # catalogue query: quick, and the user waits for the list anyway
        except (ReadError, ValueError) as exc:
            self._report_error(tr("无法连接数据库"), str(exc))
            return
        QSettings().setValue("db/last_connection", text.strip())
        if not tables:
            self._report_error(tr("无法添加图层"), tr("数据库中没有空间表：") + text.strip())
            return
        chosen = self._choose_sublayers(text.strip(), tables)
        if chosen:
            self.add_database_layers(uri, chosen)

    def add_database_layers(self, uri: str, tables: list[str]) -> TaskHandle:
        """Open ``tables`` (``schema.table``) of the ``postgis:`` source ``uri`` as view windows
        around the current camera (never the whole table) on a worker, and add them to the project."""
        from qdt.project.loading import entries_for_tables

        return self.add_entries(entries_for_tables(uri, tables))

    def _choose_sublayers(self, path: str, names: list[str]) -> list[str]:
        """Which layers of a multi-layer file to add (all checked at first), as QGIS's sub-layer dialog."""
        dialog = QDialog(self)
        dialog.setWindowTitle(tr("选择要添加的图层") + f" — {Path(path).name}")
        layout = QVBoxLayout(dialog)
        listing = QListWidget(dialog)
        for name in names:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            listing.addItem(item)
        layout.addWidget(listing)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return []
        return [listing.item(i).text() for i in range(listing.count())
                if listing.item(i).checkState() == Qt.CheckState.Checked]

    def add_layer_files(self, paths: list[str | Path], ask: bool = True) -> TaskHandle | None:
        """Read the layers of ``paths`` on a worker thread and add them to the project.

        A multi-layer file (GeoPackage) asks which layers to add when ``ask``; otherwise all are
        added. Files that cannot be read are reported in one message naming each file and the
        reason; the others are added. Emits ``layers_added(layers, errors)``.
        """
        from qdt.io import ReadError
        from qdt.project.loading import entries_for_path

        entries: list[LayerEntry] = []
        errors: list[str] = []
        for raw in paths:
            try:
                entries += entries_for_path(raw, choose=self._choose_sublayers if ask else None)
            except (ReadError, OSError, ValueError) as exc:
                errors.append(str(exc))
        return self.add_entries(entries, errors)

    def add_entries(self, entries: list[LayerEntry], errors: list[str] | None = None) -> TaskHandle | None:
        """Open new layer entries (files or tables the user adds) on a worker, through the same
        path as a project's layers (:mod:`qdt.project.loading`), and add those that open to the
        project; ``errors`` (met while listing them) are reported with the entries that fail.
        Emits ``layers_added(layers, errors)``."""
        from qdt.project.loading import open_entries

        errors = list(errors or [])
        if not entries:
            if errors:
                self._report_error(tr("无法添加图层"), "\n".join(errors))
            self.layers_added.emit([], errors)
            return None
        project = self._ensure_project()
        camera = None
        if self.scene is not None and self.scene.origin is not None:
            camera = Camera.from_dict(self.scene.camera_state())
        crs = project.crs

        def read(progress: Any, cancelled: Any) -> list[LayerEntry]:
            open_entries(entries, crs, progress, cancelled, camera=camera)
            return entries

        def connect(handle: TaskHandle) -> None:
            handle.finished.connect(lambda opened: self._on_entries_opened(opened, errors))
            handle.failed.connect(self._on_add_failed)
            handle.cancelled.connect(lambda: self.statusBar().showMessage(tr("已取消添加图层"), 5000))

        return self.run_with_progress(Task(tr("正在添加图层…"), read), connect)

    def _on_add_failed(self, message: str, details: str) -> None:
        self._log(details)
        self._report_error(tr("无法添加图层"), message)
        self.layers_added.emit([], [message])

    def _on_entries_opened(self, opened: list[LayerEntry], errors: list[str]) -> None:
        project = self._ensure_project()
        first = len(project.layers) == 0
        added = []
        for entry in opened:
            layer = entry.layer
            if layer is None:
                errors.append(entry.error or entry.name)
                continue
            # what the reader found (a raster's role, a class from the columns) is saved with the entry
            entry.feature_class = entry.feature_class or getattr(layer, "feature_class", None)
            if entry.kind == "raster":
                entry.role = entry.role or getattr(layer, "role", None)
            project.entries.append(entry)
            project.layers.append(layer)
            self._watch_layer(layer)
            for w in entry.warnings:
                self._log(f"[{entry.name}] {w}")
            added.append(layer)
        self.layer_tree.rebuild()
        if added:
            if first and self.scene is not None:
                self.scene.frame_all()
                self._clean_camera = None
            self.mark_modified()
            self.statusBar().showMessage(tr("已添加 {n} 个图层").format(n=len(added)), 8000)
        if errors:
            self._report_error(tr("无法添加图层"), "\n".join(errors))
        self.view.request_render()
        if added:
            self.workbench.layers_changed.emit()
        self.layers_added.emit(added, errors)

    def remove_entry(self, entry: LayerEntry) -> None:
        """Take a layer (or an unavailable entry) out of the project."""
        if self.project is None or entry not in self.project.entries:
            return
        layer = entry.layer
        if layer is not None:
            self._unwatch_layer(layer)
            if self.inspector.current is not None and self.inspector.current[0] is layer:
                self.inspector.show_pick(None)
            if layer in self.project.layers:
                self.project.layers.remove(layer)
        self.project.entries.remove(entry)
        self.layer_tree.rebuild()
        self.mark_modified()
        self.view.request_render()
        self.workbench.layers_changed.emit()

    def remove_current_layer(self) -> None:
        entry = self.layer_tree.current_entry()
        if entry is not None:
            self.remove_entry(entry)

    def edit_style(self, layer: Any) -> StyleDialog:
        """Open the style dialog of ``layer`` (non-modal; OK/Apply change the layer)."""
        dialog = StyleDialog(layer, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _current_layer(self) -> Any:
        entry = self.layer_tree.current_entry()
        return entry.layer if entry is not None else None

    def _style_current_layer(self) -> None:
        layer = self._current_layer()
        if layer is not None:
            self.edit_style(layer)

    def query_drawn_shape(self, layer: Any = None, predicate: str = "intersects") -> TaskHandle | None:
        """Select the features of ``layer`` that meet (``predicate``) the shape drawn with the
        measure tool, projected on the ground; without ``layer`` the user picks one (the layer
        tree's current vector layer first). The result goes to the query results panel and the
        selection. Returns the running task's handle, or None when there is nothing to run."""
        from qdt.layers import VectorLayer
        from qdt.query import Query, run_query

        geometry = self.measure.drawn_geometry()
        if geometry is None or self.project is None:
            self.statusBar().showMessage(tr("请先用测距或测面工具在视图中画出图形"), 5000)
            return None
        if layer is None:
            vectors = [lyr for lyr in self.project.layers if isinstance(lyr, VectorLayer) and lyr.has_geometry]
            if not vectors:
                return None
            current = self._current_layer()
            names = [lyr.name for lyr in vectors]
            start = names.index(current.name) if current is not None and current.name in names else 0
            name, ok = QInputDialog.getItem(self, tr("查询图形范围内要素"), tr("图层"), names, start, False)
            if not ok:
                return None
            layer = vectors[names.index(name)]
        query = Query(layer.name, predicate=predicate, geometry=geometry)
        layers = self.project.layers
        task = Task(tr("正在查询 {name}…").format(name=layer.name),
                    lambda _progress, _cancelled: run_query(query, layers))

        def shown(result: Any) -> None:
            results = self.workbench.panels.get("results")
            if results is not None:
                results.show_result(result)
                results.select_result()
                results.show()
                results.raise_()
            else:
                layer.selection = result.fids
            self.statusBar().showMessage(tr("{name}：{n} 个要素与所画图形相交").format(name=layer.name,
                                                                             n=len(result.fids)), 8000)

        def connect(handle: TaskHandle) -> None:
            handle.finished.connect(shown)
            handle.failed.connect(lambda message, _details: self._report_error(tr("查询失败"), message))

        return self.run_with_progress(task, connect)

    def _zoom_current_layer(self) -> None:
        layer = self._current_layer()
        if layer is not None:
            self.zoom_to_layer(layer)

    # --- drag and drop ---------------------------------------------------------------------------
    @staticmethod
    def _dropped_files(event: Any) -> list[str]:
        mime = event.mimeData()
        if not mime.hasUrls():
            return []
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and os.path.isfile(u.toLocalFile())]

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802
        if self._dropped_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:  # noqa: N802
        self.dragEnterEvent(event)

    def dropEvent(self, event: Any) -> None:  # noqa: N802
        files = self._dropped_files(event)
        if not files:
            event.ignore()
            return
        event.acceptProposedAction()
        projects = [f for f in files if f.lower().endswith(".qdt")]
        if projects:
            if self.maybe_save():
                self.open_project(projects[0])
            return
        self.add_layer_files(files)

    # --- view ---------------------------------------------------------------------------------------
    def zoom_full(self) -> None:
        if self.scene is not None:
            self.scene.frame_all()
            self.view.request_render()
            self.workbench.notify_camera_moved()

    def north_up(self) -> None:
        if self.scene is not None:
            self.scene.reset_north_up()
            self.view.request_render()
            self.workbench.notify_camera_moved()

    def set_underground(self, on: bool) -> None:
        """Ground and buildings translucent so pipes and manholes show (a display mode, not a layer setting)."""
        self.act_underground.setChecked(bool(on))
        if self.scene is not None:
            changed = self.scene.underground != bool(on)
            self.scene.set_underground(bool(on))
            self.view.request_render()
            if changed and self.project is not None and bool(self.project.ui.get("underground")) != bool(on):
                self.mark_modified()

    def fly_to_feature(self, layer: Any, fid: int) -> bool:
        """Frame feature ``fid`` of ``layer`` in the 3D view (see :meth:`Workbench.fly_to_feature`)."""
        return self.workbench.fly_to_feature(layer, fid)

    def zoom_to_layer(self, layer: Any) -> None:
        if self.scene is not None:
            self.scene.fly_to_extent(layer.bounds)
            self.view.request_render()
            self.workbench.notify_camera_moved()

    def set_measure_mode(self, mode: str | None) -> None:
        """Start measuring (``"distance"``, ``"area"``, ``"height"``) or stop (None)."""
        if mode is None and not self.measure.active:
            return
        for name, act in self.act_measure.items():
            act.setChecked(name == mode)
        self.measure.set_mode(mode)
        self.measure_dock.setVisible(mode is not None)
        if mode is None:
            self.statusBar().clearMessage()

    def _show_measure(self, text: str) -> None:
        if text:
            self.statusBar().showMessage(text)

    def _on_picked(self, result) -> None:  # noqa: ANN001 - PickResult | None
        """A click measures while a measure tool is on; otherwise it selects the feature under the
        cursor (as QGIS's select tool) and shows it in the inspector."""
        if self.measure.active:
            self.measure.add_pick(result)
            return
        if self.project is None:
            return
        for layer in self.project.layers:
            if result is None or layer is not result.layer:
                layer.selection = ()
        if result is None or result.fid is None:
            self.inspector.show_pick(result if result is not None and result.fid is not None else None)
            return
        result.layer.selection = {result.fid}
        devices, device_layer = self._mounted_devices(result.layer, result.fid)
        self.inspector.show_pick(result, devices, device_layer)
        self.view.request_render()

    def _mounted_devices(self, layer, fid: int) -> tuple[list[dict], object]:  # noqa: ANN001
        """Rows of the smart-pole device table whose pole_code is this pole's code."""
        if getattr(layer, "feature_class", None) != "smart_pole" or self.project is None:
            return [], None
        code = layer.row(fid).get("code")
        for other in self.project.layers:
            if getattr(other, "feature_class", None) == "smart_pole_device" and "pole_code" in other.frame.columns:
                rows = other.frame.loc[other.frame["pole_code"] == code, other.columns]
                return rows.to_dict("records"), other
        return [], None

    def _show_cursor(self, xyz: tuple[float, float, float] | None) -> None:
        if xyz is None or not all(math.isfinite(v) for v in xyz):
            self.coord_label.setText("")
            return
        x, y, z = xyz
        lon, lat = to_lonlat(x, y)
        self.coord_label.setText(f"X {x:.2f}  Y {y:.2f}  H {z:.2f} m   {float(lon):.6f}°E {float(lat):.6f}°N")

    def camera_scale(self) -> tuple[float, float] | None:
        """(camera height in m, scale denominator at the focal point) or None without a scene."""
        if self.scene is None:
            return None
        cam = self.view.renderer.GetActiveCamera()
        origin = getattr(self.scene, "origin", None)
        z0 = origin.z if origin is not None else 0.0
        height_px = max(self.view.renderer.GetSize()[1], 1)
        if cam.GetParallelProjection():
            metres_per_px = 2 * cam.GetParallelScale() / height_px
        else:
            metres_per_px = 2 * cam.GetDistance() * math.tan(math.radians(cam.GetViewAngle()) / 2) / height_px
        return cam.GetPosition()[2] + z0, metres_per_px / PIXEL_SIZE_M

    def _show_camera(self) -> None:
        scale = self.camera_scale()
        if scale is None:
            return
        altitude, denominator = scale
        self.camera_label.setText(tr("视点高度") + f" {altitude:.0f} m  " + tr("比例尺") + f" 1:{denominator:,.0f}")

    def choose_language(self, code: str) -> None:
        """Remember the interface language; it takes effect on the next start (as in QGIS)."""
        QSettings().setValue("ui/language", code)
        if code != language():
            box = QMessageBox(QMessageBox.Icon.Information, tr("界面语言"),
                              tr("界面语言将在重新启动 QDT 后生效。"), parent=self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

    # --- messages -------------------------------------------------------------------------------------
    def _log(self, text: str) -> None:
        self.log.appendPlainText(text)

    def _report_error(self, title: str, message: str) -> None:
        self._log(f"{title}: {message}")
        self.statusBar().showMessage(message.splitlines()[0] if message else title, 10000)
        box = QMessageBox(QMessageBox.Icon.Critical, title, message, parent=self)
        box.setObjectName("ErrorBox")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _about(self) -> None:
        from qdt import __version__

        QMessageBox.about(self, tr("关于 QDT"), f"<b>QDT {__version__}</b><br>" + tr("青岛市全市一张数字底板 桌面 GIS")
                          + "<br>" + tr("CGCS2000 / EPSG:4549，1985国家高程基准"))

    # --- lifetime -------------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: ANN001, N802
        if not self._closed and not self.maybe_save():
            event.ignore()
            return
        self._closed = True
        self.workbench.edits.close_all()  # what was left was saved or discarded by maybe_save()
        self.cancel_all_tasks()
        self.db_refresher.close()  # stop polling the database and close its listeners
        self.tile_streaming.close()  # stop the tile timer and the loader threads
        self.tasks.wait(5000)
        settings = QSettings()
        settings.setValue("mainWindow/geometry", self.saveGeometry())
        settings.setValue("mainWindow/state", self.saveState())
        self.measure.set_mode(None)
        self.layer_tree.close_tree()
        self.view.close_view()
        self.scene = None
        super().closeEvent(event)

    def restore_layout(self) -> None:
        """Window geometry and dock/toolbar layout of the last run."""
        settings = QSettings()
        geometry = settings.value("mainWindow/geometry")
        state = settings.value("mainWindow/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
