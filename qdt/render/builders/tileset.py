"""3D Tiles layers: the drawn tiles' triangles in their content colours, point clouds as vertices.

The mesh and the points carry the ``fid`` of the feature (batch-table / EXT_structural_metadata
row of the layer's ``objects``) they belong to, so a click shows that feature's properties.
When tiles stream in, the layer emits ``data`` and the scene rebuilds this visual.
"""

from __future__ import annotations

import numpy as np

from qdt.layers import Layer, TilesetLayer
from qdt.render.arrays import make_polydata
from qdt.render.registry import register_builder
from qdt.render.visual import BuildContext, LayerVisual, coloured_part

POINT_SIZE = 3.0


@register_builder("tileset")
def build_tileset(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """One mesh for the drawn triangles (cell colours and fids), one for the drawn points."""
    assert isinstance(layer, TilesetLayer)
    parts = []
    if len(layer.triangles):
        fids = layer.triangle_object.astype(np.int64)
        colours = np.ascontiguousarray(layer.triangle_colour, dtype=np.uint8)
        poly = make_polydata(ctx.origin.to_local(layer.vertices), polys=layer.triangles,
                             cell_data={"fid": fids, "colours": colours})
        parts.append(coloured_part(poly, colours, fids, on_cells=True, cell_fids=fids))
    if len(layer.points):
        fids = layer.point_object.astype(np.int64)
        colours = np.ascontiguousarray(layer.point_colour, dtype=np.uint8)
        verts = np.arange(len(layer.points), dtype=np.int64).reshape(-1, 1)
        poly = make_polydata(ctx.origin.to_local(layer.points), verts=verts,
                             cell_data={"fid": fids, "colours": colours})
        part = coloured_part(poly, colours, fids, on_cells=True, cell_fids=fids)
        part.actor.GetProperty().SetPointSize(POINT_SIZE)
        parts.append(part)
    return LayerVisual(layer=layer, parts=parts, role="building")
