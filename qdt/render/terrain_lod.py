"""Terrain and zone drapes in blocks with levels of detail (used when the scene has tiles).

The decimated DEM grid (:class:`~qdt.render.geometry.TerrainGrid`) is cut into at most
``MAX_BLOCKS_SIDE``² blocks. Each block has a mesh per level ``k`` taking every ``2**k``-th
grid row and column (its last row and column always kept, so blocks meet). Where neighbouring
blocks show different levels their edges differ slightly; a *skirt* (a strip hanging down
from the block's edge) hides the crack. Skirts are their own parts so a translucent ground (the
underground view) can leave them out.

Zone fills follow the same blocks and levels: a level's fill is that level's terrain cells
whose centre lies in a zone, found once on the full grid by a vectorised scan-line fill.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from qdt.render.geometry import TerrainGrid, polygon_rings

MAX_BLOCKS_SIDE = 8  # blocks along the longer side of the DEM (≤ 64 blocks, as many actors a level)
MAX_LEVEL = 3  # coarsest level: every 8th grid vertex
TERRAIN_CELL_PX = 8.0  # a level is used while its cells are at most this many pixels wide


@dataclass
class Block:
    """One block at one level: grid rows ``r`` and columns ``c`` it samples, and its cells."""

    index: int
    level: int
    r: np.ndarray
    c: np.ndarray

    @property
    def vertex_ids(self) -> np.ndarray:
        """(len(r) * len(c),) row-major ids of the full grid's vertices this block uses."""
        return (self.r[:, None] * self._cols + self.c[None, :]).ravel()

    _cols: int = 0


def grid_spacing(grid: TerrainGrid) -> float:
    rows, cols = grid.shape
    if cols > 1:
        return float(np.hypot(grid.x[0, 1] - grid.x[0, 0], grid.y[0, 1] - grid.y[0, 0]))
    if rows > 1:
        return float(np.hypot(grid.x[1, 0] - grid.x[0, 0], grid.y[1, 0] - grid.y[0, 0]))
    return 1.0


def _sampled(start: int, stop: int, step: int) -> np.ndarray:
    idx = np.arange(start, stop + 1, step)
    if idx[-1] != stop:
        idx = np.append(idx, stop)
    return idx


def level_range(spacing: float, level: int, levels: int) -> tuple[float, float]:
    """Metres per pixel over which ``level`` (cells of ``spacing * 2**level`` m) is shown."""
    lo = 0.0 if level == 0 else spacing * 2 ** level / TERRAIN_CELL_PX
    hi = math.inf if level == levels - 1 else spacing * 2 ** (level + 1) / TERRAIN_CELL_PX
    return lo, hi


def blocks(grid: TerrainGrid, tile_size: float) -> tuple[list[Block], int]:
    """Every block at every level, and the number of levels."""
    rows, cols = grid.shape
    spacing = grid_spacing(grid)
    cells = max(rows, cols) - 1
    side = max(16, round(tile_size / max(spacing, 1e-9)), math.ceil(cells / MAX_BLOCKS_SIDE))
    levels = 1
    while levels <= MAX_LEVEL and side >> levels >= 2:
        levels += 1
    out = []
    index = 0
    for r0 in range(0, max(rows - 1, 1), side):
        r1 = min(r0 + side, rows - 1)
        for c0 in range(0, max(cols - 1, 1), side):
            c1 = min(c0 + side, cols - 1)
            for level in range(levels):
                step = 2 ** level
                out.append(Block(index, level, _sampled(r0, r1, step), _sampled(c0, c1, step), cols))
            index += 1
    return out, levels


def block_quads(grid: TerrainGrid, block: Block, cell_ok: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(q, 4) quads of the block as indices into its own vertex lattice (counter-clockwise from
    above) and (q, 2) the lattice cell (i, j) of each; cells with a nodata corner are left out,
    as are cells where ``cell_ok`` (lattice-cell shaped) is False."""
    nr, nc = len(block.r), len(block.c)
    z = grid.z[np.ix_(block.r, block.c)]
    ok = np.isfinite(z)
    valid = ok[:-1, :-1] & ok[:-1, 1:] & ok[1:, :-1] & ok[1:, 1:]
    if cell_ok is not None:
        valid &= cell_ok
    i, j = np.nonzero(valid)
    quads = (i * nc + j)[:, None] + np.array([0, 1, nc + 1, nc])
    if nr > 1 and nc > 1 and _clockwise(grid):
        quads = quads[:, ::-1]
    return quads, np.column_stack([i, j])


def _clockwise(grid: TerrainGrid) -> bool:
    rows, cols = grid.shape
    if rows < 2 or cols < 2:
        return False
    east = (grid.x[0, 1] - grid.x[0, 0], grid.y[0, 1] - grid.y[0, 0])
    down = (grid.x[1, 0] - grid.x[0, 0], grid.y[1, 0] - grid.y[0, 0])
    return east[0] * down[1] - east[1] * down[0] < 0


def quads_to_triangles(quads: np.ndarray) -> np.ndarray:
    """Two triangles (0 1 2, 0 2 3) per quad, keeping the quad's winding."""
    return quads[:, [0, 1, 2, 0, 2, 3]].reshape(-1, 3)


def skirt(grid: TerrainGrid, block: Block) -> tuple[np.ndarray, np.ndarray]:
    """The block's edge ring as lattice vertex ids (closed loop) and how deep (m) its skirt hangs.

    Deep enough to cover the difference between this level's straight edge and a finer
    neighbour's: a quarter of the block's height range plus a metre.
    """
    nr, nc = len(block.r), len(block.c)
    top = np.arange(nc)
    right = np.arange(1, nr) * nc + nc - 1
    bottom = (nr - 1) * nc + np.arange(nc - 2, -1, -1)
    left = np.arange(nr - 2, 0, -1) * nc
    ring = np.concatenate([top, right, bottom, left, top[:1]])
    # the height range of the block (the same at every level: the level-0 lattice has it all)
    z = grid.z[block.r[0]:block.r[-1] + 1, block.c[0]:block.c[-1] + 1]
    finite = z[np.isfinite(z)]
    depth = 1.0 + 0.25 * float(finite.max() - finite.min()) if finite.size else 1.0
    return ring, depth


def rasterize_zones(grid: TerrainGrid, parts: np.ndarray, part_row: np.ndarray) -> np.ndarray:
    """(rows-1, cols-1) feature row of the zone each grid cell's centre lies in (-1: none).

    Scan-line even-odd fill, vectorised over all polygon edges and grid rows; where zones
    overlap the later one wins. Grids with rotation fall back to a point-in-polygon query.
    """
    rows, cols = grid.shape
    out = np.full((max(rows - 1, 0), max(cols - 1, 0)), -1, dtype=np.int64)
    if rows < 2 or cols < 2 or len(parts) == 0:
        return out
    cx = (grid.x[:-1, :-1] + grid.x[1:, 1:]) / 2
    cy = (grid.y[:-1, :-1] + grid.y[1:, 1:]) / 2
    dx = cx[0, 1] - cx[0, 0] if cols > 2 else 1.0
    if dx <= 0 or not (np.allclose(cx, cx[:1, :]) and np.allclose(cy, cy[:, :1])):  # rotated or mirrored
        tree = shapely.STRtree(parts)
        cell, hit = tree.query(shapely.points(cx.ravel(), cy.ravel()), predicate="within")
        out.ravel()[cell] = part_row[hit]
        return out
    xc, yc = cx[0], cy[:, 0]  # cell-centre columns and rows
    dy = yc[1] - yc[0] if len(yc) > 1 else -1.0
    rings = polygon_rings(parts, (0.0, 0.0))
    same = rings.coord_ring[:-1] == rings.coord_ring[1:]
    e = np.flatnonzero(same)
    p1, p2 = rings.xy[e], rings.xy[e + 1]
    polygon = rings.coord_polygon[e]
    # fractional row coordinate of the endpoints; crossings are rows i with lo <= i < hi
    f1 = (p1[:, 1] - yc[0]) / dy
    f2 = (p2[:, 1] - yc[0]) / dy
    lo = np.ceil(np.minimum(f1, f2))
    hi = np.ceil(np.maximum(f1, f2))
    lo = np.clip(lo, 0, len(yc)).astype(np.int64)
    hi = np.clip(hi, 0, len(yc)).astype(np.int64)
    count = np.maximum(hi - lo, 0)
    edge = np.repeat(np.arange(len(e)), count)
    row = lo[edge] + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    t = (row - f1[edge]) / (f2[edge] - f1[edge])
    x = p1[edge, 0] + t * (p2[edge, 0] - p1[edge, 0])
    poly = polygon[edge]
    order = np.lexsort((x, row, poly))
    x, row, poly = x[order], row[order], poly[order]
    # crossings come in pairs per (polygon, row): inside between each odd and even one
    x0, x1, rr, pp = x[0::2], x[1::2], row[0::2], poly[0::2]
    j0 = np.clip(np.ceil((x0 - xc[0]) / dx), 0, len(xc)).astype(np.int64)
    j1 = np.clip(np.ceil((x1 - xc[0]) / dx), 0, len(xc)).astype(np.int64)
    span = np.maximum(j1 - j0, 0)
    cell_row = np.repeat(rr, span)
    cell_col = np.repeat(j0, span) + np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
    out[cell_row, cell_col] = part_row[np.repeat(pp, span)]
    return out


def coarse_cell_zone(zone: np.ndarray, block: Block) -> np.ndarray:
    """Zone row of each lattice cell of ``block``: the full-grid cell under the lattice cell's middle."""
    ri = np.minimum((block.r[:-1] + block.r[1:]) // 2, zone.shape[0] - 1)
    ci = np.minimum((block.c[:-1] + block.c[1:]) // 2, zone.shape[1] - 1)
    return zone[np.ix_(ri, ci)]
