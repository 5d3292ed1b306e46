"""LOD1 buildings: footprints extruded to prisms (CIM2 block models)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from qdt.layers import Layer, VectorLayer
from qdt.render.colours import BUILDING_ROOF, BUILDING_WALL, is_default_style
from qdt.render.geometry import polygon_rings_of, triangulate_polygons
from qdt.render.registry import register_builder
from qdt.render.visual import BuildContext, LayerVisual, mesh_parts

STOREY_HEIGHT = 3.0  # m per floor when only `floors` is known: a rule of thumb, not a standard
DEFAULT_HEIGHT = 10.0  # m when neither `height` nor `floors` is usable
ROOF_SHADE = 0.9  # roofs of a styled layer: the style colour, slightly darker than the walls


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)


def building_heights(frame: pd.DataFrame) -> np.ndarray:
    """Height (m) per feature: ``height``; else ``floors`` × 3 m; else 10 m (non-positive counts as missing)."""
    height = _numeric(frame, "height")
    floors = _numeric(frame, "floors") * STOREY_HEIGHT
    height = np.where(np.isfinite(height) & (height > 0), height, floors)
    return np.where(np.isfinite(height) & (height > 0), height, DEFAULT_HEIGHT)


@register_builder("vector", "building")
def build_buildings(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """Extruded footprints: walls from every ring edge, roofs triangulated with their holes.

    Base height per feature: the lowest DEM height under its outer ring vertices (so no
    building floats on a slope); off the DEM or without one, ``base_elevation`` or 0 m.
    Roof height = base + :func:`building_heights`. One mesh for the layer (one per scene tile
    with tiles), cells ordered walls then roofs; cell arrays ``fid`` (int64) and ``colours`` (uint8 RGB).
    """
    assert isinstance(layer, VectorLayer)
    frame = layer.frame
    fids = layer.fids
    rings, part_row = polygon_rings_of(layer.geometry, (ctx.origin.x, ctx.origin.y))
    coord_row = part_row[rings.coord_polygon]  # feature row of each ring vertex

    n = len(frame)
    base_default = _numeric(frame, "base_elevation")
    base_default = np.where(np.isfinite(base_default), base_default, 0.0)
    base = base_default.copy()
    if ctx.dem is not None and len(rings.xy):
        outer = rings.exterior[rings.coord_ring]
        ground = ctx.ground(rings.xy[outer, 0] + ctx.origin.x, rings.xy[outer, 1] + ctx.origin.y, default=np.nan)
        lowest = np.full(n, np.inf)
        np.fmin.at(lowest, coord_row[outer], np.where(np.isfinite(ground), ground, np.inf))
        base = np.where(np.isfinite(lowest), lowest, base_default)
    top = base + building_heights(frame)

    # points: every ring vertex at its base, then at its top (roofs reuse the top points)
    n_coords = len(rings.xy)
    local = np.empty((2 * n_coords, 3), dtype=np.float32)  # local: float32 is exact to well under a millimetre
    local[:n_coords, :2] = rings.xy
    local[n_coords:, :2] = rings.xy
    local[:n_coords, 2] = base[coord_row] - ctx.origin.z
    local[n_coords:, 2] = top[coord_row] - ctx.origin.z

    # walls: a quad (two triangles) per ring edge, facing out for CCW exteriors and CW holes
    index_type = np.int32 if 2 * n_coords < 2**31 else np.int64
    edge = (np.flatnonzero(rings.coord_ring[:-1] == rings.coord_ring[1:]) if n_coords > 1
            else np.empty(0, np.int64)).astype(index_type)
    roof_tris, roof_part = triangulate_polygons(rings)
    n_walls = 2 * len(edge)
    triangles = np.empty((n_walls + len(roof_tris), 3), dtype=index_type)
    walls = triangles[:n_walls].reshape(-1, 2, 3)  # (b0 b1 t1) and (b0 t1 t0) per edge
    walls[:, 0, 0] = walls[:, 1, 0] = edge
    walls[:, 0, 1] = edge + 1
    walls[:, 0, 2] = walls[:, 1, 1] = edge + 1 + n_coords
    walls[:, 1, 2] = edge + n_coords
    triangles[n_walls:] = roof_tris + n_coords  # roofs use the top points
    cell_row = np.empty(len(triangles), dtype=np.int64)
    cell_row[:n_walls] = np.repeat(coord_row[edge], 2)
    cell_row[n_walls:] = part_row[roof_part]
    wall_row, roof_row = cell_row[:n_walls], cell_row[n_walls:]
    styled = not is_default_style(layer.style)
    if not styled:
        wall_rgb = np.tile(np.array(BUILDING_WALL, dtype=np.uint8), (n, 1))
        roof_rgb = np.tile(np.array(BUILDING_ROOF, dtype=np.uint8), (n, 1))
    else:
        wall_rgb = layer.style.colours(frame, n).astype(np.uint8)
        roof_rgb = (wall_rgb * ROOF_SHADE).astype(np.uint8)
    colours = np.ascontiguousarray(np.concatenate([wall_rgb[wall_row], roof_rgb[roof_row]]))
    shade = None  # the default colours are constant: nothing to recolour
    if styled:
        shade = np.ones(len(triangles), dtype=np.float32)
        shade[n_walls:] = ROOF_SHADE
    # walls face out and roofs up, so back faces can be culled before rasterisation: a third
    # fewer triangles for software OpenGL to bin and draw, and none of them could be seen
    parts = mesh_parts(ctx, local, triangles, cell_row=cell_row, row_fids=fids, colours=colours,
                       configure=lambda part: part.actor.GetProperty().BackfaceCullingOn(), shade=shade)
    visual = LayerVisual(layer=layer, parts=parts, role="building")
    visual.drawn_fields = frozenset({"height", "floors", "base_elevation"})
    if styled:
        visual.colour_fields = frozenset({getattr(layer.style, "field", "")} - {""})
        visual.feature_colours = lambda pos: layer.style.colours(layer.frame.iloc[pos], len(pos)).astype(np.uint8)
    return visual
