"""Underground pipes as tubes of their real diameter at their real depth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from qdt.layers import Layer, VectorLayer
from qdt.render.arrays import make_polydata
from qdt.render.colours import PIPE_UNKNOWN, is_default_style, lookup_colours, network_key, pipe_network_colours
from qdt.render.geometry import explode, line_vertices, tube
from qdt.render.registry import register_builder
from qdt.render.visual import BuildContext, LayerVisual, coloured_part

DEFAULT_DEPTH = 1.0  # m to the pipe top when neither depth is recorded (display default, not a standard)
DEFAULT_DIAMETER_MM = 200.0  # display default when `diameter_mm` is missing
MAX_SEGMENT = 10.0  # m: long pipes are densified so they follow the ground
TUBE_SIDES = 12


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


def pipe_centre_line(layer: VectorLayer, ctx: BuildContext) -> PipeCentreLine:
    """Centre line at ground − depth − radius at every (densified) vertex.

    ``depth_start``/``depth_end`` are burial depths to the pipe top (CJJ 61-2017 §3.0.2
    records depth per end), interpolated by distance along the line; ground is the DEM
    under every vertex, or 0 m without one.
    """
    lines, rows = explode(layer.geometry, (1, 2))
    verts = line_vertices(lines, MAX_SEGMENT)
    row = rows[verts.line]
    start, end = pipe_depths(layer.frame)
    depth = start[row] + (end[row] - start[row]) * verts.t
    radius = pipe_radius(layer.frame)[row]
    ground = ctx.ground(verts.xy[:, 0], verts.xy[:, 1])
    centre = np.empty((len(row), 3))
    centre[:, 0] = verts.xy[:, 0] - ctx.origin.x
    centre[:, 1] = verts.xy[:, 1] - ctx.origin.y
    centre[:, 2] = ground - depth - radius - ctx.origin.z
    return PipeCentreLine(centre=centre, radius=radius, line=verts.line, row=row)


@register_builder("vector", "pipe")
def build_pipes(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """Tubes of radius ``diameter_mm / 2000`` m around :func:`pipe_centre_line`.

    Colour by ``network`` with the CJJ 61-2017 Appendix B colours unless the layer is styled.
    Cell arrays ``fid`` and ``colours``; point normals are radial (smooth shading).
    """
    assert isinstance(layer, VectorLayer)
    frame = layer.frame
    axis = pipe_centre_line(layer, ctx)
    points, normals, triangles, tri_vertex = tube(axis.centre, axis.line, axis.radius, TUBE_SIDES)
    n = len(frame)
    if is_default_style(layer.style) and "network" in frame.columns:
        feature_rgb = lookup_colours(network_key(frame["network"].to_numpy()), pipe_network_colours(), PIPE_UNKNOWN)
    elif is_default_style(layer.style):
        feature_rgb = np.tile(np.array(PIPE_UNKNOWN, dtype=np.uint8), (n, 1))
    else:
        feature_rgb = layer.style.colours(frame, n).astype(np.uint8)
    cell_row = axis.row[tri_vertex]
    cell_fids = layer.fids[cell_row]
    colours = np.ascontiguousarray(feature_rgb[cell_row])
    poly = make_polydata(points.astype(np.float32), polys=triangles, normals=normals,
                         cell_data={"fid": cell_fids, "colours": colours})
    part = coloured_part(poly, colours, cell_fids, on_cells=True, cell_fids=cell_fids)
    part.actor.GetProperty().SetSpecular(0.25)
    return LayerVisual(layer=layer, parts=[part])
