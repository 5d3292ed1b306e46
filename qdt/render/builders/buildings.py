"""LOD1 buildings: footprints extruded to prisms (CIM2 block models)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from qdt.layers import Layer, VectorLayer
from qdt.render.arrays import make_polydata
from qdt.render.colours import BUILDING_ROOF, BUILDING_WALL, is_default_style
from qdt.render.geometry import explode, polygon_rings, triangulate_polygons
from qdt.render.registry import register_builder
from qdt.render.visual import BuildContext, LayerVisual, coloured_part

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
    Roof height = base + :func:`building_heights`. One mesh for the layer, cells ordered
    walls then roofs; cell arrays ``fid`` (int64) and ``colours`` (uint8 RGB).
    """
    assert isinstance(layer, VectorLayer)
    frame = layer.frame
    fids = layer.fids
    parts, part_row = explode(layer.geometry, (3,))
    rings = polygon_rings(parts, (ctx.origin.x, ctx.origin.y))
    coord_row = part_row[rings.coord_polygon]  # feature row of each ring vertex

    n = len(frame)
    base_default = _numeric(frame, "base_elevation")
    base_default = np.where(np.isfinite(base_default), base_default, 0.0)
    base = base_default.copy()
    if ctx.dem is not None and len(rings.xy):
        outer = rings.exterior[rings.coord_ring]
        ground = ctx.dem.sample(rings.xy[outer, 0] + ctx.origin.x, rings.xy[outer, 1] + ctx.origin.y)
        lowest = np.full(n, np.inf)
        np.fmin.at(lowest, coord_row[outer], np.where(np.isfinite(ground), ground, np.inf))
        base = np.where(np.isfinite(lowest), lowest, base_default)
    top = base + building_heights(frame)

    # points: every ring vertex at its base, then at its top (roofs reuse the top points)
    n_coords = len(rings.xy)
    local = np.empty((2 * n_coords, 3), dtype=np.float64)
    local[:n_coords, :2] = rings.xy
    local[n_coords:, :2] = rings.xy
    local[:n_coords, 2] = base[coord_row] - ctx.origin.z
    local[n_coords:, 2] = top[coord_row] - ctx.origin.z

    # walls: a quad (two triangles) per ring edge, facing out for CCW exteriors and CW holes
    edge = np.flatnonzero(rings.coord_ring[:-1] == rings.coord_ring[1:]) if n_coords > 1 else np.empty(0, int)
    b0, b1 = edge, edge + 1
    t0, t1 = b0 + n_coords, b1 + n_coords
    walls = np.stack([np.stack([b0, b1, t1], 1), np.stack([b0, t1, t0], 1)], axis=1).reshape(-1, 3)
    wall_row = np.repeat(coord_row[edge], 2)

    roof_tris, roof_part = triangulate_polygons(rings)
    roofs = roof_tris + n_coords
    roof_row = part_row[roof_part]

    triangles = np.concatenate([walls, roofs])
    cell_row = np.concatenate([wall_row, roof_row])
    if is_default_style(layer.style):
        wall_rgb = np.tile(np.array(BUILDING_WALL, dtype=np.uint8), (n, 1))
        roof_rgb = np.tile(np.array(BUILDING_ROOF, dtype=np.uint8), (n, 1))
    else:
        wall_rgb = layer.style.colours(frame, n).astype(np.uint8)
        roof_rgb = (wall_rgb * ROOF_SHADE).round().astype(np.uint8)
    colours = np.ascontiguousarray(np.concatenate([wall_rgb[wall_row], roof_rgb[roof_row]]))
    cell_fids = fids[cell_row]
    poly = make_polydata(local.astype(np.float32), polys=triangles,
                         cell_data={"fid": cell_fids, "colours": colours})
    part = coloured_part(poly, colours, cell_fids, on_cells=True, cell_fids=cell_fids)
    return LayerVisual(layer=layer, parts=[part])
