"""Label placement without Qt or VTK: texts, anchors, screen projection, collision, drawing with PIL.

The 3D view (:mod:`qdt.render.labels`), snapshots and reports share this module, so a label
goes where the same rules put it everywhere:

1. :func:`label_candidates` turns a labelled layer into candidates: the text of every feature
   (a field with code-list labels, or a template of query-language expressions), a world anchor
   (on top of a building or pole, at a point, on the ground along a line every
   :attr:`~qdt.layers.style.LabelStyle.spacing` metres) and, along lines, the line's direction.
2. :func:`place_labels` projects the anchors with the camera's composite projection matrix into
   *layout units* — pixels of a view :data:`REFERENCE_HEIGHT` pixels high, whatever the image
   size — and places them greedily: higher priority first, then nearer to the camera, then by
   feature id; a label that would overlap one already placed (tested on a screen grid) is
   dropped. Labels along lines are turned to the line's screen direction and kept upright.
   Because the layout does not depend on the pixel size, a 6400 × 4000 snapshot places exactly
   the labels of a 1600 × 1000 one, scaled.
3. :func:`draw_labels` draws a placement into an RGBA image of any size with the CJK TrueType
   font (text with a halo), at full resolution.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from qdt.layers import Layer, RasterLayer
from qdt.layers.style import LabelStyle

__all__ = ["REFERENCE_HEIGHT", "DepthMap", "LabelCandidates", "LabelError", "PlacedLabel", "Placement", "ViewCamera",
           "draw_labels", "label_candidates", "label_texts", "label_unit", "place_labels"]

REFERENCE_HEIGHT = 1000.0  # px: label sizes are given for a view this high; bigger images scale them
MIN_UNIT = 0.75  # below 750 px high labels stop shrinking (they stay legible; fewer of them fit)
GRID_CELL = 64.0  # layout units: the collision grid's cell
THIN_CELL = 10.0  # layout units: of candidates whose anchors share such a cell only the first is tried
MEASURE_SIZE = 64  # px: texts are measured at this size and scaled, so the layout is size-independent
LINE_REPEAT = 4.0  # a line's label is repeated only this many label widths (plus REPEAT_GAP) apart
REPEAT_GAP = 240.0  # layout units
POLE_CLASSES = {"streetlight": 10.0, "smart_pole": 12.0}  # default pole heights (m), as the glyph builders
DEFAULT_BUILDING_HEIGHT = 10.0

# the fonts qdt.export uses (fonts-wqy-microhei from tools/system_deps.sh first)
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


class LabelError(ValueError):
    """A label text that cannot be evaluated, or no CJK font: one line naming the layer and the problem."""


def label_unit(width: float, height: float) -> float:
    """Image pixels per layout unit for an image ``width`` × ``height`` (the view's height decides)."""
    return max(MIN_UNIT, float(height) / REFERENCE_HEIGHT)


# --- texts -----------------------------------------------------------------------------------------------

def _table(layer: Layer) -> Any:
    frame = getattr(layer, "frame", None)
    return frame if frame is not None else getattr(layer, "objects", None)


def feature_class_of(layer: Layer) -> Any:
    name = getattr(layer, "feature_class", None)
    if not name:
        return None
    from qdt.cim import catalogue

    try:
        return catalogue().feature_class(name)
    except KeyError:
        return None


def _format(kind: str, data: np.ndarray, null: np.ndarray, frame: Any, column: str | None,
            field_def: Any) -> np.ndarray:
    """Display text per row (object array; None where the value is NULL)."""
    out = np.full(len(data), None, dtype=object)
    ok = ~null
    if field_def is not None and getattr(field_def, "codelist", None) and column is not None:
        from qdt.cim import catalogue

        try:
            codes = catalogue().codelist(field_def.codelist)
        except KeyError:
            codes = None
        if codes is not None:
            raw = frame[column].to_numpy(dtype=object)
            uniques = {v for v in raw[ok]}
            labels = {v: codes.label(v) or str(v) for v in uniques}
            out[ok] = [labels[v] for v in raw[ok]]
            return out
    if kind == "num":
        values = data[ok].astype(float)
        out[ok] = [str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:.2f}".rstrip("0").rstrip(".")
                   for v in values]
    elif kind == "date":
        out[ok] = [str(v)[:10] for v in data[ok]]
    elif kind == "bool":
        out[ok] = np.where(data[ok].astype(bool), "是", "否")
    elif kind == "str":
        out[ok] = [str(v) for v in data[ok]]
    return out


_PART = re.compile(r"\{([^{}]*)\}")


def label_texts(layer: Layer, style: LabelStyle) -> np.ndarray:
    """The label text of every row of the layer's table (object array; None: no label).

    ``style.text`` is a field name (column, catalogue Chinese or English name, alias), an
    expression, or a template with ``{expression}`` parts; a template row is labelled only where
    every part has a value. Raises :class:`LabelError` naming the layer for a bad expression.
    """
    from qdt.query.expression import ExpressionError, FieldResolver, evaluate, evaluate_value

    frame = _table(layer)
    if frame is None or not style.text.strip():
        return np.full(0 if frame is None else len(frame), None, dtype=object)
    fclass = feature_class_of(layer)
    geometry = getattr(frame, "_geometry_column_name", None)
    resolver = FieldResolver([c for c in frame.columns if c != geometry], fclass)

    def value(text: str) -> np.ndarray:
        column = resolver.resolve(text)
        expression = '"' + column + '"' if column is not None and '"' not in column else text
        try:
            kind, data, null, col, fdef = evaluate_value(expression, frame, fclass)
        except ExpressionError as exc:
            raise LabelError(f"layer '{layer.name}': label text {text!r}: {exc}") from None
        return _format(kind, data, null, frame, col, fdef)

    chosen = np.ones(len(frame), dtype=bool)
    if style.where.strip():
        try:
            chosen = evaluate(style.where, frame, fclass)
        except ExpressionError as exc:
            raise LabelError(f"layer '{layer.name}': label condition {style.where!r}: {exc}") from None
    try:
        texts = _texts(style.text, frame, value)
    except LabelError as exc:
        raise (exc if str(exc).startswith("layer '") else LabelError(f"layer '{layer.name}': {exc}")) from None
    texts[~chosen] = None
    return texts


def _texts(text: str, frame: Any, value: Any) -> np.ndarray:
    if "{" not in text:
        return value(text.strip())
    pieces: list[Any] = []
    last = 0
    for match in _PART.finditer(text):
        pieces.append(text[last:match.start()])
        if not match.group(1).strip():
            raise LabelError(f"label text {text!r}: empty '{{}}' at position {match.start() + 1}")
        pieces.append(value(match.group(1).strip()))
        last = match.end()
    pieces.append(text[last:])
    n = len(frame)
    out = np.full(n, "", dtype=object)
    missing = np.zeros(n, dtype=bool)
    for piece in pieces:
        if isinstance(piece, str):
            out = out + piece
        else:
            missing |= np.array([v is None for v in piece], dtype=bool)
            out = out + np.where(piece == None, "", piece).astype(object)  # noqa: E711 - element-wise
    out[missing] = None
    return out


# --- anchors ---------------------------------------------------------------------------------------------

def _dem(layers: Iterable[Layer]) -> RasterLayer | None:
    return next((lyr for lyr in layers if isinstance(lyr, RasterLayer) and lyr.role == "dem"), None)


def _ground(dem: RasterLayer | None, x: np.ndarray, y: np.ndarray, default: np.ndarray | float = 0.0) -> np.ndarray:
    fallback = np.broadcast_to(np.asarray(default, dtype=float), np.shape(x))
    if dem is None or np.size(x) == 0:
        return np.array(fallback, dtype=float)
    z = dem.sample(x, y)
    return np.where(np.isfinite(z), z, fallback)


def _numeric(frame: Any, column: str, default: float) -> np.ndarray:
    import pandas as pd

    if column not in frame.columns:
        return np.full(len(frame), default)
    v = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isfinite(v) & (v > 0), v, default)


@dataclass
class LabelCandidates:
    """Where one layer's labels may go.

    Attributes
    ----------
    layer_id, style
        The layer and its label style.
    fids, texts
        Feature id and text per candidate (a line has several candidates, one per spacing).
    anchors
        (n, 3) world coordinates (EPSG:4549 metres, 1985 heights) of the label's centre.
    directions
        (n, 2) unit world direction of the line at the anchor (line placement), else None.
    extents
        (n, 2) width and height of the text at font size 1 (multiply by the size in pixels).
    """

    layer_id: str
    style: LabelStyle
    fids: np.ndarray
    texts: np.ndarray
    anchors: np.ndarray
    directions: np.ndarray | None
    extents: np.ndarray

    def __len__(self) -> int:
        return len(self.fids)


def label_candidates(layer: Layer, layers: Sequence[Layer] = ()) -> LabelCandidates | None:
    """Candidates of ``layer``'s labels (None when it has no label style or nothing to label).

    ``layers`` (the layer list) gives the DEM the anchors stand on. Raises :class:`LabelError`
    for a text that cannot be evaluated.
    """
    style = layer.labels
    if style is None or not style.text.strip() or getattr(layer, "has_geometry", True) is False:
        return None  # unlabelled, or an attribute-only table: nothing to anchor a label to
    texts = label_texts(layer, style)
    dem = _dem(layers)
    frame = _table(layer)
    fids_all = frame.index.to_numpy(dtype=np.int64)
    has = np.array([t is not None and str(t).strip() != "" for t in texts], dtype=bool)
    directions = None
    if getattr(layer, "vertices", None) is not None:  # a city model: above the roof of each object
        objects = np.asarray(layer.triangle_object, dtype=np.int64)
        corner = layer.vertices[np.asarray(layer.triangles, dtype=np.int64)].reshape(-1, 3)
        rows = np.repeat(objects, 3)
        index = np.searchsorted(fids_all, rows)
        valid = (index < len(fids_all)) & (fids_all[np.minimum(index, len(fids_all) - 1)] == rows)
        n = len(fids_all)
        lo = np.full((n, 3), np.inf)
        hi = np.full((n, 3), -np.inf)
        np.minimum.at(lo, index[valid], corner[valid])
        np.maximum.at(hi, index[valid], corner[valid])
        drawn = np.isfinite(lo[:, 0])
        keep = has & drawn
        anchors = np.column_stack([(lo[:, 0] + hi[:, 0]) / 2, (lo[:, 1] + hi[:, 1]) / 2, hi[:, 2] + 4.0])[keep]
        fids, texts = fids_all[keep], texts[keep]
    else:
        geoms = layer.geometry
        keep = has & ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        geoms, fids, texts = geoms[keep], fids_all[keep], texts[keep]
        sub = frame[keep]
        kind = shapely.get_type_id(geoms)
        lines = (kind == 1) | (kind == 2) | (kind == 5)
        if style.placement == "line" and lines.all() and len(geoms):
            length = shapely.length(geoms)
            count = np.maximum(1, np.floor(length / style.spacing)).astype(np.int64)
            row = np.repeat(np.arange(len(geoms)), count)
            k = np.arange(len(row)) - np.repeat(np.cumsum(count) - count, count)
            at = (k + 0.5) * length[row] / count[row]
            step = np.minimum(2.0, length[row] / 4)
            here = shapely.get_coordinates(shapely.line_interpolate_point(geoms[row], at))
            ahead = shapely.get_coordinates(shapely.line_interpolate_point(geoms[row], at + step))
            behind = shapely.get_coordinates(shapely.line_interpolate_point(geoms[row], at - step))
            d = ahead - behind
            norm = np.hypot(d[:, 0], d[:, 1])
            directions = d / np.where(norm > 0, norm, 1.0)[:, None]
            z = _ground(dem, here[:, 0], here[:, 1]) + 0.8  # just above the draped road
            anchors = np.column_stack([here, z])
            fids, texts = fids[row], texts[row]
        else:
            points = np.empty(len(geoms), dtype=object)
            points[lines] = shapely.line_interpolate_point(geoms[lines], 0.5, normalized=True)
            points[~lines] = shapely.point_on_surface(geoms[~lines])
            xy = shapely.get_coordinates(points).reshape(-1, 2)
            fclass = getattr(layer, "feature_class", None) or ""
            polygons = (kind == 3) | (kind == 6)
            if fclass in POLE_CLASSES:
                top = _numeric(sub, "pole_height", POLE_CLASSES[fclass]) + 2.0
            elif polygons.any() and ("height" in sub.columns or "floors" in sub.columns):
                floors = _numeric(sub, "floors", np.nan) * 3.0  # the building builder's rule
                top = _numeric(sub, "height", np.nan)
                top = np.where(np.isfinite(top), top, np.where(np.isfinite(floors), floors, DEFAULT_BUILDING_HEIGHT))
                top = top + 4.0
            else:
                top = np.full(len(xy), 2.0)
            base = _numeric(sub, "base_elevation", 0.0)
            anchors = np.column_stack([xy, _ground(dem, xy[:, 0], xy[:, 1], base) + top])
    extents = np.array([text_extent(str(t)) for t in texts], dtype=float).reshape(-1, 2)
    return LabelCandidates(layer.id, style, np.asarray(fids, dtype=np.int64), np.asarray(texts, dtype=object),
                           np.asarray(anchors, dtype=float).reshape(-1, 3), directions, extents)


# --- fonts ---------------------------------------------------------------------------------------------

def label_font_path() -> Path:
    """The CJK TrueType font labels are drawn with; LabelError when none is installed."""
    for candidate in CJK_FONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise LabelError("no Chinese (CJK) font installed for labels: install fonts-wqy-microhei (tools/system_deps.sh)")


@lru_cache(maxsize=64)
def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.truetype(str(label_font_path()), max(4, int(size)), index=0)


@lru_cache(maxsize=65536)
def text_extent(text: str) -> tuple[float, float]:
    """(width, height) of ``text`` at font size 1 (measured at :data:`MEASURE_SIZE` and scaled)."""
    font = _font(MEASURE_SIZE)
    ascent, descent = font.getmetrics()
    width = font.getlength(text)
    return (width / MEASURE_SIZE, (ascent + descent) / MEASURE_SIZE)


# --- placement --------------------------------------------------------------------------------------------

@dataclass
class ViewCamera:
    """A camera as plain arrays.

    Attributes
    ----------
    matrix
        4 × 4 composite projection (world-to-clip) of the view for the aspect ``width / height``,
        acting on coordinates relative to ``origin``.
    eye
        Camera position, relative to ``origin``.
    origin
        World coordinates of the frame ``matrix`` acts on (the scene origin).
    width, height
        The view in layout units (pixels of a :data:`REFERENCE_HEIGHT`-high view).
    """

    matrix: np.ndarray
    eye: np.ndarray
    origin: np.ndarray
    width: float
    height: float


@dataclass
class PlacedLabel:
    """One label as drawn: centre ``(x, y)`` in layout units from the top-left, turned ``angle``
    degrees clockwise, ``width`` × ``height`` layout units, opacity ``alpha``.

    A label along a line that runs steeply on screen is written as Chinese maps write it: upright
    characters one below the other along the line; ``glyphs`` then lists each character and its
    centre, and ``width`` × ``height`` is one character's cell.
    """

    layer_id: str
    fid: int
    text: str
    x: float
    y: float
    angle: float
    width: float
    height: float
    alpha: float
    style: LabelStyle
    glyphs: list[tuple[str, float, float]] | None = None

    def shape(self, scale: float = 1.0) -> Any:
        """What the label covers (a turned rectangle, or its characters' cells), times ``scale``."""
        if self.glyphs:
            hw, hh = self.width / 2, self.height / 2
            return shapely.union_all([shapely.box((gx - hw) * scale, (gy - hh) * scale, (gx + hw) * scale,
                                                  (gy + hh) * scale) for _, gx, gy in self.glyphs])
        return shapely.Polygon(self.corners(scale))

    def bounds(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) layout units around the label."""
        return tuple(float(v) for v in shapely.bounds(self.shape()))  # type: ignore[return-value]

    def moved(self, dx: float, dy: float) -> PlacedLabel:
        """The same label shifted by (dx, dy) layout units."""
        from dataclasses import replace

        glyphs = [(ch, gx + dx, gy + dy) for ch, gx, gy in self.glyphs] if self.glyphs else None
        return replace(self, x=self.x + dx, y=self.y + dy, glyphs=glyphs)

    def corners(self, scale: float = 1.0) -> np.ndarray:
        """(4, 2) corners of the label's rectangle (times ``scale``; for stacked characters, of their span)."""
        if self.glyphs:
            x0, y0, x1, y1 = self.bounds()
            return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]) * scale
        t = math.radians(self.angle)
        c, s = math.cos(t), math.sin(t)
        hw, hh = self.width / 2, self.height / 2
        local = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]])
        rot = np.array([[c, -s], [s, c]])
        return (local @ rot.T + [self.x, self.y]) * scale


@dataclass
class Placement:
    """The result of :func:`place_labels`: labels in drawing order, in a ``width`` × ``height`` layout."""

    width: float
    height: float
    labels: list[PlacedLabel] = field(default_factory=list)
    candidates: int = 0

    def polygons(self, scale: float = 1.0) -> list[Any]:
        """What each label covers as a shapely geometry (times ``scale``: image pixels)."""
        return [label.shape(scale) for label in self.labels]

    def keys(self) -> list[tuple[str, int, str]]:
        """(layer id, fid, text) of the labels placed, in order."""
        return [(label.layer_id, label.fid, label.text) for label in self.labels]


@dataclass
class DepthMap:
    """How far the nearest drawn surface is behind each pixel of a (small) render of the view.

    ``distance`` is (rows, cols) metres along the view axis, rows top-down, ``inf`` where only
    the sky was drawn; it spans the whole view, whatever its resolution. A label whose anchor
    lies behind the surface drawn at its place (a road behind a tower) is hidden.
    """

    distance: np.ndarray

    @classmethod
    def from_zbuffer(cls, zbuffer: np.ndarray, near: float, far: float, perspective: bool = True) -> DepthMap:
        """From an OpenGL depth buffer (rows bottom-up, 0 … 1) of a camera with clipping range near … far."""
        z = np.asarray(zbuffer, dtype=np.float64)[::-1]
        if perspective:
            ndc = 2.0 * z - 1.0
            distance = 2.0 * near * far / np.maximum(far + near - ndc * (far - near), 1e-12)
        else:
            distance = near + z * (far - near)
        return cls(np.where(z >= 1.0, np.inf, distance).astype(np.float32))

    def nearest_around(self) -> np.ndarray:
        """The farthest surface within one pixel of each pixel (a label shows if any neighbour lets it)."""
        d = self.distance
        padded = np.pad(d, 1, mode="edge")
        rows, cols = d.shape
        out = d.copy()
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                np.maximum(out, padded[dy:dy + rows, dx:dx + cols], out=out)
        return out


# how far (m, and share of the distance) an anchor may lie behind the surface drawn at its place: drapes
# (roads, zones) are pulled towards the camera in depth (polygon offset, qdt.render.builders.lines), by
# several per cent at grazing angles, so labels on the ground get more slack than those above roofs
DEPTH_TOLERANCE = (2.0, 0.03)
GROUND_DEPTH_TOLERANCE = (4.0, 0.12)


def _project(view: ViewCamera, world: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Layout x, y (top-left origin) and whether in front of the camera, for world points (n, 3)."""
    local = world - view.origin
    h = np.column_stack([local, np.ones(len(local))]) @ view.matrix.T
    w = h[:, 3]
    front = w > 1e-9
    safe = np.where(front, w, 1.0)
    x = (h[:, 0] / safe + 1.0) * 0.5 * view.width
    y = (1.0 - h[:, 1] / safe) * 0.5 * view.height
    return x, y, front & (np.abs(h[:, 2] / safe) <= 1.0)


def _boxes(x: float, y: float, angle: float, w: float, h: float) -> list[tuple[float, float, float, float]]:
    """Axis-aligned boxes whose union covers the label's (turned) rectangle: one box when it is
    level, else one per piece of at most ``h`` along its length (tight along diagonal roads)."""
    if angle == 0.0:
        return [(x - w / 2, y - h / 2, x + w / 2, y + h / 2)]
    t = math.radians(angle)
    c, s = math.cos(t), math.sin(t)
    pieces = max(1, math.ceil(w / h))
    step = w / pieces
    half_x = (step * abs(c) + h * abs(s)) / 2
    half_y = (step * abs(s) + h * abs(c)) / 2
    out = []
    for i in range(pieces):
        along = -w / 2 + step * (i + 0.5)
        cx, cy = x + along * c, y + along * s
        out.append((cx - half_x, cy - half_y, cx + half_x, cy + half_y))
    return out


def _unoccluded(view: ViewCamera, world: np.ndarray, x: np.ndarray, y: np.ndarray, around: np.ndarray,
                tolerance: tuple[float, float] = DEPTH_TOLERANCE) -> np.ndarray:
    """Whether each anchor is in front of (or at) the surface the depth map shows at its place."""
    local = world - view.origin
    w = (np.column_stack([local, np.ones(len(local))]) @ view.matrix.T)[:, 3]  # distance along the view axis
    rows, cols = around.shape
    px = np.clip((x / view.width * cols).astype(np.int64), 0, cols - 1)
    py = np.clip((y / view.height * rows).astype(np.int64), 0, rows - 1)
    surface = around[py, px]
    metres, share = tolerance
    return w <= surface * (1.0 + share) + metres


STACK_ANGLE = 55.0  # degrees from level: steeper lines get upright characters one below the other


def _stack(text: str, x: float, y: float, angle: float, height: float) -> tuple[list[tuple[str, float, float]], float]:
    """Upright characters of ``text`` centred on (x, y), one after the other down the line's screen
    direction; returns them and the side of each character's (square) cell."""
    t = math.radians(angle)
    dx, dy = math.cos(t), math.sin(t)
    if dy < 0:  # read from top to bottom
        dx, dy = -dx, -dy
    cell = height  # CJK characters are square: the text's height (with its halo) is a cell's side
    step = cell * 0.9  # the cells' halos overlap a little, as the characters of a word sit close
    n = len(text)
    glyphs = [(ch, x + (k - (n - 1) / 2) * step * dx, y + (k - (n - 1) / 2) * step * dy) for k, ch in enumerate(text)]
    return glyphs, cell


def place_labels(sets: Sequence[LabelCandidates], view: ViewCamera, depth: DepthMap | None = None) -> Placement:
    """Place the candidates of ``sets`` in ``view``: none overlaps another, all lie inside the view.

    With ``depth`` (a render of the view's depth), labels whose anchor is hidden behind what is
    drawn there (a road name behind a tower) are left out.

    Order: higher priority first, then nearer the camera, then layer order and feature id.
    A candidate whose rectangle would touch a placed label is dropped; a line's label is placed
    again only :data:`LINE_REPEAT` label widths (plus :data:`REPEAT_GAP`) from its other copies.
    """
    placement = Placement(float(view.width), float(view.height))
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("x", "y", "angle", "w", "h", "alpha", "prio", "dist",
                                                         "set", "row", "fid")}
    around = depth.nearest_around() if depth is not None else None
    for s_index, cand in enumerate(sets):
        style = cand.style
        if not len(cand) or not style.enabled:
            continue
        x, y, ok = _project(view, cand.anchors)
        if around is not None:
            ground = cand.directions is not None
            ok &= _unoccluded(view, cand.anchors, x, y, around, GROUND_DEPTH_TOLERANCE if ground else DEPTH_TOLERANCE)
        dist = np.linalg.norm(cand.anchors - view.origin - view.eye, axis=1)
        alpha = style.shown_at(dist)
        pad_x = 2 * (style.halo + 2.0)
        pad_y = 2 * (style.halo + 1.0)
        w = cand.extents[:, 0] * style.size + pad_x
        h = cand.extents[:, 1] * style.size + pad_y
        angle = np.zeros(len(cand))
        if cand.directions is not None:
            ahead = cand.anchors + np.column_stack([cand.directions * np.maximum(dist, 1.0)[:, None] * 0.01,
                                                    np.zeros(len(cand))])
            x2, y2, ok2 = _project(view, ahead)
            angle = np.degrees(np.arctan2(y2 - y, x2 - x))
            angle = np.where(angle > 90, angle - 180, np.where(angle <= -90, angle + 180, angle))  # upright
            ok &= ok2
        reach = np.hypot(w, h) / 2
        ok &= (alpha > 0.02) & (x >= -reach) & (x <= view.width + reach) & (y >= -reach) & (y <= view.height + reach)
        rows = np.flatnonzero(ok)
        for key, values in (("x", x), ("y", y), ("angle", angle), ("w", w), ("h", h), ("alpha", alpha),
                            ("dist", dist), ("fid", cand.fids)):
            cols[key].append(np.asarray(values, dtype=float)[rows] if key != "fid" else values[rows])
        cols["prio"].append(np.full(len(rows), style.priority))
        cols["set"].append(np.full(len(rows), s_index))
        cols["row"].append(rows)
    if not cols["x"] or not sum(len(a) for a in cols["x"]):
        return placement
    c = {k: np.concatenate(v) for k, v in cols.items()}
    placement.candidates = len(c["x"])
    order = np.lexsort((c["fid"], c["set"], c["dist"], -c["prio"]))
    # of candidates whose anchors share a small cell only the first can win: try only that one
    cell = (np.floor(c["x"][order] / THIN_CELL).astype(np.int64) * 1_000_003
            + np.floor(c["y"][order] / THIN_CELL).astype(np.int64))
    _, first = np.unique(cell, return_index=True)
    order = order[np.sort(first)]
    grid: dict[tuple[int, int], list[tuple[float, float, float, float]]] = {}
    repeats: dict[tuple[int, str], list[tuple[float, float]]] = {}
    W, H = view.width, view.height
    xs, ys, angles, ws, hs = c["x"], c["y"], c["angle"], c["w"], c["h"]
    for i in order.tolist():
        x, y, a, w, h = float(xs[i]), float(ys[i]), float(angles[i]), float(ws[i]), float(hs[i])
        s_index, row = int(c["set"][i]), int(c["row"][i])
        cand = sets[s_index]
        line = cand.directions is not None
        key = (s_index, str(cand.texts[row]))  # a road cut into blocks is one name: repeat it sparingly
        if line and key in repeats:
            gap = LINE_REPEAT * w + REPEAT_GAP
            if any((x - px) ** 2 + (y - py) ** 2 < gap * gap for px, py in repeats[key]):
                continue
        glyphs = None
        if line and abs(a) > STACK_ANGLE and len(cand.texts[row]) > 1:
            glyphs, w = _stack(str(cand.texts[row]), x, y, a, h)
            h = w
            a = 0.0
            boxes = [(gx - w / 2, gy - w / 2, gx + w / 2, gy + w / 2) for _, gx, gy in glyphs]
        else:
            boxes = _boxes(x, y, a, w, h)
        if any(b[0] < 0 or b[1] < 0 or b[2] > W or b[3] > H for b in boxes):
            continue
        hit = False
        cells = []
        for b in boxes:
            for gx in range(int(b[0] // GRID_CELL), int(b[2] // GRID_CELL) + 1):
                for gy in range(int(b[1] // GRID_CELL), int(b[3] // GRID_CELL) + 1):
                    cells.append((gx, gy, b))
                    for o in grid.get((gx, gy), ()):
                        if b[0] <= o[2] and o[0] <= b[2] and b[1] <= o[3] and o[1] <= b[3]:  # touching counts
                            hit = True
                            break
                    if hit:
                        break
                if hit:
                    break
            if hit:
                break
        if hit:
            continue
        for gx, gy, b in cells:
            grid.setdefault((gx, gy), []).append(b)
        if line:
            repeats.setdefault(key, []).append((x, y))
        placement.labels.append(PlacedLabel(cand.layer_id, int(cand.fids[row]), str(cand.texts[row]), x, y, a, w, h,
                                            float(c["alpha"][i]), cand.style, glyphs))
    return placement


# --- drawing ----------------------------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def _sprite(text: str, size: int, colour: tuple[int, int, int], halo_colour: tuple[int, int, int],
            halo: int) -> Any:
    """The text drawn level with its halo, as a tight RGBA PIL image."""
    from PIL import Image, ImageDraw

    font = _font(size)
    ascent, descent = font.getmetrics()
    width = math.ceil(font.getlength(text)) + 2 * halo + 4
    height = ascent + descent + 2 * halo + 2
    image = Image.new("RGBA", (width, height), (*halo_colour, 0))
    draw = ImageDraw.Draw(image)
    draw.text((width / 2, height / 2), text, font=font, fill=(*colour, 255), anchor="mm",
              stroke_width=halo, stroke_fill=(*halo_colour, 255))
    return image


def draw_labels(image: Any, placement: Placement, scale: float) -> Any:
    """Draw ``placement`` on a PIL RGBA ``image`` whose pixels are ``scale`` layout units; returns it."""
    from PIL import Image

    for label in placement.labels:
        style = label.style
        size = max(4, round(style.size * scale))
        halo = round(style.halo * scale) if style.halo > 0 else 0
        if label.glyphs:
            for ch, gx, gy in label.glyphs:
                _paste(image, _faded(_sprite(ch, size, tuple(style.colour), tuple(style.halo_colour), halo),
                                     label.alpha), gx * scale, gy * scale)
            continue
        sprite = _sprite(label.text, size, tuple(style.colour), tuple(style.halo_colour), halo)
        if label.angle:
            sprite = sprite.rotate(-label.angle, resample=Image.BICUBIC, expand=True)
        _paste(image, _faded(sprite, label.alpha), label.x * scale, label.y * scale)
    return image


def _faded(sprite: Any, alpha: float) -> Any:
    if alpha >= 0.999:
        return sprite
    faded = sprite.copy()
    faded.putalpha(sprite.getchannel("A").point(lambda v: int(v * alpha)))
    return faded


def _paste(image: Any, sprite: Any, cx: float, cy: float) -> None:
    """Composite ``sprite`` centred on pixel (cx, cy), clipped to the image."""
    x0 = round(cx - sprite.width / 2)
    y0 = round(cy - sprite.height / 2)
    if x0 >= image.width or y0 >= image.height or x0 + sprite.width <= 0 or y0 + sprite.height <= 0:
        return
    if x0 < 0 or y0 < 0:
        sprite = sprite.crop((max(0, -x0), max(0, -y0), sprite.width, sprite.height))
        x0, y0 = max(0, x0), max(0, y0)
    image.alpha_composite(sprite, (x0, y0))


def labelled_layers(layers: Iterable[Layer]) -> list[Layer]:
    """Visible layers with an enabled label style, in drawing-list order."""
    return [lyr for lyr in layers if lyr.visible and lyr.labels is not None and lyr.labels.enabled
            and lyr.labels.text.strip()]
