"""Live facility status in the window: the feed of the open project, alarms, history chart, broker state.

- :class:`LiveController` owns the :class:`qdt.live.LiveFeed` of the open project. The feed's
  threads reach the GUI thread through :class:`_FeedRelay` (Qt queued signals); there the
  updates go into the layers' ``status`` values through :func:`qdt.live.apply.apply_updates`,
  whose change events make the 3D scene recolour just those features (no second recolour path).
- :class:`AlarmsDock`: alarms (a light or pole device turning 故障, a manhole cover opening) with
  their time; acknowledge one or all; double-click flies to the facility.
- :class:`LiveHistoryChart`: the picked facility's reports (status as steps, a numeric reading)
  as a pyqtgraph chart in the inspector.
- The status bar shows the broker state (connected, offline with the next retry, stopped) and
  the counts of reports and rejected messages.

The window starts no feed by itself: 物联感知 → 连接… asks for the broker, or the environment
variable ``QDT_LIVE_BROKER`` (``make run DEMO_FEED=1`` sets it) connects once a project is open.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from qdt.ui.i18n import tr
from qdt.ui.panels import register_panel

ENV_BROKER = "QDT_LIVE_BROKER"
DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
STATE_COLOURS = {"connected": "#1e8449", "connecting": "#b9770e", "offline": "#c0392b", "stopped": "#7f8c8d"}


def _local_time(ts: str) -> str:
    """UTC ``…Z`` text → local ``YYYY-MM-DD HH:MM:SS``."""
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return ts


def _epoch(ts: str) -> float:
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("nan")


class _FeedRelay(QObject):
    """Moves the feed's events (network and writer threads) to the GUI thread (queued connections)."""

    updates = Signal(object)
    alarms = Signal(object)
    state = Signal(str, str)


class LiveController(QObject):
    """The live feed of the window's project.

    Signals: ``counters_changed()`` after each batch; ``applied(dict)`` with the fids changed
    per layer name; ``alarm_raised(list)`` with :class:`qdt.live.Alarm` objects; ``state_changed(str, str)``.
    """

    counters_changed = Signal()
    applied = Signal(object)
    alarm_raised = Signal(object)
    state_changed = Signal(str, str)

    def __init__(self, bench: Any) -> None:
        super().__init__(bench)
        self.bench = bench
        self.feed: Any = None
        self.index: Any = None
        self.gpkg: Path | None = None
        self.layers: dict[str, Any] = {}
        self.state, self.detail = "stopped", ""
        self._relay = _FeedRelay()
        self._relay.updates.connect(self._on_updates, Qt.ConnectionType.QueuedConnection)
        self._relay.alarms.connect(self.alarm_raised, Qt.ConnectionType.QueuedConnection)
        self._relay.state.connect(self._on_state, Qt.ConnectionType.QueuedConnection)

    # --- project ---------------------------------------------------------------------------------------
    def set_project(self, project: Any) -> None:
        """Follow a newly opened project: stop the old feed, index the new facilities, show last known states."""
        from qdt.live import FacilityIndex, reporting_classes

        self.stop()
        classes = reporting_classes()
        layers = [layer for layer in project.layers if getattr(layer, "feature_class", None) in classes
                  and getattr(layer, "frame", None) is not None and "code" in layer.frame.columns]
        self.layers = {layer.name: layer for layer in layers}
        self.index = FacilityIndex.from_layers(layers) if layers else None
        self.gpkg = next((Path(layer.source) for layer in layers
                          if str(getattr(layer, "source", "") or "").lower().endswith(".gpkg")), None)
        self._last_known()
        broker = os.environ.get(ENV_BROKER)
        if broker and self.index is not None:
            QTimer.singleShot(0, lambda: self.start(broker))

    def _last_known(self) -> None:
        """Show the states an earlier session stored (works offline)."""
        if self.index is None or self.gpkg is None or not self.gpkg.is_file():
            return
        from qdt.live import LiveFeed

        probe = LiveFeed(self.index, self.gpkg, DEFAULT_BROKER)
        try:
            known = probe.load_last_known()
        except Exception as exc:  # an unreadable table must not stop the project from opening
            self.bench.show_message(tr("无法读取上次的实时状态：{error}").format(error=exc), 8000)
            return
        if known:
            self._on_updates(known)
        self._open_alarms()

    def _open_alarms(self) -> None:
        """Alarms of earlier sessions nobody acknowledged (newest 500) go back in the list."""
        from qdt.live import Alarm, read_alarms

        try:
            frame = read_alarms(self.gpkg, limit=500)
        except Exception:  # no alarms table yet, or unreadable: the feed will make it
            return
        if frame.empty:
            return
        frame = frame[frame["acknowledged"].isna()].iloc[::-1]  # oldest first: the list puts the newest on top
        alarms = [Alarm(r.feature_class, r.code, r.layer, int(r.feature_fid), r.kind, r.ts, r.message or "")
                  for r in frame.itertuples(index=False) if (r.feature_class, r.code) in self.index]
        if alarms:
            QTimer.singleShot(0, lambda: self.alarm_raised.emit(alarms))

    # --- the feed --------------------------------------------------------------------------------------
    def start(self, url: str) -> bool:
        """Subscribe to ``url`` (mqtt://HOST:PORT); False with a message when it cannot."""
        from qdt.live import BrokerURLError, LiveFeed

        if self.index is None:
            self.bench.show_message(tr("项目中没有可接收实时状态的设施图层"), 8000)
            return False
        self.stop()
        initial = {}
        for layer in self.layers.values():
            if "status" in layer.frame.columns:
                codes = layer.frame["code"].astype(str).to_numpy()
                status = layer.frame["status"].to_numpy()
                initial.update({(layer.feature_class, c): s for c, s in zip(codes, status, strict=True)
                                if s is not None and s == s})
        try:
            feed = LiveFeed(self.index, self.gpkg, url, initial_status=initial)
        except BrokerURLError as exc:
            self.bench.show_message(str(exc), 8000)
            return False
        feed.load_last_known()
        relay = self._relay
        feed.events.updates.connect(lambda updates: relay.updates.emit(updates))
        feed.events.alarms.connect(lambda alarms: relay.alarms.emit(alarms))
        feed.events.state.connect(lambda state, detail: relay.state.emit(state, detail))
        self.feed = feed
        feed.start()
        return True

    def stop(self) -> None:
        feed, self.feed = self.feed, None
        if feed is not None:
            feed.stop()
            self._on_state("stopped", "")

    def acknowledge(self, alarm: Any) -> None:
        """Record the acknowledgement in the GeoPackage: through the feed, or (no feed) a writer of its own."""
        if self.feed is not None:
            self.feed.acknowledge(alarm)
            return
        if self.gpkg is None:
            return
        import threading

        from qdt.live.messages import now_text
        from qdt.live.store import StoreProcess

        gpkg, user = self.gpkg, os.environ.get("USER") or ""

        def write() -> None:  # off the GUI thread: starting the writer process takes a moment
            try:
                store = StoreProcess(gpkg)
                try:
                    store.write([], [], [(alarm, now_text(), user)])
                finally:
                    store.close()
            except Exception as exc:  # reported, never raised at the user
                self.bench.log(f"cannot record the acknowledgement in '{gpkg}': {exc}")

        threading.Thread(target=write, name="qdt-live-ack", daemon=True).start()

    def counters(self) -> dict[str, Any]:
        return self.feed.counters if self.feed is not None else {}

    # --- on the GUI thread -----------------------------------------------------------------------------
    def _on_updates(self, updates: list) -> None:
        from qdt.live.apply import apply_updates

        changed = apply_updates(self.layers, updates)
        if changed:
            self.bench.request_render()
        self.applied.emit({"changed": changed, "updates": updates})
        self.counters_changed.emit()

    def _on_state(self, state: str, detail: str) -> None:
        self.state, self.detail = state, detail
        self.state_changed.emit(state, detail)
        self.counters_changed.emit()


class AlarmsDock(QDockWidget):
    """Alarms with time, facility, message and acknowledgement."""

    COLUMNS = ("时间", "图层", "设施编码", "告警", "确认")

    def __init__(self, bench: Any, controller: LiveController) -> None:
        super().__init__(tr("实时告警"))
        self.setObjectName("LiveAlarmsDock")
        self.bench = bench
        self.controller = controller
        self.alarms: list[Any] = []
        self.acknowledged: list[str | None] = []  # time of acknowledgement per row (None: open)
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        self.summary = QLabel(tr("暂无告警"))
        self.table = QTableWidget(0, len(self.COLUMNS), body)
        self.table.setHorizontalHeaderLabels([tr(c) for c in self.COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.cellDoubleClicked.connect(self._fly_to)
        buttons = QHBoxLayout()
        self.ack_button = QPushButton(tr("确认所选"))
        self.ack_all_button = QPushButton(tr("全部确认"))
        self.ack_button.clicked.connect(self.acknowledge_selected)
        self.ack_all_button.clicked.connect(self.acknowledge_all)
        buttons.addWidget(self.summary, 1)
        buttons.addWidget(self.ack_button)
        buttons.addWidget(self.ack_all_button)
        layout.addLayout(buttons)
        layout.addWidget(self.table)
        self.setWidget(body)
        self.acknowledged_changed: Any = None
        controller.alarm_raised.connect(self.add_alarms)

    def clear(self, *_: Any) -> None:
        """Forget the listed alarms (another project was opened; its open alarms are listed again)."""
        self.alarms.clear()
        self.acknowledged.clear()
        self.table.setRowCount(0)
        self._summarise()

    def unacknowledged(self) -> int:
        return sum(1 for a in self.acknowledged if a is None)

    def add_alarms(self, alarms: list) -> None:
        """Newest first."""
        self.table.setUpdatesEnabled(False)
        for alarm in alarms:
            self.alarms.insert(0, alarm)
            self.acknowledged.insert(0, None)
            self.table.insertRow(0)
            values = (_local_time(alarm.ts), alarm.layer, alarm.code, alarm.message.split(": ", 1)[-1], tr("未确认"))
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                if col == 3:
                    item.setForeground(QColor("#c0392b"))
                self.table.setItem(0, col, item)
        self.table.setUpdatesEnabled(True)
        self._summarise()
        if alarms and not self.isVisible():
            self.show()
            self.raise_()

    def _summarise(self) -> None:
        open_n = self.unacknowledged()
        self.summary.setText(tr("告警 {n} 条，未确认 {open}").format(n=len(self.alarms), open=open_n))

    def acknowledge_row(self, row: int) -> None:
        if self.acknowledged[row] is not None:
            return
        stamp = datetime.now().strftime("%H:%M:%S")
        self.acknowledged[row] = stamp
        self.controller.acknowledge(self.alarms[row])
        if self.acknowledged_changed is not None:
            self.acknowledged_changed()
        item = self.table.item(row, 4)
        item.setText(tr("已确认 {time}").format(time=stamp))
        for col in range(self.table.columnCount()):
            self.table.item(row, col).setForeground(QColor("#7f8c8d"))
        self._summarise()

    def acknowledge_selected(self) -> None:
        for index in self.table.selectionModel().selectedRows():
            self.acknowledge_row(index.row())

    def acknowledge_all(self) -> None:
        for row in range(self.table.rowCount()):
            self.acknowledge_row(row)

    def _fly_to(self, row: int, _col: int) -> None:
        alarm = self.alarms[row]
        layer = self.controller.layers.get(alarm.layer)
        if layer is None:
            return
        self.bench.select(layer, [alarm.fid])
        self.bench.fly_to_feature(layer, alarm.fid)


class LiveHistoryChart(QWidget):
    """The picked facility's live reports: status as steps (labels on the axis) and a numeric reading."""

    def __init__(self, controller: LiveController, parent: QWidget | None = None) -> None:
        import pyqtgraph as pg

        super().__init__(parent)
        self.controller = controller
        self.key: tuple[str, str] | None = None
        self.times: list[float] = []
        self.status: list[int] = []
        self.reading_name: str | None = None
        self.readings: list[float] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel(tr("实时状态历史"))
        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
        self.plot.setBackground("w")
        self.plot.setMinimumHeight(120)
        self.setMaximumHeight(200)  # the attribute tree above keeps most of the inspector
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        from qdt.cim.schema import catalogue

        entries = catalogue().codelist("facility_status").entries
        self.plot.getAxis("left").setTicks([[(int(e.code), tr(e.zh)) for e in entries]])
        self.plot.setYRange(0.5, len(entries) + 0.5)
        self.curve = self.plot.plot(stepMode="left", pen=pg.mkPen("#2c3e50", width=2))
        self.dots = self.plot.plot(pen=None, symbol="o", symbolSize=7)
        layout.addWidget(self.title)
        layout.addWidget(self.plot)
        controller.applied.connect(self._on_applied)
        self.hide()

    def show_feature(self, layer: Any, fid: int | None) -> None:
        """Load the history of ``fid`` of ``layer`` (hidden for features that do not report)."""
        from qdt.live import read_history

        self.key = None
        ctl = self.controller
        if fid is None or layer is None or layer.name not in ctl.layers or ctl.gpkg is None:
            self.hide()
            return
        code = str(layer.frame.loc[fid, "code"])
        self.key = (layer.feature_class, code)
        self.times, self.status, self.readings = [], [], []
        try:
            frame = read_history(ctl.gpkg, layer.feature_class, code)
        except Exception:  # a history that cannot be read leaves an empty chart, the feed goes on
            frame = None
        if frame is not None and not frame.empty:
            self.times = [_epoch(t) for t in frame["ts"]]
            self.status = frame["status"].astype(int).tolist()
            numeric = [c for c in frame.columns if c.startswith("reading_")
                       and frame[c].dtype.kind in "if"]
            self.reading_name = numeric[0][len("reading_"):] if numeric else None
        if not self.times and ctl.feed is None:
            self.hide()  # nothing reported and no feed: no empty chart under every light's attributes
            return
        self.title.setText(tr("实时状态历史：{code}（{n} 条）").format(code=code, n=len(self.times)))
        self._redraw()
        self.show()

    def _on_applied(self, info: dict) -> None:
        if self.key is None:
            return
        fresh = [u for u in info["updates"] if (u.feature_class, u.code) == self.key]
        if not fresh:
            return
        for u in fresh:
            self.times.append(_epoch(u.ts))
            self.status.append(u.status)
        self.title.setText(tr("实时状态历史：{code}（{n} 条）").format(code=self.key[1], n=len(self.times)))
        self._redraw()

    def _redraw(self) -> None:
        if not self.times:
            self.curve.setData([], [])
            self.dots.setData([], [])
            return
        x = np.asarray(self.times, dtype=float)
        y = np.asarray(self.status, dtype=float)
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
        colours = {1: "#2ecc71", 2: "#e74c3c", 3: "#f39c12", 4: "#95a5a6"}
        self.curve.setData(np.r_[x, x[-1] + max(1.0, (x[-1] - x[0]) * 0.05)], np.r_[y, y[-1]])  # last state holds
        self.dots.setData(x, y, symbolBrush=[colours.get(int(v), "#34495e") for v in y])


@register_panel("alarms", area="bottom", tab_with="table", visible=False)
def live_panel(bench: Any) -> QWidget:
    """The live feed: 物联感知 menu, alarms dock, history chart in the inspector, broker state in the status bar."""
    controller = LiveController(bench)
    bench.live = controller
    alarms = AlarmsDock(bench, controller)
    label = bench.add_status_widget(QLabel(tr("物联感知：未连接")))
    label.setObjectName("LiveStateLabel")

    def show_state() -> None:
        counters = controller.counters()
        state = controller.state
        names = {"connected": tr("已连接"), "connecting": tr("正在连接"), "offline": tr("离线"),
                 "stopped": tr("未连接")}
        text = tr("物联感知：{state}").format(state=names.get(state, state))
        retry = re.search(r"retry in (\d+) s", controller.detail or "")
        if state == "offline" and retry:
            text += " · " + tr("{n} 秒后重试").format(n=retry.group(1))
        if counters:
            text += " · " + tr("{n} 条状态").format(n=counters.get("received", 0) - counters.get("rejected_total", 0))
            if counters.get("rejected_total"):
                text += " · " + tr("{n} 条错误").format(n=counters["rejected_total"])
        open_alarms = alarms.unacknowledged()
        if open_alarms:
            text += " · " + tr("{n} 条未确认告警").format(n=open_alarms)
        label.setText(text)
        label.setStyleSheet(f"color: {STATE_COLOURS.get(state, '#000')};")
        label.setToolTip(controller.detail or "")

    controller.counters_changed.connect(show_state)
    controller.alarm_raised.connect(lambda _alarms: show_state())
    alarms.acknowledged_changed = show_state

    chart = bench.add_inspector_widget(LiveHistoryChart(controller))
    alarms.chart = chart
    bench.picked.connect(lambda result: chart.show_feature(getattr(result, "layer", None),
                                                           getattr(result, "fid", None)))

    def connect_broker() -> None:
        url, ok = QInputDialog.getText(bench.dialog_parent, tr("连接物联感知平台"), tr("MQTT 服务器 (mqtt://主机:端口)："),
                                       text=os.environ.get(ENV_BROKER, DEFAULT_BROKER))
        if ok and url.strip():
            controller.start(url.strip())

    menu = tr("物联感知(&I)")
    act_connect = QAction(tr("连接物联感知平台(&C)…"), alarms)
    act_connect.setStatusTip(tr("订阅 MQTT 主题 qdt/<设施类>/<编码>/status，实时更新设施状态"))
    act_connect.triggered.connect(connect_broker)
    act_disconnect = QAction(tr("断开(&D)"), alarms)
    act_disconnect.triggered.connect(controller.stop)
    act_alarms = QAction(tr("告警列表(&A)"), alarms)
    act_alarms.triggered.connect(lambda: (alarms.show(), alarms.raise_()))
    for act in (act_connect, act_disconnect, act_alarms):
        bench.add_action(act, menu, before=tr("帮助(&H)"))
    alarms.actions_by_name = {"connect": act_connect, "disconnect": act_disconnect, "alarms": act_alarms}
    alarms.state_label = label
    bench.project_loaded.connect(alarms.clear)
    bench.project_loaded.connect(controller.set_project)
    if bench.dialog_parent is not None:  # the feed's threads and writer process end with the window
        alarms._close_guard = _StopOnClose(bench.dialog_parent, controller)
        bench.dialog_parent.installEventFilter(alarms._close_guard)
    return alarms


class _StopOnClose(QObject):
    """Stops the feed (threads, writer process) when the window closes."""

    def __init__(self, window: Any, controller: LiveController) -> None:
        super().__init__(window)
        self.controller = controller

    def eventFilter(self, obj: QObject, event: Any) -> bool:  # noqa: N802
        from PySide6.QtCore import QEvent

        if obj is self.parent() and event.type() == QEvent.Type.Close:
            self.controller.stop()
        return False
