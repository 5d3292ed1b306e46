"""View-window loading of windowed layers as the camera moves (the Qt side of
:mod:`qdt.io.window`).

Which layers: those loaded by view window — PostGIS tables and GeoPackage layers above the
streaming threshold (``WINDOWED_READS``; for the commit notices ``CHANGE_NOTIFICATION``) — see
:class:`qdt.io.Capability` and :mod:`qdt.io.window`. After each load the tiles ahead along the
camera's last move are prefetched in the background; a far view shows the layers' overviews.
The streaming settings (``streaming/threshold_features``, ``streaming/memory_budget_mb``) are
read from QSettings when the refresher starts.

``attach_view_window_loading(bench)`` listens to the workbench's ``camera_changed``; after the
camera has rested for ``delay_ms`` it computes the ground rectangle the camera sees and, for
every windowed layer of ``bench.project`` whose loaded window does not cover it, starts a
load on ``bench.tasks`` (a worker thread). A newer camera move cancels the older load of the
same layer; a finished load replaces the layer's features on the GUI thread. Layers with
uncommitted edits are left alone (their edit buffer lives in the frame).

It also listens for other workstations' commits (``listen()``): connecting the listener,
polling it and re-reading the named features run on ``bench.tasks``; the results are applied
on the GUI thread. A server that fails is retried after a doubling delay (at most
:data:`LISTEN_BACKOFF_MAX_S`), with one message per outage.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer

from qdt.edit import editing_session
from qdt.io import Capability, capabilities_of, open_datasource
from qdt.io.postgis import (
    EditListener,
    EditNotice,
    FetchedFeatures,
    apply_fetched,
    conninfo_of,
    describe,
    fetch_features,
)
from qdt.io.window import (
    _LOAD_LOCK,
    MAX_VIEW_SIDE_M,
    ViewWindow,
    ViewWindowLoader,
    apply_window,
    window_loader_for,
)
from qdt.tasks import Task
from qdt.ui.i18n import tr

#: Longest delay between retries of a database server whose listener failed (the delay
#: doubles from the poll interval after each failure).
LISTEN_BACKOFF_MAX_S = 60.0


def _poll_task(uri: str, listener: EditListener | None) -> Any:
    """Worker body: connect the listener if there is none yet (may wait up to the connect
    timeout), then collect the notices already received."""

    def run(_progress: Any, _is_cancelled: Any) -> tuple[EditListener, list[EditNotice]]:
        own = listener or open_datasource(uri).listener()
        try:
            return own, own.poll(0.0)
        except BaseException:
            own.close()
            raise

    return run


def _fetch_task(meta: dict[str, Any], fids: np.ndarray, crs: Any) -> Any:
    def run(_progress: Any, _is_cancelled: Any) -> FetchedFeatures:
        with _LOAD_LOCK:  # pyproj CRS objects are created here too (see qdt.io.window)
            return fetch_features(meta, fids, crs)

    return run


def view_bbox(bench: Any, cap: bool = True) -> tuple[float, float, float, float] | None:
    """World (xmin, ymin, xmax, ymax) of the ground the 3D view shows, capped to MAX_VIEW_SIDE_M
    (``cap=False``: as seen, so a far view can be told from a near one)."""
    scene = bench.scene
    if scene is None or getattr(scene, "origin", None) is None:
        return None
    view = bench.view
    aspect = view.width() / view.height() if view is not None and view.height() > 0 else 1.5
    try:
        from qdt.ui.overview import camera_footprint

        corners = np.asarray(camera_footprint(scene, aspect), dtype=np.float64)
    except ImportError:  # the overview map is optional: a square around the focal point
        state = scene.camera_state()
        (px, py, pz), (fx, fy, fz) = state["position"], state["focal_point"]
        half = math.dist((px, py, pz), (fx, fy, fz)) * math.tan(math.radians(state.get("view_angle", 30.0)))
        corners = np.array([[fx - half * aspect, fy - half], [fx + half * aspect, fy + half]])
    x0, y0 = corners.min(axis=0)
    x1, y1 = corners.max(axis=0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side = MAX_VIEW_SIDE_M if cap else math.inf
    hw, hh = min((x1 - x0) / 2, side / 2), min((y1 - y0) / 2, side / 2)
    return (float(cx - hw), float(cy - hh), float(cx + hw), float(cy + hh))


def apply_streaming_settings() -> None:
    """Take the streaming threshold and memory budget from QSettings (when the user set them)."""
    from PySide6.QtCore import QSettings

    from qdt.io.window import settings

    stored = QSettings()
    for key, name, kind in (("streaming/threshold_features", "threshold_features", int),
                            ("streaming/memory_budget_mb", "memory_budget_mb", float),
                            ("streaming/tile_size_m", "tile_size_m", float)):
        value = stored.value(key)
        if value not in (None, ""):
            try:
                setattr(settings, name, kind(value))
            except (TypeError, ValueError):
                pass


class ViewWindowRefresher(QObject):
    """Keeps the windowed layers of ``bench.project`` loaded around the camera (see module doc)."""

    def __init__(self, bench: Any, *, delay_ms: int = 300, budget: int | None = None) -> None:
        super().__init__(bench)
        self.bench = bench
        self.budget = budget
        self.loaders: dict[int, ViewWindowLoader] = {}
        self.handles: dict[int, Any] = {}
        self._layer_of: dict[int, Any] = {}
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay_ms)  # wait for the camera to rest: one load per gesture
        self.timer.timeout.connect(self.refresh)
        bench.camera_changed.connect(self.timer.start)
        self.listeners: dict[str, EditListener] = {}
        self._polling: dict[str, Any] = {}  # uri → handle of its running poll
        self._poll_uri: dict[int, str] = {}
        self._retry_at: dict[str, float] = {}  # uri → monotonic time of the next try after a failure
        self._backoff: dict[str, float] = {}  # uri → current back-off delay (s)
        self._reported: set[str] = set()  # servers whose outage the user has been told of
        self._closed = False
        #: Features re-read after other workstations' commits (for the status bar and tests).
        self.refreshed = 0
        self._last_view: tuple[float, float, float, float] | None = None
        self._motion = (0.0, 0.0)  # the camera's last move on the ground (m): where to prefetch
        self._prefetching: dict[int, Any] = {}
        #: Tiles read ahead of the camera (for tests and the status bar).
        self.prefetched = 0
        self.prefetch_errors: list[str] = []
        apply_streaming_settings()
        self.listen_timer = QTimer(self)
        self.listen_timer.timeout.connect(self.poll_edits)

    # --- edits committed by other workstations (LISTEN qdt_edits) --------------------------
    # Connecting a listener, polling it and re-reading features all talk to the server, so they
    # run on bench.tasks (worker threads); only applying the results touches the layers, on the
    # GUI thread. After a connection failure a server is retried with a doubling delay (up to
    # LISTEN_BACKOFF_MAX_S), and the user hears of the outage once, not once per poll.

    def listen(self, interval_ms: int = 2000) -> None:
        """Poll for other sessions' commits every ``interval_ms`` and refresh their features."""
        self.listen_timer.start(interval_ms)

    def poll_edits(self) -> int:
        """Start a background poll of each database server's notices (connecting its listener
        first if needed); the notices are applied when the polls end. Returns the polls started
        (a server with a poll still running, or waiting out a back-off, is skipped)."""
        uris = {layer.metadata["postgis"]["uri"] for layer in self.database_layers(Capability.CHANGE_NOTIFICATION)}
        for uri in list(self.listeners):
            if uri not in uris and uri not in self._polling:
                self.listeners.pop(uri).close()
        now = time.monotonic()
        started = 0
        for uri in sorted(uris):
            if uri in self._polling or now < self._retry_at.get(uri, 0.0):
                continue
            listener = self.listeners.get(uri)
            task = Task(tr("接收数据库编辑通知"), _poll_task(uri, listener), cancellable=False)
            handle = self.bench.tasks.start(task, finished=self._on_polled, failed=self._on_poll_failed)
            self._polling[uri] = handle
            self._poll_uri[id(handle)] = uri
            started += 1
        return started

    def _on_polled(self, result: tuple[Any, list[EditNotice]]) -> None:
        uri = self._poll_uri.pop(id(self.sender()), None)
        if uri is None:
            return
        self._polling.pop(uri, None)
        listener, notices = result
        if self._closed:
            listener.close()
            return
        self.listeners[uri] = listener
        self._retry_at.pop(uri, None)
        self._backoff.pop(uri, None)
        if uri in self._reported:
            self._reported.discard(uri)
            self._message(tr("已重新连接数据库编辑通知：{server}").format(server=describe(conninfo_of(uri))))
        layers = self.database_layers()
        for notice in notices:
            for layer in layers:
                meta = layer.metadata["postgis"]
                if (meta["uri"], meta["schema"], meta["table"]) == (uri, notice.schema, notice.table):
                    self._apply_notice(layer, notice)

    def _on_poll_failed(self, message: str, _detail: str = "") -> None:
        uri = self._poll_uri.pop(id(self.sender()), None)
        if uri is None:
            return
        self._polling.pop(uri, None)
        old = self.listeners.pop(uri, None)
        if old is not None:
            old.close()
        delay = min(self._backoff.get(uri, self.listen_timer.interval() / 1000.0) * 2, LISTEN_BACKOFF_MAX_S)
        self._backoff[uri] = delay
        self._retry_at[uri] = time.monotonic() + delay
        if uri not in self._reported:  # one message per outage
            self._reported.add(uri)
            self._message(tr("数据库编辑通知中断：{message}（稍后自动重试）").format(message=message))

    def close(self) -> None:
        """Stop listening and loading (the window is closing)."""
        self._closed = True
        self.listen_timer.stop()
        self.timer.stop()
        for listener in self.listeners.values():
            listener.close()
        self.listeners.clear()

    def _apply_notice(self, layer: Any, notice: EditNotice) -> int:
        """Start re-reading the features a notice names (those the layer holds); returns how many."""
        if notice.fids is None:  # too many to list: reload the window
            loader = self.loaders.get(id(layer))
            if loader is not None:
                loader.last = None
            self.timer.start()
            return 0
        fids = np.intersect1d(np.asarray(notice.fids, dtype=np.int64), layer.fids)
        session = editing_session(layer)
        if session is not None:
            fids = np.setdiff1d(fids, session.buffer.modified_fids())  # never overwrite the user's edits
        if len(fids) == 0:
            return 0
        meta, crs = dict(layer.metadata["postgis"]), layer.frame.crs
        handle = self.bench.tasks.start(
            Task(tr("刷新要素：{name}").format(name=layer.name), _fetch_task(meta, fids, crs), cancellable=False),
            finished=self._on_fetched, failed=self._on_fetch_failed)
        self._layer_of[id(handle)] = layer
        return len(fids)

    def _on_fetched(self, fetched: FetchedFeatures) -> None:
        layer = self._layer_of.pop(id(self.sender()), None)
        if layer is None or self._closed:
            return
        session = editing_session(layer)
        skip = session.buffer.modified_fids() if session is not None else ()
        updated = apply_fetched(layer, fetched, skip)
        self.refreshed += len(updated)

    def _on_fetch_failed(self, message: str, _detail: str = "") -> None:
        layer = self._layer_of.pop(id(self.sender()), None)
        if layer is not None:
            self._message(tr("图层“{name}”：刷新要素失败：{message}").format(name=layer.name, message=message))

    def database_layers(self, capability: Capability = Capability.WINDOWED_READS) -> list[Any]:
        """The project's layers whose source can do ``capability`` (by default: windowed reads)."""
        project = self.bench.project
        if project is None:
            return []
        return [layer for layer in project.layers if capability in capabilities_of(layer)]

    def refresh(self) -> int:
        """Start loads for the layers whose window does not cover the view; returns how many started."""
        bbox = view_bbox(self.bench, cap=False)
        if bbox is None:
            return 0
        if self._last_view is not None:
            self._motion = ((bbox[0] + bbox[2] - self._last_view[0] - self._last_view[2]) / 2,
                            (bbox[1] + bbox[3] - self._last_view[1] - self._last_view[3]) / 2)
        self._last_view = bbox
        started = 0
        for layer in self.database_layers():
            session = editing_session(layer)
            if session is not None and session.has_changes:
                continue
            key = id(layer)
            loader = self.loaders.get(key)
            if loader is None:
                kwargs = {"budget": self.budget} if self.budget else {}
                loader = self.loaders[key] = window_loader_for(layer, **kwargs)
            if not loader.needs_reload(bbox):
                continue
            old = self.handles.pop(key, None)
            if old is not None:
                old.cancel()
            def connect(handle: Any, layer: Any = layer) -> None:
                # before the worker starts (a fast load may end first); bound methods of this QObject,
                # so the worker's signals are queued to the GUI thread (a lambda would run on the
                # worker, and the scene must not be touched there)
                self._layer_of[id(handle)] = layer
                handle.finished.connect(self._on_finished)
                handle.failed.connect(self._on_failed)
                handle.cancelled.connect(self._on_cancelled)

            task = Task(tr("加载视窗要素：{name}").format(name=layer.name),
                        lambda progress, cancelled, loader=loader, bbox=bbox: loader.load(bbox, progress, cancelled))
            handle = self.bench.tasks.start(task, connect)
            self.handles[key] = handle
            started += 1
        return started

    def _on_finished(self, result: ViewWindow) -> None:
        handle = self.sender()
        layer = self._layer_of.pop(id(handle), None)
        if layer is not None:
            self._loaded(layer, handle, result)

    def _on_failed(self, message: str, _detail: str = "") -> None:
        layer = self._layer_of.pop(id(self.sender()), None)
        if layer is not None:
            self._failed(layer, message)

    def _on_cancelled(self) -> None:
        self._layer_of.pop(id(self.sender()), None)

    def _loaded(self, layer: Any, handle: Any, result: ViewWindow) -> None:
        if self.handles.get(id(layer)) is not handle:
            return  # a newer load of this layer is on its way
        self.handles.pop(id(layer), None)
        session = editing_session(layer)
        if session is not None and session.has_changes:
            return
        apply_window(layer, result)
        if result.failed_tiles:
            self._message(tr("图层“{name}”：{n} 个瓦片读取失败：{message}").format(
                name=layer.name, n=len(result.failed_tiles), message=result.failed_tiles[0]))
        self._prefetch(layer)
        if result.truncated:
            self._message(tr("图层“{name}”：视窗内要素超过 {n} 个，仅显示前 {n} 个，请放大查看").format(
                name=layer.name, n=result.count))

    def _prefetch(self, layer: Any) -> None:
        """Read the tiles ahead along the camera's last move into the cache, in the background."""
        loader = self.loaders.get(id(layer))
        view = self._last_view
        if loader is None or view is None or self._motion == (0.0, 0.0) or id(layer) in self._prefetching:
            return
        motion = self._motion
        task = Task(tr("预读视窗要素：{name}").format(name=layer.name),
                    lambda _progress, cancelled: loader.prefetch(view, motion, cancelled))

        def connect(handle: Any, key: int = id(layer)) -> None:
            self._prefetching[key] = handle
            handle.finished.connect(self._on_prefetched)
            handle.failed.connect(self._on_prefetched)
            handle.cancelled.connect(self._on_prefetched)

        self.bench.tasks.start(task, connect)

    def _on_prefetched(self, result: Any = None, _detail: str = "") -> None:
        handle = self.sender()
        for key, value in list(self._prefetching.items()):
            if value is handle:
                del self._prefetching[key]
        if isinstance(result, int):
            self.prefetched += result
        elif isinstance(result, str):  # failed: the load of that view will report it, if it matters
            self.prefetch_errors.append(result)

    def _failed(self, layer: Any, message: str) -> None:
        self.handles.pop(id(layer), None)
        self._message(tr("图层“{name}”：加载视窗要素失败：{message}").format(name=layer.name, message=message))

    def _message(self, text: str) -> None:
        self.bench.log(text)


def attach_view_window_loading(bench: Any, **kwargs: Any) -> ViewWindowRefresher:
    """Reload the windowed layers of ``bench`` around the camera as it moves (off the GUI thread)."""
    return ViewWindowRefresher(bench, **kwargs)
