"""多杆合一 consolidation panel: compute groups off the GUI thread, list them, show them in 3D, export.

The computation is :func:`qdt.poles.consolidate_layers` run as a task; the result becomes the
planning layers (:func:`qdt.poles.planning_layers`: proposed sites and links) added to the
project's layer list, so the 3D scene draws them through its builders. Selecting a group selects
its member poles in their layers and flies the camera to its site.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from qdt.tasks import Task
from qdt.ui.i18n import tr
from qdt.ui.panels import data_menu, register_panel


class PolesDock(QDockWidget):
    """Groups of poles one smart pole can replace; acts through the workbench."""

    COLUMNS = ("序号", "道路", "杆数", "拆除", "站点", "杆件类型", "搭载设备")

    def __init__(self, bench: Any) -> None:
        super().__init__(tr("多杆合一规划"))
        self.setObjectName("PolesDock")
        self.bench = bench
        self.project: Any = None
        self.plan: Any = None
        self.planning: tuple[Any, Any] | None = None
        self.handle: Any = None
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        row.addWidget(QLabel(tr("合杆距离")))
        self.distance = QDoubleSpinBox()
        self.distance.setRange(1.0, 100.0)
        self.distance.setDecimals(1)
        self.distance.setValue(15.0)
        self.distance.setSuffix(" m")
        row.addWidget(self.distance)
        self.run_button = QPushButton(tr("计算合杆方案"))
        self.run_button.clicked.connect(self.compute)
        row.addWidget(self.run_button)
        self.show_layer = QCheckBox(tr("三维显示规划图层"))
        self.show_layer.setChecked(True)
        self.show_layer.toggled.connect(self._toggle_layer)
        row.addWidget(self.show_layer)
        row.addStretch(1)
        self.export_button = QPushButton(tr("导出…"))
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.export_dialog)
        row.addWidget(self.export_button)
        layout.addLayout(row)
        self.summary = QLabel(tr("路灯、信号灯杆、标志杆、监控杆在同侧相距不超过合杆距离时合并为一根智慧杆"))
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.table = QTableWidget(0, len(self.COLUMNS), body)
        self.table.setHorizontalHeaderLabels([tr(c) for c in self.COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._on_row)
        layout.addWidget(self.table)
        self.setWidget(body)

    # --- project --------------------------------------------------------------------------------------
    def set_project(self, project: Any) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        self._remove_planning()
        self.project = project
        self.plan = None
        self.table.setRowCount(0)
        self.export_button.setEnabled(False)
        self.run_button.setEnabled(True)

    def _remove_planning(self) -> None:
        if self.planning is not None and self.project is not None:
            for layer in self.planning:
                if layer in self.project.layers:
                    self.project.layers.remove(layer)
        self.planning = None

    # --- compute ---------------------------------------------------------------------------------------
    def compute(self) -> Any:
        """Run the consolidation as a task; returns its handle (None without a project)."""
        from qdt.poles import consolidate_layers

        if self.project is None:
            return None
        layers = list(self.project.layers)
        distance = float(self.distance.value())

        def run(progress: Any, is_cancelled: Any) -> Any:
            return consolidate_layers(layers, distance, progress=lambda f, _m: progress(f, ""))

        self.run_button.setEnabled(False)
        self.summary.setText(tr("正在计算合杆方案…"))

        def connect(handle: Any) -> None:
            handle.finished.connect(self._on_done)
            handle.failed.connect(self._on_failed)

        self.handle = self.bench.run_with_progress(Task(tr("多杆合一分析"), run), connect)
        return self.handle

    def _on_failed(self, message: Any, *_: Any) -> None:
        self.handle = None
        self.run_button.setEnabled(True)
        self.summary.setText(tr("合杆分析失败：{error}").format(error=message))

    def _on_done(self, plan: Any) -> None:
        from qdt.poles import planning_layers

        self.handle = None
        self.run_button.setEnabled(True)
        if self.project is None:
            return
        self.plan = plan
        self._remove_planning()
        self.planning = planning_layers(plan)
        for layer in self.planning:
            layer.visible = self.show_layer.isChecked()
            self.project.layers.append(layer)
        text = tr("{before} 根杆件 → {after} 根：{groups} 个合杆点，拆除 {removed} 根（距离 {d:g} m）")
        self.summary.setText(text.format(before=plan.poles_before, after=plan.poles_after, groups=len(plan.groups),
                                         removed=plan.poles_removed, d=plan.distance))
        self.bench.show_message(self.summary.text(), 8000)
        self._fill()
        self.export_button.setEnabled(True)
        self.bench.layers_changed.emit()
        self.bench.request_render()

    def _fill(self) -> None:
        from qdt.cim.schema import catalogue

        cat = catalogue()
        devices = {str(e.code): e.zh for e in cat.codelist("device_type").entries}
        kinds = {name: cat.feature_class(name).zh for name in cat.classes}
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(len(self.plan.groups))
        for row, group in enumerate(self.plan.groups):
            site = tr("现有智慧杆") if group.site_is_smart_pole else f"{group.site_member[0]} #{group.site_member[1]}"
            values = (str(row + 1), group.road or "", str(len(group.members)), str(len(group.removed)), site,
                      "、".join(kinds.get(k, k) for k in group.kinds),
                      "、".join(devices.get(d, d) for d in group.devices))
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                if col in (0, 2, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
        self.table.setUpdatesEnabled(True)

    def _toggle_layer(self, on: bool) -> None:
        for layer in self.planning or ():
            layer.visible = on
        self.bench.request_render()

    # --- select / zoom ---------------------------------------------------------------------------------
    def select_group(self, row: int) -> None:
        """Select the group's member poles in their layers and its site; fly to the site."""
        if self.plan is None or not 0 <= row < len(self.plan.groups) or self.project is None:
            return
        group = self.plan.groups[row]
        by_layer: dict[str, set[int]] = {}
        for layer_name, fid in group.members:
            by_layer.setdefault(layer_name, set()).add(fid)
        for layer in self.project.layers:
            if layer.name in by_layer:
                layer.selection = by_layer[layer.name]
            elif self.planning is not None and layer is self.planning[0]:
                layer.selection = {row + 1}
            elif getattr(layer, "selection", None):
                layer.selection = ()
        if self.planning is not None:
            self.bench.fly_to_feature(self.planning[0], row + 1)
        self.bench.request_render()

    def _on_row(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.select_group(rows[0].row())

    # --- export ----------------------------------------------------------------------------------------
    def export(self, path: str | Path) -> Path:
        """Write the plan (.gpkg: sites, links, members; .csv: one row per group)."""
        from qdt.poles import export_plan

        return export_plan(self.plan, path)

    def export_dialog(self) -> None:
        from qdt.poles import ConsolidationError

        if self.plan is None:
            return
        path, _ = QFileDialog.getSaveFileName(self.bench.dialog_parent, tr("导出合杆方案"), "多杆合一方案.gpkg",
                                              tr("GeoPackage (*.gpkg);;CSV 表格 (*.csv)"))
        if not path:
            return
        try:
            written = self.export(path)
        except ConsolidationError as exc:
            self.bench.show_message(str(exc), 10000)
            return
        self.bench.show_message(tr("已导出合杆方案 {path}").format(path=written), 8000)


@register_panel("poles", area="bottom", tab_with="table", visible=False)
def poles_panel(bench: Any) -> QWidget:
    """The 多杆合一 panel and its action in the Data menu."""
    dock = PolesDock(bench)
    act = QAction(tr("多杆合一规划(&P)…"), dock)
    act.setStatusTip(tr("查找可合并为一根智慧杆的路灯、信号灯杆、标志杆和监控杆"))
    act.triggered.connect(lambda: (dock.show(), dock.raise_()))
    bench.add_action(act, data_menu())
    dock.act_open = act
    bench.project_loaded.connect(dock.set_project)
    return dock
