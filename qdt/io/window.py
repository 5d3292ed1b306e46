"""View-window loading: the ONE mechanism that streams a large layer by what the camera sees.

It serves every source that declares ``WINDOWED_READS`` (:class:`qdt.io.Capability`): a PostGIS
table (``geom && envelope`` on its GiST index) and a GeoPackage layer above the streaming
threshold (bbox reads through its R-tree)::

    loader = ViewWindowLoader(uri, "buildings", feature_class="building")
    window = loader.load((x0, y0, x1, y1))        # or: runner.submit(loader.task(bbox))
    window.layer, window.truncated, window.bbox

How a window is loaded (the Cesium / QGIS chunked-entity rules, flattened to 2D tiles):

- the visible rectangle is widened by ``margin`` on each side, so small pans do not reload;
- the ground is cut into square **tiles** (:attr:`StreamingSettings.tile_size_m`); each tile is
  read once (a bbox read served by the index) and keeps the features whose bounding-box centre
  lies in it, so a feature belongs to exactly one tile;
- tiles live in an **LRU cache** bounded by a memory budget (:attr:`StreamingSettings.memory_budget_mb`,
  shared by all the streamed layers of the process); the window's layer is the union of its tiles;
- :meth:`ViewWindowLoader.prefetch` reads the tiles the camera is heading to (along its motion)
  into the cache in the background, so the next pan finds them there;
- a **far view** (wider than :attr:`StreamingSettings.far_view_m`) shows the layer's
  **overview**: every k-th feature (at most :attr:`StreamingSettings.overview_features`), made
  once per layer and cached beside the data (``<file>.qdt-overview/``) or, when that folder
  cannot be written, in the user cache — never the full detail;
- at most ``budget`` features per window: beyond it the lowest fids are kept and ``truncated``
  says so (the status bar asks to zoom in).

Nothing here imports Qt or VTK; the window's refresher (:mod:`qdt.ui.db_refresh`) runs loads and
prefetches as background tasks and applies the result on the GUI thread.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qdt.io.base import FeatureRequest, LayerSource
from qdt.io.errors import ReadError
from qdt.layers.vector import VectorLayer
from qdt.tasks import CancelFn, ProgressFn, Task, check_cancel

# One window load at a time in this process: creating pyproj CRS objects from two worker
# threads at once crashes (segfault seen with pyproj 3.7 in QThreadPool threads), and the
# UI starts one load per windowed layer.
_LOAD_LOCK = threading.RLock()

#: Features per layer a view window loads at most (a street-level view of the densest
#: district holds a few thousand buildings; 50 000 keeps memory and the first frame small).
DEFAULT_BUDGET = 50_000

#: Extra area around the visible rectangle, as a fraction of its width/height on each side.
DEFAULT_MARGIN = 0.25

#: Rows of a streamed table without geometry held in memory (its first page).
TABLE_PAGE_ROWS = 2000

#: Longest side, in metres, of the ground rectangle asked from the store (a camera looking at
#: the horizon, or a project opened without a camera, would otherwise ask for the whole city).
MAX_VIEW_SIDE_M = 4000.0


@dataclass
class StreamingSettings:
    """When and how file layers stream (the window's settings dialog and ``qdt.bench city`` set these).

    threshold_features
        A GeoPackage layer with at least this many features streams by view window; smaller ones
        load whole (the sample project loads whole and behaves as it always did).
    memory_budget_mb
        Most memory the cached tiles of all streamed layers hold together (LRU beyond it).
    tile_size_m
        Side of a streaming tile on the ground.
    chunk_rows
        Rows per read when a query or the attribute table goes over a whole streamed layer.
    overview_features
        Most features in a layer's overview (the far view).
    far_view_m
        A view wider than this shows the overview.
    """

    threshold_features: int = 5_000
    memory_budget_mb: float = 1024.0
    tile_size_m: float = 500.0
    chunk_rows: int = 50_000
    overview_features: int = 8_000
    far_view_m: float = MAX_VIEW_SIDE_M


#: The process's streaming settings (one workstation, one budget).
settings = StreamingSettings()


# --- the tile cache ---------------------------------------------------------------------------
def frame_bytes(frame: pd.DataFrame) -> int:
    """Estimated memory of a frame: its columns plus, for geometry, the coordinates and GEOS objects."""
    total = int(frame.memory_usage(index=True, deep=False).sum())
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        geoms = frame.geometry.to_numpy()
        total += int(shapely.get_num_coordinates(geoms).sum()) * 24 + len(geoms) * 160
    return total


class TileCache:
    """Least-recently-used tiles of every streamed layer, under one memory budget (bytes)."""

    def __init__(self) -> None:
        self._tiles: OrderedDict[tuple[Any, ...], tuple[gpd.GeoDataFrame, int, bool]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.evicted = 0

    @property
    def budget(self) -> int:
        return int(settings.memory_budget_mb * 1024 * 1024)

    def get(self, key: tuple[Any, ...]) -> tuple[gpd.GeoDataFrame, bool] | None:
        with self._lock:
            item = self._tiles.get(key)
            if item is None:
                return None
            self._tiles.move_to_end(key)
            return item[0], item[2]

    def put(self, key: tuple[Any, ...], frame: gpd.GeoDataFrame, truncated: bool,
            keep: set[tuple[Any, ...]] | None = None) -> None:
        """Store a tile; evict the least recently used ones (never those in ``keep``) over the budget."""
        size = frame_bytes(frame)
        with self._lock:
            old = self._tiles.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._tiles[key] = (frame, size, truncated)
            self.bytes += size
            for other in list(self._tiles):
                if self.bytes <= self.budget:
                    break
                if other == key or (keep is not None and other in keep):
                    continue
                self.bytes -= self._tiles.pop(other)[1]
                self.evicted += 1

    def drop(self, prefix: tuple[Any, ...]) -> None:
        """Forget the tiles of one layer (its data changed)."""
        with self._lock:
            for key in [k for k in self._tiles if k[: len(prefix)] == prefix]:
                self.bytes -= self._tiles.pop(key)[1]

    def clear(self) -> None:
        with self._lock:
            self._tiles.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._tiles)


#: The process's tile cache.
tile_cache = TileCache()


# --- windows ----------------------------------------------------------------------------------
@dataclass
class ViewWindow:
    """One loaded window: the layer (project CRS), the rectangle asked, whether the budget cut it."""

    layer: VectorLayer
    bbox: tuple[float, float, float, float] | None
    truncated: bool
    seconds: float
    warnings: list[str] = field(default_factory=list)
    overview: bool = False
    tiles: int = 0
    tiles_read: int = 0
    failed_tiles: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return self.layer.feature_count


def _is_database(uri: str) -> bool:
    from qdt.io.postgis.connection import is_database_source

    return is_database_source(uri)


class ViewWindowLoader:
    """Loads the part of one windowed layer around a view rectangle (see the module docstring).

    Parameters
    ----------
    uri
        The source: a ``postgis:`` URI or a GeoPackage path.
    layer
        ``schema.table`` or the GeoPackage layer.
    budget
        Most features per window.
    margin
        Widening of the visible rectangle (fraction per side).
    feature_class, name, project_crs
        As for :func:`qdt.io.load_layer`.
    where
        Databases: an optional server-side filter (:mod:`qdt.query.sql`).
    """

    def __init__(self, uri: str, layer: str, *, budget: int = DEFAULT_BUDGET, margin: float = DEFAULT_MARGIN,
                 feature_class: str | None = None, name: str | None = None, project_crs: Any = "EPSG:4549",
                 where: Any = None) -> None:
        if budget < 1:
            raise ValueError("budget must be at least 1")
        self.source = LayerSource(uri, layer=layer, kind="vector", name=name, feature_class=feature_class)
        self.budget = int(budget)
        self.margin = float(margin)
        self.project_crs = project_crs
        self.where = where
        self.last: ViewWindow | None = None
        self.database = _is_database(str(uri))

    def _spatial(self) -> bool:
        """Files: whether the layer has geometry (read once from its metadata)."""
        if not hasattr(self, "_has_geometry"):
            import pyogrio

            try:
                info = pyogrio.read_info(str(self.source.path), layer=self.source.layer)
                self._has_geometry = info.get("geometry_type") is not None
            except Exception:  # noqa: BLE001 - the read itself reports an unreadable layer
                self._has_geometry = True
        return self._has_geometry

    # --- rectangles -----------------------------------------------------------------------
    def window_for(self, view: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """The rectangle loaded for a visible rectangle (widened by the margin)."""
        x0, y0, x1, y1 = (float(v) for v in view)
        if x1 < x0:
            x0, x1 = x1, x0
        if y1 < y0:
            y0, y1 = y1, y0
        dx, dy = (x1 - x0) * self.margin, (y1 - y0) * self.margin
        return (x0 - dx, y0 - dy, x1 + dx, y1 + dy)

    @staticmethod
    def is_far(view: tuple[float, float, float, float] | None) -> bool:
        """True when ``view`` is wider than :attr:`StreamingSettings.far_view_m` (the overview shows)."""
        if view is None:
            return False
        return max(abs(view[2] - view[0]), abs(view[3] - view[1])) > settings.far_view_m * 1.001

    def needs_reload(self, view: tuple[float, float, float, float]) -> bool:
        """False while ``view`` stays inside the last complete window (or stays far, on the overview)."""
        if self.last is None:
            return True
        if not self.last.layer.has_geometry:  # an attribute table: its rows do not depend on the view
            return False
        if self.last.overview:
            return not self.is_far(view)
        if self.is_far(view):
            if not self.database:
                return True
            view = capped(view)  # a database has no overview: its window around the centre
        if self.last.truncated or self.last.bbox is None:
            return True
        x0, y0, x1, y1 = view
        w = self.last.bbox
        return not (x0 >= w[0] and y0 >= w[1] and x1 <= w[2] and y1 <= w[3])

    def tiles_for(self, bbox: tuple[float, float, float, float]) -> list[tuple[int, int]]:
        """Tile indices (column, row) covering ``bbox``, nearest the centre first."""
        size = settings.tile_size_m
        i0, j0 = math.floor(bbox[0] / size), math.floor(bbox[1] / size)
        i1, j1 = math.floor(bbox[2] / size), math.floor(bbox[3] / size)
        cx, cy = (bbox[0] + bbox[2]) / 2 / size - 0.5, (bbox[1] + bbox[3]) / 2 / size - 0.5
        tiles = [(i, j) for i in range(i0, i1 + 1) for j in range(j0, j1 + 1)]
        return sorted(tiles, key=lambda t: (t[0] - cx) ** 2 + (t[1] - cy) ** 2)

    # --- reading --------------------------------------------------------------------------
    def _key(self) -> tuple[Any, ...]:
        return (str(self.source.path), self.source.layer, str(self.where), str(self.project_crs),
                settings.tile_size_m)

    def _request(self, bbox: tuple[float, float, float, float] | None, limit: int | None) -> FeatureRequest:
        if self.database:
            from qdt.io.postgis.source import PgFeatureRequest

            return PgFeatureRequest(bbox=bbox, bbox_crs=self.project_crs if bbox is not None else None,
                                    where=self.where, limit=limit)
        return FeatureRequest(bbox=bbox, bbox_crs=self.project_crs if bbox is not None else None, limit=limit)

    def _read(self, request: FeatureRequest, progress: ProgressFn | None = None,
              is_cancelled: CancelFn | None = None) -> Any:
        from qdt.io.loader import load_layer

        with _LOAD_LOCK:
            return load_layer(self.source, self.project_crs, progress, is_cancelled, request=request)

    def _read_tiles(self, tiles: list[tuple[int, int]], is_cancelled: CancelFn | None
                    ) -> tuple[dict[tuple[int, int], gpd.GeoDataFrame], bool, Any]:
        """Read ``tiles`` in ONE request (the rectangle around them, served by the index) and
        split the features by the tile their bounding-box centre lies in. Returns (tile → frame
        with a ``__row_version`` column when the source keeps versions, whether the budget cut
        the read, the load result)."""
        size = settings.tile_size_m
        ii = np.array([t[0] for t in tiles])
        jj = np.array([t[1] for t in tiles])
        box = (float(ii.min() * size), float(jj.min() * size),
               float((ii.max() + 1) * size), float((jj.max() + 1) * size))
        limit = self.budget * max(1, len(tiles)) + 1
        result = self._read(self._request(box, limit), None, is_cancelled)
        frame = result.layer.frame
        truncated = len(frame) >= limit
        ver = result.layer.metadata.get("row_versions")
        if ver is not None:
            values = ver.to_numpy() if len(ver) == len(frame) else ver.reindex(frame.index).to_numpy()
            frame = frame.assign(__row_version=values)
        out: dict[tuple[int, int], gpd.GeoDataFrame] = {}
        if len(frame) and frame.geometry.name in frame.columns:
            b = shapely.bounds(frame.geometry.to_numpy())
            cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
            ti = np.floor(np.nan_to_num(cx, nan=box[0]) / size).astype(np.int64)
            tj = np.floor(np.nan_to_num(cy, nan=box[1]) / size).astype(np.int64)
            keys = pd.Series(list(zip(ti.tolist(), tj.tolist(), strict=True)), index=frame.index)
            wanted = set(tiles)
            for key, rows in frame.groupby(keys.to_numpy(), sort=False).indices.items():
                if key in wanted:
                    out[key] = frame.iloc[rows]
        empty = frame.iloc[:0]
        for tile in tiles:
            out.setdefault(tile, empty)
        return out, truncated, result

    def load(self, view: tuple[float, float, float, float] | None, progress: ProgressFn | None = None,
             is_cancelled: CancelFn | None = None, *, exact: bool = False) -> ViewWindow:
        """Load the window around ``view`` (``exact=True``: exactly ``view``, no margin).

        A far ``view`` loads the overview; ``view`` None reads at most the budget from anywhere
        (a table without geometry or rows). A tile that fails to read is reported in
        ``failed_tiles`` and the others still load; only when every tile fails does it raise.
        """
        started = time.perf_counter()
        if self.last is not None and not self.last.layer.has_geometry:
            return self.last  # an attribute table: the first rows, whatever the view
        if view is not None and not self.database and not self._spatial():
            view = None
        if view is not None and self.is_far(view) and not self.database:
            return self._finish(self._overview(progress, is_cancelled), started)
        if view is None:
            # a table without geometry (or rows): its first rows; a file's first page only, the
            # attribute table and queries read the rest from the file
            budget = self.budget if self.database else min(self.budget, TABLE_PAGE_ROWS)
            result = self._read(self._request(None, budget + 1), progress, is_cancelled)
            layer = result.layer
            truncated = layer.feature_count > budget
            if truncated:
                layer.frame = layer.frame.iloc[: budget]
            window = ViewWindow(layer, None, truncated, 0.0, list(result.warnings))
            return self._finish(window, started)
        bbox = tuple(float(v) for v in view) if exact else self.window_for(capped(view))
        return self._finish(self._tiled(bbox, progress, is_cancelled), started)

    def _tiled(self, bbox: tuple[float, float, float, float], progress: ProgressFn | None,
               is_cancelled: CancelFn | None) -> ViewWindow:
        tiles = self.tiles_for(bbox)
        key = self._key()
        keep = {(*key, t) for t in tiles}
        frames: list[gpd.GeoDataFrame] = []
        truncated = False
        warnings: list[str] = []
        failed: list[str] = []
        template: Any = None
        missing = []
        for tile in tiles:
            cached = tile_cache.get((*key, tile))
            if cached is None:
                missing.append(tile)
            else:
                frames.append(cached[0])
        if progress is not None:
            progress(0.0, f"{self.source.name or self.source.layer}: {len(missing)}/{len(tiles)} tiles to read")
        if missing:
            try:
                read, truncated, template = self._read_tiles(missing, is_cancelled)
            except ReadError as exc:
                if not frames:
                    raise  # nothing to show: the error as it is (a table to fix keeps its `missing`)
                failed.append(f"tiles {missing[0]}…: {exc}")
            else:
                warnings.extend(w for w in template.warnings if w not in warnings)
                for tile, frame in read.items():
                    if not truncated:  # an incomplete tile is never cached
                        tile_cache.put((*key, tile), frame, False, keep)
                    frames.append(frame)
        if template is None:  # every tile came from the cache: the layer's structure only
            template = self._read(self._request(None, 0))
        layer = template.layer
        assert isinstance(layer, VectorLayer)
        frame = pd.concat(frames) if frames else layer.frame.iloc[:0]
        if not isinstance(frame, gpd.GeoDataFrame):
            frame = gpd.GeoDataFrame(frame, geometry=layer.frame.geometry.name, crs=layer.frame.crs)
        frame = frame[~frame.index.duplicated()].sort_index()
        if len(frame) > self.budget:
            frame, truncated = frame.iloc[: self.budget], True
        if "__row_version" in frame.columns:
            versions = frame["__row_version"]
            frame = frame.drop(columns="__row_version")
            layer.metadata["row_versions"] = pd.Series(versions.to_numpy(), index=frame.index)
        layer.frame = frame
        return ViewWindow(layer, bbox, truncated, 0.0, warnings, tiles=len(tiles), tiles_read=len(missing) - (
            len(missing) if failed else 0), failed_tiles=failed)

    def _finish(self, window: ViewWindow, started: float) -> ViewWindow:
        layer = window.layer
        layer.metadata["view_window"] = window.bbox
        layer.metadata["truncated"] = window.truncated
        layer.metadata["windowed"] = True
        layer.metadata["overview"] = window.overview
        window.seconds = time.perf_counter() - started
        self.last = window
        return window

    def prefetch(self, view: tuple[float, float, float, float], motion: tuple[float, float],
                 is_cancelled: CancelFn | None = None) -> int:
        """Read into the cache the tiles of the window ``view`` would have after moving by
        ``motion`` (metres, the camera's last move), nearest first; returns the tiles read."""
        if self.is_far(view) or (motion[0] == 0 and motion[1] == 0):
            return 0
        ahead = self.window_for(capped((view[0] + motion[0], view[1] + motion[1],
                                        view[2] + motion[0], view[3] + motion[1])))
        key = self._key()
        missing = [t for t in self.tiles_for(ahead) if tile_cache.get((*key, t)) is None]
        if not missing or (is_cancelled is not None and is_cancelled()):
            return 0
        try:
            read, truncated, _ = self._read_tiles(missing, is_cancelled)
        except ReadError:
            return 0  # the load itself will report it
        if truncated:
            return 0
        for tile, frame in read.items():
            tile_cache.put((*key, tile), frame, False)
        return len(read)

    # --- the overview ---------------------------------------------------------------------
    def _overview(self, progress: ProgressFn | None, is_cancelled: CancelFn | None) -> ViewWindow:
        path = overview_path(str(self.source.path), self.source.layer or "")
        if not path.exists():
            build_overview(str(self.source.path), self.source.layer or "", path)
        src = LayerSource(path, layer=self.source.layer, kind="vector", name=self.source.name,
                          feature_class=self.source.feature_class)
        from qdt.io.loader import load_layer

        with _LOAD_LOCK:
            result = load_layer(src, self.project_crs, progress, is_cancelled)
        layer = result.layer
        # the layer stays the streamed one: edits, the table and the inspector go to the real data
        layer.source = str(self.source.path)
        return ViewWindow(layer, None, False, 0.0, list(result.warnings), overview=True)

    def task(self, view: tuple[float, float, float, float]) -> Task:
        """The load as a :class:`qdt.tasks.Task` (for the UI's task runner, off the GUI thread)."""
        name = self.source.name or self.source.layer
        return Task(f"加载视窗要素：{name}", lambda progress, cancelled: self.load(view, progress, cancelled))


def capped(bbox: tuple[float, float, float, float], centre: tuple[float, float] | None = None,
           side: float = MAX_VIEW_SIDE_M) -> tuple[float, float, float, float]:
    """``bbox`` cut to at most ``side`` metres each way around ``centre`` (its own centre by default)."""
    x0, y0, x1, y1 = (float(v) for v in bbox)
    cx, cy = centre if centre is not None else ((x0 + x1) / 2, (y0 + y1) / 2)
    half = side / 2
    return (max(x0, cx - half), max(y0, cy - half), min(x1, cx + half), min(y1, cy + half))


def apply_window(layer: VectorLayer, window: ViewWindow) -> None:
    """Show a loaded window in a project layer: its frame and row versions become the
    window's, and ``layer.events.data`` tells the views (one redraw). The caller makes sure
    the layer has no uncommitted edits (the edit buffer lives in the frame)."""
    fresh = window.layer
    if layer.crs is not None and fresh.frame.crs is not None and fresh.frame.crs != layer.frame.crs:
        fresh.frame = fresh.frame.to_crs(layer.frame.crs)
    layer.metadata["row_versions"] = fresh.metadata.get("row_versions")
    for key in ("view_window", "truncated", "windowed", "overview"):
        layer.metadata[key] = fresh.metadata.get(key)
    layer.replace_frame(fresh.frame)


def camera_ground_bbox(position: Any, focal_point: Any, view_angle: float = 30.0,
                       aspect: float = 1.5) -> tuple[float, float, float, float]:
    """Ground rectangle a saved camera looks at: around the focal point, as wide as the view
    cone is at the focal distance (``tan(view_angle)`` × distance, ``aspect`` wider than high),
    capped to :data:`MAX_VIEW_SIDE_M`. Used before a 3D view exists (opening a project)."""
    fx, fy = float(focal_point[0]), float(focal_point[1])
    distance = math.dist(tuple(float(v) for v in position), tuple(float(v) for v in focal_point))
    half = max(distance * math.tan(math.radians(float(view_angle))), 1.0)
    return capped((fx - half * aspect, fy - half, fx + half * aspect, fy + half))


def window_loader_for(layer: VectorLayer, **kwargs: Any) -> ViewWindowLoader:
    """The view-window loader of a loaded layer whose source reads by window (same source,
    layer, class and name); ``kwargs`` as for :class:`ViewWindowLoader` (budget, margin, ...)."""
    from qdt.io.datasource import datasource_of

    source = datasource_of(layer)
    if source is None:
        raise ReadError(f"layer '{layer.name}' has no source to load view windows from")
    return source.window_loader(LayerSource(layer.source, layer=layer.source_layer, kind="vector", name=layer.name,
                                            feature_class=layer.feature_class), **kwargs)


#: The same, under the name the PostGIS module gave it first.
loader_for = window_loader_for


def in_window_tiles(geometry: Any, bbox: tuple[float, float, float, float]) -> np.ndarray:
    """Which of ``geometry`` a window over ``bbox`` holds: those whose bounding-box centre lies
    in one of the tiles covering ``bbox`` (what :meth:`ViewWindowLoader.load` returns, budget aside)."""
    size = settings.tile_size_m
    b = shapely.bounds(np.asarray(geometry))
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    return ((cx >= math.floor(bbox[0] / size) * size) & (cx < (math.floor(bbox[2] / size) + 1) * size)
            & (cy >= math.floor(bbox[1] / size) * size) & (cy < (math.floor(bbox[3] / size) + 1) * size))


def wait_for_view(layers: Any, camera: Any, aspect: float = 1.5, progress: ProgressFn | None = None,
                  is_cancelled: CancelFn | None = None) -> int:
    """Load, now, the windows the streamed layers of ``layers`` need for ``camera`` (a camera
    state dict or a ``qdt.project.Camera``): a snapshot or report waits for its tiles. Returns
    the layers reloaded."""
    get = camera.get if isinstance(camera, dict) else lambda key, default=None: getattr(camera, key, default)
    position, focal = get("position"), get("focal_point")
    if position is None or focal is None:
        return 0
    fx, fy = float(focal[0]), float(focal[1])
    distance = math.dist(tuple(float(v) for v in position), tuple(float(v) for v in focal))
    half = max(distance * math.tan(math.radians(float(get("view_angle", 30.0) or 30.0))), 1.0)
    view = (fx - half * aspect, fy - half, fx + half * aspect, fy + half)
    streamed = [layer for layer in layers if is_streamed(layer)]
    done = 0
    for n, layer in enumerate(streamed):
        loader = layer.metadata.get("_view_loader")
        if loader is None:
            loader = layer.metadata["_view_loader"] = window_loader_for(layer)
        window = layer.metadata.get("view_window")
        current = loader.last is not None or window is not None
        if current and loader.last is None:  # opened with a window: is it around this view?
            loader.last = ViewWindow(layer, window, bool(layer.metadata.get("truncated")), 0.0,
                                     overview=bool(layer.metadata.get("overview")))
        if not loader.needs_reload(view):
            continue
        if progress is not None:
            progress(n / max(len(streamed), 1), f"loading the tiles of {layer.name}")
        apply_window(layer, loader.load(view, is_cancelled=is_cancelled))
        done += 1
    return done


def is_streamed(layer: Any) -> bool:
    """True for a layer that holds only a view window of its source (a streamed file layer or a
    database table): whole-layer questions must go to the source."""
    return bool(getattr(layer, "metadata", {}).get("windowed"))


# --- overviews --------------------------------------------------------------------------------
def _user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "qdt" / "overviews"


def overview_path(path: str, layer: str) -> Path:
    """Where the overview of ``layer`` of the GeoPackage ``path`` lives: beside the data
    (``<file>.qdt-overview/<layer>.<stamp>.gpkg``) when that folder can be written, else in the
    user cache. ``stamp`` changes with the file's size and time, so an edited file gets a new one."""
    stat = os.stat(path)
    stamp = hashlib.sha1(f"{stat.st_size}:{stat.st_mtime_ns}:{settings.overview_features}".encode()).hexdigest()[:12]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in layer)
    beside = Path(path + ".qdt-overview")
    try:
        beside.mkdir(exist_ok=True)
        if os.access(beside, os.W_OK):
            return beside / f"{safe}.{stamp}.gpkg"
    except OSError:
        pass
    cache = _user_cache()
    cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:16]
    return cache / f"{key}.{safe}.{stamp}.gpkg"


def layer_count(path: str, layer: str, *, spatial: bool = False) -> int:
    """Feature count of a GeoPackage layer from its metadata (no scan when GDAL keeps it);
    ``spatial``: 0 for a layer without geometry (an attribute table is never streamed by view)."""
    import pyogrio

    info = pyogrio.read_info(path, layer=layer)
    if spatial and info.get("geometry_type") is None:
        return 0
    return int(info.get("features", -1))


def build_overview(path: str, layer: str, out: Path) -> Path:
    """Write the overview of a GeoPackage layer: every k-th feature (the fids kept), at most
    :attr:`StreamingSettings.overview_features`; read through SQL, written to a temporary
    file and renamed, so a half-written overview never exists."""
    import pyogrio

    count = max(layer_count(path, layer), 1)
    step = max(1, math.ceil(count / settings.overview_features))
    frame = pyogrio.read_dataframe(path, layer=layer, where=f"fid % {step} = 0", fid_as_index=True)
    frame.index.name = "fid"
    tmp = out.with_suffix(".tmp.gpkg")
    if tmp.exists():
        tmp.unlink()
    geometry_type = None
    if not isinstance(frame, gpd.GeoDataFrame):
        raise ReadError(f"layer '{layer}' has no geometry: it has no overview")
    if len(frame):
        types = set(shapely.get_type_id(frame.geometry.to_numpy()).tolist())
        geometry_type = {frozenset({3, 6}): "MultiPolygon"}.get(frozenset(types))
    pyogrio.write_dataframe(frame.reset_index(), tmp, layer=layer, driver="GPKG", geometry_type=geometry_type)
    os.replace(tmp, out)
    return out


# --- whole-layer reads in chunks --------------------------------------------------------------
def iter_chunks(layer: Any, *, bbox: tuple[float, float, float, float] | None = None,
                columns: tuple[str, ...] | None = None, chunk_rows: int | None = None,
                is_cancelled: CancelFn | None = None) -> Iterator[gpd.GeoDataFrame]:
    """The whole source of a streamed file layer, ``chunk_rows`` rows at a time (fid order), in the
    layer's CRS with the catalogue mapping of a normal load; ``bbox`` (layer CRS) reads through
    the R-tree. Memory stays that of one chunk."""
    import pyogrio

    from qdt.io.loader import load_layer

    rows = int(chunk_rows or settings.chunk_rows)
    path, name = str(layer.source), layer.source_layer or layer.name
    info = pyogrio.read_info(path, layer=name)
    fid_column = info.get("fid_column") or "fid"
    src = LayerSource(path, layer=name, kind="vector", name=layer.name, feature_class=layer.feature_class)
    # fid ranges, not OFFSET: each chunk is a range scan of the table's integer primary key
    import sqlite3

    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        lo, hi = con.execute(f'SELECT MIN("{fid_column}"), MAX("{fid_column}") FROM "{name}"').fetchone()
    except sqlite3.Error as exc:
        raise ReadError(f"layer '{name}' of '{os.path.basename(path)}': {exc}") from exc
    finally:
        con.close()
    if lo is None:
        return
    crs = getattr(layer, "crs", None) or "EPSG:4549"
    for start in range(int(lo), int(hi) + 1, rows):
        if is_cancelled is not None:
            check_cancel(is_cancelled)
        request = _ChunkRequest(bbox=bbox, bbox_crs=crs if bbox is not None else None, columns=columns,
                                fid_range=(start, start + rows - 1))
        with _LOAD_LOCK:
            result = load_layer(src, crs, request=request)
        frame = result.layer.frame
        if len(frame):
            yield frame


@dataclass(frozen=True)
class _ChunkRequest(FeatureRequest):
    """A feature request limited to a fid range (files: an SQL ``where`` on the fid column)."""

    fid_range: tuple[int, int] | None = None
