"""Terrain from a DEM RasterLayer, textured with the scene's orthophoto or tinted by height."""

from __future__ import annotations

import math

import numpy as np
from vtkmodules.vtkRenderingCore import vtkTexture

from qdt.layers import Layer, RasterLayer
from qdt.render import lighting, terrain_lod
from qdt.render.arrays import make_polydata, rgb_image
from qdt.render.colours import hypsometric
from qdt.render.geometry import grid_normals, terrain_grid
from qdt.render.heightfield import grid_heightfield
from qdt.render.registry import register_builder
from qdt.render.visual import BuildContext, LayerVisual, VisualPart, coloured_part

TERRAIN_AMBIENT = 0.35
TERRAIN_DIFFUSE = 0.7
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


def ortho_texture(ortho: RasterLayer, x: np.ndarray, y: np.ndarray,
                  image: tuple[np.ndarray, int] | None = None) -> tuple[vtkTexture, np.ndarray, np.ndarray]:
    """A texture of ``ortho`` and texture coordinates for world points ``x``, ``y``.

    The image gets a one-texel white border and the texture clamps to its edge, so points
    off the photo read white; the caller tints those by height (texture × colour).
    Returns ``(texture, tcoords (n, 2) float32, inside (n,) bool)``.
    """
    image, step = ortho_image(ortho) if image is None else image
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
    z = grid.z.ravel()
    fill = float(np.nanmin(z)) if np.isfinite(z).any() else 0.0
    world = np.stack([grid.x.ravel(), grid.y.ravel(), np.where(np.isfinite(z), z, fill)], axis=1)
    local = ctx.origin.to_local(world)
    texture = None
    tcoords = None
    colours = np.full((len(z), 3), 255, dtype=np.uint8)  # texture × white = the photo
    inside = np.zeros(len(z), dtype=bool)
    photo = ortho_image(ctx.ortho) if ctx.ortho is not None else None
    if ctx.ortho is not None:
        texture, tcoords, inside = ortho_texture(ctx.ortho, world[:, 0], world[:, 1], photo)
    colours[~inside] = hypsometric(z[~inside])  # tints where the photo does not reach
    normals = grid_normals(grid)
    if ctx.tiles is not None:
        heightfield = grid_heightfield(grid, ctx.origin)
        parts = _terrain_blocks(grid, ctx.tiles.size, local, colours, normals, tcoords, texture,
                                OrthoColours(ctx.ortho, photo) if ctx.ortho is not None else None,
                                pick=heightfield is None)
        visual = LayerVisual(layer=layer, parts=parts, role="ground")
        if heightfield is not None:
            visual.heightfields.append(heightfield)
        return visual
    quads = grid.cell_quads()
    triangles = np.stack([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]], axis=1).reshape(-1, 3)
    poly = make_polydata(local, polys=triangles, point_data={"colours": colours}, normals=normals, tcoords=tcoords)
    return LayerVisual(layer=layer, parts=[_ground_part(poly, colours, texture, pick=True)], role="ground")


def _ground_part(poly, colours: np.ndarray, texture: vtkTexture | None, *, pick: bool) -> VisualPart:  # noqa: ANN001
    part = coloured_part(poly, colours, None, on_cells=False, cell_fids=None, pick_cells=pick)
    part.base_colours = None  # nothing to highlight on the ground
    prop = part.actor.GetProperty()
    prop.SetAmbient(TERRAIN_AMBIENT)
    prop.SetDiffuse(TERRAIN_DIFFUSE)
    prop.SetSpecular(0.0)
    if texture is not None:
        part.actor.SetTexture(texture)
    if not pick:
        part.actor.PickableOff()
    return part


class OrthoColours:
    """The orthophoto's colour at world points, box-filtered to a footprint (a 2×2 mean pyramid),
    for terrain levels drawn with vertex colours instead of the texture."""

    def __init__(self, ortho: RasterLayer, image: tuple[np.ndarray, int] | None = None) -> None:
        image, step = ortho_image(ortho) if image is None else image
        self.transform = ortho.transform
        self.shape = ortho.shape
        self.step = step
        self.pixel = math.hypot(ortho.transform[0], ortho.transform[3]) * step  # metres a pyramid-0 pixel
        self.levels = [image]

    def _level(self, level: int) -> np.ndarray:
        while len(self.levels) <= level:
            img = self.levels[-1]
            rows, cols = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
            if rows < 2 or cols < 2:
                break
            # mean of each 2×2 block from four strided views (a reshaped sum is several times slower)
            total = img[0:rows:2, 0:cols:2].astype(np.uint16)
            total += img[1:rows:2, 0:cols:2]
            total += img[0:rows:2, 1:cols:2]
            total += img[1:rows:2, 1:cols:2]
            self.levels.append((total >> 2).astype(np.uint8))
        return self.levels[min(level, len(self.levels) - 1)]

    def sample(self, x: np.ndarray, y: np.ndarray, footprint: float) -> tuple[np.ndarray, np.ndarray]:
        """(n, 3) uint8 colours at world ``x``, ``y`` averaged over about ``footprint`` metres, and (n,)
        True where the photo covers the point."""
        level = max(0, int(round(math.log2(max(footprint / self.pixel, 1.0)))))
        image = self._level(level)
        scale = image.shape[0] / self.levels[0].shape[0]
        a, b, c, d, e, f = self.transform
        det = a * e - b * d
        dx, dy = x - c, y - f
        col = (e * dx - b * dy) / det
        row = (-d * dx + a * dy) / det
        rows, cols = self.shape
        inside = (col >= 0) & (col <= cols) & (row >= 0) & (row <= rows)
        ci = np.clip((col / self.step * scale).astype(np.int64), 0, image.shape[1] - 1)
        ri = np.clip((row / self.step * scale).astype(np.int64), 0, image.shape[0] - 1)
        return image[ri, ci], inside


def _terrain_blocks(grid, tile_size: float, local: np.ndarray, colours: np.ndarray,  # noqa: ANN001
                    normals: np.ndarray, tcoords: np.ndarray | None, texture: vtkTexture | None,
                    photo: OrthoColours | None, pick: bool) -> list[VisualPart]:
    """One part per block and level (and one skirt part each), see :mod:`qdt.render.terrain_lod`.

    Lighting is baked into the vertex colours (:func:`qdt.render.lighting.baked_light`) and the
    parts are drawn unlit. Level 0 is textured with the orthophoto; coarser levels, seen from
    afar, carry the photo's colours filtered to their vertex spacing instead of a texture,
    which in software OpenGL is the costliest thing a pixel of ground can do.
    """
    all_blocks, levels = terrain_lod.blocks(grid, tile_size)
    spacing = terrain_lod.grid_spacing(grid)
    light = lighting.baked_light(normals, TERRAIN_AMBIENT, TERRAIN_DIFFUSE).astype(np.float32)
    gx, gy = grid.x.ravel(), grid.y.ravel()
    shaded_levels: dict[int, np.ndarray] = {}

    def shaded(vid: np.ndarray, level: int) -> np.ndarray:
        """Lit vertex colours of a level, computed once for the whole grid (levels share most vertices)."""
        if level not in shaded_levels:
            base = colours.astype(np.float32)
            if photo is not None and level > 0:
                rgb, inside = photo.sample(gx, gy, spacing * 2 ** level)
                base[inside] = rgb[inside]
            base *= light
            shaded_levels[level] = np.clip(base, 0, 255).astype(np.uint8)
        return shaded_levels[level][vid]

    parts = []
    for block in all_blocks:
        quads, _ = terrain_lod.block_quads(grid, block)
        if len(quads) == 0:
            continue
        vid = block.vertex_ids
        lod = terrain_lod.level_range(spacing, block.level, levels)
        textured = texture is not None and block.level == 0
        block_colours = shaded(vid, block.level)
        poly = make_polydata(local[vid], polys=terrain_lod.quads_to_triangles(quads),
                             point_data={"colours": block_colours},
                             tcoords=tcoords[vid] if textured else None)
        part = _ground_part(poly, block_colours, texture if textured else None, pick=pick and block.level == 0)
        part.actor.GetProperty().LightingOff()
        part.tile, (part.lod_lo, part.lod_hi) = block.index, lod
        parts.append(part)
        ring, depth = terrain_lod.skirt(grid, block)
        top = vid[ring]
        n = len(top)
        skirt_points = np.concatenate([local[top], local[top] - np.array([0, 0, depth], dtype=np.float32)])
        k = np.arange(n - 1)
        skirt_quads = np.stack([k, k + 1, n + k + 1, n + k], axis=1)
        skirt_colours = np.concatenate([block_colours[ring], block_colours[ring]])
        skirt_poly = make_polydata(skirt_points, polys=terrain_lod.quads_to_triangles(skirt_quads),
                                   point_data={"colours": skirt_colours},
                                   tcoords=np.concatenate([tcoords[top], tcoords[top]]) if textured else None)
        skirt_part = _ground_part(skirt_poly, skirt_colours, texture if textured else None, pick=False)
        skirt_part.actor.GetProperty().LightingOff()
        skirt_part.tile, (skirt_part.lod_lo, skirt_part.lod_hi) = block.index, lod
        skirt_part.skirt = True
        parts.append(skirt_part)
    return parts


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
