"""Statistics panel (pyqtgraph): facility status shares per class and pipe length by network, for
the whole project or for the current selection.

Status bars show each class's share (% of its features), so 2 500 manholes do not flatten the
dozen faulty lights a planner looks for; the counts stay in :attr:`ChartsDock.counts`.

The figures come from :func:`status_counts` and :func:`pipe_lengths` (pandas/shapely, no loop
per feature), so tests check them against the data directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyqtgraph as pg
import shapely
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QComboBox, QDockWidget, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from qdt.ui.i18n import tr
from qdt.ui.inspector import catalogue_name

LAYER_COLOURS = [(52, 101, 164), (230, 126, 34), (46, 139, 87), (192, 57, 43), (142, 68, 173), (127, 140, 141)]


def _rows(layer: Any, selection_only: bool) -> pd.DataFrame:
    frame = layer.frame
    if not selection_only:
        return frame
    fids = np.fromiter(layer.selection, dtype=np.int64, count=len(layer.selection))
    return frame.loc[frame.index.isin(fids)]


def status_counts(layers: Any, selection_only: bool = False) -> pd.DataFrame:
    """Features per status (rows: the facility_status code list's labels in the interface language, plus 未填 for
    nulls) and facility layer (columns: layer names) — every vector layer whose catalogue
    class has a ``status`` field with a code list."""
    from qdt.layers import VectorLayer
    from qdt.query import feature_class_of
    from qdt.ui.editing import field_info

    columns: dict[str, pd.Series] = {}
    order: list[str] = []
    for layer in layers:
        if not isinstance(layer, VectorLayer) or "status" not in layer.frame.columns:
            continue
        if feature_class_of(layer) is None:
            continue
        _fdef, codelist = field_info(layer, "status")
        if codelist is None:
            continue
        rows = _rows(layer, selection_only)
        codes = pd.to_numeric(rows["status"], errors="coerce") if codelist.dtype == "int" else rows["status"]
        counts = codes.value_counts(dropna=False)
        labels = {e.code: catalogue_name(e) for e in codelist.entries}
        for e in codelist.entries:
            if labels[e.code] not in order:
                order.append(labels[e.code])
        named = pd.Series(counts.to_numpy(), index=[labels.get(c, str(c)) if pd.notna(c) else tr("未填")
                                                     for c in counts.index])
        columns[layer.name] = named.groupby(level=0).sum()
    if not columns:
        return pd.DataFrame()
    table = pd.DataFrame(columns).fillna(0).astype(np.int64)
    index = [label for label in order if label in table.index] + [i for i in table.index if i not in order]
    return table.loc[index]


def pipe_lengths(layers: Any, selection_only: bool = False) -> pd.Series:
    """Pipe length in metres (2D, project CRS) per network, labelled with the network's
    name in the interface language, summed over every pipe layer."""
    from qdt.layers import VectorLayer
    from qdt.ui.editing import field_info

    parts = []
    for layer in layers:
        if not isinstance(layer, VectorLayer) or getattr(layer, "feature_class", None) != "pipe":
            continue
        if "network" not in layer.frame.columns or not layer.has_geometry:
            continue
        rows = _rows(layer, selection_only)
        _fdef, codelist = field_info(layer, "network")
        labels = {str(e.code): catalogue_name(e) for e in codelist.entries} if codelist is not None else {}
        length = shapely.length(rows.geometry.to_numpy())
        codes = rows["network"].astype(str).where(rows["network"].notna(), tr("未填"))
        named = codes.map(labels).fillna(codes)
        parts.append(pd.Series(length, index=named.to_numpy()).groupby(level=0).sum())
    if not parts:
        return pd.Series(dtype=np.float64)
    total = pd.concat(parts).groupby(level=0).sum()
    return total.sort_values(ascending=False)


class ChartsDock(QDockWidget):
    """Two bar charts; ``scope`` combo: whole project or the current selection."""

    # layer events may come from any thread (a live feed); a Qt signal takes them to the GUI thread
    _poke = Signal()

    def __init__(self, bench: Any = None) -> None:
        super().__init__(tr("统计图表"), getattr(bench, "dialog_parent", None))
        self.setObjectName("ChartsDock")
        self.bench = bench
        self.layers: Any = None
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(2, 2, 2, 2)
        top = QHBoxLayout()
        top.addWidget(QLabel(tr("统计范围"), body))
        self.scope_box = QComboBox(body)
        self.scope_box.addItem(tr("整个项目"), False)
        self.scope_box.addItem(tr("当前选择"), True)
        top.addWidget(self.scope_box)
        top.addStretch(1)
        layout.addLayout(top)
        self.status_plot = pg.PlotWidget(body, background="w", title=tr("设施状态占比（各类设施的 %）"))
        self.pipe_plot = pg.PlotWidget(body, background="w", title=tr("管线长度按类别（km）"))
        for plot in (self.status_plot, self.pipe_plot):
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setMouseEnabled(x=False, y=False)
            plot.setMinimumHeight(150)
        # every series in the legend, in columns across the top (one column clipped the last ones)
        self.legend = self.status_plot.addLegend(offset=(5, 1), labelTextSize="7pt", colCount=3,
                                                 verSpacing=-6, horSpacing=6)
        layout.addWidget(self.status_plot, 1)
        layout.addWidget(self.pipe_plot, 1)
        self.setWidget(body)
        self.counts = pd.DataFrame()
        self.lengths = pd.Series(dtype=np.float64)
        self.bars: list[Any] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(100)  # coalesce bursts of selection/edit events
        self._timer.timeout.connect(self.refresh)
        self._poke.connect(self._timer.start)
        self.scope_box.currentIndexChanged.connect(lambda _i: self.refresh())

    @property
    def selection_only(self) -> bool:
        return bool(self.scope_box.currentData())

    def set_layers(self, layers: Any) -> None:
        if self.layers is not None:
            for layer in self.layers:
                layer.events.selection.disconnect(self._on_selection)
                layer.events.data.disconnect(self._on_data)
        self.layers = layers
        for layer in layers:
            layer.events.selection.connect(self._on_selection)
            layer.events.data.connect(self._on_data)
        self.refresh()

    def _on_data(self, _change: Any = None) -> None:
        self._poke.emit()

    def _on_selection(self, _fids: Any) -> None:
        if self.selection_only:
            self._poke.emit()

    def refresh(self) -> None:
        if self.layers is None:
            return
        self.counts = status_counts(self.layers, self.selection_only)
        self.lengths = pipe_lengths(self.layers, self.selection_only)
        self._draw_status()
        self._draw_pipes()

    def _draw_status(self) -> None:
        plot = self.status_plot
        for bar in self.bars:
            plot.removeItem(bar)
        self.bars = []
        self.legend.clear()
        table = self.counts
        if table.empty:
            return
        n = len(table.columns)
        width = 0.8 / max(n, 1)
        x = np.arange(len(table.index), dtype=float)
        shares = self.shares = 100.0 * table / table.sum(axis=0).replace(0, 1)
        for i, name in enumerate(table.columns):
            colour = LAYER_COLOURS[i % len(LAYER_COLOURS)]
            bar = pg.BarGraphItem(x=x - 0.4 + width * (i + 0.5), height=shares[name].to_numpy(dtype=float),
                                  width=width, brush=pg.mkBrush(*colour), pen=pg.mkPen(None), name=name)
            plot.addItem(bar)  # named items join the legend by themselves
            self.bars.append(bar)
        plot.getAxis("bottom").setTicks([[(float(i), str(label)) for i, label in enumerate(table.index)]])
        plot.setXRange(-0.6, len(table.index) - 0.4, padding=0)
        plot.setYRange(0, 100.0 * (1.0 + 0.18 * -(-n // 3)), padding=0)  # headroom for the legend rows

    def _draw_pipes(self) -> None:
        plot = self.pipe_plot
        plot.clear()
        series = self.lengths
        if series.empty:
            return
        # horizontal bars: network names (long in English) sit on the left axis without overlapping
        y = np.arange(len(series), dtype=float)[::-1]  # the first network on top
        km = series.to_numpy(dtype=float) / 1000.0
        self.pipe_bar = pg.BarGraphItem(x0=0.0, y=y, width=km, height=0.7, brush=pg.mkBrush(46, 139, 87),
                                        pen=pg.mkPen(None))
        plot.addItem(self.pipe_bar)
        plot.getAxis("left").setTicks([[(float(yi), str(label)) for yi, label in zip(y, series.index, strict=True)]])
        plot.getAxis("bottom").setTicks(None)
        plot.setYRange(-0.6, len(series) - 0.4, padding=0)
        plot.setXRange(0, max(0.001, float(km.max()) * 1.1), padding=0)
