"""Spatial tiles for culling and level of detail: a grid over the scene and mesh splitting by tile.

VTK culls whole actors against the view frustum, and the level-of-detail manager
(:mod:`qdt.render.lod`) switches whole actors on and off by distance. Both work per actor, so
big layers are cut into one actor per tile of a :class:`TileGrid` shared by every layer of the
scene. A feature is never cut: all cells of one feature go to the tile of its first vertex,
so picking and highlighting keep working per tile exactly as on one mesh.

Everything here is numpy; splitting is a couple of stable sorts on small integer keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_TILES_SIDE = 12  # tiles along the longer side: ~100 actors a layer keeps VTK's per-actor cost small
MIN_TILE_SIZE = 400.0  # m: below this, tiles cost more actors than they save in culling


@dataclass(frozen=True)
class TileGrid:
    """A square grid in scene-local coordinates; tile ``i`` is column ``i % nx``, row ``i // nx``.

    Points outside the grid belong to the nearest edge tile (layers added later may reach out).
    """

    x0: float
    y0: float
    size: float
    nx: int
    ny: int

    @classmethod
    def for_bounds(cls, xmin: float, xmax: float, ymin: float, ymax: float, *, max_side: int = MAX_TILES_SIDE,
                   min_size: float = MIN_TILE_SIZE) -> TileGrid:
        """At most ``max_side`` tiles along the longer side, each at least ``min_size`` metres."""
        width, height = max(xmax - xmin, 1.0), max(ymax - ymin, 1.0)
        size = max(min_size, max(width, height) / max_side)
        nx, ny = max(1, math.ceil(width / size)), max(1, math.ceil(height / size))
        return cls(float(xmin), float(ymin), float(size), int(nx), int(ny))

    @property
    def count(self) -> int:
        return self.nx * self.ny

    def tile_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(n,) int32 tile index of local points (clipped into the grid; NaN goes to tile 0)."""
        col = np.floor((np.asarray(x, dtype=np.float64) - self.x0) / self.size)
        row = np.floor((np.asarray(y, dtype=np.float64) - self.y0) / self.size)
        col = np.clip(np.nan_to_num(col, nan=0.0), 0, self.nx - 1).astype(np.int32)
        row = np.clip(np.nan_to_num(row, nan=0.0), 0, self.ny - 1).astype(np.int32)
        return row * self.nx + col

    def tile_rect(self, tile: int) -> tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) of a tile in local coordinates."""
        col, row = tile % self.nx, tile // self.nx
        x = self.x0 + col * self.size
        y = self.y0 + row * self.size
        return (x, x + self.size, y, y + self.size)


def _sort_key(tile: np.ndarray) -> np.ndarray:
    # numpy sorts 16-bit integers with a stable radix sort: linear time
    return tile.astype(np.uint16) if tile.size and int(tile.max()) < 65536 else tile


def feature_tiles(grid: TileGrid, anchor_xy: np.ndarray) -> np.ndarray:
    """Tile of each feature from its anchor point (local (n, 2)); features without one (NaN) go to tile 0."""
    anchor_xy = np.asarray(anchor_xy, dtype=np.float64).reshape(-1, 2)
    return grid.tile_of(anchor_xy[:, 0], anchor_xy[:, 1])


def first_vertex_of_rows(points: np.ndarray, cells: np.ndarray, cell_row: np.ndarray, n_rows: int) -> np.ndarray:
    """(n_rows, 2) xy of the first vertex of each row's first cell (NaN for rows without cells)."""
    first = np.full(n_rows, -1, dtype=np.int64)
    order = np.arange(len(cell_row) - 1, -1, -1)
    first[cell_row[order]] = order  # the last write wins: the first cell of each row
    out = np.full((n_rows, 2), np.nan)
    has = first >= 0
    out[has] = points[cells[first[has], 0], :2]
    return out


@dataclass
class TilePiece:
    """One tile's share of a mesh: its own compact points and cells, and the rows of the per-point
    and per-cell attributes it took (``point_index`` into the input points, ``cell_index`` into the
    input cells)."""

    tile: int
    points: np.ndarray
    cells: np.ndarray
    point_index: np.ndarray
    cell_index: np.ndarray


def split_mesh(points: np.ndarray, cells: np.ndarray, cell_tile: np.ndarray) -> list[TilePiece]:
    """Cut a mesh into one piece per tile.

    Parameters
    ----------
    points
        (n, 3) vertices.
    cells
        (m, k) vertex indices of equal-sized cells (k = 2 lines, 3 triangles).
    cell_tile
        (m,) tile of each cell. A vertex used by cells of several tiles must not exist:
        tile by feature and give each feature its own vertices (every builder does).

    Returns
    -------
    list of TilePiece, ascending by tile; vertices not used by any cell are dropped.
    """
    points = np.asarray(points)
    cells = np.asarray(cells)
    m = len(cells)
    if m == 0:
        return []
    # 32-bit indices and 16-bit tile keys throughout: half the memory traffic of int64 (and radix sorts)
    index_type = np.int32 if len(points) < 2**31 else np.int64
    cell_tile = _sort_key(np.asarray(cell_tile))
    cell_order = np.argsort(cell_tile, kind="stable").astype(index_type)
    sorted_tiles = cell_tile[cell_order]
    point_tile = np.full(len(points), -1, dtype=np.int32)
    point_tile[cells] = cell_tile[:, None]
    used = np.flatnonzero(point_tile >= 0).astype(index_type)
    point_order = used[np.argsort(_sort_key(point_tile[used]), kind="stable")]
    new_index = np.empty(len(points), dtype=index_type)
    new_index[point_order] = np.arange(len(point_order), dtype=index_type)
    first = np.flatnonzero(np.diff(sorted_tiles.astype(np.int32), prepend=-1))  # sorted: runs of one tile
    tiles = sorted_tiles[first].astype(np.int64)
    cell_counts = np.diff(np.append(first, m))
    point_counts = np.bincount(point_tile[used], minlength=int(tiles.max()) + 1)[tiles]
    cell_end = np.cumsum(cell_counts)
    point_end = np.cumsum(point_counts)
    local_cells = new_index[cells[cell_order]]
    # make each tile's cells index its own points, all tiles at once
    local_cells -= np.repeat((point_end - point_counts).astype(index_type), cell_counts)[:, None]
    sorted_points = points[point_order]
    out = []
    for i, tile in enumerate(tiles.tolist()):
        c0, c1 = cell_end[i] - cell_counts[i], cell_end[i]
        p0, p1 = point_end[i] - point_counts[i], point_end[i]
        out.append(TilePiece(tile=int(tile), points=sorted_points[p0:p1], cells=local_cells[c0:c1],
                             point_index=point_order[p0:p1], cell_index=cell_order[c0:c1]))
    return out


def ray_box_entry(origin: np.ndarray, direction: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Ray parameter where the ray ``origin + t * direction`` (t ≥ 0) enters each box (inf: misses).

    ``lo``/``hi`` are (n, 3); a ray starting inside a box enters it at t = 0.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / np.where(np.abs(direction) < 1e-300, 1e-300, direction)
        t1 = (lo - origin) * inv
        t2 = (hi - origin) * inv
    t_enter = np.maximum(np.minimum(t1, t2).max(axis=1), 0.0)
    t_exit = np.maximum(t1, t2).min(axis=1)
    return np.where(t_exit >= t_enter, t_enter, np.inf)


def point_box_distance(point: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Euclidean distance from ``point`` (3,) to each box (n, 3 lo/hi); 0 inside."""
    gap = np.maximum(np.maximum(lo - point, point - hi), 0.0)
    return np.sqrt((gap * gap).sum(axis=1))


def group_boxes(lo: np.ndarray, hi: np.ndarray, per_group: int = 128) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                                np.ndarray]:
    """Group boxes (n, 3 lo/hi) that are close in xy, about ``per_group`` a group, for quick rejection.

    Returns ``(order, start, group_lo, group_hi)``: row ids sorted by group, where each group's
    rows begin in ``order`` (g + 1 entries, the last = number of rows kept) and each group's box.
    Boxes with non-finite corners are left out.
    """
    # float32 and int32 throughout: this runs over a city's million pipe segments
    lo = np.asarray(lo, dtype=np.float32)
    hi = np.asarray(hi, dtype=np.float32)
    finite = np.isfinite(lo).all(axis=1) & np.isfinite(hi).all(axis=1)
    valid = None if finite.all() else np.flatnonzero(finite).astype(np.int32)
    if valid is not None:
        lo, hi = lo[valid], hi[valid]
    n = len(lo)
    if n == 0:
        empty = np.empty((0, 3), dtype=np.float32)
        return np.empty(0, dtype=np.int32), np.zeros(1, dtype=np.int64), empty, empty
    cx = (lo[:, 0] + hi[:, 0]) * 0.5
    cy = (lo[:, 1] + hi[:, 1]) * 0.5
    xmin, xmax, ymin, ymax = float(cx.min()), float(cx.max()), float(cy.min()), float(cy.max())
    side = max(1, min(int(math.sqrt(n / per_group)), 255))
    size = max(xmax - xmin, ymax - ymin, 1.0) / side
    cx -= xmin
    cx /= size
    cy -= ymin
    cy /= size
    cell = np.clip(cy.astype(np.int32), 0, side - 1) * side + np.clip(cx.astype(np.int32), 0, side - 1)
    order = np.argsort(cell.astype(np.uint16), kind="stable").astype(np.int32)
    counts = np.bincount(cell, minlength=side * side)
    start = np.concatenate([[0], np.cumsum(counts)])
    present = np.flatnonzero(counts)
    group_lo = np.minimum.reduceat(lo[order], start[present], axis=0)
    group_hi = np.maximum.reduceat(hi[order], start[present], axis=0)
    rows = order if valid is None else valid[order]
    return rows, np.concatenate([start[present], [n]]), group_lo, group_hi


def rows_of_groups(order: np.ndarray, start: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The row ids of the given groups (from :func:`group_boxes`), concatenated."""
    counts = start[groups + 1] - start[groups]
    first = np.repeat(start[groups] - np.cumsum(counts) + counts, counts)
    return order[first + np.arange(counts.sum())]
