"""City models (CityJSON LOD1/LOD2): the layer's triangle mesh, coloured by semantic surface."""

from __future__ import annotations

import numpy as np

from qdt.layers import CityModelLayer, Layer
from qdt.layers.citymodel import SEMANTIC_CODES
from qdt.render.arrays import make_polydata
from qdt.render.colours import CITY_GROUND, CITY_OTHER, CITY_ROOF, CITY_WALL, is_default_style
from qdt.render.registry import register_builder
from qdt.render.visual import BuildContext, LayerVisual, coloured_part, mesh_parts

TILE_ABOVE_TRIANGLES = 50000  # smaller models stay one actor (tiling copies shared vertices)

SEMANTIC_COLOURS = {
    SEMANTIC_CODES["RoofSurface"]: CITY_ROOF,
    SEMANTIC_CODES["WallSurface"]: CITY_WALL,
    SEMANTIC_CODES["GroundSurface"]: CITY_GROUND,
    SEMANTIC_CODES["OuterFloorSurface"]: CITY_GROUND,
}


def semantic_colours(semantic: np.ndarray) -> np.ndarray:
    """(m,) semantic codes → (m, 3) uint8; unknown and other surfaces light grey."""
    table = np.tile(np.array(CITY_OTHER, dtype=np.uint8), (256, 1))
    for code, rgb in SEMANTIC_COLOURS.items():
        table[code] = rgb
    return np.ascontiguousarray(table[np.asarray(semantic, dtype=np.uint8)])


@register_builder("citymodel")
def build_city_model(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """One mesh; cell arrays ``fid`` = ``triangle_object`` and ``colours`` by ``triangle_semantic``.

    A styled layer (anything but the default single grey) colours walls and other surfaces by
    the style over ``objects`` and keeps roofs their semantic colour.
    """
    assert isinstance(layer, CityModelLayer)
    fids = layer.triangle_object.astype(np.int64)
    colours = semantic_colours(layer.triangle_semantic)
    if not is_default_style(layer.style) and len(layer.objects):
        per_object = layer.style.colours(layer.objects, len(layer.objects)).astype(np.uint8)
        row = layer.objects.index.get_indexer(fids)
        styled = (row >= 0) & (layer.triangle_semantic != SEMANTIC_CODES["RoofSurface"])
        colours[styled] = per_object[row[styled]]
    if ctx.tiles is not None and len(fids) > TILE_ABOVE_TRIANGLES:
        # objects may share vertices; tiles need their own: one vertex per triangle corner
        points = ctx.origin.to_local(layer.vertices[np.asarray(layer.triangles).reshape(-1)])
        cells = np.arange(len(points)).reshape(-1, 3)
        unique_fids, row = np.unique(fids, return_inverse=True)
        parts = mesh_parts(ctx, points, cells, cell_row=row, row_fids=unique_fids, colours=colours, shade=None)
        # roofs keep their semantic colour: no recolour in place (shade None), a data change rebuilds
        return LayerVisual(layer=layer, parts=parts, role="building")
    poly = make_polydata(ctx.origin.to_local(layer.vertices), polys=layer.triangles,
                         cell_data={"fid": fids, "colours": colours})
    part = coloured_part(poly, colours, fids, on_cells=True, cell_fids=fids)
    return LayerVisual(layer=layer, parts=[part], role="building")
