"""Roads and other lines as ribbons draped on the terrain; zones as outlines and translucent drapes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from qdt.layers import Layer, VectorLayer
from qdt.render import terrain_lod
from qdt.render.arrays import make_polydata
from qdt.render.colours import LINE_DEFAULT, ROAD_ASPHALT, ZONE_DEFAULT, is_default_style
from qdt.render.geometry import explode, line_vertices_of, polygon_rings, ribbon, triangulate_polygons
from qdt.render.heightfield import Heightfield, grid_heightfield
from qdt.render.registry import register_builder
from qdt.render.visual import BuildContext, LayerVisual, VisualPart, coloured_part, compact_ids, mesh_parts

ROAD_LIFT = 0.3  # m above the ground, plus a polygon offset, so the drape wins the depth test
# where ribbons of different colours cross (a junction of two road classes) each style class lies
# this much above the previous one, so the depth test decides and they do not z-fight
CLASS_STEP = 0.04
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


def _colours(layer: VectorLayer, default: tuple[int, int, int], frame: pd.DataFrame | None = None) -> np.ndarray:
    frame = layer.frame if frame is None else frame
    n = len(frame)
    if is_default_style(layer.style):
        return np.tile(np.array(default, dtype=np.uint8), (n, 1))
    return layer.style.colours(frame, n).astype(np.uint8)


def styled_recolour(visual: LayerVisual, layer: VectorLayer, default: tuple[int, int, int],
                    drawn: frozenset[str] = frozenset()) -> LayerVisual:
    """Declare what ``visual`` draws: geometry from ``drawn`` fields, colours from the style's field
    (recoloured in place, see :meth:`LayerVisual.recolour`)."""
    visual.drawn_fields = drawn
    visual.colour_fields = (frozenset() if is_default_style(layer.style)
                            else frozenset({getattr(layer.style, "field", "")} - {""}))
    visual.feature_colours = lambda pos: _colours(layer, default, layer.frame.iloc[pos])
    return visual


def _class_rank(layer: VectorLayer) -> np.ndarray:
    """Per feature, the rank of its style class (0 for single-colour layers): the first class of a
    categorised style (e.g. 快速路) is drawn on top where ribbons of different classes overlap."""
    style = layer.style
    field = getattr(style, "field", "")
    n = len(layer.frame)
    if is_default_style(style) or not field or field not in layer.frame.columns:
        return np.zeros(n)
    categories = list(getattr(style, "categories", {}) or {})
    keys = layer.frame[field].astype(str).to_numpy()
    if categories:
        order = {key: len(categories) - i for i, key in enumerate(categories)}
        return np.array([order.get(k, 0) for k in pd.unique(keys)], dtype=float)[pd.factorize(keys)[0]]
    values = pd.to_numeric(layer.frame[field], errors="coerce").to_numpy(dtype=float)  # graduated: by value
    return np.nan_to_num(pd.Series(values).rank(method="dense").to_numpy(), nan=0.0)


def _lift(mapper_part: VisualPart, units: float) -> None:
    """Pull a drape towards the camera in depth so it wins against the ground it lies on."""
    mapper = mapper_part.actor.GetMapper()
    mapper.SetResolveCoincidentTopologyToPolygonOffset()
    mapper.SetRelativeCoincidentTopologyPolygonOffsetParameters(-1.0, -units)
    mapper.SetRelativeCoincidentTopologyLineOffsetParameters(-1.0, -units)


def build_ribbons(layer: VectorLayer, ctx: BuildContext, default_width: float,
                  default_colour: tuple[int, int, int]) -> LayerVisual:
    """Flat ribbons of ``width`` (m) along each line, ``ROAD_LIFT`` above the ground."""
    verts, rows = line_vertices_of(layer.geometry, _drape_spacing(ctx))
    row = rows[verts.line]
    width = (pd.to_numeric(layer.frame["width"], errors="coerce").to_numpy(dtype=np.float64)
             if "width" in layer.frame.columns else np.full(len(layer.frame), np.nan))
    width = np.where(np.isfinite(width) & (width > 0), width, default_width)
    ground = ctx.ground(verts.xy[:, 0], verts.xy[:, 1]) + ROAD_LIFT - ctx.origin.z
    ground = ground + CLASS_STEP * _class_rank(layer)[row]
    local_xy = verts.xy - [ctx.origin.x, ctx.origin.y]
    points, triangles, tri_vertex = ribbon(local_xy, ground, verts.line, width[row] / 2.0)
    cell_row = row[tri_vertex]
    colours = np.ascontiguousarray(_colours(layer, default_colour)[cell_row])
    # no normals: VTK shades each triangle by its own facet normal, as the terrain under it
    parts = mesh_parts(ctx, points, triangles, cell_row=cell_row, row_fids=layer.fids, colours=colours,
                       configure=lambda part: _lift(part, 4.0))
    return styled_recolour(LayerVisual(layer=layer, parts=parts, role="drape"), layer, default_colour,
                           frozenset({"width"}))


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
    visual = styled_recolour(LayerVisual(layer=layer, role="drape"), layer, ZONE_DEFAULT)
    if len(parts) == 0:
        return visual

    if ctx.tiles is not None and ctx.dem is not None:
        fill_parts, heightfield = _tiled_fill(parts, part_row, feature_rgb, fids, ctx)
        visual.parts.extend(fill_parts)
        if heightfield is not None:
            visual.heightfields.append(heightfield)
    else:
        if ctx.dem is not None:
            points, triangles, tri_row = _grid_fill(parts, part_row, ctx)
        else:
            rings = polygon_rings(parts, (ctx.origin.x, ctx.origin.y))
            triangles, tri_part = triangulate_polygons(rings)
            points = np.column_stack([rings.xy, np.full(len(rings.xy), ZONE_LIFT - ctx.origin.z)])
            tri_row = part_row[tri_part]
        normals = np.tile(np.array([0, 0, 1], dtype=np.float32), (len(points), 1))
        visual.parts.extend(mesh_parts(ctx, points, triangles, cell_row=tri_row, row_fids=fids,
                                       colours=feature_rgb[tri_row], normals=normals,
                                       opacity_factor=ZONE_FILL_OPACITY, configure=lambda part: _lift(part, 2.0)))

    outline_parts = shapely.segmentize(parts, spacing) if spacing else parts
    rings = polygon_rings(outline_parts, (ctx.origin.x, ctx.origin.y))
    ground = ctx.ground(rings.xy[:, 0] + ctx.origin.x, rings.xy[:, 1] + ctx.origin.y)
    outline_pts = np.column_stack([rings.xy, ground + ZONE_LIFT + 0.2 - ctx.origin.z])
    edge = np.flatnonzero(rings.coord_ring[:-1] == rings.coord_ring[1:])
    edge_row = part_row[rings.coord_polygon[edge]]
    edge_rgb = np.ascontiguousarray((feature_rgb[edge_row] * 0.8).astype(np.uint8))

    def outline_style(part: VisualPart) -> None:
        part.actor.GetProperty().SetLineWidth(OUTLINE_PX)
        part.actor.GetProperty().LightingOff()
        _lift(part, 6.0)

    visual.parts.extend(mesh_parts(ctx, outline_pts, np.stack([edge, edge + 1], axis=1), cell_row=edge_row,
                                   row_fids=fids, colours=edge_rgb, lines=True, pick_cells=False,
                                   configure=outline_style, shade=0.8))
    return visual


def _tiled_fill(parts: np.ndarray, part_row: np.ndarray, feature_rgb: np.ndarray, fids: np.ndarray,
                ctx: BuildContext) -> tuple[list[VisualPart], Heightfield | None]:
    """Zone fills on the terrain's blocks and levels (:mod:`qdt.render.terrain_lod`), and the
    heightfield that picks their level 0 (None for a rotated DEM: level 0 is then cell-picked)."""
    grid = ctx.terrain_grid()
    zone = terrain_lod.rasterize_zones(grid, parts, part_row)
    heightfield = grid_heightfield(grid, ctx.origin, ZONE_LIFT, cell_row=zone.astype(np.int32),
                                   fids=compact_ids(fids), rank_offset=1)
    all_blocks, levels = terrain_lod.blocks(grid, ctx.tiles.size)
    spacing = terrain_lod.grid_spacing(grid)
    gx, gy, gz = grid.x.ravel(), grid.y.ravel(), grid.z.ravel()
    out = []
    for block in all_blocks:
        cell_zone = terrain_lod.coarse_cell_zone(zone, block)
        quads, ij = terrain_lod.block_quads(grid, block, cell_ok=cell_zone >= 0)
        if len(quads) == 0:
            continue
        used, local_quads = np.unique(quads, return_inverse=True)
        vid = block.vertex_ids[used]
        points = np.stack([gx[vid] - ctx.origin.x, gy[vid] - ctx.origin.y, gz[vid] + ZONE_LIFT - ctx.origin.z], axis=1)
        row = np.repeat(cell_zone[ij[:, 0], ij[:, 1]], 2)
        triangles = terrain_lod.quads_to_triangles(local_quads.reshape(-1, 4))
        cell_fids = compact_ids(fids)[row]
        colours = np.ascontiguousarray(feature_rgb[row])
        poly = make_polydata(points.astype(np.float32), polys=triangles,
                             cell_data={"fid": cell_fids, "colours": colours})
        pick = block.level == 0 and heightfield is None
        part = coloured_part(poly, colours, cell_fids, on_cells=True, cell_fids=cell_fids,
                             opacity_factor=ZONE_FILL_OPACITY, pick_cells=pick)
        part.actor.GetProperty().LightingOff()  # a flat tint: no normals to store, the cheapest fragments
        part.shade = 1.0
        _lift(part, 2.0)
        part.tile = block.index
        part.lod_lo, part.lod_hi = terrain_lod.level_range(spacing, block.level, levels)
        out.append(part)
    return out, heightfield
