"""QDT main window: 3D view in the centre, layer tree and message log docks, status bar."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QToolButton,
    QWidget,
)

from qdt.crs import to_lonlat
from qdt.project import Project, ProjectError, attach_layers, load_project, open_layers
from qdt.tasks import Task
from qdt.ui.inspector import InspectorDock
from qdt.ui.layertree import LayerTreeDock
from qdt.ui.panels import install_panels
from qdt.ui.resources import app_icon, icon
from qdt.ui.tasks import TaskHandle, TaskRunner
from qdt.ui.view3d import View3D

APP_TITLE = "QDT 青岛数字底板"


class MainWindow(QMainWindow):
    """Signals: ``project_loaded(Project)`` when a project's layers are in the scene;
    ``project_failed(str)`` when a project cannot be opened."""

    project_loaded = Signal(object)
    project_failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(APP_TITLE)
        self.setWindowIcon(app_icon())
        self.resize(1400, 900)
        self.project: Project | None = None
        self.scene = None
        self.tasks = TaskRunner(self)
        self._load_handle: TaskHandle | None = None

        self.view = View3D(self)
        self.setCentralWidget(self.view)
        self.layer_tree = LayerTreeDock(self)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.layer_tree)
        self.inspector = InspectorDock(self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.inspector)
        self.log_dock = QDockWidget("消息日志", self)
        self.log_dock.setObjectName("MessageLogDock")
        self.log = QPlainTextEdit(self.log_dock)
        self.log.setReadOnly(True)
        self.log_dock.setWidget(self.log)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.log_dock.hide()

        self._build_actions()
        self._build_status_bar()
        self.view.cursor_moved.connect(self._show_cursor)
        self.view.camera_changed.connect(self._show_camera)
        self.layer_tree.zoom_to_layer.connect(self.zoom_to_layer)
        self.view.picked.connect(self._on_picked)
        install_panels(self)

    # --- actions, menus, toolbar ---------------------------------------------------------
    def _action(self, text: str, slot, icon_name: str | None = None, shortcut=None, tip: str = "") -> QAction:  # noqa: ANN001
        act = QAction(text, self)
        if icon_name:
            act.setIcon(icon(icon_name))
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.setStatusTip(tip or text)
        act.triggered.connect(slot)
        return act

    def _build_actions(self) -> None:
        self.act_open = self._action("打开项目(&O)…", self.choose_project, "open", QKeySequence.StandardKey.Open,
                                     "打开 QDT 项目文件 (.qdt)")
        self.act_quit = self._action("退出(&Q)", self.close, None, QKeySequence.StandardKey.Quit)
        self.act_full = self._action("全图显示(&F)", self.zoom_full, "zoom_full", "Home", "缩放到全部图层")
        self.act_north = self._action("正北朝上(&N)", self.north_up, "north_up", "N", "视图旋转为正北朝上")
        self.act_underground = self._action("地下模式(&U)", self.set_underground, "underground", "U",
                                            "地表与建筑半透明，显示地下管线")
        self.act_underground.setCheckable(True)
        from qdt.render.scene import Scene

        # offered only once the render bridge has the underground display mode
        self.act_underground.setEnabled(hasattr(Scene, "set_underground"))
        file_menu = self.menuBar().addMenu("文件(&F)")
        file_menu.addAction(self.act_open)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        view_menu = self.menuBar().addMenu("视图(&V)")
        view_menu.addAction(self.act_full)
        view_menu.addAction(self.act_north)
        view_menu.addAction(self.act_underground)
        view_menu.addSeparator()
        view_menu.addAction(self.layer_tree.toggleViewAction())
        view_menu.addAction(self.inspector.toggleViewAction())
        view_menu.addAction(self.log_dock.toggleViewAction())
        help_menu = self.menuBar().addMenu("帮助(&H)")
        help_menu.addAction(self._action("关于 QDT(&A)", self._about))
        tb = self.addToolBar("主工具栏")
        tb.setObjectName("MainToolBar")
        tb.addAction(self.act_open)
        tb.addSeparator()
        tb.addAction(self.act_full)
        tb.addAction(self.act_north)
        tb.addAction(self.act_underground)

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.coord_label = QLabel("")
        self.coord_label.setMinimumWidth(420)
        self.camera_label = QLabel("")
        self.crs_label = QLabel("EPSG:4549 · 1985国家高程基准")
        self.crs_label.setToolTip("CGCS2000 / 3度带高斯-克吕格 中央经线120°E；高程 1985国家高程基准 (EPSG:5737)")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(200)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.cancel_button = QToolButton()
        self.cancel_button.setText("取消")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel_loading)
        sb.addPermanentWidget(self.coord_label)
        sb.addPermanentWidget(self.camera_label)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_button)
        sb.addPermanentWidget(self.crs_label)

    # --- projects ------------------------------------------------------------------------------
    def choose_project(self) -> None:
        start = str(self.project.base_dir) if self.project else str(Path.cwd())
        path, _ = QFileDialog.getOpenFileName(self, "打开项目", start, "QDT 项目 (*.qdt);;所有文件 (*)")
        if path:
            self.open_project(path)

    def open_project(self, path: str | Path) -> TaskHandle | None:
        """Parse the project now, open its layers on a worker thread, then build the scene here."""
        try:
            project = load_project(path)
        except ProjectError as exc:
            self._report_error("无法打开项目", str(exc))
            self.project_failed.emit(str(exc))
            return None
        self.cancel_loading()
        task = Task(f"正在打开项目 {project.name}…",
                    lambda progress, cancelled: open_layers(project, progress, cancelled))
        handle = self.tasks.start(task)
        self._load_handle = handle
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        self.statusBar().showMessage(task.title)
        handle.progress.connect(self._on_progress)
        handle.finished.connect(self._on_project_opened)
        handle.failed.connect(self._on_project_failed)
        handle.cancelled.connect(self._on_load_cancelled)
        return handle

    def cancel_loading(self) -> None:
        if self._load_handle is not None and not self._load_handle.done:
            self._load_handle.cancel()

    def _end_progress(self) -> None:
        self._load_handle = None
        self.progress.hide()
        self.cancel_button.hide()

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        if message:
            self.statusBar().showMessage(f"正在读取 {message}…")

    def _on_project_failed(self, message: str, details: str) -> None:
        self._end_progress()
        self._log(details)
        self._report_error("无法打开项目", message)
        self.project_failed.emit(message)

    def _on_load_cancelled(self) -> None:
        self._end_progress()
        self.statusBar().showMessage("已取消打开项目", 5000)

    def _on_project_opened(self, project: Project) -> None:
        from qdt.render.scene import Scene

        self._end_progress()
        if self.scene is not None:
            self.scene.close()
        self.project = project
        attach_layers(project)
        self.scene = Scene(project.layers, renderer=self.view.renderer)
        self.view.set_scene(self.scene)
        self.layer_tree.set_project(project)
        if project.camera is not None:
            self.scene.set_camera(project.camera)
        else:
            self.scene.frame_all()
        self.view.request_render()
        self.setWindowTitle(f"{project.name} — {APP_TITLE}")
        for entry in project.entries:
            for w in entry.warnings:
                self._log(f"[{entry.name}] {w}")
        bad = project.unavailable
        if bad:
            lines = "\n".join(e.error or e.name for e in bad)
            self._log(lines)
            box = QMessageBox(QMessageBox.Icon.Warning, "部分图层不可用",
                              f"{len(bad)} 个图层无法加载，已标记为不可用：\n{lines}", parent=self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()  # non-modal: the window stays usable
        n = len(project.layers)
        self.statusBar().showMessage(f"已打开项目 {project.name}：{n} 个图层", 8000)
        self._show_camera()
        settings = QSettings()
        recent = [p for p in (settings.value("recentProjects", []) or []) if p != str(project.path)]
        settings.setValue("recentProjects", [str(project.path), *recent][:10])
        self.project_loaded.emit(project)

    # --- view ---------------------------------------------------------------------------------------
    def zoom_full(self) -> None:
        if self.scene is not None:
            self.scene.frame_all()
            self.view.request_render()
            self._show_camera()

    def north_up(self) -> None:
        if self.scene is not None:
            self.scene.reset_north_up()
            self.view.request_render()

    def set_underground(self, on: bool) -> None:
        """Ground and buildings translucent so pipes and manholes show (a display mode, not a layer setting)."""
        self.act_underground.setChecked(bool(on))
        if self.scene is not None:
            self.scene.set_underground(bool(on))
            self.view.request_render()

    def _on_picked(self, result) -> None:  # noqa: ANN001 - PickResult | None
        """A click selects the feature under the cursor (as QGIS's select tool) and shows it in the inspector."""
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

    def zoom_to_layer(self, layer) -> None:  # noqa: ANN001
        if self.scene is not None:
            self.scene.fly_to_extent(layer.bounds)
            self.view.request_render()

    def _show_cursor(self, xyz: tuple[float, float, float] | None) -> None:
        if xyz is None or not all(math.isfinite(v) for v in xyz):
            self.coord_label.setText("")
            return
        x, y, z = xyz
        lon, lat = to_lonlat(x, y)
        self.coord_label.setText(f"X {x:.2f}  Y {y:.2f}  H {z:.2f} m   {float(lon):.6f}°E {float(lat):.6f}°N")

    def _show_camera(self) -> None:
        cam = self.view.renderer.GetActiveCamera()
        if self.scene is None:
            return
        origin = getattr(self.scene, "origin", None)
        z0 = origin.z if origin is not None else 0.0
        self.camera_label.setText(f"视点高度 {cam.GetPosition()[2] + z0:.0f} m")

    # --- messages -------------------------------------------------------------------------------------
    def _log(self, text: str) -> None:
        self.log.appendPlainText(text)

    def _report_error(self, title: str, message: str) -> None:
        self._log(f"{title}: {message}")
        self.statusBar().showMessage(message, 10000)
        box = QMessageBox(QMessageBox.Icon.Critical, title, message, parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _about(self) -> None:
        from qdt import __version__

        QMessageBox.about(self, "关于 QDT", f"<b>QDT {__version__}</b><br>青岛市全市一张数字底板 桌面 GIS<br>"
                                          "CGCS2000 / EPSG:4549，1985国家高程基准")

    # --- lifetime -------------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: ANN001, N802
        self.cancel_loading()
        self.tasks.wait(5000)
        settings = QSettings()
        settings.setValue("mainWindow/geometry", self.saveGeometry())
        settings.setValue("mainWindow/state", self.saveState())
        self.view.close_view()
        self.scene = None
        super().closeEvent(event)

    def restore_layout(self) -> None:
        settings = QSettings()
        geometry = settings.value("mainWindow/geometry")
        state = settings.value("mainWindow/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
