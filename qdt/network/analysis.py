"""Network analyses engineers run by name: 连通性, 上下游追踪, 爆管/关阀, 纵断面.

Every function works on a :class:`~qdt.network.topology.Topology` and returns plain JSON-ready
dicts: points are named by their survey numbers (物探点号), lines by the line table's feature ids.
Each query slices the component of its start (nodes of a component are contiguous), so its cost
follows the size of one connected network, not of the whole city.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from qdt.network.model import NetworkError
from qdt.network.topology import Topology

__all__ = ["connected", "trace", "isolate", "profile"]


def _names(topo: Topology, nodes: np.ndarray) -> list[str]:
    return [str(v) for v in topo.node_no[nodes]]


def _fids(topo: Topology, lines: np.ndarray) -> list[int]:
    return [int(v) for v in np.sort(topo.line_fid[lines])]


def _shortest_path(topo: Topology, a: int, b: int) -> tuple[np.ndarray, float] | None:
    """Nodes of the shortest path a → b by length, and its length; None when not connected."""
    if topo.node_comp[a] != topo.node_comp[b]:
        return None
    lo, hi = topo.component_range(a)
    block = topo.weighted[lo:hi, lo:hi]
    dist, pred = csgraph.dijkstra(block, directed=False, indices=a - lo, return_predecessors=True)
    if not np.isfinite(dist[b - lo]):
        return None
    path = [b - lo]
    while path[-1] != a - lo:
        path.append(int(pred[path[-1]]))
    return np.array(path[::-1], dtype=np.int64) + lo, float(dist[b - lo])


def connected(topo: Topology, start: str, end: str, network: str | None = None) -> dict[str, Any]:
    """Are two points joined by pipes, and by which path (shortest by length)?

    Valve states do not matter here (a closed valve still joins the pipes); use :func:`trace`
    for what is reachable through open valves.

    Returns ``{"connected", "points", "lines", "length_m"}``; points in path order, lines in
    path order too.
    """
    a, b = topo.node_index(start, network), topo.node_index(end, network)
    found = _shortest_path(topo, a, b)
    if found is None:
        return {"connected": False, "points": [], "lines": [], "length_m": None}
    path, length = found
    lines = topo.line_between(path[:-1], path[1:]) if len(path) > 1 else np.zeros(0, np.int64)
    return {"connected": True, "points": _names(topo, path), "lines": [int(v) for v in topo.line_fid[lines]],
            "length_m": round(length, 3)}


def _bfs(graph: sparse.csr_matrix, seeds: np.ndarray, lo: int) -> np.ndarray:
    reached = np.zeros(graph.shape[0], dtype=bool)
    for s in seeds:
        if not reached[s - lo]:
            order = csgraph.breadth_first_order(graph, s - lo, directed=True, return_predecessors=False)
            reached[order] = True
    return np.flatnonzero(reached) + lo


def trace(topo: Topology, start: str, direction: str = "down", network: str | None = None) -> dict[str, Any]:
    """Everything upstream or downstream of a point.

    Gravity networks (drainage) follow the flow (:attr:`Topology.flow`: the surveyed 流向, else
    toward the outfall, else from the inverts); ``direction`` is "up" or "down". Pressure
    networks have no flow direction here: both directions give the connected part reachable
    without passing a closed valve (the closed valves that bound it are listed, and included).

    Returns ``{"points", "lines", "basis", "closed_valves"}`` sorted by point number / fid.
    """
    if direction not in ("up", "down"):
        raise NetworkError(f"direction must be 'up' or 'down', not {direction!r}")
    p = topo.node_index(start, network)
    lo, hi = topo.component_range(p)
    lines = np.flatnonzero((topo.line_u >= lo) & (topo.line_u < hi)) if topo.n_components > 1 else \
        np.arange(topo.n_lines)
    u, v = topo.line_u[lines], topo.line_v[lines]
    gravity = bool(topo.gravity[lines].any()) if len(lines) else False
    n = hi - lo
    if gravity:
        down, basis = topo.flow
        fwd = down[lines]
        src, dst = np.where(fwd, u, v), np.where(fwd, v, u)
        if direction == "up":
            src, dst = dst, src
        graph = sparse.csr_matrix((np.ones(len(lines)), (src - lo, dst - lo)), shape=(n, n))
        nodes = _bfs(graph, np.array([p]), lo)
        reached = np.zeros(topo.n_nodes, dtype=bool)
        reached[nodes] = True
        used = lines[reached[src]]
        bases = sorted({str(b) for b in basis[used]})
        return {"points": sorted(_names(topo, nodes)), "lines": _fids(topo, used), "basis": bases,
                "closed_valves": []}
    closed = topo.closed
    # out-edges of a closed valve are cut (it can be reached but not passed), except from the start
    src, dst = np.r_[u, v], np.r_[v, u]
    keep = ~closed[src] | (src == p)
    graph = sparse.csr_matrix((np.ones(int(keep.sum())), (src[keep] - lo, dst[keep] - lo)), shape=(n, n))
    nodes = _bfs(graph, np.array([p]), lo)
    reached = np.zeros(topo.n_nodes, dtype=bool)
    reached[nodes] = True
    passable = reached & (~closed | (np.arange(topo.n_nodes) == p))
    used = lines[passable[u] | passable[v]]
    bounding = nodes[closed[nodes] & (nodes != p)]
    return {"points": sorted(_names(topo, nodes)), "lines": _fids(topo, used), "basis": [],
            "closed_valves": sorted(_names(topo, bounding))}


class _Isolation:
    """Precomputed parts between valves: lines joined through nodes that are not valves that can bound.

    A valve bounds when it is closed, or open and operable. Open valves that cannot be turned
    (operable = false) are passed through. Components of the line–node graph without the
    bounding valves are the smallest parts one can shut off; a query merges parts across
    failed valves.
    """

    def __init__(self, topo: Topology) -> None:
        self.topo = topo
        n, m = topo.n_nodes, topo.n_lines
        self.bounding = topo.is_valve & (topo.closed | ~topo.inoperable)
        u, v = topo.line_u, topo.line_v
        rows, cols = [], []
        for ends in (u, v):
            ok = ~self.bounding[ends]
            rows.append(np.arange(m)[ok])
            cols.append(m + ends[ok])
        r, c = np.concatenate(rows), np.concatenate(cols)
        g = sparse.coo_matrix((np.ones(len(r)), (r, c)), shape=(m + n, m + n))
        _, label = csgraph.connected_components(g, directed=False)
        self.line_part = label[:m]
        self.node_part = label[m:]
        order = np.argsort(self.line_part, kind="stable")
        self.part_lines_order = order
        self.part_start = np.searchsorted(self.line_part[order], np.arange(label.max() + 2))
        self.node_lines = topo.incidence  # node × line

    def lines_of(self, part: int) -> np.ndarray:
        return self.part_lines_order[self.part_start[part]:self.part_start[part + 1]]


def _isolation(topo: Topology) -> _Isolation:
    cached = topo.__dict__.get("_isolation")
    if cached is None:
        cached = _Isolation(topo)
        topo.__dict__["_isolation"] = cached
    return cached


def isolate(topo: Topology, line: Any, failed_valves: list[str] | tuple[str, ...] = (),
            network: str | None = None) -> dict[str, Any]:
    """Valves to close to isolate a broken line (爆管/关阀分析).

    The part is what can be reached from the line without passing a valve that bounds
    (closed, or open and operable). Its open operable boundary valves are the ones to close;
    closed ones already bound it. A failed valve (given here) or an inoperable one is passed
    through and the next ring of valves taken.

    Returns ``{"valves", "closed_valves", "failed_valves", "lines", "points", "affected"}``
    where ``affected`` counts hydrants, consumers (service entries, meters, transformers), the
    points and lines shut off and their length in metres.
    """
    iso = _isolation(topo)
    broken = topo.line_index(line)
    failed = np.array([topo.node_index(p, network or topo.line_network[broken]) for p in failed_valves],
                      dtype=np.int64)
    failed_mask = np.zeros(topo.n_nodes, dtype=bool)
    failed_mask[failed] = True
    passable_failed = failed_mask & iso.bounding & ~topo.closed
    parts = {int(iso.line_part[broken])}
    frontier = [int(iso.line_part[broken])]
    crossed: set[int] = set()
    boundary: set[int] = set()
    while frontier:
        lines = np.concatenate([iso.lines_of(p) for p in frontier])
        frontier = []
        ends = np.unique(np.r_[topo.line_u[lines], topo.line_v[lines]])
        valves = ends[iso.bounding[ends]]
        boundary.update(int(x) for x in valves)
        for valve in valves[passable_failed[valves]]:
            if valve in crossed:
                continue
            crossed.add(int(valve))
            touching = iso.node_lines[valve].indices
            for part in np.unique(iso.line_part[touching]):
                if int(part) not in parts:
                    parts.add(int(part))
                    frontier.append(int(part))
    lines = np.concatenate([iso.lines_of(p) for p in sorted(parts)])
    boundary_arr = np.array(sorted(boundary - crossed), dtype=np.int64)
    to_close = boundary_arr[~topo.closed[boundary_arr]] if boundary_arr.size else boundary_arr
    already = boundary_arr[topo.closed[boundary_arr]] if boundary_arr.size else boundary_arr
    ends = np.unique(np.r_[topo.line_u[lines], topo.line_v[lines]])
    inside = ends[~np.isin(ends, boundary_arr)]
    affected = {"hydrants": int(topo.is_hydrant[inside].sum()), "consumers": int(topo.is_consumer[inside].sum()),
                "points": int(inside.size), "lines": int(lines.size),
                "length_m": round(float(topo.line_length[lines].sum()), 2)}
    return {"line": int(topo.line_fid[broken]), "valves": sorted(_names(topo, to_close)),
            "closed_valves": sorted(_names(topo, already)),
            "failed_valves": sorted(_names(topo, np.array(sorted(crossed), dtype=np.int64))),
            "lines": _fids(topo, lines), "points": sorted(_names(topo, inside)), "affected": affected}


def _num(value: float, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def profile(topo: Topology, start: str, end: str, network: str | None = None) -> dict[str, Any]:
    """纵断面 along the shortest path between two points.

    Returns ``{"points": [...], "segments": [...], "length_m"}``: per point its chainage (m
    from the start), ground elevation, feature, appurtenance and the top/invert elevations of
    the pipe arriving and leaving; per segment its line id, from/to points, length, diameter,
    top and invert elevations at both ends (in path order) and the slope of the invert (‰,
    positive falling along the path).
    """
    a, b = topo.node_index(start, network), topo.node_index(end, network)
    found = _shortest_path(topo, a, b)
    if found is None:
        raise NetworkError(f"points '{start}' and '{end}' are not connected: no profile")
    path, total = found
    lines = topo.line_between(path[:-1], path[1:]) if len(path) > 1 else np.zeros(0, np.int64)
    h = topo.heights
    forward = topo.line_u[lines] == path[:-1]
    top_a = np.where(forward, h["top_start"][lines], h["top_end"][lines])
    top_b = np.where(forward, h["top_end"][lines], h["top_start"][lines])
    inv_a = np.where(forward, h["invert_start"][lines], h["invert_end"][lines])
    inv_b = np.where(forward, h["invert_end"][lines], h["invert_start"][lines])
    length = topo.line_length[lines]
    chain = np.r_[0.0, np.cumsum(length)]
    width, height = topo.diameter
    segments = []
    for k, ln in enumerate(lines):
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = (inv_a[k] - inv_b[k]) / length[k] * 1000.0 if length[k] > 0 else float("nan")
        segments.append({"line": int(topo.line_fid[ln]), "from": str(topo.node_no[path[k]]),
                         "to": str(topo.node_no[path[k + 1]]), "chainage_m": _num(chain[k], 2),
                         "length_m": _num(length[k], 2), "diameter_mm": _num(width[ln], 0),
                         "height_mm": _num(height[ln], 0),
                         "top_from": _num(top_a[k]), "top_to": _num(top_b[k]),
                         "invert_from": _num(inv_a[k]), "invert_to": _num(inv_b[k]),
                         "slope_permille": _num(slope, 2)})
    points = []
    for k, node in enumerate(path):
        points.append({"point": str(topo.node_no[node]), "chainage_m": _num(chain[k], 2),
                       "ground": _num(topo.ground[node]), "feature": topo.feature[node],
                       "appurtenance": topo.appurtenance[node],
                       "top": _num(top_b[k - 1] if k > 0 else top_a[0]) if len(lines) else None,
                       "invert": _num(inv_b[k - 1] if k > 0 else inv_a[0]) if len(lines) else None})
    return {"from": start, "to": end, "length_m": round(total, 3), "points": points, "segments": segments}
