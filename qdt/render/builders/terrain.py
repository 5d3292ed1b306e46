"""Terrain from a DEM RasterLayer, textured with the scene's orthophoto or tinted by height."""

from __future__ import annotations

import math

import numpy as np
from vtkmodules.vtkRenderingCore import vtkTexture

from qdt.layers import Layer, RasterLayer
from qdt.render.arrays import make_polydata, rgb_image
from qdt.render.colours import hypsometric
from qdt.render.geometry import grid_normals, terrain_grid
from qdt.render.registry import register_builder
from qdt.render.visual import BuildContext, LayerVisual, coloured_part

MAX_TEXTURE_SIDE = 4096  # texels; larger orthophotos are decimated (llvmpipe and most GPUs take 8192+)


def ortho_image(ortho: RasterLayer, max_side: int = MAX_TEXTURE_SIDE) -> tuple[np.ndarray, int]:
    """The orthophoto as a top-down (rows, cols, 3) uint8 image, decimated by the returned step."""
    rows, cols = ortho.shape
    step = max(1, math.ceil(max(rows, cols) / max_side))
    ri = np.arange(step // 2, rows, step)
    ci = np.arange(step // 2, cols, step)
    data = ortho.data[:, ri][:, :, ci]
    if data.shape[0] >= 3:
        data = data[:3]
    else:
        data = np.repeat(data[:1], 3, axis=0)
    if data.dtype != np.uint8:
        values = data.astype(np.float64)
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        data = np.clip((values - lo) / max(hi - lo, 1e-12) * 255.0, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.moveaxis(data, 0, -1)), step


def ortho_texture(ortho: RasterLayer, x: np.ndarray, y: np.ndarray) -> tuple[vtkTexture, np.ndarray, np.ndarray]:
    """A texture of ``ortho`` and texture coordinates for world points ``x``, ``y``.

    The image gets a one-texel white border and the texture clamps to its edge, so points
    off the photo read white; the caller tints those by height (texture × colour).
    Returns ``(texture, tcoords (n, 2) float32, inside (n,) bool)``.
    """
    image, step = ortho_image(ortho)
    n_rows, n_cols = image.shape[:2]
    padded = np.full((n_rows + 2, n_cols + 2, 3), 255, dtype=np.uint8)
    padded[1:-1, 1:-1] = image
    a, b, c, d, e, f = ortho.transform
    det = a * e - b * d
    dx, dy = x - c, y - f
    col = (e * dx - b * dy) / det
    row = (-d * dx + a * dy) / det
    rows, cols = ortho.shape
    inside = (col >= 0) & (col <= cols) & (row >= 0) & (row <= rows)
    u = (col / step + 1.0) / (n_cols + 2)
    v = (n_rows - row / step + 1.0) / (n_rows + 2)
    texture = vtkTexture()
    texture.SetInputData(rgb_image(padded))
    texture.InterpolateOn()
    texture.MipmapOn()
    texture.SetWrap(vtkTexture.ClampToEdge)
    return texture, np.stack([u, v], axis=1).astype(np.float32), inside


@register_builder("raster", "dem")
def build_terrain(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """Surface of a DEM: triangles between the decimated pixel centres, nodata cells left out.

    Point colours are hypsometric tints; with an orthophoto in the context the surface is
    textured with it instead (tints only where the photo does not reach). Cells carry no
    feature id: picking the terrain gives the layer, ``fid=None`` and the ground position.
    """
    assert isinstance(layer, RasterLayer)
    grid = ctx.terrain_grid() if ctx.dem is layer else terrain_grid(layer)
    quads = grid.cell_quads()
    triangles = np.stack([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]], axis=1).reshape(-1, 3)
    z = grid.z.ravel()
    fill = float(np.nanmin(z)) if np.isfinite(z).any() else 0.0
    world = np.stack([grid.x.ravel(), grid.y.ravel(), np.where(np.isfinite(z), z, fill)], axis=1)
    local = ctx.origin.to_local(world)
    colours = hypsometric(z)
    texture = None
    tcoords = None
    if ctx.ortho is not None:
        texture, tcoords, inside = ortho_texture(ctx.ortho, world[:, 0], world[:, 1])
        colours[inside] = 255  # texture × white = the photo
    poly = make_polydata(local, polys=triangles, point_data={"colours": colours}, normals=grid_normals(grid),
                         tcoords=tcoords)
    part = coloured_part(poly, colours, None, on_cells=False, cell_fids=None)
    part.base_colours = None  # nothing to highlight on the ground
    prop = part.actor.GetProperty()
    prop.SetAmbient(0.35)
    prop.SetDiffuse(0.7)
    prop.SetSpecular(0.0)
    if texture is not None:
        part.actor.SetTexture(texture)
    return LayerVisual(layer=layer, parts=[part])


@register_builder("raster", "ortho")
def build_ortho(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """An orthophoto: draped on the DEM by the terrain builder, or a flat textured plane at 0 m without one."""
    assert isinstance(layer, RasterLayer)
    if ctx.dem is not None:
        return LayerVisual(layer=layer)
    xmin, ymin, xmax, ymax = layer.bounds
    world = np.array([[xmin, ymin, 0.0], [xmax, ymin, 0.0], [xmax, ymax, 0.0], [xmin, ymax, 0.0]])
    texture, tcoords, _ = ortho_texture(layer, world[:, 0], world[:, 1])
    normals = np.tile(np.array([0, 0, 1], dtype=np.float32), (4, 1))
    poly = make_polydata(ctx.origin.to_local(world), polys=np.array([[0, 1, 2], [0, 2, 3]]), normals=normals,
                         tcoords=tcoords)
    part = coloured_part(poly, None, None, on_cells=True)
    part.actor.SetTexture(texture)
    part.actor.GetProperty().SetAmbient(0.4)
    return LayerVisual(layer=layer, parts=[part])
