"""File → 导出: snapshot, report, selection and scene dialogs.

Each dialog gathers the settings, then runs the export from :mod:`qdt.export` as a task on the
workbench's :class:`~qdt.ui.tasks.TaskRunner` (off the GUI thread) with a progress bar and a
cancel button; the result or the one-line error shows in the dialog. The snapshot dialog
renders a small preview with the chosen overlays and the image's aspect.

The main window calls :func:`add_export_actions(workbench, menu) <add_export_actions>`. The
dialogs use the :class:`~qdt.ui.workbench.Workbench`'s ``project``, ``scene`` (the on-screen
Scene or None: its camera is the view exported), ``tasks`` and the ``"results"`` panel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from qdt.tasks import Task
from qdt.ui.i18n import tr

__all__ = ["KINDS", "ExportDialog", "add_export_actions"]

KINDS = ("snapshot", "report", "selection", "scene")
SIZE_PRESETS = [("1920 × 1080", 1920, 1080), ("3840 × 2160 (4K)", 3840, 2160), ("7680 × 4320 (8K)", 7680, 4320),
                ("A4 横向 300 dpi", 3508, 2480), ("A3 横向 300 dpi", 4961, 3508)]
OVERLAY_LABELS = {"title": "标题", "north_arrow": "指北针", "scale_bar": "比例尺", "legend": "图例",
                  "crs_date": "坐标系和日期"}
PREVIEW_WIDTH = 360
QUERY_RESULT = "\x00query-result"  # the report's table source: the query panel's last result


def documents_dir() -> Path:
    """The user's documents folder (Qt's ``DocumentsLocation``), where exports go by default."""
    from PySide6.QtCore import QStandardPaths

    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(folder) if folder and Path(folder).is_dir() else Path.home()


def _titles() -> dict[str, str]:
    return {"snapshot": tr("导出快照"), "report": tr("导出报告"), "selection": tr("导出所选要素"),
            "scene": tr("导出三维场景")}


class ExportDialog(QDialog):
    """One export dialog (``kind`` one of :data:`KINDS`) for the workbench's project and view.

    Attributes for tests and callers: ``path_edit``, ``export_button``, ``progress``, ``status``
    and the kind's own widgets; :attr:`handle` is the running task's handle; :attr:`result`
    the last export's result (a Path or a GltfSummary).
    """

    def __init__(self, bench: Any, kind: str, parent: QWidget | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown export kind {kind!r}; one of {', '.join(KINDS)}")
        super().__init__(parent or bench.dialog_parent)
        self.bench = bench
        self.kind = kind
        self.handle = None
        self.result: Any = None
        self.setWindowTitle(_titles()[kind])
        layout = QVBoxLayout(self)
        self.form = QFormLayout()
        layout.addLayout(self.form)
        getattr(self, f"_build_{kind}")()
        row = QHBoxLayout()
        self.path_edit = QLineEdit()
        browse = QPushButton(tr("浏览…"))
        browse.clicked.connect(self._browse)
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        self.form.addRow(tr("输出文件"), row)
        self.path_edit.setText(str(self._default_path()))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton(tr("导出"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(tr("取消导出"), QDialogButtonBox.ButtonRole.ActionRole)
        self.cancel_button.hide()
        close = self.buttons.addButton(tr("关闭"), QDialogButtonBox.ButtonRole.RejectRole)
        self.export_button.clicked.connect(self.start_export)
        self.cancel_button.clicked.connect(self.cancel_export)
        close.clicked.connect(self.reject)
        layout.addWidget(self.buttons)

    # --- building the forms ------------------------------------------------------------------------
    @property
    def project(self) -> Any:
        return self.bench.project

    def frozen_project(self) -> Any:
        """The project as it is now, detached from the window (:meth:`qdt.project.Project.frozen`):
        the export task reads this copy on its worker while the user keeps editing and toggling."""
        return self.project.frozen()

    def _camera(self) -> Any:
        scene = self.bench.scene
        if scene is not None:
            return scene.camera_state()
        return getattr(self.project, "camera", None)

    def _underground(self) -> bool:
        """The view's underground mode (the project's saved setting without a scene)."""
        scene = self.bench.scene
        if scene is not None:
            return bool(scene.underground)
        return bool(getattr(self.project, "ui", {}).get("underground", False))

    def _query_result(self) -> Any:
        """The query panel's last result (a QueryResult or a ClearanceReport), or None."""
        results = self.bench.panels.get("results")
        return getattr(results, "result", None)

    def _query_table(self) -> Any:
        """The query panel's last result as a report table (ExportError when there is none)."""
        from qdt.export import ExportError
        from qdt.export.report import ReportTable

        result = self._query_result()
        if result is None:
            raise ExportError(tr("没有查询结果：请先执行空间查询"))
        fids = np.asarray(self.bench.panels["results"].result_fids(), dtype=np.int64)
        if hasattr(result, "violations"):  # a clearance check: the pipes involved
            from qdt.query import find_layer

            layer = find_layer(self.project.layers, result.layer)
            if layer is None:
                raise ExportError(tr("查询结果的图层“{name}”已不在项目中").format(name=result.layer))
            text = f"{layer.name}: 管线净距检查，{result.count} 处不满足 GB 50289-2016 最小净距"
        else:
            layer = result.layer
            where = getattr(result.query, "where", None)
            text = f"{layer.name}: 查询结果" + (f"（{where}）" if where else "")
        if not any(lyr is layer for lyr in self.project.layers):
            raise ExportError(tr("查询结果的图层“{name}”已不在项目中").format(name=layer.name))
        return ReportTable(layer, np.sort(fids), text)

    def report_settings(self) -> dict[str, Any]:
        """The report's settings as keyword arguments of :func:`qdt.export.report.write_report`
        (tables aside): the 3D view's current camera and underground mode, not the project's saved view."""
        return {"title": self.title_edit.text() or None, "author": self.author_edit.text(),
                "page_size": self.page_combo.currentText(), "camera": self._camera(),
                "underground": self._underground()}

    def _build_snapshot(self) -> None:
        self.preset = QComboBox()
        self.preset.addItem(tr("自定义"))
        for label, _, _ in SIZE_PRESETS:
            self.preset.addItem(tr(label))
        self.preset.currentIndexChanged.connect(self._apply_preset)
        self.width_spin, self.height_spin = QSpinBox(), QSpinBox()
        from qdt.export import MAX_SIDE

        for spin, value in ((self.width_spin, 1920), (self.height_spin, 1080)):
            spin.setRange(16, MAX_SIDE)
            spin.setValue(value)
            spin.setSuffix(" px")
        size = QHBoxLayout()
        size.addWidget(self.width_spin)
        size.addWidget(QLabel("×"))
        size.addWidget(self.height_spin)
        self.dpi_spin = QSpinBox()
        self.dpi_spin.setRange(10, 2400)
        self.dpi_spin.setValue(300)
        self.dpi_spin.setSuffix(" dpi")
        self.title_edit = QLineEdit(self.project.name if self.project is not None else "")
        self.view_combo = QComboBox()
        self.view_combo.addItem(tr("当前视图"), None)
        for bookmark in getattr(self.project, "bookmarks", []):
            self.view_combo.addItem(bookmark.name, bookmark.name)
        self.underground_box = QCheckBox(tr("地下视图"))
        scene = self.bench.scene
        self.underground_box.setChecked(bool(scene is not None and scene.underground))
        self.overlay_boxes: dict[str, QCheckBox] = {}
        overlays = QHBoxLayout()
        for name, label in OVERLAY_LABELS.items():
            box = QCheckBox(tr(label))
            box.setChecked(True)
            self.overlay_boxes[name] = box
            overlays.addWidget(box)
        self.preview = QLabel(tr("点击“预览”查看效果"))
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(PREVIEW_WIDTH, PREVIEW_WIDTH * 9 // 16)
        self.preview.setStyleSheet("QLabel { background: #e8edf3; border: 1px solid #b8c2cc; }")
        self.preview_button = QPushButton(tr("预览"))
        self.preview_button.clicked.connect(self.start_preview)
        self.form.addRow(tr("预设尺寸"), self.preset)
        self.form.addRow(tr("尺寸"), size)
        self.form.addRow(tr("分辨率"), self.dpi_spin)
        self.form.addRow(tr("标题"), self.title_edit)
        self.form.addRow(tr("视图"), self.view_combo)
        self.form.addRow("", self.underground_box)
        self.form.addRow(tr("叠加要素"), overlays)
        self.form.addRow(self.preview_button, self.preview)

    def _build_report(self) -> None:
        from qdt.export.report import load_template

        template = load_template()
        self.title_edit = QLineEdit(template["title"])
        self.author_edit = QLineEdit(template["author"])
        self.page_combo = QComboBox()
        self.page_combo.addItems(["A4", "A3"])
        self.page_combo.setCurrentText(template["page_size"])
        self.layer_combo = QComboBox()
        self.layer_combo.addItem(tr("（各图层当前选择）"), None)
        if self._query_result() is not None:
            self.layer_combo.addItem(tr("当前查询结果"), QUERY_RESULT)
        for layer in self._vector_layers():
            self.layer_combo.addItem(layer.name, layer.name)
        self.where_edit = QLineEdit()
        self.where_edit.setPlaceholderText(tr("例如：状态 = '故障'"))
        self.layer_combo.currentIndexChanged.connect(
            lambda _i: self.where_edit.setEnabled(self.layer_combo.currentData() not in (None, QUERY_RESULT)))
        self.where_edit.setEnabled(False)
        self.form.addRow(tr("标题"), self.title_edit)
        self.form.addRow(tr("作者"), self.author_edit)
        self.form.addRow(tr("纸张（横向）"), self.page_combo)
        self.form.addRow(tr("查询图层"), self.layer_combo)
        self.form.addRow(tr("筛选表达式"), self.where_edit)
        # the 多杆合一 plan of the poles panel, when one was computed: a section with counts per road
        self.poles_check = QCheckBox(tr("多杆合一规划章节（各道路合杆统计）"))
        plan = self._pole_plan()
        self.poles_check.setEnabled(plan is not None)
        self.poles_check.setChecked(plan is not None)
        if plan is None:
            self.poles_check.setToolTip(tr("先在 数据 → 多杆合一规划 中计算合杆方案"))
        self.form.addRow("", self.poles_check)

    def _pole_plan(self) -> Any:
        panel = self.bench.panels.get("poles")
        return getattr(panel, "plan", None)

    def _build_selection(self) -> None:
        self.layer_combo = QComboBox()
        for layer in self._vector_layers():
            if layer.selection:
                self.layer_combo.addItem(tr("{name}（已选 {n} 个）").format(name=layer.name, n=len(layer.selection)),
                                         layer.name)
        self.format_combo = QComboBox()
        for label, suffix in ((tr("CSV 表格"), ".csv"), (tr("GeoJSON (WGS 84)"), ".geojson"),
                              (tr("GeoPackage（项目坐标系）"), ".gpkg")):
            self.format_combo.addItem(label, suffix)
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        self.bom_box = QCheckBox(tr("CSV 带 BOM（Excel 正确显示中文）"))
        self.bom_box.setChecked(True)
        self.form.addRow(tr("图层"), self.layer_combo)
        self.form.addRow(tr("格式"), self.format_combo)
        self.form.addRow("", self.bom_box)
        self.layer_combo.currentIndexChanged.connect(lambda _i: self.path_edit.setText(str(self._default_path())))

    def _build_scene(self) -> None:
        self.underground_box = QCheckBox(tr("地下视图（地面和建筑半透明）"))
        self.form.addRow("", self.underground_box)
        self.form.addRow("", QLabel(tr("导出可见图层的三维几何（glTF 二进制 .glb），局部原点记录在文件中。")))

    # --- helpers -----------------------------------------------------------------------------------
    def _vector_layers(self) -> list[Any]:
        from qdt.layers import VectorLayer

        return [lyr for lyr in getattr(self.project, "layers", []) if isinstance(lyr, VectorLayer)]

    def _default_path(self) -> Path:
        base = documents_dir()  # never the project's (maybe tracked or shared) data folder
        stem = (self.project.path.stem if self.project is not None and self.project.path else "qdt")
        if self.kind == "selection":
            layer = self.layer_combo.currentData() or "selection"
            return base / f"{layer}{self.format_combo.currentData()}"
        suffix = {"snapshot": ".png", "report": ".pdf", "scene": ".glb"}[self.kind]
        return base / f"{stem}{suffix}"

    def _format_changed(self, _index: int) -> None:
        self.bom_box.setEnabled(self.format_combo.currentData() == ".csv")
        self.path_edit.setText(str(Path(self.path_edit.text()).with_suffix(self.format_combo.currentData())))

    def _browse(self) -> None:
        filters = {"snapshot": tr("图像 (*.png *.jpg *.jpeg)"), "report": tr("PDF 文档 (*.pdf)"),
                   "selection": tr("数据 (*.csv *.geojson *.gpkg)"), "scene": tr("glTF 二进制 (*.glb)")}
        path, _ = QFileDialog.getSaveFileName(self, self.windowTitle(), self.path_edit.text(), filters[self.kind])
        if path:
            self.path_edit.setText(path)

    def _apply_preset(self, index: int) -> None:
        if index > 0:
            _, w, h = SIZE_PRESETS[index - 1]
            self.width_spin.setValue(w)
            self.height_spin.setValue(h)

    def snapshot_options(self, width: int | None = None, height: int | None = None) -> Any:
        """The snapshot settings as :class:`qdt.export.SnapshotOptions` (optionally at another size)."""
        from qdt.export import SnapshotOptions

        bookmark = self.view_combo.currentData()
        return SnapshotOptions(width=width or self.width_spin.value(), height=height or self.height_spin.value(),
                               dpi=self.dpi_spin.value(), title=self.title_edit.text(),
                               overlays=tuple(n for n, b in self.overlay_boxes.items() if b.isChecked()),
                               underground=self.underground_box.isChecked(), bookmark=bookmark,
                               camera=None if bookmark else self._camera())

    def make_task(self) -> Task:
        """The export task for the current settings; ExportError/QueryError (one line) on bad input."""
        from qdt.export import ExportError

        if self.project is None:
            raise ExportError(tr("没有打开的项目"))
        path = Path(self.path_edit.text().strip())
        if self.kind == "snapshot":
            from qdt.export import snapshot_task

            return snapshot_task(self.frozen_project(), self.snapshot_options(), path)
        if self.kind == "report":
            return self._report_task(path)
        if self.kind == "selection":
            from qdt.export.data import export_selection_task

            name = self.layer_combo.currentData()
            if name is None:
                raise ExportError(tr("没有选中的要素：请先在三维视图或属性表中选择要素"))
            return export_selection_task(self.project.layers[name].frozen(), path, bom=self.bom_box.isChecked())
        from qdt.export.gltf import export_gltf_task

        return export_gltf_task(self.frozen_project(), path, underground=self.underground_box.isChecked())

    def _report_task(self, path: Path) -> Task:
        from dataclasses import replace

        from qdt.export.report import ReportTable, write_report
        from qdt.export.snapshot import project_crs_text
        from qdt.query import parse_expression

        project = self.frozen_project()
        source = self.layer_combo.currentData()
        where = self.where_edit.text().strip() or None
        table = None
        if source == QUERY_RESULT:
            table = self._query_table()  # fids only: the query already ran
            table = replace(table, layer=project.layers[table.layer.id])  # the frozen copy
        elif source is not None and where:
            parse_expression(where)  # a malformed filter is reported at once; evaluating it is the task's
        settings = self.report_settings()
        crs_text = project_crs_text(project)  # PROJ on the GUI thread (see snapshot_project)
        sections = []
        if self.poles_check.isChecked() and self._pole_plan() is not None:
            from qdt.export.poles_report import ConsolidationSection

            sections.append(ConsolidationSection(self._pole_plan()))

        def run(progress, is_cancelled):  # noqa: ANN001, ANN202
            tables = None
            if table is not None:
                tables = [table]
            elif source is not None:
                tables = [ReportTable.from_query(project.layers, source, where)]  # off the GUI thread
            return write_report(project, path, tables=tables, progress=progress, is_cancelled=is_cancelled,
                                crs_text=crs_text, sections=sections, **settings)

        return Task(tr("正在生成报告…"), run)

    # --- running -----------------------------------------------------------------------------------
    def start_export(self) -> None:
        """Start the export on the workbench's task runner (one at a time)."""
        if self.handle is not None and not self.handle.done:
            return
        try:
            task = self.make_task()
        except Exception as exc:  # noqa: BLE001 - bad settings: one line in the dialog, never a traceback
            self._show_error(" ".join(str(exc).split()))
            return
        self._run(task, self._export_finished)

    def start_preview(self) -> None:
        """Render a small preview (same aspect and overlays) off the GUI thread."""
        if self.kind != "snapshot" or self.project is None or (self.handle is not None and not self.handle.done):
            return
        w, h = self.width_spin.value(), self.height_spin.value()
        scale = PREVIEW_WIDTH / max(w, h * 16 / 9)
        options = self.snapshot_options(max(16, round(w * scale)), max(16, round(h * scale)))
        project = self.frozen_project()
        from qdt.export.snapshot import project_crs_text

        crs_text = project_crs_text(project)  # PROJ on the GUI thread (see snapshot_project)

        def run(progress, is_cancelled):  # noqa: ANN001, ANN202
            from qdt.export import snapshot_project

            return snapshot_project(project, options, progress, is_cancelled, crs_text=crs_text).image

        self._run(Task(tr("正在生成预览…"), run), self._preview_finished)

    def _run(self, task: Task, on_finished) -> None:  # noqa: ANN001
        self.status.setText(task.title)
        self.progress.setValue(0)
        self.progress.show()
        self.export_button.setEnabled(False)
        self.cancel_button.setVisible(task.cancellable)
        # slots connected before the worker starts (a fast task may end first), and all of them bound
        # methods of this dialog, so they run queued on the GUI thread (a lambda would run on the worker)
        self.handle = self.bench.tasks.start(task, finished=on_finished, failed=self._task_failed,
                                             cancelled=self._task_cancelled, progress=self._on_progress)

    def _task_failed(self, message: str, _details: str = "") -> None:
        self._show_error(message)

    def _task_cancelled(self) -> None:
        self._done(tr("已取消"))

    def cancel_export(self) -> None:
        if self.handle is not None and not self.handle.done:
            self.handle.cancel()

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        if message:
            self.status.setText(tr(message))

    def _done(self, text: str) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self.export_button.setEnabled(True)
        self.status.setText(text)

    def _show_error(self, message: str) -> None:
        self._done(tr("导出失败：{message}").format(message=message))
        self.status.setStyleSheet("QLabel { color: #b91c1c; }")

    def _export_finished(self, result: Any) -> None:
        self.result = result
        self.status.setStyleSheet("")
        path = getattr(result, "path", result)
        self._done(tr("已导出：{path}").format(path=path))

    def _preview_finished(self, image: np.ndarray) -> None:
        self.status.setStyleSheet("")
        image = np.ascontiguousarray(image)
        h, w = image.shape[:2]
        qimage = QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self.preview.setPixmap(QPixmap.fromImage(qimage))
        self._done(tr("预览已更新（{w} × {h} 的缩小版）").format(w=self.width_spin.value(), h=self.height_spin.value()))

    def reject(self) -> None:
        if self.handle is not None and not self.handle.done:
            answer = QMessageBox.question(self, self.windowTitle(), tr("导出仍在进行。取消导出并关闭？"))
            if answer != QMessageBox.StandardButton.Yes:
                return
            self.handle.cancel()
        super().reject()


def add_export_actions(bench: Any, menu: QMenu) -> list[QAction]:
    """Add File → 导出 (snapshot, report, selection, scene) to ``menu``; returns the actions.

    Each action opens an :class:`ExportDialog` on the workbench ``bench`` (a dialog without a
    project reports it when exporting); the dialog shown is ``bench.panels["export"]``.
    """
    submenu = menu.addMenu(tr("导出(&E)"))
    labels = {"snapshot": tr("导出快照(&S)…"), "report": tr("导出报告(&R)…"), "selection": tr("导出所选要素(&F)…"),
              "scene": tr("导出三维场景(&G)…")}
    actions = []
    for kind in KINDS:
        action = QAction(labels[kind], menu)
        action.setObjectName(f"export_{kind}")

        def open_dialog(_checked: bool = False, kind: str = kind) -> None:
            dialog = ExportDialog(bench, kind)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            bench.panels["export"] = dialog  # keep it alive while shown
            dialog.show()

        action.triggered.connect(open_dialog)
        submenu.addAction(action)
        actions.append(action)
    return actions
