"""View-window loading: only what the camera sees, with a margin, up to a feature budget.

For sources that declare windowed reads (:attr:`qdt.io.Capability.WINDOWED_READS`: a PostGIS
table today; 3D Tiles and streamed files next). A source hands out its loader with
:meth:`qdt.io.DataSource.window_loader` (:func:`window_loader_for` for a loaded layer)::

    loader = ViewWindowLoader("postgis:service=qdt", "city.buildings", feature_class="building")
    window = loader.load((x0, y0, x1, y1))          # or: runner.submit(loader.task(bbox))
    window.layer, window.truncated, window.bbox

The visible rectangle is widened by ``margin`` (a fraction of its size on each side) so small
pans do not reload (:meth:`ViewWindowLoader.needs_reload`), then asked from the server with
a ``bbox`` and ``limit = budget + 1`` (a database: ``geom && envelope`` on the GiST index and
``LIMIT``): the whole table is never pulled.
When the window holds more than the budget, the first ``budget`` features by key are kept
and ``truncated`` says so (the status bar can say "zoom in to see all").
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from qdt.io.base import FeatureRequest, LayerSource
from qdt.layers.vector import VectorLayer
from qdt.tasks import CancelFn, ProgressFn, Task

# One window load at a time in this process: creating pyproj CRS objects from two worker
# threads at once crashes (segfault seen with pyproj 3.7 in QThreadPool threads), and the
# UI starts one load per database layer.
_LOAD_LOCK = threading.Lock()

#: Features per layer a view window loads at most (a street-level view of the densest
#: district holds a few thousand buildings; 50 000 keeps memory and the first frame small).
DEFAULT_BUDGET = 50_000

#: Extra area around the visible rectangle, as a fraction of its width/height on each side.
DEFAULT_MARGIN = 0.25

#: Longest side, in metres, of the ground rectangle asked from the server (a camera looking at
#: the horizon, or a project opened without a camera, would otherwise ask for the whole city).
MAX_VIEW_SIDE_M = 4000.0


@dataclass
class ViewWindow:
    """One loaded window: the layer (project CRS), the rectangle asked, whether the budget cut it."""

    layer: VectorLayer
    bbox: tuple[float, float, float, float] | None
    truncated: bool
    seconds: float
    warnings: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return self.layer.feature_count


class ViewWindowLoader:
    """Loads the part of one database layer around a view rectangle (see the module docstring).

    Parameters
    ----------
    uri
        ``postgis:`` source.
    layer
        ``schema.table``.
    budget
        Most features per load.
    margin
        Widening of the visible rectangle (fraction per side).
    feature_class, name, project_crs
        As for :func:`qdt.io.load_layer`.
    where
        Optional filter the source runs itself (``QUERY_PUSHDOWN``; a :class:`qdt.io.postgis.SqlFilter`
        built by :mod:`qdt.query.sql`).
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

    def window_for(self, view: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """The rectangle loaded for a visible rectangle (widened by the margin)."""
        x0, y0, x1, y1 = (float(v) for v in view)
        if x1 < x0:
            x0, x1 = x1, x0
        if y1 < y0:
            y0, y1 = y1, y0
        dx, dy = (x1 - x0) * self.margin, (y1 - y0) * self.margin
        return (x0 - dx, y0 - dy, x1 + dx, y1 + dy)

    def needs_reload(self, view: tuple[float, float, float, float]) -> bool:
        """False while ``view`` stays inside the last complete window."""
        if self.last is None or self.last.truncated or self.last.bbox is None:
            return True
        x0, y0, x1, y1 = view
        w = self.last.bbox
        return not (x0 >= w[0] and y0 >= w[1] and x1 <= w[2] and y1 <= w[3])

    def load(self, view: tuple[float, float, float, float] | None, progress: ProgressFn | None = None,
             is_cancelled: CancelFn | None = None, *, exact: bool = False) -> ViewWindow:
        """Load the window around ``view`` (``exact=True``: exactly ``view``, no margin)."""
        from qdt.io.loader import load_layer

        started = time.perf_counter()
        # view None: no rectangle (a table without geometry or rows), still at most the budget
        bbox = None if view is None else tuple(float(v) for v in view) if exact else self.window_for(view)
        request = FeatureRequest(bbox=bbox, bbox_crs=self.project_crs if bbox is not None else None,
                                 limit=self.budget + 1)
        if self.where is not None:  # a filter the source runs (a database's WHERE)
            from qdt.io.postgis.source import PgFeatureRequest

            request = PgFeatureRequest(bbox=request.bbox, bbox_crs=request.bbox_crs, limit=request.limit,
                                       where=self.where)
        with _LOAD_LOCK:
            result = load_layer(self.source, self.project_crs, progress, is_cancelled, request=request)
        layer = result.layer
        assert isinstance(layer, VectorLayer)
        truncated = layer.feature_count > self.budget
        if truncated:
            layer.frame = layer.frame.iloc[: self.budget]
            versions = layer.metadata.get("row_versions")
            if versions is not None:
                layer.metadata["row_versions"] = versions.iloc[: self.budget]
        layer.metadata["view_window"] = bbox
        layer.metadata["truncated"] = truncated
        window = ViewWindow(layer, bbox, truncated, time.perf_counter() - started, list(result.warnings))  # type: ignore[arg-type]
        self.last = window
        return window

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


def camera_ground_bbox(position: Any, focal_point: Any, view_angle: float = 30.0,
                       aspect: float = 1.5) -> tuple[float, float, float, float]:
    """Ground rectangle a saved camera looks at: around the focal point, as wide as the view
    cone is at the focal distance (``tan(view_angle)`` × distance, ``aspect`` wider than high),
    capped to :data:`MAX_VIEW_SIDE_M`. Used before a 3D view exists (opening a project)."""
    fx, fy = float(focal_point[0]), float(focal_point[1])
    distance = math.dist(tuple(float(v) for v in position), tuple(float(v) for v in focal_point))
    half = max(distance * math.tan(math.radians(float(view_angle))), 1.0)
    return capped((fx - half * aspect, fy - half, fx + half * aspect, fy + half))


def apply_window(layer: VectorLayer, window: ViewWindow) -> None:
    """Show a loaded window in a project layer: its frame and row versions become the
    window's, and ``layer.events.data`` tells the views (one redraw). The caller makes sure
    the layer has no uncommitted edits (the edit buffer lives in the frame)."""
    fresh = window.layer
    if layer.crs is not None and fresh.frame.crs is not None and fresh.frame.crs != layer.frame.crs:
        fresh.frame = fresh.frame.to_crs(layer.frame.crs)
    layer.metadata["row_versions"] = fresh.metadata.get("row_versions")
    layer.metadata["view_window"] = window.bbox
    layer.metadata["truncated"] = window.truncated
    layer.replace_frame(fresh.frame)


def window_loader_for(layer: VectorLayer, **kwargs: Any) -> ViewWindowLoader:
    """The view-window loader of a loaded layer whose source reads by window (same source,
    layer, class and name); ``kwargs`` as for :class:`ViewWindowLoader` (budget, margin, ...)."""
    from qdt.io.datasource import datasource_of
    from qdt.io.errors import ReadError

    source = datasource_of(layer)
    if source is None:
        raise ReadError(f"layer '{layer.name}' has no source to load view windows from")
    return source.window_loader(LayerSource(layer.source, layer=layer.source_layer, kind="vector", name=layer.name,
                                            feature_class=layer.feature_class), **kwargs)
