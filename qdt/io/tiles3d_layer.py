"""3D Tiles as a QDT layer: the ``tileset`` reader, placement in the project CRS, and streaming.

:class:`TileStreamer` keeps a layer's drawn tiles in step with the camera: it selects tiles by
screen-space error (:func:`qdt.io.tiles3d.select_tiles`), loads the wanted ones nearest-first on
worker threads within a memory budget (least recently drawn contents are dropped first), and
publishes the result on the caller's thread when :meth:`TileStreamer.poll` is called (the window
calls it from a timer; nothing here touches the layer from a worker). A content that is missing
or corrupt is reported once (``problems``) and skipped; the rest of the tileset shows.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

from qdt.crs import crs_label
from qdt.io.base import FeatureRequest, LayerInfo, LayerSource, LoadResult, ReadContext, Reader, SourceData
from qdt.io.datasource import Capability
from qdt.io.errors import ReadError, display_name
from qdt.io.registry import register_reader
from qdt.io.tiles3d import (
    GEOGRAPHIC_3D,
    ContentGeometry,
    Tile,
    Tileset,
    TilesetError,
    ViewParams,
    ecef_to_geographic,
    is_tileset,
    open_tileset,
    read_content,
    select_tiles,
)
from qdt.layers.tileset import TilesetLayer

DEFAULT_MEMORY_BUDGET_MB = 512  # loaded tile geometry kept in memory (Cesium's cacheBytes default is 512 MB)
_OWN_COLUMNS = ("object_id", "type", "tile", "content", "feature")  # a property of that name gets a "_"
DEFAULT_SCREEN_ERROR = 16.0  # pixels (Cesium's maximumScreenSpaceError default)


class Placement:
    """World (ECEF, or local metres) → project CRS: pyproj ECEF → EPSG:4979 → project XY, height kept.

    A local tileset (not Earth-centred) is placed by ``anchor`` (x, y, z[, rotation°]) in the
    project CRS: local x east, y north, z up, turned by ``rotation`` degrees anticlockwise.
    """

    def __init__(self, project_crs: CRS, *, local: bool, anchor: tuple[float, ...] | None = None) -> None:
        self.project_crs = project_crs
        self.local = local
        self.anchor = tuple(float(v) for v in (anchor or (0.0, 0.0, 0.0)))
        self._to_project = None if local else Transformer.from_crs(GEOGRAPHIC_3D, project_crs, always_xy=True)

    def __call__(self, world: np.ndarray) -> np.ndarray:
        world = np.asarray(world, dtype=np.float64).reshape(-1, 3)
        if self.local:
            angle = math.radians(self.anchor[3]) if len(self.anchor) > 3 else 0.0
            c, s = math.cos(angle), math.sin(angle)
            out = np.empty_like(world)
            out[:, 0] = self.anchor[0] + c * world[:, 0] - s * world[:, 1]
            out[:, 1] = self.anchor[1] + s * world[:, 0] + c * world[:, 1]
            out[:, 2] = self.anchor[2] + world[:, 2]
            return out
        geo = ecef_to_geographic(world)
        if len(geo) == 0:
            return geo
        x, y = self._to_project.transform(geo[:, 0], geo[:, 1])
        return np.stack([np.asarray(x), np.asarray(y), geo[:, 2]], axis=1)


@dataclass
class PlacedContent:
    """A content in the project CRS, with its feature rows."""

    tile_key: str
    path: str
    vertices: np.ndarray
    triangles: np.ndarray
    triangle_feature: np.ndarray
    triangle_colour: np.ndarray
    points: np.ndarray
    point_colour: np.ndarray
    point_feature: np.ndarray
    properties: pd.DataFrame

    @property
    def nbytes(self) -> int:
        return int(self.vertices.nbytes + self.triangles.nbytes + self.points.nbytes + self.triangle_feature.nbytes
                   + self.triangle_colour.nbytes + self.point_colour.nbytes + self.point_feature.nbytes)


def place_content(geometry: ContentGeometry, tile: Tile, placement: Placement) -> PlacedContent:
    vertices = placement(geometry.positions)
    points = placement(geometry.points)
    if not (np.isfinite(vertices).all() and np.isfinite(points).all()):
        raise TilesetError(f"tile content {display_name(geometry.path)!r}: coordinates cannot be placed in "
                           f"{crs_label(placement.project_crs)} (outside its area of use?)")
    m = len(geometry.triangles)
    return PlacedContent(tile.key, geometry.path, vertices, geometry.triangles, geometry.triangle_feature,
                         geometry.triangle_colour if geometry.triangle_colour is not None
                         else np.full((m, 3), 210, np.uint8),
                         points, geometry.point_colour if geometry.point_colour is not None
                         else np.full((len(points), 3), 230, np.uint8),
                         geometry.point_feature, geometry.properties)


class TileStreamer:
    """Loads a tileset's tiles for a view into a :class:`TilesetLayer` (see the module docstring).

    Parameters
    ----------
    memory_budget_mb
        Most megabytes of placed geometry kept; contents beyond it are not loaded, least
        recently drawn ones are dropped first.
    workers
        Loader threads (reading and parsing release the GIL in numpy and file I/O).
    """

    def __init__(self, layer: TilesetLayer, tileset: Tileset, placement: Placement, *,
                 memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB, workers: int = 2,
                 max_screen_error: float = DEFAULT_SCREEN_ERROR) -> None:
        self.layer = layer
        self.tileset = tileset
        self.placement = placement
        self.memory_budget = int(memory_budget_mb * 1024 * 1024)
        self.max_screen_error = max_screen_error
        self.cache: OrderedDict[str, PlacedContent] = OrderedDict()
        self.failed: dict[str, str] = {}
        self.problems: list[str] = list(tileset.problems)
        self._reported = 0
        self._pending: dict[str, Future] = {}
        self._done: list[tuple[str, PlacedContent | None, str | None]] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="qdt-tiles")
        self._centres: dict[int, np.ndarray] = {}
        self._draw: list[Tile] = []
        self.over_budget = False
        self.closed = False
        self._published: tuple[str, ...] | None = None

    # -- state
    @property
    def memory_used(self) -> int:
        return sum(c.nbytes for c in self.cache.values())

    def loaded(self, tile: Tile) -> bool:
        """Every content of the tile is loaded; a failed one never is, so a REPLACE parent stays drawn
        in place of a child that could not be read."""
        return all(p in self.cache for p in tile.contents)

    def centre(self, tile: Tile) -> np.ndarray:
        key = id(tile)
        if key not in self._centres:
            self._centres[key] = self.placement(tile.sphere[0][None, :])[0]
        return self._centres[key]

    def new_problems(self) -> list[str]:
        """Problems not returned before (each missing or corrupt file once)."""
        out = self.problems[self._reported:]
        self._reported = len(self.problems)
        return out

    # -- selection in project coordinates
    def _view(self, camera: tuple[float, float, float] | None, viewport_height: int, fov: float) -> ViewParams | None:
        if camera is None:
            return None
        return ViewParams(tuple(camera), viewport_height, fov, self.max_screen_error)  # type: ignore[arg-type]

    def select(self, camera: tuple[float, float, float] | None, viewport_height: int = 1000,
               fov: float = 30.0) -> tuple[list[Tile], list[Tile]]:
        """(tiles to draw, tiles to load nearest first) for a camera in the project CRS; None: finest."""
        view = self._view(camera, viewport_height, fov)
        if view is None:
            return select_tiles(self.tileset.root, None, loaded=self.loaded, max_error=0.0)
        def sse(tile: Tile, v: ViewParams) -> float:  # distances measured in the project CRS
            distance = max(float(np.linalg.norm(np.asarray(v.position) - self.centre(tile))) - tile.sphere[1], 1e-3)
            return tile.geometric_error * v.viewport_height / (distance * 2.0 * math.tan(math.radians(v.fov_degrees)
                                                                                         / 2.0))

        draw, wanted = select_tiles(self.tileset.root, view, loaded=self.loaded, error_of=sse)
        position = np.asarray(camera, dtype=np.float64)
        wanted.sort(key=lambda t: float(np.linalg.norm(position - self.centre(t))))
        return draw, wanted

    def request(self, tiles: list[Tile]) -> int:
        """Queue loads for ``tiles`` (in order) while the budget allows; returns how many were queued."""
        queued = 0
        budget_left = self.memory_budget - self.memory_used
        self.over_budget = False
        for tile in tiles:
            for path in tile.contents:
                if path in self.cache or path in self.failed or path in self._pending:
                    continue
                if budget_left <= 0:
                    self.over_budget = True
                    return queued
                self._pending[path] = self._pool.submit(self._load, tile, path)
                budget_left -= max(os.path.getsize(path) if os.path.exists(path) else 0, 1)
                queued += 1
        return queued

    def _load(self, tile: Tile, path: str) -> None:
        try:
            placed = place_content(read_content(path, tile.transform), tile, self.placement)
            result: tuple[str, PlacedContent | None, str | None] = (path, placed, None)
        except ReadError as exc:
            result = (path, None, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bad tile must not stop the others; its reason is reported
            result = (path, None, f"tile content {display_name(path)!r}: {type(exc).__name__}: {exc}")
        with self._lock:
            self._done.append(result)

    def poll(self) -> bool:
        """Take finished loads into the cache; True when something arrived (call :meth:`update` then)."""
        with self._lock:
            done, self._done = self._done, []
        for path, placed, error in done:
            self._pending.pop(path, None)
            if placed is None:
                self.failed[path] = error or "unreadable"
                self.problems.append(error or f"tile content {display_name(path)!r} unreadable")
            else:
                self.cache[path] = placed
        return bool(done)

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def update(self, camera: tuple[float, float, float] | None = None, viewport_height: int = 1000,
               fov: float = 30.0) -> int:
        """Select for the camera, publish what is loaded to the layer, queue what is missing.

        Returns the number of contents still loading.
        """
        self.poll()
        draw, wanted = self.select(camera, viewport_height, fov)
        self._draw = draw
        for tile in draw:
            for path in tile.contents:
                if path in self.cache:
                    self.cache.move_to_end(path)
        self._evict(draw)
        self._publish(draw)
        self.request(wanted)
        return len(self._pending)

    def _evict(self, draw: list[Tile]) -> None:
        keep = {p for t in draw for p in t.contents}
        used = self.memory_used
        for path in list(self.cache):
            if used <= self.memory_budget:
                break
            if path not in keep:
                used -= self.cache.pop(path).nbytes

    def load_view(self, camera: tuple[float, float, float] | None = None, viewport_height: int = 1000,
                  fov: float = 30.0, *, context: ReadContext | None = None) -> None:
        """Load until the selection for this view is complete (CLI, snapshot, tests)."""
        for _ in range(10000):
            if context is not None:
                context.check()
            pending = self.update(camera, viewport_height, fov)
            if pending == 0:
                draw, wanted = self.select(camera, viewport_height, fov)
                if not [t for t in wanted if any(p not in self.failed for p in t.contents)] or self.over_budget:
                    self._publish(draw)
                    return
                continue
            for future in list(self._pending.values()):
                future.result()

    def _publish(self, draw: list[Tile]) -> None:
        signature = tuple(p for t in draw for p in t.contents if p in self.cache)
        if signature == self._published:
            return  # same contents drawn: no rebuild
        self._published = signature
        vertices, triangles, tri_obj, tri_col, points, pt_col, pt_obj, frames = [], [], [], [], [], [], [], []
        base = 0
        rows = 0
        for tile in draw:
            for path in tile.contents:
                content = self.cache.get(path)
                if content is None:
                    continue
                n_features = len(content.properties)
                frame = content.properties.copy() if n_features else pd.DataFrame(index=pd.RangeIndex(1))
                frame = frame.rename(columns={c: f"{c}_" for c in frame.columns if c in _OWN_COLUMNS})
                for key, value in tile.metadata.get(path, {}).items():  # 3D Tiles 1.1 tile/content/group metadata
                    if key not in frame.columns:
                        frame[key] = [value] * len(frame)
                frame.insert(0, "content", Path(path).name)
                frame.insert(0, "tile", tile.key)
                frame.insert(0, "type", "feature" if n_features else "content")
                frame.insert(0, "object_id", [f"{Path(path).name}#{i}" for i in range(len(frame))]
                             if n_features else [Path(path).name])
                if n_features:
                    frame.insert(4, "feature", np.arange(n_features))
                frames.append(frame)
                if len(content.triangles):
                    vertices.append(content.vertices)
                    triangles.append(content.triangles + base)
                    base += len(content.vertices)
                    f = content.triangle_feature
                    tri_obj.append(rows + (np.where((f >= 0) & (f < n_features), f, 0) if n_features
                                           else np.zeros(len(f), np.int64)))
                    tri_col.append(content.triangle_colour)
                if len(content.points):
                    points.append(content.points)
                    pt_col.append(content.point_colour)
                    f = content.point_feature
                    pt_obj.append(rows + (np.where((f >= 0) & (f < n_features), f, 0) if n_features
                                          else np.zeros(len(f), np.int64)))
                rows += len(frame)
        objects = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            {"object_id": pd.Series(dtype=object), "type": pd.Series(dtype=object)})
        self.layer.set_drawn(
            np.concatenate(vertices) if vertices else np.zeros((0, 3)),
            np.concatenate(triangles) if triangles else np.zeros((0, 3), np.int64),
            np.concatenate(tri_obj) if tri_obj else np.zeros(0, np.int64),
            np.concatenate(tri_col) if tri_col else np.zeros((0, 3), np.uint8),
            np.concatenate(points) if points else np.zeros((0, 3)),
            np.concatenate(pt_col) if pt_col else np.zeros((0, 3), np.uint8),
            np.concatenate(pt_obj) if pt_obj else np.zeros(0, np.int64),
            objects)

    def close(self) -> None:
        self.closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)


def overview_camera(tileset: Tileset, placement: Placement, viewport_height: int = 1000,
                    fov: float = 30.0) -> tuple[float, float, float]:
    """A camera above the tileset's centre that sees all of it (the first frame's view)."""
    corners = placement(tileset.root.corners)
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    centre = (lo + hi) / 2
    radius = float(np.linalg.norm(hi - lo)) / 2
    distance = radius / math.tan(math.radians(fov) / 2)
    return float(centre[0]), float(centre[1]), float(hi[2] + distance)


def tileset_summary(tileset: Tileset, project_crs: CRS | str = "EPSG:4549") -> dict[str, Any]:
    """What ``qdt info`` prints for a tileset: version, tiles, contents, geometric error, bbox."""
    tiles = tileset.tiles
    corners = np.concatenate([t.corners for t in tiles if t.corners is not None])
    out: dict[str, Any] = {"version": tileset.version, "tiles": len(tiles), "contents": tileset.content_count,
                           "geometric_error": tileset.geometric_error, "root_geometric_error":
                           tileset.root.geometric_error, "external_tilesets": tileset.external_tilesets,
                           "depth": max(t.depth for t in tiles), "local": tileset.is_local,
                           "problems": list(tileset.problems)}
    missing = [p for t in tiles for p in t.contents if not os.path.exists(p)]
    if missing:
        out["problems"].append(f"{len(missing)} content file(s) missing: "
                               f"{', '.join(display_name(p) for p in missing[:5])}")
    if tileset.is_local:
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        out["crs"] = None
        out["bbox"] = [float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])]
        out["zrange"] = [float(lo[2]), float(hi[2])]
        return out
    geo = ecef_to_geographic(corners)
    out["lonlat_bbox"] = [float(geo[:, 0].min()), float(geo[:, 1].min()), float(geo[:, 0].max()),
                          float(geo[:, 1].max())]
    out["zrange"] = [float(geo[:, 2].min()), float(geo[:, 2].max())]
    crs = CRS.from_user_input(project_crs)
    placed = Placement(crs, local=False)(corners)
    area = crs.area_of_use
    inside = area is None or (area.west - 1 <= out["lonlat_bbox"][2] and out["lonlat_bbox"][0] <= area.east + 1)
    if inside and np.isfinite(placed).all():
        out["crs"] = crs_label(crs)
        out["bbox"] = [float(placed[:, 0].min()), float(placed[:, 1].min()), float(placed[:, 0].max()),
                       float(placed[:, 1].max())]
    else:
        out["crs"] = "EPSG:4326"
        out["bbox"] = out["lonlat_bbox"]
        out["note"] = f"outside the area of use of {crs_label(crs)}: bbox in longitude/latitude"
    return out


def _open(path: str) -> Tileset:
    try:
        return open_tileset(path)
    except TilesetError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TilesetError(f"cannot read tileset {display_name(path)!r}: {exc}") from None


@register_reader("tileset", ("tileset.json", "*.tileset.json", "*.json"), name="3D Tiles", sniff=is_tileset)
class TilesetReader(Reader):
    """3D Tiles 1.0/1.1 ``tileset.json``; :meth:`read` returns an empty layer that streams when prepared."""

    capabilities = Capability.STREAMED_TILES

    def layer_names(self, path: str) -> list[str]:
        return [Path(path).parent.name or Path(path).stem]

    def info(self, path: str) -> list[LayerInfo]:
        tileset = _open(path)
        summary = tileset_summary(tileset)
        crs = summary.pop("crs")
        bbox = summary.pop("bbox")
        return [LayerInfo(self.layer_names(path)[0], "tileset", CRS.from_user_input(crs) if crs else None, bbox,
                          count=summary["contents"], geometry_type="3D Tiles", extra=summary)]

    def read(self, path: str, layer: str | None, request: FeatureRequest, context: ReadContext) -> SourceData:
        tileset = _open(path)
        out = TilesetLayer(self.layer_names(path)[0], None, source=path, metadata={"tileset": tileset})
        return SourceData(out, list(tileset.problems))


def prepare_tileset(data: SourceData, source: LayerSource, project_crs: CRS, context: ReadContext) -> LoadResult:
    """Place the tileset in the project CRS and load the first view (the whole set, seen from above)."""
    layer = data.layer
    assert isinstance(layer, TilesetLayer)
    tileset: Tileset = layer.metadata.pop("tileset")
    notes = list(data.warnings)
    anchor = getattr(source, "anchor", None)
    where = f"tileset {display_name(os.fspath(source.path))!r}"
    if tileset.is_local and anchor is None:
        notes.append(f"{where}: its coordinates are local (not Earth-centred); placed at the project CRS origin "
                     f"until an anchor is set")
    placement = Placement(project_crs, local=tileset.is_local, anchor=anchor)
    corners = placement(tileset.root.corners)
    if not np.isfinite(corners).all() or (not tileset.is_local and not _inside_area(tileset, project_crs)):
        summary = tileset_summary(tileset, project_crs)
        west, south, east, north = summary["lonlat_bbox"]
        raise ReadError(f"{where} lies at {west:.3f}…{east:.3f}°E {south:.3f}…{north:.3f}°N, outside the area of "
                        f"use of {crs_label(project_crs)}; open it in a project whose CRS covers it")
    out = TilesetLayer(source.name or layer.name, project_crs, source=os.fspath(source.path),
                       metadata={"category": "时空基础", "version": tileset.version, "tiles": len(tileset.tiles),
                                 "source_crs": "local" if tileset.is_local else "EPSG:4978",
                                 "height": "ellipsoidal (WGS 84 / CGCS2000), no geoid applied"
                                 if not tileset.is_local else "anchor + local z"})
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    out.extent = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
    streamer = TileStreamer(out, tileset, placement)
    out.streamer = streamer
    missing = [p for t in tileset.tiles for p in t.contents if not os.path.exists(p)]
    for path in missing:  # known now, reported once; REPLACE parents stay drawn in their place
        streamer.failed[path] = "file not found"
    if missing:
        streamer.problems.append(f"{where}: {len(missing)} tile content file(s) not found, skipped: "
                                 f"{', '.join(display_name(p) for p in missing[:5])}"
                                 f"{' …' if len(missing) > 5 else ''}")
    context.report(0.3, "loading tiles")
    streamer.load_view(overview_camera(tileset, placement), context=context)
    notes.extend(p for p in streamer.new_problems() if p not in notes)
    return LoadResult(out, notes)


def _inside_area(tileset: Tileset, project_crs: CRS) -> bool:
    area = project_crs.area_of_use
    if area is None:
        return True
    geo = ecef_to_geographic(tileset.root.corners)
    return bool(area.west - 1 <= geo[:, 0].max() and geo[:, 0].min() <= area.east + 1
                and area.south - 1 <= geo[:, 1].max() and geo[:, 1].min() <= area.north + 1)
