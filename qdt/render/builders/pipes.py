"""Underground pipes as tubes of their real diameter at their real depth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from qdt.layers import Layer, VectorLayer
from qdt.render.arrays import make_polydata
from qdt.render.colours import PIPE_UNKNOWN, is_default_style, lookup_colours, network_key, pipe_network_colours
from qdt.render.geometry import line_vertices_of, tube
from qdt.render.near import TubeNear
from qdt.render.registry import register_builder
from qdt.render.visual import (
    BuildContext,
    LayerVisual,
    PickTubes,
    VisualPart,
    coloured_part,
    compact_ids,
    mesh_parts,
)

DEFAULT_DEPTH = 1.0  # m to the pipe top when neither depth is recorded (display default, not a standard)
DEFAULT_DIAMETER_MM = 200.0  # display default when `diameter_mm` is missing
MAX_SEGMENT = 10.0  # m: long pipes are densified so they follow the ground
TUBE_SIDES = 12
NEAR_TUBE_SIDES = 10
TUBE_MAX_MPP = 0.35  # tubes while a pixel is at most 0.35 m (a DN300 pipe ≥ 1 px); coloured lines beyond
LINE_PX = 2.0
PICK_SLACK_PX = 3.0  # a click this many pixels beside a drawn pipe line still picks it


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)


def pipe_depths(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(depth_start, depth_end) per feature in m; a missing end takes the other, both missing → 1 m."""
    start, end = _numeric(frame, "depth_start"), _numeric(frame, "depth_end")
    start = np.where(np.isfinite(start), start, end)
    end = np.where(np.isfinite(end), end, start)
    return np.where(np.isfinite(start), start, DEFAULT_DEPTH), np.where(np.isfinite(end), end, DEFAULT_DEPTH)


def invert_referenced(frame: pd.DataFrame) -> np.ndarray:
    """True per feature whose depths are invert depths (管内底: gravity drainage, per the catalogue's
    ``depth_reference`` of its network in ``pipe_networks.json``), False where they reach the top."""
    from qdt.cim import network_code, pipe_networks

    if "network" not in frame.columns or len(frame) == 0:
        return np.zeros(len(frame), dtype=bool)
    invert = {code for code, net in pipe_networks().items() if net.depth_reference == "invert"}
    values = frame["network"].astype(object)
    codes = {v: network_code(v) for v in values.dropna().unique()}
    return values.map(codes).isin(invert).to_numpy()


def pipe_radius(frame: pd.DataFrame) -> np.ndarray:
    """Outer radius per feature in m from ``diameter_mm`` (mm / 2000)."""
    diameter = _numeric(frame, "diameter_mm")
    return np.where(np.isfinite(diameter) & (diameter > 0), diameter, DEFAULT_DIAMETER_MM) / 2000.0


@dataclass
class PipeCentreLine:
    """Densified pipe centre lines: ``centre`` (n, 3) local, ``radius`` (n,), ``line`` (n,) part,
    ``row`` (n,) feature row of each vertex."""

    centre: np.ndarray
    radius: np.ndarray
    line: np.ndarray
    row: np.ndarray


def pipe_centre_line(layer: VectorLayer, ctx: BuildContext, max_segment: float = MAX_SEGMENT) -> PipeCentreLine:
    """Centre line at every (densified) vertex: ground − depth − radius for depths to the top,
    ground − depth + radius for invert depths (gravity drainage: the pipe's bottom sits there).

    ``depth_start``/``depth_end`` are burial depths (CJJ 61-2017 §3.0.2 records depth per end),
    interpolated by distance along the line; ground is the DEM under every vertex, or 0 m
    without one. Vertices come ordered by feature row.
    """
    verts, rows = line_vertices_of(layer.geometry, max_segment)
    row = rows[verts.line]
    start, end = pipe_depths(layer.frame)
    depth = start[row] + (end[row] - start[row]) * verts.t
    radius = pipe_radius(layer.frame)[row]
    ground = ctx.ground(verts.xy[:, 0], verts.xy[:, 1])
    centre = np.empty((len(row), 3))
    centre[:, 0] = verts.xy[:, 0] - ctx.origin.x
    centre[:, 1] = verts.xy[:, 1] - ctx.origin.y
    sign = np.where(invert_referenced(layer.frame)[row], 1.0, -1.0)
    centre[:, 2] = ground - depth + sign * radius - ctx.origin.z
    return PipeCentreLine(centre=centre, radius=radius, line=verts.line, row=row)


def _network_colours(layer: VectorLayer, frame: pd.DataFrame | None = None) -> np.ndarray:
    """Per-feature colours of ``frame`` (default the layer's): network colours or the style's."""
    frame = layer.frame if frame is None else frame
    n = len(frame)
    if is_default_style(layer.style) and "network" in frame.columns:
        return lookup_colours(network_key(frame["network"].to_numpy()), pipe_network_colours(), PIPE_UNKNOWN)
    if is_default_style(layer.style):
        return np.tile(np.array(PIPE_UNKNOWN, dtype=np.uint8), (n, 1))
    return layer.style.colours(frame, n).astype(np.uint8)


@register_builder("vector", "pipe")
def build_pipes(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """Tubes of radius ``diameter_mm / 2000`` m around :func:`pipe_centre_line`.

    Colour by ``network`` with the CJJ 61-2017 Appendix B colours unless the layer is styled.
    Without scene tiles: one tube mesh with cell arrays ``fid`` and ``colours`` and radial
    point normals (smooth shading). With tiles: lines of ``LINE_PX`` pixels per tile, tubes
    only for the pipes near the camera (:class:`~qdt.render.near.TubeNear`), and analytic
    pick segments (:class:`~qdt.render.visual.PickTubes`) of the true radius.
    """
    assert isinstance(layer, VectorLayer)
    feature_rgb = _network_colours(layer)
    visual = LayerVisual(layer=layer, role="underground")
    visual.drawn_fields = frozenset({"depth_start", "depth_end", "diameter_mm"})
    visual.colour_fields = (frozenset({"network"}) if is_default_style(layer.style)
                            else frozenset({getattr(layer.style, "field", "")} - {""}))
    visual.feature_colours = lambda pos: _network_colours(layer, layer.frame.iloc[pos])
    if ctx.tiles is not None:
        return _tiled_pipes(layer, ctx, visual, feature_rgb)
    axis = pipe_centre_line(layer, ctx)
    points, normals, triangles, tri_vertex = tube(axis.centre, axis.line, axis.radius, TUBE_SIDES)
    cell_row = axis.row[tri_vertex]
    cell_fids = layer.fids[cell_row]
    colours = np.ascontiguousarray(feature_rgb[cell_row])
    poly = make_polydata(points.astype(np.float32), polys=triangles, normals=normals,
                         cell_data={"fid": cell_fids, "colours": colours})
    part = coloured_part(poly, colours, cell_fids, on_cells=True, cell_fids=cell_fids)
    part.actor.GetProperty().SetSpecular(0.25)
    part.shade = 1.0
    visual.parts.append(part)
    # the centre line drawn at least LINE_PX wide, so a district-wide view (a snapshot) still shows
    # pipes far thinner than a pixel; inside the tube wherever the tube is wider on screen
    segment = np.flatnonzero(axis.line[:-1] == axis.line[1:]) if len(axis.line) > 1 else np.empty(0, np.int64)
    seg_row = axis.row[segment]
    visual.parts.extend(mesh_parts(ctx, axis.centre, np.stack([segment, segment + 1], axis=1), cell_row=seg_row,
                                   row_fids=layer.fids, colours=feature_rgb[seg_row], lines=True, pick_cells=False,
                                   configure=_line_style))
    return visual


def _line_style(part: VisualPart) -> None:
    prop = part.actor.GetProperty()
    prop.SetLineWidth(LINE_PX)
    prop.LightingOff()
    part.line_px = LINE_PX


def _tiled_pipes(layer: VectorLayer, ctx: BuildContext, visual: LayerVisual, feature_rgb: np.ndarray) -> LayerVisual:
    grid = ctx.terrain_grid()
    spacing = MAX_SEGMENT
    if grid is not None and min(grid.shape) > 1:  # follow the terrain mesh, not finer than it is drawn
        spacing = max(MAX_SEGMENT, float(np.hypot(grid.x[0, 1] - grid.x[0, 0], grid.y[0, 1] - grid.y[0, 0])))
    axis = pipe_centre_line(layer, ctx, spacing)
    fids = layer.fids
    n = len(fids)
    segment = np.flatnonzero(axis.line[:-1] == axis.line[1:]) if len(axis.line) > 1 else np.empty(0, np.int64)
    seg_row = axis.row[segment]

    visual.parts.extend(mesh_parts(ctx, axis.centre, np.stack([segment, segment + 1], axis=1), cell_row=seg_row,
                                   row_fids=fids, colours=feature_rgb[seg_row], lines=True, pick_cells=False,
                                   configure=_line_style))
    vertices = axis.centre.astype(np.float32)
    radius = axis.radius.astype(np.float32)
    visual.tubes.append(PickTubes(vertices=vertices, start=segment.astype(np.int32), radius=radius,
                                  fids=compact_ids(fids)[seg_row], min_px=LINE_PX / 2 + PICK_SLACK_PX))
    # per feature: its box (for choosing the near ones) and where its vertices start
    lo = np.full((n, 3), np.inf)
    hi = np.full((n, 3), -np.inf)
    r = axis.radius[:, None]
    row_start = np.searchsorted(axis.row, np.arange(n + 1))  # vertices come ordered by row
    has = np.flatnonzero(row_start[1:] > row_start[:-1])
    if has.size:
        lo[has] = np.minimum.reduceat(axis.centre - r, row_start[has], axis=0)
        hi[has] = np.maximum.reduceat(axis.centre + r, row_start[has], axis=0)
    empty = make_polydata(np.empty((0, 3), dtype=np.float32))
    tube_part = coloured_part(empty, None, None, on_cells=True, pick_cells=False)
    tube_part.actor.GetMapper().SetScalarModeToUseCellFieldData()
    tube_part.actor.GetMapper().SelectColorArray("colours")
    tube_part.actor.GetMapper().SetColorModeToDirectScalars()
    tube_part.actor.GetMapper().ScalarVisibilityOn()
    tube_part.actor.GetProperty().SetSpecular(0.25)
    tube_part.actor.PickableOff()
    visual.parts.append(tube_part)
    visual.near.append(TubeNear(lo.astype(np.float32), hi.astype(np.float32), TUBE_MAX_MPP, [tube_part], fids,
                                vertices, axis.line.astype(np.int32), radius, row_start, feature_rgb,
                                NEAR_TUBE_SIDES))
    return visual
