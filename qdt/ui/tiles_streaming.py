"""Streaming of 3D Tiles layers in the window (the Qt side of :class:`qdt.io.tiles3d_layer.TileStreamer`).

It works on the :class:`qdt.ui.workbench.Workbench` (project, scene, view, settings, messages).
Which layers: those whose source declares ``STREAMED_TILES`` (:class:`qdt.io.Capability`) and that
carry a ``streamer``. A timer on the GUI thread, every :data:`POLL_MS`, hands the camera (position,
view height in pixels, view angle) to each streamer: it selects tiles by screen-space error,
queues the missing ones nearest-first on its loader threads (never on this thread) and, when
contents have arrived or the selection changed, publishes them to the layer, whose ``data``
event rebuilds its visual here on the GUI thread. A missing or corrupt tile is reported once
in the status bar (the workbench's ``message``). The window never waits for a tile. The memory
budget is the setting ``tiles/memoryBudgetMB``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QSettings, QTimer

from qdt.io import Capability, capabilities_of
from qdt.ui.i18n import tr

POLL_MS = 200
BUDGET_KEY = "tiles/memoryBudgetMB"  # settings: MB of tile geometry each tileset layer may keep


def memory_budget_mb(settings: QSettings | None = None) -> float:
    """The tile memory budget from the settings (``tiles/memoryBudgetMB``), else the streamer's default."""
    from qdt.io.tiles3d_layer import DEFAULT_MEMORY_BUDGET_MB

    try:
        value = float((settings or QSettings()).value(BUDGET_KEY, DEFAULT_MEMORY_BUDGET_MB))
    except (TypeError, ValueError):
        return float(DEFAULT_MEMORY_BUDGET_MB)
    return value if value > 0 else float(DEFAULT_MEMORY_BUDGET_MB)


class TileStreamingDriver(QObject):
    """Keeps the workbench's tileset layers loaded for its camera (see the module docstring)."""

    def __init__(self, bench: Any) -> None:
        super().__init__(bench)
        self.bench = bench
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()
        self._last: dict[str, tuple] = {}
        self._streamed: dict[str, bool] = {}

    def layers(self) -> list[Any]:
        project = self.bench.project
        if project is None:
            return []
        out = []
        for layer in project.layers:
            if getattr(layer, "streamer", None) is None:
                continue
            if layer.id not in self._streamed:
                self._streamed[layer.id] = Capability.STREAMED_TILES in capabilities_of(layer)
                layer.streamer.memory_budget = int(memory_budget_mb(self.bench.settings) * 1024 * 1024)
            if self._streamed[layer.id]:
                out.append(layer)
        return out

    def tick(self) -> None:
        scene = self.bench.scene
        if scene is None or scene.origin is None:
            return
        layers = self.layers()
        if not layers:
            return
        state = scene.camera_state()
        height = max(int(self.bench.view.height()), 1)
        camera = tuple(round(float(v), 1) for v in state["position"])
        angle = float(state.get("view_angle", 30.0))
        for layer in layers:
            streamer = layer.streamer
            if streamer.closed:
                continue
            arrived = streamer.poll()
            key = (camera, height, angle)
            if not layer.visible or (not arrived and self._last.get(layer.id) == key and not streamer.busy):
                continue
            self._last[layer.id] = key
            streamer.update(camera, height, angle)
            for problem in streamer.new_problems():
                self.bench.message.emit(tr("3D Tiles：{problem}").format(problem=problem), 10000)

    def close(self) -> None:
        self.timer.stop()
        project = self.bench.project
        for layer in list(project.layers) if project is not None else []:
            streamer = getattr(layer, "streamer", None)
            if streamer is not None:
                streamer.close()


def attach_tile_streaming(bench: Any) -> TileStreamingDriver:
    """Stream the 3D Tiles layers of the workbench ``bench`` for its camera (a GUI-thread timer, loads on threads)."""
    return TileStreamingDriver(bench)
