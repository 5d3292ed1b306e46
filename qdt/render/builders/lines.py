"""Roads and other lines as ribbons draped on the terrain; zones as outlines and translucent drapes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from qdt.layers import Layer, VectorLayer
from qdt.render.arrays import make_polydata
from qdt.render.colours import LINE_DEFAULT, ROAD_ASPHALT, ZONE_DEFAULT, is_default_style
from qdt.render.geometry import explode, line_vertices, polygon_rings, ribbon, triangulate_polygons
from qdt.render.registry import register_builder
from qdt.render.visual import BuildContext, LayerVisual, VisualPart, coloured_part

ROAD_LIFT = 0.3  # m above the ground, plus a polygon offset, so the drape wins the depth test
ZONE_LIFT = 0.6
DEFAULT_ROAD_WIDTH = 7.0  # m, two lanes (display default when `width` is missing)
DEFAULT_LINE_WIDTH = 1.0  # m, any other line
ZONE_FILL_OPACITY = 0.1  # a hint of the zone; the orthophoto must stay readable
OUTLINE_PX = 2.5


def _drape_spacing(ctx: BuildContext) -> float | None:
    """Densify drapes to about the terrain mesh spacing (2–20 m) so they follow the ground."""
    grid = ctx.terrain_grid()
    if grid is None or grid.shape[1] < 2:
        return None
    spacing = float(np.hypot(grid.x[0, 1] - grid.x[0, 0], grid.y[0, 1] - grid.y[0, 0]))
    return float(np.clip(spacing, 2.0, 20.0))


def _colours(layer: VectorLayer, default: tuple[int, int, int]) -> np.ndarray:
    n = len(layer.frame)
    if is_default_style(layer.style):
        return np.tile(np.array(default, dtype=np.uint8), (n, 1))
    return layer.style.colours(layer.frame, n).astype(np.uint8)


def _lift(mapper_part: VisualPart, units: float) -> None:
    """Pull a drape towards the camera in depth so it wins against the ground it lies on."""
    mapper = mapper_part.actor.GetMapper()
    mapper.SetResolveCoincidentTopologyToPolygonOffset()
    mapper.SetRelativeCoincidentTopologyPolygonOffsetParameters(-1.0, -units)
    mapper.SetRelativeCoincidentTopologyLineOffsetParameters(-1.0, -units)


def build_ribbons(layer: VectorLayer, ctx: BuildContext, default_width: float,
                  default_colour: tuple[int, int, int]) -> LayerVisual:
    """Flat ribbons of ``width`` (m) along each line, ``ROAD_LIFT`` above the ground."""
    lines, rows = explode(layer.geometry, (1, 2))
    verts = line_vertices(lines, _drape_spacing(ctx))
    row = rows[verts.line]
    width = (pd.to_numeric(layer.frame["width"], errors="coerce").to_numpy(dtype=np.float64)
             if "width" in layer.frame.columns else np.full(len(layer.frame), np.nan))
    width = np.where(np.isfinite(width) & (width > 0), width, default_width)
    ground = ctx.ground(verts.xy[:, 0], verts.xy[:, 1]) + ROAD_LIFT - ctx.origin.z
    local_xy = verts.xy - [ctx.origin.x, ctx.origin.y]
    points, triangles, tri_vertex = ribbon(local_xy, ground, verts.line, width[row] / 2.0)
    cell_row = row[tri_vertex]
    cell_fids = layer.fids[cell_row]
    colours = np.ascontiguousarray(_colours(layer, default_colour)[cell_row])
    normals = np.tile(np.array([0, 0, 1], dtype=np.float32), (len(points), 1))
    poly = make_polydata(points.astype(np.float32), polys=triangles, normals=normals,
                         cell_data={"fid": cell_fids, "colours": colours})
    part = coloured_part(poly, colours, cell_fids, on_cells=True, cell_fids=cell_fids)
    _lift(part, 4.0)
    return LayerVisual(layer=layer, parts=[part])


@register_builder("vector", "road")
def build_roads(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """Roads: asphalt ribbons of ``width`` (7 m default)."""
    assert isinstance(layer, VectorLayer)
    return build_ribbons(layer, ctx, DEFAULT_ROAD_WIDTH, ROAD_ASPHALT)


@register_builder("vector", "geometry:LineString")
def build_lines(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """Any other line layer: 1 m ribbons (or ``width``) in the style colour."""
    assert isinstance(layer, VectorLayer)
    return build_ribbons(layer, ctx, DEFAULT_LINE_WIDTH, LINE_DEFAULT)


def _grid_fill(parts: np.ndarray, part_row: np.ndarray, ctx: BuildContext) -> tuple[np.ndarray, np.ndarray,
                                                                                     np.ndarray]:
    """Terrain cells whose centre lies in a polygon, copied ``ZONE_LIFT`` above the ground.

    Returns local ``points`` (4c, 3), ``triangles`` (2c, 3) and the feature ``row`` per triangle.
    """
    grid = ctx.terrain_grid()
    quads = grid.cell_quads()
    gx, gy, gz = grid.x.ravel(), grid.y.ravel(), grid.z.ravel()
    cx = gx[quads].mean(axis=1)
    cy = gy[quads].mean(axis=1)
    xmin, ymin, xmax, ymax = shapely.total_bounds(parts)
    near = np.flatnonzero((cx >= xmin) & (cx <= xmax) & (cy >= ymin) & (cy <= ymax))
    tree = shapely.STRtree(parts)
    hit_cell, hit_part = tree.query(shapely.points(cx[near], cy[near]), predicate="within")
    cells = quads[near[hit_cell]]
    points = np.stack([gx[cells].ravel() - ctx.origin.x, gy[cells].ravel() - ctx.origin.y,
                       gz[cells].ravel() + ZONE_LIFT - ctx.origin.z], axis=1)
    base = 4 * np.arange(len(cells))[:, None]
    triangles = np.stack([base + [0, 1, 2], base + [0, 2, 3]], axis=1).reshape(-1, 3)
    return points, triangles, np.repeat(part_row[hit_part], 2)


@register_builder("vector", "zone")
@register_builder("vector", "geometry:Polygon")
def build_zones(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """Zones and other flat polygons: a translucent drape and an outline of ``OUTLINE_PX`` pixels.

    With a DEM the fill is the terrain mesh's own cells inside each polygon (so it follows the
    ground exactly, with a stepped edge under the outline); without one, the polygons are
    triangulated at 0 m. Both parts carry ``fid``; only the fill is picked.
    """
    assert isinstance(layer, VectorLayer)
    parts, part_row = explode(layer.geometry, (3,))
    spacing = _drape_spacing(ctx)
    feature_rgb = _colours(layer, ZONE_DEFAULT)
    fids = layer.fids
    visual = LayerVisual(layer=layer)
    if len(parts) == 0:
        return visual

    if ctx.dem is not None:
        points, triangles, tri_row = _grid_fill(parts, part_row, ctx)
    else:
        rings = polygon_rings(parts, (ctx.origin.x, ctx.origin.y))
        triangles, tri_part = triangulate_polygons(rings)
        points = np.column_stack([rings.xy, np.full(len(rings.xy), ZONE_LIFT - ctx.origin.z)])
        tri_row = part_row[tri_part]
    fill_fids = fids[tri_row]
    fill_rgb = np.ascontiguousarray(feature_rgb[tri_row])
    normals = np.tile(np.array([0, 0, 1], dtype=np.float32), (len(points), 1))
    fill = make_polydata(points.astype(np.float32), polys=triangles, normals=normals,
                         cell_data={"fid": fill_fids, "colours": fill_rgb})
    fill_part = coloured_part(fill, fill_rgb, fill_fids, on_cells=True, cell_fids=fill_fids,
                              opacity_factor=ZONE_FILL_OPACITY)
    _lift(fill_part, 2.0)
    visual.parts.append(fill_part)

    outline_parts = shapely.segmentize(parts, spacing) if spacing else parts
    rings = polygon_rings(outline_parts, (ctx.origin.x, ctx.origin.y))
    ground = ctx.ground(rings.xy[:, 0] + ctx.origin.x, rings.xy[:, 1] + ctx.origin.y)
    outline_pts = np.column_stack([rings.xy, ground + ZONE_LIFT + 0.2 - ctx.origin.z])
    edge = np.flatnonzero(rings.coord_ring[:-1] == rings.coord_ring[1:])
    edge_row = part_row[rings.coord_polygon[edge]]
    edge_fids = fids[edge_row]
    edge_rgb = np.ascontiguousarray((feature_rgb[edge_row] * 0.8).astype(np.uint8))
    outline = make_polydata(outline_pts.astype(np.float32), lines=np.stack([edge, edge + 1], axis=1),
                            cell_data={"fid": edge_fids, "colours": edge_rgb})
    outline_part = coloured_part(outline, edge_rgb, edge_fids, on_cells=True, pick_cells=False)
    outline_part.actor.GetProperty().SetLineWidth(OUTLINE_PX)
    outline_part.actor.GetProperty().LightingOff()
    outline_part.actor.PickableOff()
    _lift(outline_part, 6.0)
    visual.parts.append(outline_part)
    return visual
