"""Query dialog and results panel (issue 6, item 3).

The dialog builds a :class:`qdt.query.Query` (attribute expression, spatial predicate against
another layer, distance, k nearest) or a pipe clearance check, runs it on the window's task
runner (progress, never freezing the window) and hands the result to :class:`ResultsDock`:
rows listed (nearest pairs with distance; clearance violations with measured and required
clearance), double-click zooms to the feature, the result becomes the layer's selection (so
the 3D view and the attribute table show it), and buttons export it to CSV, GeoJSON or
GeoPackage through :mod:`qdt.query.export`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from qdt.layers import NULL_TEXT
from qdt.query import (
    PREDICATES,
    ExpressionError,
    Query,
    QueryError,
    apply_selection,
    check_clearances,
    export_frame,
    find_layer,
    run_query,
)
from qdt.safe_output import input_files
from qdt.tasks import Task, check_cancel
from qdt.ui.i18n import tr
from qdt.ui.inspector import catalogue_name, display_value
from qdt.ui.tasks import TaskHandle, TaskRunner

PREDICATE_LABELS = {
    "intersects": "相交", "within": "位于内部", "contains": "包含", "touches": "接触", "crosses": "穿越",
    "overlaps": "重叠", "disjoint": "分离", "dwithin": "距离以内",
}
MODES = ["attribute", "location", "nearest", "clearance"]
MODE_LABELS = {"attribute": "属性筛选", "location": "空间关系", "nearest": "最近邻", "clearance": "管线净距检查"}


class FrameModel(QAbstractTableModel):
    """A read-only table over a DataFrame (result rows); cells read from cached column arrays."""

    def __init__(self, frame: pd.DataFrame, headers: list[str] | None = None, parent: Any = None,
                 labels: dict[str, dict[str, str]] | None = None) -> None:
        super().__init__(parent)
        self.frame = frame
        self.headers = headers or [str(c) for c in frame.columns]
        self._columns = [frame[c].to_numpy() for c in frame.columns]
        # code-list columns: code (as text) → label in the interface language
        self._labels = [(labels or {}).get(str(c)) for c in frame.columns]

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.frame)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.frame.columns)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        value = self._columns[index.column()][index.row()]
        try:
            if pd.isna(value):
                return NULL_TEXT
        except (TypeError, ValueError):
            pass
        labels = self._labels[index.column()]
        if labels is not None:
            whole = isinstance(value, (float, np.floating)) and float(value).is_integer()
            key = str(int(value)) if whole else str(value)
            return labels.get(key, str(value))
        if isinstance(value, np.datetime64):
            value = pd.Timestamp(value)
        if isinstance(value, pd.Timestamp):
            return value.strftime("%Y-%m-%d") if value == value.normalize() else value.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, np.generic):
            value = value.item()
        return display_value(value)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.headers[section] if section < len(self.headers) else None
        return str(section + 1)


def _vector_layers(bench: Any) -> list[Any]:
    return bench.vector_layers() if bench is not None else []


class QueryDialog(QDialog):
    """Build and run a query; the result goes to ``results`` (a :class:`ResultsDock`).

    Signals: ``finished_query(object)`` with the QueryResult or ClearanceReport;
    ``failed_query(str)`` with the one-line message.
    """

    finished_query = Signal(object)
    failed_query = Signal(str)

    def __init__(self, bench: Any, results: ResultsDock) -> None:
        super().__init__(bench.dialog_parent)
        self.setWindowTitle(tr("空间查询"))
        self.setObjectName("QueryDialog")
        self.bench = bench
        self.results = results
        self.handle: Any = None
        form = QFormLayout(self)
        self.mode_box = QComboBox(self)
        for mode in MODES:
            self.mode_box.addItem(tr(MODE_LABELS[mode]), mode)
        form.addRow(tr("查询类型"), self.mode_box)
        self.layer_box = QComboBox(self)
        form.addRow(tr("图层"), self.layer_box)
        self.where_edit = QLineEdit(self)
        self.where_edit.setPlaceholderText(tr("例如 状态 = '故障' AND 额定功率 >= 100"))
        form.addRow(tr("属性条件"), self.where_edit)
        self.predicate_box = QComboBox(self)
        for p in PREDICATES:
            self.predicate_box.addItem(f"{tr(PREDICATE_LABELS.get(p, p))} ({p})", p)
        form.addRow(tr("空间关系"), self.predicate_box)
        self.other_box = QComboBox(self)
        form.addRow(tr("参照图层"), self.other_box)
        self.other_where_edit = QLineEdit(self)
        form.addRow(tr("参照图层条件"), self.other_where_edit)
        self.distance_spin = QDoubleSpinBox(self)
        self.distance_spin.setRange(0.0, 100_000.0)
        self.distance_spin.setDecimals(2)
        self.distance_spin.setSuffix(" m")
        self.distance_spin.setSpecialValueText(tr("不限"))
        form.addRow(tr("距离"), self.distance_spin)
        self.k_spin = QSpinBox(self)
        self.k_spin.setRange(1, 100)
        form.addRow(tr("最近邻个数 k"), self.k_spin)
        self.error_label = QLabel("", self)
        self.error_label.setStyleSheet("color: #b00020;")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(self.error_label)
        buttons = QHBoxLayout()
        self.run_button = QPushButton(tr("执行"), self)
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton(tr("取消"), self)
        self.close_button = QPushButton(tr("关闭"), self)
        buttons.addStretch(1)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.close_button)
        form.addRow(buttons)
        self.cancel_button.setEnabled(False)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.hide)
        self.mode_box.currentIndexChanged.connect(self._mode_changed)
        self.predicate_box.currentIndexChanged.connect(self._mode_changed)
        self.refresh_layers()
        self._mode_changed()

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        """Open beside the 3D view (over the right-hand panels), never over what a query zooms to."""
        super().showEvent(event)
        window = self.bench.dialog_parent
        if window is not None and not getattr(self, "_placed", False):
            self._placed = True
            frame = window.frameGeometry()
            self.adjustSize()
            self.move(max(frame.left(), frame.right() - self.width() - 8), frame.top() + 80)

    def refresh_layers(self) -> None:
        layers = _vector_layers(self.bench)
        for box in (self.layer_box, self.other_box):
            current = box.currentData()
            box.clear()
            for lyr in layers:
                box.addItem(lyr.name, lyr.name)
            if current is not None and box.findData(current) >= 0:
                box.setCurrentIndex(box.findData(current))

    def _mode_changed(self, *_: Any) -> None:
        mode = self.mode_box.currentData()
        spatial = mode in ("location", "nearest")
        self.predicate_box.setEnabled(mode == "location")
        self.other_box.setEnabled(spatial)
        self.other_where_edit.setEnabled(spatial)
        self.where_edit.setEnabled(mode != "clearance")
        self.distance_spin.setEnabled(mode == "nearest" or (mode == "location"
                                                             and self.predicate_box.currentData() == "dwithin"))
        self.k_spin.setEnabled(mode == "nearest")
        if mode == "clearance":
            index = self.layer_box.findData(self._pipescatalogue_name())
            if index >= 0:
                self.layer_box.setCurrentIndex(index)

    def _pipescatalogue_name(self) -> str | None:
        for lyr in _vector_layers(self.bench):
            if getattr(lyr, "feature_class", None) == "pipe":
                return lyr.name
        return None

    def build_query(self) -> Query:
        """The query the form describes (QueryError / ExpressionError when incomplete or malformed)."""
        mode = self.mode_box.currentData()
        layer = self.layer_box.currentData()
        if not layer:
            raise QueryError(tr("没有可查询的矢量图层"))
        where = self.where_edit.text().strip() or None
        if mode == "attribute":
            query = Query(layer, where=where)
        elif mode == "location":
            predicate = self.predicate_box.currentData()
            distance = self.distance_spin.value() if predicate == "dwithin" else None
            query = Query(layer, where=where, predicate=predicate, other=self.other_box.currentData(),
                          other_where=self.other_where_edit.text().strip() or None, distance=distance)
        else:
            distance = self.distance_spin.value() or None
            query = Query(layer, where=where, k=int(self.k_spin.value()), other=self.other_box.currentData(),
                          other_where=self.other_where_edit.text().strip() or None, distance=distance)
        query.check()
        return query

    def run(self) -> Any:
        """Start the query (or clearance check) on the workbench's task runner, with the status bar's
        progress bar and cancel button; returns the task handle."""
        project = self.bench.project
        if project is None:
            self._fail(tr("请先打开项目"))
            return None
        if self.handle is not None and not self.handle.done:
            return self.handle  # one query at a time
        self.error_label.setText("")
        if self.mode_box.currentData() == "clearance":
            layer = find_layer(project.layers, self.layer_box.currentData()) if self.layer_box.currentData() else None
            if layer is None:
                self._fail(tr("没有管线图层"))
                return None
            dem = next((lyr for lyr in project.layers if getattr(lyr, "role", None) == "dem"), None)
            task = Task(tr("正在检查管线净距…"), _stepped(lambda: check_clearances(layer, dem=dem)))
        else:
            try:
                query = self.build_query()
            except (QueryError, ExpressionError) as exc:
                self._fail(str(exc), exc if isinstance(exc, ExpressionError) else None)
                return None
            layers = project.layers
            task = Task(tr("正在查询…"), _stepped(lambda: run_query(query, layers)))
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)

        # bound methods of this QObject: queued onto the GUI thread (a lambda would run on the worker)
        def connect(handle: TaskHandle) -> None:
            self.handle = handle
            handle.finished.connect(self._done)
            handle.failed.connect(self._task_failed)
            handle.cancelled.connect(self._task_cancelled)

        return self.bench.run_with_progress(task, connect)

    def cancel(self) -> None:
        if self.handle is not None and not self.handle.done:
            self.handle.cancel()

    def _from_current(self) -> bool:
        """Whether the signal being delivered comes from the running query (not an older one)."""
        sender = self.sender()
        return not isinstance(sender, TaskHandle) or sender is self.handle

    def _status_message(self, text: str) -> None:
        self.bench.show_message(text, 8000)

    def _task_failed(self, message: str, _details: str = "") -> None:
        if self._from_current():
            self._fail(message)

    def _task_cancelled(self) -> None:
        if self._from_current():
            self._fail(tr("查询已取消"))

    def _fail(self, message: str, exc: ExpressionError | None = None) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.error_label.setText(message)
        self._status_message(message)
        if exc is not None and exc.offset is not None:
            edit = self.where_edit if not str(exc).startswith("other_where") else self.other_where_edit
            edit.setFocus()
            edit.setCursorPosition(int(exc.offset))
        self.failed_query.emit(message)

    def _done(self, result: Any) -> None:
        if not self._from_current():
            return
        if self.handle is not None and self.handle.is_cancelled():
            # cancelled after the last check: the result is discarded, never shown
            self._fail(tr("查询已取消"))
            return
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.results.show_result(result)
        self._status_message(self.results.summary.text())
        self.finished_query.emit(result)


def _stepped(compute: Any) -> Any:
    """A task function around ``compute()`` (the query engine has no cancel hook): progress before
    and after, and cancellation checked before starting and before handing the result over, so a
    query cancelled while it ran ends as cancelled and its result is dropped."""

    def run(progress: Any, cancelled: Any) -> Any:
        progress(0.05, "")
        check_cancel(cancelled)
        result = compute()
        check_cancel(cancelled)
        progress(1.0, "")
        return result

    return run


class ResultsDock(QDockWidget):
    """Rows of the last query or clearance check, with zoom-to, selection and export.

    Signals: ``exported(Path)`` after an export wrote its file; ``export_failed(str)``.
    """

    exported = Signal(object)
    export_failed = Signal(str)

    def __init__(self, bench: Any = None) -> None:
        super().__init__(tr("查询结果"), getattr(bench, "dialog_parent", None))
        self.setObjectName("QueryResultsDock")
        self.bench = bench
        self.result: Any = None
        self.rows: pd.DataFrame = pd.DataFrame()
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        self.summary = QLabel(tr("尚未执行查询"), body)
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.view = QTableView(body)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setDefaultSectionSize(22)
        layout.addWidget(self.view, 1)
        buttons = QHBoxLayout()
        self.zoom_button = QPushButton(tr("缩放到"), body)
        self.select_button = QPushButton(tr("选中结果"), body)
        buttons.addWidget(self.zoom_button)
        buttons.addWidget(self.select_button)
        buttons.addStretch(1)
        self.export_buttons = {}
        for suffix, label in ((".csv", "导出 CSV"), (".geojson", "导出 GeoJSON"), (".gpkg", "导出 GPKG")):
            button = QPushButton(tr(label), body)
            button.clicked.connect(lambda _c=False, s=suffix: self.export(None, s))
            buttons.addWidget(button)
            self.export_buttons[suffix] = button
        layout.addLayout(buttons)
        self.setWidget(body)
        self.view.doubleClicked.connect(lambda index: self.zoom_to_row(index.row()))
        self.zoom_button.clicked.connect(self._zoom_current)
        self.select_button.clicked.connect(self.select_result)
        self._enable(False)

    def _enable(self, on: bool) -> None:
        for w in (self.zoom_button, self.select_button, *self.export_buttons.values()):
            w.setEnabled(on)

    # --- showing ------------------------------------------------------------------------------------
    def show_result(self, result: Any) -> None:
        """List a QueryResult or a ClearanceReport and select it in its layer."""
        self.result = result
        if hasattr(result, "violations"):  # ClearanceReport
            from qdt.query.clearance import display_frame
            from qdt.ui.i18n import language

            rows = display_frame(result.violations, "zh" if language() == "zh_CN" else "en")
            text = tr("管线净距检查：{n} 处不满足 GB 50289-2016 最小净距（检查 {s} 段管线，用时 {t:.2f} s）").format(
                n=result.count, s=result.segments, t=result.seconds)
            headers = [tr(_CLEARANCE_HEADERS.get(c, c)) for c in rows.columns]
        else:
            frame = result.frame()
            geometry = getattr(frame, "_geometry_column_name", None)
            rows = pd.DataFrame(frame.drop(columns=[geometry]) if geometry else frame).reset_index()
            layer = result.layer
            headers = [_field_title(layer, c) for c in rows.columns]
            text = tr("{layer}：{n} 个要素（用时 {t:.3f} s）").format(layer=layer.name, n=result.count,
                                                                 t=result.seconds)
        self.rows = rows
        labels = {}
        if not hasattr(result, "violations"):
            from qdt.ui.editing import field_info

            for column in rows.columns:
                if column in result.layer.frame.columns:
                    _fdef, codelist = field_info(result.layer, column)
                    if codelist is not None:
                        labels[column] = {str(e.code): catalogue_name(e) for e in codelist.entries}
        model = FrameModel(rows, headers, self.view, labels)
        old = self.view.model()
        self.view.setModel(model)
        if old is not None:
            old.deleteLater()
        self.summary.setText(text)
        self._enable(True)
        self.show()
        self.raise_()
        self.select_result()
        self._show_in_table(text)

    def _show_in_table(self, text: str) -> None:
        """The attribute table shows the result's layer filtered to the result (as QGIS's "show
        selected features")."""
        table = getattr(self.bench, "panels", {}).get("table")
        layer = self._result_layer()
        if table is not None and layer is not None and hasattr(table, "show_fids"):
            table.show_fids(layer, self.result_fids(), tr("仅显示查询结果：") + text)

    def _result_layer(self) -> Any:
        if self.result is None:
            return None
        if hasattr(self.result, "violations"):
            project = getattr(self.bench, "project", None)
            return find_layer(project.layers, self.result.layer) if project is not None else None
        return self.result.layer

    def result_fids(self) -> np.ndarray:
        if self.result is None:
            return np.empty(0, dtype=np.int64)
        if hasattr(self.result, "violations"):
            v = self.result.violations
            return np.unique(np.concatenate([v["fid_a"].to_numpy(np.int64), v["fid_b"].to_numpy(np.int64)]))
        return np.asarray(self.result.fids, dtype=np.int64)

    def select_result(self) -> None:
        """Make the result the layer's selection (3D view and attribute table follow)."""
        layer = self._result_layer()
        if layer is None:
            return
        apply_selection(layer, self.result_fids())
        self._request_render()

    def _request_render(self) -> None:
        if self.bench is not None:
            self.bench.request_render()

    def _zoom_current(self) -> None:
        """The 缩放到 button frames every result (double-click a row for one feature)."""
        self.zoom_to_all()

    def zoom_to_all(self) -> None:
        """Frame all the result's features in the 3D view."""
        import shapely

        layer = self._result_layer()
        if self.result is None or layer is None or self.bench is None or not getattr(layer, "has_geometry", False):
            return
        fids = self.result_fids()
        pos = layer.frame.index.get_indexer(fids)
        bounds = shapely.total_bounds(layer.geometry[pos[pos >= 0]])
        if not np.all(np.isfinite(bounds)):
            return
        pad = max(20.0, 0.1 * max(bounds[2] - bounds[0], bounds[3] - bounds[1]))
        self.bench.fly_to_extent((bounds[0] - pad, bounds[1] - pad, bounds[2] + pad, bounds[3] + pad))

    def zoom_to_row(self, row: int) -> None:
        """Fly to the feature of result row ``row`` (a violation: to its location)."""
        if self.result is None or row < 0 or row >= len(self.rows):
            return
        layer = self._result_layer()
        scene = getattr(self.bench, "scene", None)
        if hasattr(self.result, "violations"):
            x, y = float(self.rows["x"].iloc[row]), float(self.rows["y"].iloc[row])
            if scene is not None and np.isfinite(x) and np.isfinite(y):
                scene.fly_to_extent((x - 15, y - 15, x + 15, y + 15))
                if layer is not None:
                    layer.selection = [int(self.rows["fid_a"].iloc[row]), int(self.rows["fid_b"].iloc[row])]
        else:
            fid = int(self.rows["fid"].iloc[row])
            if self.bench is not None:
                self.bench.fly_to_feature(layer, fid)  # a feature not drawn: a status-bar message
        self._request_render()

    # --- export ------------------------------------------------------------------------------------
    def export(self, path: str | Path | None = None, suffix: str = ".csv") -> Any:
        """Write the result to ``path`` (asks for a file when None) on a worker thread.

        Returns the task handle (None when nothing is started); ``exported(Path)`` or
        ``export_failed(str)`` follow, and the status bar shows the outcome.
        """
        if self.result is None:
            return None
        if path is None:
            filters = {".csv": "CSV (*.csv)", ".geojson": "GeoJSON (*.geojson)", ".gpkg": "GeoPackage (*.gpkg)"}
            path, _ = QFileDialog.getSaveFileName(self, tr("导出查询结果"), f"result{suffix}", filters[suffix])
            if not path:
                return None
            if not str(path).lower().endswith(suffix):
                path = f"{path}{suffix}"
        # the rows are copied here, so later edits or a new query cannot change what is written
        if hasattr(self.result, "violations"):
            frame, name = self.result.violations.copy(), "clearance_violations"
        else:
            frame, name = self.result.frame(), str(self.result.layer.source_layer or self.result.layer.name)
        target = path
        layers = [getattr(self.result, "layer", None), getattr(self.result, "other", None)]
        inputs = input_files([lay for lay in layers if lay is not None])
        task = Task(tr("正在导出查询结果…"),
                    lambda _p, _c: export_frame(frame, target, layer_name=name, inputs=inputs),
                    cancellable=False)  # one write through a temporary file: nothing to stop halfway
        self.last_error = ""
        runner = self.bench.tasks if self.bench is not None else self._runner()
        self.export_handle = runner.start(task, finished=self._exported, failed=self._export_failed)
        return self.export_handle

    def _runner(self) -> TaskRunner:
        if not hasattr(self, "_own_runner"):
            self._own_runner = TaskRunner(self)
        return self._own_runner

    def _exported(self, out: Any) -> None:
        self.last_export = out
        self._status(tr("已导出到 {path}").format(path=out))
        self.exported.emit(out)

    def _export_failed(self, message: str, _details: str = "") -> None:
        self.last_error = message
        self._status(message)
        self.export_failed.emit(message)

    def _status(self, text: str) -> None:
        if self.bench is not None:
            self.bench.show_message(text, 10000)


_CLEARANCE_HEADERS = {
    "fid_a": "要素A", "fid_b": "要素B", "network_a": "管线类别A", "network_b": "管线类别B", "kind": "净距类型",
    "measured_m": "实测净距 (m)", "required_m": "规范净距 (m)", "shortfall_m": "不足 (m)", "citation": "依据",
    "verified": "已核实", "rule_note": "说明", "x": "X", "y": "Y", "depth_a": "埋深A (m)", "depth_b": "埋深B (m)",
    "network_a_name": "管线A", "network_b_name": "管线B", "kind_zh": "净距类型", "run_length_m": "长度 (m)",
    "segment_pairs": "管段对数",
}


def _field_title(layer: Any, column: str) -> str:
    from qdt.ui.editing import field_info

    if column == "fid":
        return "fid"
    extra = {"nearest_fid": "最近要素", "distance": "距离 (m)", "rank": "名次"}
    if column in extra:
        return tr(extra[column])
    fdef, _ = field_info(layer, column)
    if fdef is None:
        return column
    return (catalogue_name(fdef) or column) + (f" ({fdef.unit})" if fdef.unit else "")
