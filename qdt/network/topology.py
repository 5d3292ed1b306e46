"""Topology of a pipe delivery: nodes from point numbers, edges from lines — all in numpy/scipy.

Nodes are keyed by (network, 物探点号). A line whose start or end number is missing is joined
by its end vertex: to the nearest surveyed point of its network within ``tolerance``, else to
other unnumbered ends within ``tolerance`` (one synthetic node each cluster). Nodes are ordered
by connected component so one component is one contiguous block of the sparse matrices: an
analysis slices its component and never touches the rest of a city's network.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from qdt.network.model import PipeDelivery, _numeric, line_heights, section_size

__all__ = ["Topology", "build_topology", "DEFAULT_TOLERANCE_M"]

DEFAULT_TOLERANCE_M = 0.5  # end vertex to its point: a survey's plan accuracy is centimetres; 0.5 m flags blunders


def _flags(codelist: str, flag: str) -> set[str]:
    from qdt.cim import catalogue

    return {str(e.code) for e in catalogue().codelist(codelist).entries if e.extra.get(flag)}


@dataclass
class Topology:
    """Nodes, lines and the graph of a delivery (see the module docstring).

    Node arrays (length ``n_nodes``, component order): ``node_no`` (point number; ``~k`` for a
    position-joined end),
    ``node_network``, ``node_x``, ``node_y``, ``node_point`` (row in the point table, −1 when the
    number is not in it), ``node_comp``, ``ground``; flags ``is_valve``, ``closed``, ``inoperable``,
    ``is_hydrant``, ``is_consumer``, ``is_outfall``, ``is_terminal``. Line arrays (length
    ``n_lines``, row order of the line table): ``line_u``, ``line_v``, ``line_fid``,
    ``line_length``, ``line_network``, ``gravity``, heights from :func:`line_heights`, and
    the flow direction ``flow_down`` (True: u → v, for gravity lines) with ``flow_basis``.
    """

    delivery: PipeDelivery
    tolerance: float
    node_no: np.ndarray
    node_network: np.ndarray
    node_x: np.ndarray
    node_y: np.ndarray
    node_point: np.ndarray
    line_u: np.ndarray
    line_v: np.ndarray
    line_fid: np.ndarray
    line_length: np.ndarray
    line_network: np.ndarray
    start_snapped: np.ndarray
    end_snapped: np.ndarray
    comp_start: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    node_comp: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    seconds: float = 0.0
    line_first: np.ndarray | None = None  # (m, 2) first vertex of each line
    line_last: np.ndarray | None = None
    point_node: np.ndarray | None = None  # node of each point-table row (−1: no number)

    @property
    def n_nodes(self) -> int:
        return len(self.node_no)

    @property
    def n_lines(self) -> int:
        return len(self.line_u)

    # --- point attributes per node ------------------------------------------------------------
    def _point_values(self, column: str, default: Any = None) -> np.ndarray:
        pts = self.delivery.points
        out = np.full(self.n_nodes, default, dtype=object)
        if column in pts.columns:
            has = self.node_point >= 0
            values = pts[column].astype(object).to_numpy()
            out[has] = values[self.node_point[has]]
            out[pd.isna(out)] = default
        return out

    @cached_property
    def feature(self) -> np.ndarray:
        return self._point_values("feature")

    @cached_property
    def appurtenance(self) -> np.ndarray:
        return self._point_values("appurtenance")

    @cached_property
    def is_valve(self) -> np.ndarray:
        return _isin(self.appurtenance, _flags("pipe_appurtenance", "valve"))

    @cached_property
    def closed(self) -> np.ndarray:
        return self.is_valve & _isin(self._point_values("valve_status"), {"closed"})

    @cached_property
    def inoperable(self) -> np.ndarray:
        op = self._point_values("operable")
        return self.is_valve & np.array([v is False or v is np.False_ for v in op], dtype=bool)

    @cached_property
    def is_hydrant(self) -> np.ndarray:
        return _isin(self.appurtenance, _flags("pipe_appurtenance", "hydrant"))

    @cached_property
    def is_consumer(self) -> np.ndarray:
        return (_isin(self.appurtenance, _flags("pipe_appurtenance", "consumer"))
                | _isin(self.feature, _flags("pipe_point_feature", "consumer")))

    @cached_property
    def is_outfall(self) -> np.ndarray:
        return _isin(self.appurtenance, _flags("pipe_appurtenance", "outfall"))

    @cached_property
    def is_terminal(self) -> np.ndarray:
        return (_isin(self.appurtenance, _flags("pipe_appurtenance", "terminal"))
                | _isin(self.feature, _flags("pipe_point_feature", "terminal")))

    @cached_property
    def ground(self) -> np.ndarray:
        """Ground elevation per node: the point's 地面高程, else the DEM, else NaN."""
        g = np.full(self.n_nodes, np.nan)
        if "ground_elev" in self.delivery.points.columns:
            has = self.node_point >= 0
            values = _numeric(self.delivery.points, "ground_elev")
            g[has] = values[self.node_point[has]]
        dem = self.delivery.dem
        if dem is not None and np.isnan(g).any():
            miss = np.isnan(g)
            g[miss] = dem.sample(self.node_x[miss], self.node_y[miss])
        return g

    @cached_property
    def heights(self) -> dict[str, np.ndarray]:
        return line_heights(self.delivery.lines, self.ground[self.line_u], self.ground[self.line_v])

    @cached_property
    def diameter(self) -> tuple[np.ndarray, np.ndarray]:
        return section_size(self.delivery.lines)

    @cached_property
    def gravity(self) -> np.ndarray:
        from qdt.cim import pipe_networks

        grav = {code for code, n in pipe_networks().items() if n.gravity}
        return _isin(self.line_network, grav)

    # --- graphs --------------------------------------------------------------------------------
    @cached_property
    def incidence(self) -> sparse.csr_matrix:
        """Node × line incidence (1 where the node is an end of the line)."""
        n, m = self.n_nodes, self.n_lines
        rows = np.r_[self.line_u, self.line_v]
        cols = np.r_[np.arange(m), np.arange(m)]
        return sparse.csr_matrix((np.ones(2 * m, dtype=np.int8), (rows, cols)), shape=(n, m))

    @cached_property
    def pair_lines(self) -> tuple[np.ndarray, np.ndarray]:
        """(sorted pair key, line) of the shortest line between each node pair (parallel lines: the shorter)."""
        u, v = np.minimum(self.line_u, self.line_v), np.maximum(self.line_u, self.line_v)
        key = u.astype(np.int64) * self.n_nodes + v
        order = np.lexsort((self.line_length, key))
        key_sorted = key[order]
        first = np.r_[True, key_sorted[1:] != key_sorted[:-1]] if len(key) else np.zeros(0, bool)
        return key_sorted[first], order[first]

    @cached_property
    def weighted(self) -> sparse.csr_matrix:
        """Symmetric node adjacency weighted by the shortest line length (lengths ≥ 1 mm)."""
        key, line = self.pair_lines
        u, v = key // max(self.n_nodes, 1), key % max(self.n_nodes, 1)
        w = np.maximum(self.line_length[line], 1e-3)
        keep = u != v
        u, v, w = u[keep], v[keep], w[keep]
        return sparse.csr_matrix((np.r_[w, w], (np.r_[u, v], np.r_[v, u])), shape=(self.n_nodes,) * 2)

    def line_between(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The shortest line joining each node pair (a[i], b[i])."""
        key, line = self.pair_lines
        q = np.minimum(a, b).astype(np.int64) * self.n_nodes + np.maximum(a, b)
        return line[np.searchsorted(key, q)]

    def component_range(self, node: int) -> tuple[int, int]:
        c = int(self.node_comp[node])
        return int(self.comp_start[c]), int(self.comp_start[c + 1])

    @cached_property
    def n_components(self) -> int:
        return len(self.comp_start) - 1

    @cached_property
    def flow(self) -> tuple[np.ndarray, np.ndarray]:
        """(flow_down, basis) per line for gravity networks.

        ``flow_down`` True means water runs from ``line_u`` to ``line_v``. ``basis``: "field"
        (the surveyed 流向), "outfall" (toward the nearest outfall along the network, where the
        component has one) or "invert" (from the higher invert to the lower; ties start → end).
        """
        m = self.n_lines
        down = np.ones(m, dtype=bool)
        basis = np.full(m, "invert", dtype=object)
        h = self.heights
        inv_u, inv_v = h["invert_start"], h["invert_end"]
        by_invert = ~(inv_v > inv_u + 1e-9)  # tie or falling → u→v
        down[:] = by_invert
        outfalls = np.flatnonzero(self.is_outfall)
        if outfalls.size:
            dist = csgraph.dijkstra(self.weighted, directed=False, indices=outfalls, min_only=True)
            du, dv = dist[self.line_u], dist[self.line_v]
            known = np.isfinite(du) & np.isfinite(dv) & (du != dv)
            down = np.where(known, du > dv, down)
            basis[known] = "outfall"
        if "flow" in self.delivery.lines.columns:
            code = _numeric(self.delivery.lines, "flow")
            given = (code == 1) | (code == 2)
            down = np.where(given, code == 1, down)
            basis[given] = "field"
        return down, basis

    @cached_property
    def _number_index(self) -> pd.Index:
        return pd.Index(self.node_no)

    def node_index(self, point_no: str, network: str | None = None) -> int:
        """The node of a point number (in ``network`` when given); raises NetworkError naming it."""
        from qdt.network.model import NetworkError

        text = str(point_no).strip()
        hits = self._number_index.get_indexer_for([text])
        hits = hits[hits >= 0]
        if network is not None:
            from qdt.cim import network_code

            hits = hits[self.node_network[hits] == network_code(network)]
        if hits.size == 0:
            where = f" in network {network}" if network else ""
            raise NetworkError(f"no survey point '{text}'{where} in the delivery")
        if hits.size > 1:
            nets = ", ".join(sorted(set(self.node_network[hits].astype(str))))
            raise NetworkError(f"point number '{text}' is used in several networks ({nets}): give --network")
        return int(hits[0])

    def line_index(self, fid: Any) -> int:
        from qdt.network.model import NetworkError

        try:
            f = int(fid)
        except (TypeError, ValueError):
            raise NetworkError(f"line id {fid!r} is not a feature id of the line table") from None
        hits = np.flatnonzero(self.line_fid == f)
        if hits.size == 0:
            raise NetworkError(f"no line with feature id {f} in the line table")
        return int(hits[0])


def _isin(values: np.ndarray, codes: set[str]) -> np.ndarray:
    """Elementwise membership of an object array in a set of codes (hashing, no conversion to str)."""
    return pd.Series(values, dtype=object).isin(list(codes)).to_numpy()


def _text(values: Any) -> np.ndarray:
    """Object array of str, "" where missing (pandas' str dtype keeps NaN through astype(str))."""
    s = pd.Series(values, dtype=object)
    out = s.map(str).to_numpy(dtype=object)
    out[s.isna().to_numpy()] = ""
    return out


def _ends(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last vertex (x, y) of each line (NaN for empty geometries)."""
    n = len(geoms)
    first, last = np.full((n, 2), np.nan), np.full((n, 2), np.nan)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if ok.any():
        coords, idx = shapely.get_coordinates(geoms[ok], return_index=True)
        starts = np.r_[0, np.flatnonzero(np.diff(idx)) + 1]
        ends = np.r_[starts[1:] - 1, len(idx) - 1]
        rows = np.flatnonzero(ok)
        first[rows[idx[starts]]] = coords[starts]
        last[rows[idx[ends]]] = coords[ends]
    return first, last


def _network_ids(values: Any, names: dict[str, int]) -> np.ndarray:
    """Small integer per network code (labels and sub-types resolved once per distinct value); −1 unknown."""
    from qdt.cim import network_code

    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    ids = np.array([names.setdefault(network_code(v), len(names)) for v in uniques], dtype=np.int64)
    return np.where(codes >= 0, ids[np.maximum(codes, 0)] if len(ids) else -1, -1)


def build_topology(delivery: PipeDelivery, tolerance: float = DEFAULT_TOLERANCE_M) -> Topology:
    """Nodes and edges of a delivery (see the module docstring); vectorised, no loop over features.

    Keys are integers: (network id, point-number id) with the numbers factorised as text, so
    "00012" and "12" stay two points.
    """
    started = time.perf_counter()
    pts, lns = delivery.points, delivery.lines
    m, npts = len(lns), len(pts)
    names: dict[str, int] = {}
    line_net = _network_ids(lns["network"].to_numpy(dtype=object), names)
    point_net = _network_ids(pts["network"].to_numpy(dtype=object), names) if npts else np.zeros(0, np.int64)
    numbers = np.r_[pts["point_no"].astype(object).to_numpy(dtype=object),
                    lns["start_point"].astype(object).to_numpy(dtype=object),
                    lns["end_point"].astype(object).to_numpy(dtype=object)]
    no_id, no_text = pd.factorize(pd.Series(numbers, dtype=object), use_na_sentinel=True)
    no_text = np.asarray(no_text, dtype=object)
    p_no, s_no, e_no = no_id[:npts], no_id[npts:npts + m], no_id[npts + m:]
    # points without a network take the network of a line that names them
    if npts and (point_net < 0).any():
        named = pd.Series(np.r_[line_net, line_net], index=np.r_[s_no, e_no])
        named = named[(named.index >= 0) & (named.to_numpy() >= 0)]
        named = named[~named.index.duplicated()]
        miss = point_net < 0
        point_net = point_net.copy()
        point_net[miss] = named.reindex(p_no[miss]).fillna(-1).to_numpy(dtype=np.int64)
    n_no = len(no_text)
    pxy = np.column_stack([shapely.get_x(pts.geometry.to_numpy()), shapely.get_y(pts.geometry.to_numpy())]) \
        if npts else np.zeros((0, 2))
    first, last = _ends(lns.geometry.to_numpy())
    start_snapped, end_snapped = s_no < 0, e_no < 0
    # unnumbered ends: the nearest point of the same network within the tolerance, else clusters of ends
    end_no = np.r_[s_no, e_no]
    end_xy = np.r_[first, last]
    end_net = np.r_[line_net, line_net]
    todo = np.flatnonzero((end_no < 0) & np.isfinite(end_xy).all(axis=1))
    if todo.size:
        valid = np.flatnonzero((p_no >= 0) & np.isfinite(pxy).all(axis=1))
        if valid.size:
            dist, idx = cKDTree(pxy[valid]).query(end_xy[todo], distance_upper_bound=tolerance)
            cand = valid[np.minimum(idx, valid.size - 1)]
            found = np.isfinite(dist) & (point_net[cand] == end_net[todo])
            end_no[todo[found]] = p_no[cand[found]]
            todo = todo[~found]
        if todo.size:
            pairs = cKDTree(end_xy[todo]).query_pairs(tolerance, output_type="ndarray")
            if len(pairs):
                pairs = pairs[end_net[todo][pairs[:, 0]] == end_net[todo][pairs[:, 1]]]
            g = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])) if len(pairs) else
                                  (np.zeros(0), (np.zeros(0, np.int64), np.zeros(0, np.int64))), shape=(todo.size,) * 2)
            _, label = csgraph.connected_components(g, directed=False)
            end_no[todo] = n_no + label  # synthetic numbers "~n"
    lone = np.flatnonzero(end_no < 0)  # an end without a number nor a position
    end_no[lone] = n_no + todo.size + np.arange(lone.size)
    n_ids = n_no + todo.size + lone.size + 1
    s_no, e_no = end_no[:m], end_no[m:]

    # nodes: every numbered point and every (network, number) a line uses
    n_nets = max(len(names), 1) + 1
    p_key = np.where(p_no >= 0, (point_net + 1) * n_ids + p_no, -1)
    s_key, e_key = (line_net + 1) * n_ids + s_no, (line_net + 1) * n_ids + e_no
    keys, inverse = np.unique(np.r_[p_key[p_key >= 0], s_key, e_key], return_inverse=True)
    del n_nets
    n = len(keys)
    has_p = np.flatnonzero(p_key >= 0)
    p_node = inverse[:has_p.size]
    u, v = inverse[has_p.size:has_p.size + m], inverse[has_p.size + m:]
    node_point = np.full(n, -1, dtype=np.int64)
    node_point[p_node[::-1]] = has_p[::-1]  # the first row wins for a duplicate number (the check reports it)
    node_x, node_y = np.full(n, np.nan), np.full(n, np.nan)
    hp = node_point >= 0
    node_x[hp], node_y[hp] = pxy[node_point[hp], 0], pxy[node_point[hp], 1]
    for nodes, xy in ((u, first), (v, last)):  # nodes the point table lacks sit at the line ends
        fill = np.isnan(node_x[nodes])
        node_x[nodes[fill]], node_y[nodes[fill]] = xy[fill, 0], xy[fill, 1]
    net_of, no_of = keys // n_ids - 1, keys % n_ids
    net_names = np.array(sorted(names, key=names.get) + [""], dtype=object)
    node_network = net_names[net_of]
    text = np.empty(n, dtype=object)
    real = no_of < n_no
    text[real] = no_text[no_of[real]]
    text[~real] = pd.Series(no_of[~real] - n_no).map(lambda k: f"~{k}").to_numpy(dtype=object)
    line_network = net_names[line_net]

    # components: reorder nodes so each component is one contiguous block
    adj = sparse.coo_matrix((np.ones(m), (u, v)), shape=(n, n))
    n_comp, label = csgraph.connected_components(adj, directed=False)
    perm = np.argsort(label, kind="stable")  # new → old
    inv = np.empty(n, dtype=np.int64)
    inv[perm] = np.arange(n)
    comp_sorted = label[perm]
    comp_start = np.searchsorted(comp_sorted, np.arange(n_comp + 1))
    length = shapely.length(lns.geometry.to_numpy())
    fallback = np.hypot(node_x[u] - node_x[v], node_y[u] - node_y[v])
    length = np.where(np.isfinite(length) & (length > 0), length, fallback)
    topo = Topology(delivery=delivery, tolerance=tolerance, node_no=text[perm],
                    node_network=node_network[perm], node_x=node_x[perm], node_y=node_y[perm],
                    node_point=node_point[perm], line_u=inv[u], line_v=inv[v],
                    line_fid=lns.index.to_numpy(dtype=np.int64), line_length=np.nan_to_num(length),
                    line_network=line_network, start_snapped=start_snapped, end_snapped=end_snapped,
                    comp_start=comp_start, node_comp=comp_sorted)
    topo.line_first, topo.line_last = first, last
    point_node = np.full(npts, -1, dtype=np.int64)
    point_node[has_p] = inv[p_node]
    topo.point_node = point_node
    topo.seconds = time.perf_counter() - started
    return topo
