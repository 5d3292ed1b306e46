"""Ray casting against the terrain grid (and drapes that follow it) without a cell locator.

The terrain and the zone fills are the DEM grid's own cells, triangulated the same way as
their level-0 meshes. A cell locator over a city's terrain costs ~80 bytes a triangle
(130 MB for 1.6 M triangles) and a fraction of a second to build; marching the ray over the
grid needs nothing beyond the heights: sample the ray every half cell, find where it first
crosses the surface, then intersect the few triangles there exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_SAMPLES = 400_000  # a 30 km ray over a 1 m grid; longer rays are sampled more coarsely


@dataclass(eq=False)
class Heightfield:
    """A triangulated height grid in local coordinates.

    Vertex (i, j) lies at ``(xs[j], ys[i], z[i, j])``; ``xs`` increases, ``ys`` increases or
    decreases (north-up rasters), spacing may vary (a decimated DEM keeps its last row).
    Cell (i, j) has corners (i, j) … (i + 1, j + 1) and is split along the diagonal
    (i, j)–(i + 1, j + 1) unless ``anti_diagonal`` (then (i, j + 1)–(i + 1, j)), as the terrain
    mesh is. ``cell_row`` (rows - 1, cols - 1) gives the feature row of each cell, -1 for
    none (a hole), and ``fids`` the feature id of each row; None: every cell with four finite
    corners is surface and has no feature. ``rank_offset``: added to the layer's pick rank
    (translucent fills yield to what lies under them, see :func:`qdt.render.picking._pick_pass`).
    """

    xs: np.ndarray
    ys: np.ndarray
    z: np.ndarray
    anti_diagonal: bool
    cell_row: np.ndarray | None = None
    fids: np.ndarray | None = None
    rank_offset: int = 0

    def __post_init__(self) -> None:
        finite = self.z[np.isfinite(self.z)]
        self.zmin = float(finite.min()) if finite.size else 0.0
        self.zmax = float(finite.max()) if finite.size else 0.0

    @property
    def shape(self) -> tuple[int, int]:
        return self.z.shape  # type: ignore[return-value]


def _cell_triangles(hf: Heightfield, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """(2n, 3, 3) local corner coordinates of the two triangles of each cell (i, j)."""
    def corner(di: int, dj: int) -> np.ndarray:
        ii, jj = i + di, j + dj
        return np.stack([hf.xs[jj], hf.ys[ii], hf.z[ii, jj]], axis=-1).astype(np.float64)

    v00, v01, v11, v10 = corner(0, 0), corner(0, 1), corner(1, 1), corner(1, 0)
    if hf.anti_diagonal:
        first, second = np.stack([v00, v01, v10], 1), np.stack([v11, v10, v01], 1)
    else:
        first, second = np.stack([v00, v01, v11], 1), np.stack([v00, v11, v10], 1)
    return np.concatenate([first, second])


def _ray_triangles(origin: np.ndarray, direction: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Möller–Trumbore: parameter t of the ray's hit on each triangle (inf: none), either side."""
    e1 = tri[:, 1] - tri[:, 0]
    e2 = tri[:, 2] - tri[:, 0]
    p = np.cross(direction, e2)
    det = (e1 * p).sum(axis=1)
    ok = np.abs(det) > 1e-12
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = origin - tri[:, 0]
    u = (s * p).sum(axis=1) * inv
    q = np.cross(s, e1)
    v = (q * direction).sum(axis=1) * inv
    t = (e2 * q).sum(axis=1) * inv
    eps = 1e-9
    hit = ok & (u >= -eps) & (v >= -eps) & (u + v <= 1 + eps) & np.isfinite(t)
    return np.where(hit, t, np.inf)


def ray_heightfield(hf: Heightfield, origin: np.ndarray, direction: np.ndarray) -> tuple[float, int, int]:
    """First hit (t ≥ 0 along ``origin + t * direction``) of the ray on the surface, from above or
    below, and its cell (i, j); (inf, -1, -1) when it misses."""
    rows, cols = hf.shape
    if rows < 2 or cols < 2:
        return np.inf, -1, -1
    origin = np.asarray(origin, dtype=np.float64)
    direction = np.asarray(direction, dtype=np.float64)
    # clip the ray to the grid's box
    lo = np.array([hf.xs[0], min(hf.ys[0], hf.ys[-1]), hf.zmin - 1e-3])
    hi = np.array([hf.xs[-1], max(hf.ys[0], hf.ys[-1]), hf.zmax + 1e-3])
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / np.where(np.abs(direction) < 1e-300, 1e-300, direction)
        t1, t2 = (lo - origin) * inv, (hi - origin) * inv
    t_in = max(float(np.minimum(t1, t2).max()), 0.0)
    t_out = float(np.maximum(t1, t2).min())
    if not t_out >= t_in:
        return np.inf, -1, -1
    # samples every half cell (in plan; vertical rays get at least the two ends)
    cell = min(float(np.abs(np.diff(hf.xs)).min()), float(np.abs(np.diff(hf.ys)).min()))
    plan = float(np.hypot(direction[0], direction[1])) * (t_out - t_in)
    count = int(min(max(2 * plan / cell + 2, 2), MAX_SAMPLES))
    t = np.linspace(t_in, t_out, count)
    p = origin + t[:, None] * direction
    j = np.clip(np.searchsorted(hf.xs, p[:, 0]) - 1, 0, cols - 2)
    if hf.ys[-1] >= hf.ys[0]:
        i = np.clip(np.searchsorted(hf.ys, p[:, 1]) - 1, 0, rows - 2)
    else:
        i = np.clip(np.searchsorted(-hf.ys, -p[:, 1]) - 1, 0, rows - 2)
    u = np.clip((p[:, 0] - hf.xs[j]) / (hf.xs[j + 1] - hf.xs[j]), 0.0, 1.0)
    w = np.clip((p[:, 1] - hf.ys[i]) / (hf.ys[i + 1] - hf.ys[i]), 0.0, 1.0)
    z00, z01, z10, z11 = hf.z[i, j], hf.z[i, j + 1], hf.z[i + 1, j], hf.z[i + 1, j + 1]
    if hf.anti_diagonal:
        lower = u + w <= 1
        surface = np.where(lower, z00 + u * (z01 - z00) + w * (z10 - z00),
                           z11 + (1 - u) * (z10 - z11) + (1 - w) * (z01 - z11))
    else:
        lower = u >= w
        surface = np.where(lower, z00 + u * (z01 - z00) + w * (z11 - z01), z00 + w * (z10 - z00) + u * (z11 - z10))
    if hf.cell_row is not None:
        surface = np.where(hf.cell_row[i, j] >= 0, surface, np.nan)
    side = np.sign(p[:, 2] - surface)  # NaN over holes
    known = np.flatnonzero(np.isfinite(side))
    if known.size == 0:
        return np.inf, -1, -1
    first_side = side[known[0]]
    change = known[side[known] != first_side]
    if change.size == 0:
        return np.inf, -1, -1
    k = int(change[0])
    # exact: triangles of the cells around the two samples that bracket the crossing
    k0 = int(known[np.searchsorted(known, k) - 1])
    ci = np.unique(np.concatenate([i[k0:k + 1] + d for d in (-1, 0, 1)]).clip(0, rows - 2))
    cj = np.unique(np.concatenate([j[k0:k + 1] + d for d in (-1, 0, 1)]).clip(0, cols - 2))
    gi, gj = np.meshgrid(ci, cj, indexing="ij")
    gi, gj = gi.ravel(), gj.ravel()
    corners_ok = np.isfinite(hf.z[gi, gj]) & np.isfinite(hf.z[gi, gj + 1]) & np.isfinite(hf.z[gi + 1, gj]) \
        & np.isfinite(hf.z[gi + 1, gj + 1])
    if hf.cell_row is not None:
        corners_ok &= hf.cell_row[gi, gj] >= 0
    gi, gj = gi[corners_ok], gj[corners_ok]
    if gi.size:
        hits = _ray_triangles(origin, direction, _cell_triangles(hf, gi, gj))
        hits = np.where(hits >= t[k0] - 1e-9 * max(1.0, abs(t[k0])), hits, np.inf)
        best = int(np.argmin(hits))
        if np.isfinite(hits[best]):
            cell_index = best % len(gi)
            return float(hits[best]), int(gi[cell_index]), int(gj[cell_index])
    # numerically lost between the samples: interpolate the crossing
    a, b = p[k0, 2] - surface[k0], p[k, 2] - surface[k]
    tk = t[k0] + (t[k] - t[k0]) * (a / (a - b) if a != b else 0.0)
    return float(tk), int(i[k]), int(j[k])


def grid_heightfield(grid, origin, lift: float = 0.0, cell_row: np.ndarray | None = None,  # noqa: ANN001
                     fids: np.ndarray | None = None, rank_offset: int = 0) -> Heightfield | None:
    """The heightfield of a :class:`~qdt.render.geometry.TerrainGrid` (local coordinates, ``lift`` m up),
    triangulated as the terrain meshes are; None for grids that are rotated (not axis-aligned)."""
    from qdt.render.terrain_lod import _clockwise

    rows, cols = grid.shape
    if rows < 2 or cols < 2:
        return None
    xs, ys = grid.x[0], grid.y[:, 0]
    if not (np.allclose(grid.x, xs[None, :]) and np.allclose(grid.y, ys[:, None])):
        return None
    if not (np.all(np.diff(xs) > 0) and (np.all(np.diff(ys) > 0) or np.all(np.diff(ys) < 0))):
        return None
    z = (grid.z - origin.z + lift).astype(np.float32)  # what the float32 meshes hold
    return Heightfield(xs=xs - origin.x, ys=ys - origin.y, z=z, anti_diagonal=_clockwise(grid), cell_row=cell_row,
                       fids=fids, rank_offset=rank_offset)
