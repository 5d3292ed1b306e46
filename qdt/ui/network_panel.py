"""管线分析: the pipe-network panel and menu (连通, 追踪, 爆管/关阀, 横断面, 纵断面, 数据检查).

The panel works on the project's layers of classes ``pipe_point`` and ``pipe`` (a survey delivery).
Every analysis is :mod:`qdt.network`'s headless API; the panel only gathers inputs (typed, or
picked in the 3D view), lists the result, selects it in the view and the attribute table, draws
the section and profile charts to scale (pyqtgraph) and exports the rows (CSV) and the chart
(PNG or PDF). The topology is built on first use per project (about 0.1 s for the sample).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from qdt.ui.i18n import tr
from qdt.ui.panels import register_panel

MODES = {"connected": "连通性分析", "trace": "上下游追踪", "isolate": "爆管关阀分析", "section": "横断面分析",
         "profile": "纵断面分析", "check": "管线数据检查"}
DIRECTIONS = {"down": "下游", "up": "上游"}


class NetworkPanel(QDockWidget):
    """The 管线分析 dock, built from the workbench (:mod:`qdt.ui.workbench`). Attributes: ``topology``
    (built on first use per project), ``result`` (the last analysis dict), ``rows`` (the listed rows
    as dicts), ``plot`` (the chart widget), ``actions`` (analysis key → its 管线分析 menu action)."""

    def __init__(self, bench: Any) -> None:
        super().__init__(tr("管线分析"))
        self.setObjectName("NetworkAnalysisDock")
        self.bench = bench
        self.actions: dict[str, QAction] = {}
        self.topology: Any = None
        self._topology_project: Any = None
        self.result: dict[str, Any] | None = None
        self.mode = "isolate"
        self.rows: list[dict[str, Any]] = []
        self.pick_target: QLineEdit | None = None
        body = QWidget(self)
        layout = QVBoxLayout(body)
        form = QFormLayout()
        self.mode_box = QComboBox(body)
        for key, label in MODES.items():
            self.mode_box.addItem(tr(label), key)
        self.mode_box.currentIndexChanged.connect(lambda _i: self.set_mode(self.mode_box.currentData()))
        form.addRow(tr("分析"), self.mode_box)
        self.network_box = QComboBox(body)
        form.addRow(tr("管线类别"), self.network_box)
        self.from_edit, self.to_edit = QLineEdit(body), QLineEdit(body)
        self.line_edit, self.failed_edit, self.cut_edit = QLineEdit(body), QLineEdit(body), QLineEdit(body)
        self.from_edit.setPlaceholderText(tr("物探点号，或在视图中拾取"))
        self.to_edit.setPlaceholderText(tr("物探点号，或在视图中拾取"))
        self.line_edit.setPlaceholderText(tr("管线要素编号，或在视图中拾取"))
        self.failed_edit.setPlaceholderText(tr("失效阀门点号，逗号分隔"))
        self.cut_edit.setPlaceholderText("X1 Y1, X2 Y2")
        self.direction_box = QComboBox(body)
        for key, label in DIRECTIONS.items():
            self.direction_box.addItem(tr(label), key)
        self._rows: dict[str, tuple[QLabel, QWidget]] = {}
        for key, label, widget in (("from", "起点", self.from_edit), ("to", "终点", self.to_edit),
                                   ("line", "爆管管段", self.line_edit), ("failed", "失效阀门", self.failed_edit),
                                   ("direction", "方向", self.direction_box), ("cut", "剖切线", self.cut_edit)):
            row = QWidget(body)
            h = QHBoxLayout(row)
            h.setContentsMargins(0, 0, 0, 0)
            h.addWidget(widget, 1)
            if isinstance(widget, QLineEdit) and key != "cut":
                pick = QPushButton(tr("拾取"), row)
                pick.setToolTip(tr("在三维视图中点击管线或管点"))
                pick.clicked.connect(lambda _c=False, w=widget: self.start_pick(w))
                h.addWidget(pick)
            name = QLabel(tr(label), body)
            form.addRow(name, row)
            self._rows[key] = (name, row)
        layout.addLayout(form)
        buttons = QHBoxLayout()
        self.run_button = QPushButton(tr("分析"), body)
        self.run_button.clicked.connect(self.run_analysis)
        self.export_button = QPushButton(tr("导出结果…"), body)
        self.export_button.clicked.connect(lambda: self.export_rows())
        self.chart_button = QPushButton(tr("导出图表…"), body)
        self.chart_button.clicked.connect(lambda: self.export_chart())
        for b in (self.run_button, self.export_button, self.chart_button):
            buttons.addWidget(b)
        layout.addLayout(buttons)
        self.summary = QLabel("", body)
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        split = QSplitter(Qt.Orientation.Vertical, body)
        import pyqtgraph as pg

        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.hide()
        self.table = QTableWidget(0, 0, split)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.itemSelectionChanged.connect(self._row_selected)
        split.addWidget(self.plot)
        split.addWidget(self.table)
        self.plot.setMinimumHeight(220)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout.addWidget(split, 1)
        self.setWidget(body)
        bench.picked.connect(self._on_picked)
        bench.project_loaded.connect(self._forget_topology)
        self.set_mode("isolate")

    def _forget_topology(self, *_: Any) -> None:
        self.topology = None
        self._topology_project = None

    # --- inputs ---------------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        """Show the inputs ``mode`` needs (one of :data:`MODES`)."""
        self.mode = mode
        if self.mode_box.currentData() != mode:
            self.mode_box.setCurrentIndex(self.mode_box.findData(mode))
        needs = {"connected": {"from", "to"}, "profile": {"from", "to"}, "trace": {"from", "direction"},
                 "isolate": {"line", "failed"}, "section": {"cut"}, "check": set()}[mode]
        for key, (name, row) in self._rows.items():
            name.setVisible(key in needs)
            row.setVisible(key in needs)
        self.chart_button.setEnabled(mode in ("section", "profile"))

    def start_pick(self, target: QLineEdit) -> None:
        """The next click in the 3D view fills ``target`` (a point number, or a line id)."""
        self.pick_target = target
        self.bench.show_message(tr("在三维视图中点击管线或管点"), 8000)

    def _on_picked(self, result: Any) -> None:
        target, self.pick_target = self.pick_target, None
        if target is None or result is None or result.fid is None:
            return
        layer = result.layer
        fc = getattr(layer, "feature_class", None)
        frame = layer.frame
        if target is self.line_edit and fc == "pipe":
            target.setText(str(int(result.fid)))
        elif fc == "pipe_point" and "point_no" in frame.columns:
            target.setText(str(frame.at[result.fid, "point_no"]))
            if "network" in frame.columns:
                self._select_network(frame.at[result.fid, "network"])
        elif fc == "pipe" and "start_point" in frame.columns:
            # a pipe picked for a point: its end nearest to the click
            row = frame.loc[result.fid]
            coords = np.asarray(row.geometry.coords)
            click = np.asarray(result.world_xyz[:2], dtype=float)
            nearer_end = np.hypot(*(coords[-1] - click)) < np.hypot(*(coords[0] - click))
            target.setText(str(row["end_point"] if nearer_end else row["start_point"]))
            self._select_network(row.get("network"))
        else:
            return
        if target is self.line_edit and fc == "pipe" and "network" in frame.columns:
            self._select_network(frame.at[result.fid, "network"])

    def _select_network(self, code: Any) -> None:
        i = self.network_box.findData(str(code))
        if i >= 0:
            self.network_box.setCurrentIndex(i)

    # --- data -----------------------------------------------------------------------------------
    def layers(self) -> tuple[Any, Any]:
        """The project's (pipe_point layer, pipe layer); raises ValueError naming what is missing."""
        project = self.bench.project
        if project is None:
            raise ValueError(tr("请先打开项目"))
        points = next((lyr for lyr in project.layers if getattr(lyr, "feature_class", None) == "pipe_point"), None)
        lines = next((lyr for lyr in project.layers if getattr(lyr, "feature_class", None) == "pipe"), None)
        if points is None or lines is None:
            raise ValueError(tr("项目中没有管线点和管线图层（类别 pipe_point 与 pipe）"))
        return points, lines

    def ensure_topology(self) -> Any:
        """The project's topology, built now when missing (sample: a tenth of a second)."""
        from qdt.network import PipeDelivery, build_topology

        project = self.bench.project
        if self.topology is not None and self._topology_project is project:
            return self.topology
        points, lines = self.layers()
        dem = next((lyr for lyr in project.layers if getattr(lyr, "role", None) == "dem"), None)
        delivery = PipeDelivery.from_frames(points.frame, lines.frame, dem=dem, sources=[points.name, lines.name])
        self.topology = build_topology(delivery)
        self._topology_project = project
        current = self.network_box.currentData()
        self.network_box.clear()
        from qdt.cim import pipe_networks

        nets = pipe_networks()
        for code in delivery.networks:
            self.network_box.addItem(f"{nets[code].zh} {code}" if code in nets else code, code)
        if current is not None:
            self._select_network(current)
        return self.topology

    # --- running --------------------------------------------------------------------------------
    def run_analysis(self) -> dict[str, Any] | None:
        """Run the chosen analysis with the panel's inputs; lists, selects and charts the result."""
        from qdt.network import NetworkError, check, connected, isolate, profile, section, trace

        try:
            topo = self.ensure_topology()
            net = self.network_box.currentData()
            mode = self.mode
            if mode == "connected":
                result = connected(topo, self.from_edit.text(), self.to_edit.text(), net)
            elif mode == "trace":
                result = trace(topo, self.from_edit.text(), self.direction_box.currentData(), net)
            elif mode == "isolate":
                failed = [s.strip() for s in self.failed_edit.text().replace("，", ",").split(",") if s.strip()]
                result = isolate(topo, self.line_edit.text().strip(), failed, net)
            elif mode == "section":
                result = section(topo, self.cut_edit.text())
            elif mode == "profile":
                result = profile(topo, self.from_edit.text(), self.to_edit.text(), net)
            else:
                result = check(topo, net)
        except (NetworkError, ValueError) as exc:
            self.summary.setText(str(exc))
            self.bench.show_message(str(exc), 8000)
            return None
        self.show_result(mode, result)
        return result

    def show_result(self, mode: str, result: dict[str, Any]) -> None:
        self.result = result
        rows, summary = _rows_of(mode, result)
        self.rows = rows
        self.summary.setText(summary)
        columns = list(rows[0]) if rows else []
        self.table.clear()
        self.table.setColumnCount(len(columns))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels([tr(c) for c in columns])
        for r, row in enumerate(rows):
            for c, key in enumerate(columns):
                value = row[key]
                text = "" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self._select_in_layers(result)
        self.plot.clear()
        self.plot.setVisible(mode in ("section", "profile"))
        if mode == "section":
            draw_section(self.plot, result)
        elif mode == "profile":
            draw_profile(self.plot, result)

    def _select_in_layers(self, result: dict[str, Any]) -> None:
        """Select the result's lines and points (valves too) in their layers: the view highlights them."""
        try:
            points_layer, lines_layer = self.layers()
        except ValueError:
            return
        lines = set(result.get("lines") or [])
        if not lines and "pipes" in result:
            lines = {r["line"] for r in result["pipes"]}
        if not lines and "segments" in result:
            lines = {s["line"] for s in result["segments"]}
        if not lines and "findings" in result:
            lines = {fid for f in result["findings"] for fid in f["lines"]}
        names = set(result.get("valves") or []) | set(result.get("closed_valves") or [])
        pts = result.get("points")
        if isinstance(pts, list) and pts and isinstance(pts[0], str):
            names |= set(pts)
        elif isinstance(pts, list) and pts and isinstance(pts[0], dict):
            names |= {p["point"] for p in pts}
        frame = points_layer.frame
        numbers = frame["point_no"].astype(str)
        lines_layer.selection = {int(f) for f in lines if f in lines_layer.frame.index}
        points_layer.selection = set(frame.index[numbers.isin(names)].tolist())
        self.bench.request_render()

    def _row_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        if not rows or not self.rows:
            return
        row = self.rows[rows[0]]
        try:
            points_layer, lines_layer = self.layers()
        except ValueError:
            return
        line = row.get("管线") or row.get("line")
        if line is not None and str(line).isdigit():
            self.bench.fly_to_feature(lines_layer, int(line))

    # --- export ---------------------------------------------------------------------------------
    def export_rows(self, path: str | Path | None = None) -> Path | None:
        """Write the listed rows as CSV (UTF-8 with BOM, so Excel shows Chinese); asks for a file when None."""
        if not self.rows:
            return None
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(self.bench.dialog_parent, tr("导出结果…"), "network.csv",
                                                    tr("CSV 表格 (*.csv)"))
            if not chosen:
                return None
            path = chosen
        out = Path(path)
        with open(out, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(self.rows[0]))
            writer.writeheader()
            writer.writerows(self.rows)
        self.bench.show_message(tr("已导出 {path}").format(path=out), 8000)
        return out

    def export_chart(self, path: str | Path | None = None) -> Path | None:
        """Write the chart (section or profile) and its table as PNG, or as a PDF page in the report style."""
        if not self.plot.isVisible() and path is None:
            return None
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(self.bench.dialog_parent, tr("导出图表…"), "profile.pdf",
                                                    tr("PDF 文档 (*.pdf);;PNG 图像 (*.png)"))
            if not chosen:
                return None
            path = chosen
        out = Path(path)
        pixmap = self.plot.grab()
        if out.suffix.lower() == ".pdf":
            from PySide6.QtCore import QMarginsF
            from PySide6.QtGui import QPageLayout, QPageSize, QPainter, QPdfWriter

            writer = QPdfWriter(str(out))
            writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Landscape,
                                             QMarginsF(15, 15, 15, 15)))
            writer.setResolution(150)
            painter = QPainter(writer)
            page = writer.pageLayout().paintRectPixels(150)
            painter.drawText(0, 40, f"{tr(MODES[self.mode])} — {self.summary.text()}")
            target = page.adjusted(0, 60, 0, 0)
            scaled = pixmap.scaled(target.width(), int(target.height() * 0.6), Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
            painter.drawPixmap(0, 60, scaled)
            # every row of the table, as text in columns (new pages as needed), not a picture of the widget
            columns = list(self.rows[0]) if self.rows else []
            width = page.width() / max(len(columns), 1)
            line_h = painter.fontMetrics().height() + 6
            y = 70 + scaled.height() + line_h
            for n, values in enumerate([{c: tr(c) for c in columns}, *self.rows]):
                if y > page.height() - line_h:
                    writer.newPage()
                    y = line_h
                for k, c in enumerate(columns):
                    v = values[c]
                    text = "" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))
                    painter.drawText(int(k * width), int(y), text)
                if n == 0:
                    painter.drawLine(0, int(y + 4), page.width(), int(y + 4))
                y += line_h
            painter.end()
        else:
            pixmap.save(str(out))
        return out


def _rows_of(mode: str, r: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """Table rows (Chinese column names) and a one-line summary for each analysis."""
    if mode == "connected":
        if not r["connected"]:
            return [], tr("两点不连通")
        rows = [{"序号": i + 1, "物探点号": p} for i, p in enumerate(r["points"])]
        return rows, tr("连通：路径长 {l:.1f} m，经 {n} 段管线").format(l=r["length_m"], n=len(r["lines"]))
    if mode == "trace":
        rows = [{"物探点号": p} for p in r["points"]]
        return rows, tr("追踪到 {p} 个管点、{n} 段管线").format(p=len(r["points"]), n=len(r["lines"]))
    if mode == "isolate":
        rows = [{"阀门": v, "操作": tr("关闭")} for v in r["valves"]]
        rows += [{"阀门": v, "操作": tr("已关闭")} for v in r["closed_valves"]]
        rows += [{"阀门": v, "操作": tr("失效，越过")} for v in r["failed_valves"]]
        a = r["affected"]
        return rows, tr("需关闭 {v} 个阀门；停水管段 {n} 段 {l:.0f} m，消防栓 {h} 个，用户 {c} 户").format(
            v=len(r["valves"]), n=a["lines"], l=a["length_m"], h=a["hydrants"], c=a["consumers"])
    if mode == "section":
        rows = [{"距离 (m)": p["distance_m"], "管线类别": p["network"], "管线": p["line"], "管顶高程": p["top"],
                 "管底高程": p["invert"], "管径 (mm)": p["width_mm"], "地面高程": p["ground"],
                 "埋深 (m)": p["depth_top"]} for p in r["pipes"]]
        low = sum(1 for n in r["neighbours"] if n["below_minimum"])
        unchecked = sum(1 for n in r["neighbours"] if n["unchecked"])
        return rows, tr("剖切到 {n} 条管线；相邻净距不足 {b} 处，无规范条文未检查 {u} 处").format(
            n=len(rows), b=low, u=unchecked)
    if mode == "profile":
        rows = [{"管线": s["line"], "起点": s["from"], "终点": s["to"], "里程 (m)": s["chainage_m"],
                 "长度 (m)": s["length_m"], "管径 (mm)": s["diameter_mm"], "起点管底": s["invert_from"],
                 "终点管底": s["invert_to"], "坡度 (‰)": s["slope_permille"]} for s in r["segments"]]
        return rows, tr("纵断面：{n} 段，长 {l:.1f} m").format(n=len(rows), l=r["length_m"])
    rows = [{"规则": f["rule_zh"], "管线类别": f["network"], "管点": " ".join(f["points"][:5]),
             "管线": " ".join(map(str, f["lines"][:5])), "说明": f["message"]} for f in r["findings"]]
    return rows, tr("检查 {n} 段管线，发现 {f} 个问题").format(n=r["lines"], f=len(rows))


def _colour(code: str) -> tuple[int, int, int]:
    from qdt.cim import pipe_networks

    net = pipe_networks().get(code)
    return net.colour if net is not None else (102, 0, 204)


def draw_section(plot: Any, r: dict[str, Any]) -> None:
    """横断面 to scale: ground line, each pipe as a circle (or box) of its size at its depth, labels."""
    import pyqtgraph as pg

    plot.setAspectLocked(True)
    plot.setLabel("bottom", tr("沿剖切线距离 (m)"))
    plot.setLabel("left", tr("高程 (m)"))
    pipes = r["pipes"]
    if not pipes:
        return
    d = np.array([p["distance_m"] for p in pipes], dtype=float)
    g = np.array([np.nan if p["ground"] is None else p["ground"] for p in pipes], dtype=float)
    order = np.argsort(d)
    ends_d = np.r_[0.0, d[order], r["length_m"]]
    g_known = g[order][np.isfinite(g[order])]
    ground = np.r_[g_known[0] if g_known.size else 0.0, g[order], g_known[-1] if g_known.size else 0.0]
    ground = np.where(np.isfinite(ground), ground, np.nanmean(ground))
    plot.plot(ends_d, ground, pen=pg.mkPen((120, 90, 40), width=2))
    top_ground = float(np.nanmax(ground))
    for k, p in enumerate(sorted(pipes, key=lambda q: q["distance_m"])):
        if p["top"] is None:
            continue
        w = (p["width_mm"] or 200) / 1000.0
        h = (p["height_mm"] or p["width_mm"] or 200) / 1000.0
        rgb = _colour(p["network"])
        centre = p["top"] - h / 2
        if p["width_mm"] == p["height_mm"]:
            item = pg.QtWidgets.QGraphicsEllipseItem(p["distance_m"] - w / 2, centre - h / 2, w, h)
        else:
            item = pg.QtWidgets.QGraphicsRectItem(p["distance_m"] - w / 2, centre - h / 2, w, h)
        item.setPen(pg.mkPen((0, 0, 0), width=1))
        item.setBrush(pg.mkBrush(*rgb))
        plot.addItem(item)
        # labels stand above the ground in three staggered rows, each joined to its pipe by a leader
        label_y = top_ground + 0.6 + 0.9 * (k % 3)
        plot.plot([p["distance_m"], p["distance_m"]], [p["top"], label_y], pen=pg.mkPen((150, 150, 150), width=1,
                                                                                         style=Qt.PenStyle.DotLine))
        size = f"DN{p['width_mm']:.0f}" if p["width_mm"] == p["height_mm"] and p["width_mm"] else \
            f"{p['width_mm']:.0f}×{p['height_mm']:.0f}" if p["width_mm"] else ""
        label = pg.TextItem(f"{p['network']} {p['line']} {size}", color=_colour(p["network"]) if p["network"] != "TX"
                            else (0, 140, 0), anchor=(0.5, 1.0))
        label.setPos(p["distance_m"], label_y)
        plot.addItem(label)
    inverts = [p["invert"] for p in pipes if p["invert"] is not None]
    span = [p["distance_m"] for p in pipes]
    plot.setRange(xRange=(min(span) - 3, max(span) + 3),
                  yRange=(min(inverts) - 0.5 if inverts else top_ground - 5, top_ground + 3.2), padding=0)


def draw_profile(plot: Any, r: dict[str, Any]) -> None:
    """纵断面: ground line, pipe top and invert lines along the chainage, wells as bars, point labels."""
    import pyqtgraph as pg

    plot.setAspectLocked(False)
    plot.setLabel("bottom", tr("里程 (m)"))
    plot.setLabel("left", tr("高程 (m)"))
    pts = r["points"]
    ch = np.array([p["chainage_m"] for p in pts], dtype=float)
    ground = np.array([np.nan if p["ground"] is None else p["ground"] for p in pts], dtype=float)
    top = np.array([np.nan if p["top"] is None else p["top"] for p in pts], dtype=float)
    inv = np.array([np.nan if p["invert"] is None else p["invert"] for p in pts], dtype=float)
    plot.addLegend(offset=(-10, -10))  # bottom right, clear of the point labels
    plot.plot(ch, ground, pen=pg.mkPen((120, 90, 40), width=2), name=tr("地面线"))
    plot.plot(ch, top, pen=pg.mkPen((30, 30, 200), width=1.5), name=tr("管顶"))
    plot.plot(ch, inv, pen=pg.mkPen((200, 30, 30), width=1.5), name=tr("管底"))
    for k, p in enumerate(pts):
        if p["appurtenance"] in ("manhole", "valve", "outfall", "cable_manhole") and np.isfinite(ground[k]):
            plot.plot([ch[k], ch[k]], [ground[k], inv[k]], pen=pg.mkPen((90, 90, 90), width=3))
        label = pg.TextItem(p["point"], color=(40, 40, 40), angle=90, anchor=(0, 0.5))
        label.setPos(ch[k], (ground[k] if np.isfinite(ground[k]) else np.nanmax(ground)) + 0.2)
        plot.addItem(label)
    for s in r["segments"]:
        if s["slope_permille"] is None:
            continue
        mid = s["chainage_m"] + s["length_m"] / 2
        text = pg.TextItem(f"{s['slope_permille']:.1f}‰", color=(150, 20, 20), anchor=(0.5, -0.3))
        text.setPos(mid, ((s["invert_from"] or 0) + (s["invert_to"] or 0)) / 2)
        plot.addItem(text)
    plot.autoRange()


@register_panel("network", area="right", visible=False)
def network_panel(bench: Any) -> NetworkPanel:
    """The 管线分析 dock and its menu (one action per analysis), registered with the panel registry."""
    panel = NetworkPanel(bench)
    menu = tr("管线分析(&N)")
    for key, label in MODES.items():
        act = QAction(tr(label), panel)
        act.setObjectName(f"network_{key}")
        act.setStatusTip(tr(label))
        act.triggered.connect(lambda _c=False, k=key: (panel.set_mode(k), panel.show(), panel.raise_(),
                                                       _safe_topology(panel)))
        bench.add_action(act, menu, before=tr("帮助(&H)"))
        panel.actions[key] = act
    return panel


def _safe_topology(panel: NetworkPanel) -> None:
    try:
        panel.ensure_topology()
    except ValueError as exc:
        panel.summary.setText(str(exc))
