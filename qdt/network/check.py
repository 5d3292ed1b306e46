"""Survey checks of a delivery (管线数据检查): each finding names the points/lines and the rule.

Rules (``rule`` in a finding):

- ``end_off_point`` — a line's end vertex is farther than the tolerance from the point it names;
- ``missing_point`` — a line names a point number the point table does not have;
- ``unnumbered_end`` — a line end without a point number (joined by snapping, see topology);
- ``duplicate_point`` — a point number used by more than one row of the point table;
- ``dangling_end`` — a point where only one line ends and which has no terminal feature
  (预留口, 出地, 进户, 非普查, 堵头, 出水口, 消防栓 … — the code lists' ``terminal`` flag);
- ``components`` — a network falls into several separate parts (one finding per part but the largest);
- ``reverse_slope`` — a gravity line whose invert rises in the flow direction (the flow from the
  surveyed 流向 or toward the outfall; a direction derived from the inverts themselves cannot be judged);
- ``depth_outlier`` / ``diameter_outlier`` — values outside the catalogue's range, a depth
  beyond five times the network's deepest typical depth, or a diameter jump by a factor of 3
  or more at a straight point that is not a 变径 (reducer);
- ``shallow_cover`` — cover (ground to the outer top) shallower than GB 50289-2016 Table 4.1.1
  (``qdt/cim/data/min_cover.csv``, with its source and verified flag).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from qdt.network.model import _numeric
from qdt.network.topology import Topology

__all__ = ["RULES", "check"]

RULES = {
    "end_off_point": "线端点与所注点号的管点位置不符",
    "missing_point": "点号在管点表中不存在",
    "unnumbered_end": "线端未注点号（按位置捕捉）",
    "duplicate_point": "物探点号重复",
    "dangling_end": "悬挂端点无终端特征",
    "components": "管网不连通（孤立部分）",
    "reverse_slope": "重力管线逆坡",
    "depth_outlier": "埋深异常",
    "diameter_outlier": "管径异常",
    "shallow_cover": "覆土深度小于最小覆土",
}
DEPTH_FACTOR = 5.0  # a depth beyond 5 × the deepest typical depth is a blunder (a slipped decimal), not a deep sewer
DIAMETER_JUMP = 3.0  # a diameter that changes by ×3 at a straight point (not a 变径) is suspicious
SLOPE_TOLERANCE_M = 0.005  # inverts are surveyed to centimetres: a rise under 5 mm is not a reverse slope


def _finding(rule: str, points: list[str], lines: list[int], message: str, network: str = "",
             source: str = "", verified: bool | None = None, **extra: Any) -> dict[str, Any]:
    out = {"rule": rule, "rule_zh": RULES[rule], "network": network, "points": points, "lines": lines,
           "message": message}
    if source:
        out["source"] = source
        out["verified"] = verified
    out.update(extra)
    return out


def check(topo: Topology, network: str | None = None, limit_components: int = 50) -> dict[str, Any]:
    """Run every rule; returns ``{"counts": {rule: n}, "findings": [...], "networks", "seconds"}``."""
    from qdt.cim import catalogue, minimum_cover, network_code, pipe_networks

    started = time.perf_counter()
    net = network_code(network) if network else None
    lines_df = topo.delivery.lines
    m = topo.n_lines
    in_net = np.ones(m, dtype=bool) if net is None else topo.line_network == net
    node_in = np.ones(topo.n_nodes, dtype=bool) if net is None else topo.node_network == net
    fid = topo.line_fid
    findings: list[dict[str, Any]] = []
    no = topo.node_no

    # ends far from their named points
    for end, xy, nodes, snapped in (("start", topo.line_first, topo.line_u, topo.start_snapped),
                                    ("end", topo.line_last, topo.line_v, topo.end_snapped)):
        d = np.hypot(xy[:, 0] - topo.node_x[nodes], xy[:, 1] - topo.node_y[nodes])
        bad = np.flatnonzero(in_net & (topo.node_point[nodes] >= 0) & ~snapped & (d > topo.tolerance))
        for i in bad:
            findings.append(_finding("end_off_point", [str(no[nodes[i]])], [int(fid[i])],
                                     f"line {fid[i]}: its {end} vertex is {d[i]:.2f} m from point {no[nodes[i]]} "
                                     f"(tolerance {topo.tolerance:g} m)", str(topo.line_network[i]),
                                     distance_m=round(float(d[i]), 3)))
        named_missing = np.flatnonzero(in_net & (topo.node_point[nodes] < 0) & ~snapped)
        for i in named_missing:
            findings.append(_finding("missing_point", [str(no[nodes[i]])], [int(fid[i])],
                                     f"line {fid[i]} names {end} point {no[nodes[i]]}, which is not in the point table",
                                     str(topo.line_network[i])))
        for i in np.flatnonzero(in_net & snapped):
            findings.append(_finding("unnumbered_end", [], [int(fid[i])],
                                     f"line {fid[i]} has no {end} point number; joined by position",
                                     str(topo.line_network[i])))

    # duplicate point numbers: rows whose (network, number) node stands for another row
    pts_df = topo.delivery.points
    pn = topo.point_node
    dup_rows = np.flatnonzero((pn >= 0) & (topo.node_point[np.maximum(pn, 0)] != np.arange(len(pn))))
    if net is not None:
        dup_rows = dup_rows[topo.node_network[pn[dup_rows]] == net]
    for node in np.unique(pn[dup_rows]):
        rows = np.r_[topo.node_point[node], dup_rows[pn[dup_rows] == node]]
        findings.append(_finding("duplicate_point", [str(no[node])], [],
                                 f"point number {no[node]} is used by {len(rows)} points", str(topo.node_network[node]),
                                 rows=[int(r) for r in pts_df.index.to_numpy()[rows]]))

    # dangling ends
    degree = np.bincount(np.r_[topo.line_u, topo.line_v], minlength=topo.n_nodes)
    dangling = np.flatnonzero(node_in & (degree == 1) & ~topo.is_terminal)
    line_of_end = np.full(topo.n_nodes, -1, dtype=np.int64)
    line_of_end[topo.line_u] = np.arange(m)
    line_of_end[topo.line_v] = np.arange(m)
    for n_ in dangling:
        ln = line_of_end[n_]
        findings.append(_finding("dangling_end", [str(no[n_])], [int(fid[ln])],
                                 f"point {no[n_]} ends line {fid[ln]} but has no terminal feature "
                                 "(预留口, 出地, 进户, 非普查, 堵头 or an end appurtenance)",
                                 str(topo.node_network[n_])))

    # separate components per network (the largest part of each network is the network)
    comp_of_line = topo.node_comp[topo.line_u]
    # systems of one network (雨水 and 污水, 供电 and 路灯 cables) are apart by design: parts per sub-type
    system = topo.line_network.astype(object)
    if "subtype" in lines_df.columns:
        sub_text = lines_df["subtype"].astype(object).to_numpy()
        has_sub = ~pd.isna(sub_text)
        system = np.where(has_sub, system + "/" + np.where(has_sub, sub_text, "").astype(str), system)
    frame = pd.DataFrame({"net": system, "comp": comp_of_line, "len": topo.line_length})[in_net]
    sizes = frame.groupby(["net", "comp"], sort=False)["len"].agg(["sum", "size"]).reset_index()
    n_parts: dict[str, int] = {}
    for code, group in sizes.groupby("net"):
        n_parts[str(code)] = len(group)
        if len(group) < 2:
            continue
        group = group.sort_values("sum", ascending=False)
        for row in group.iloc[1:limit_components + 1].itertuples():
            lo, hi = topo.comp_start[row.comp], topo.comp_start[row.comp + 1]
            members = np.flatnonzero(comp_of_line == row.comp)
            findings.append(_finding("components", sorted(str(v) for v in no[lo:hi][:20]),
                                     [int(v) for v in np.sort(fid[members])[:20]],
                                     f"{code}: a separate part of {int(row.size)} lines ({row.sum:.0f} m) is not "
                                     f"connected to the rest of the network", str(code).split("/")[0], system=str(code),
                                     part_lines=int(row.size), part_length_m=round(float(row.sum), 1)))

    # reverse slopes of gravity lines
    down, basis = topo.flow
    h = topo.heights
    inv_up = np.where(down, h["invert_start"], h["invert_end"])
    inv_dn = np.where(down, h["invert_end"], h["invert_start"])
    judged = in_net & topo.gravity & (basis != "invert")
    rev = np.flatnonzero(judged & (inv_dn > inv_up + SLOPE_TOLERANCE_M))
    up_node = np.where(down, topo.line_u, topo.line_v)
    dn_node = np.where(down, topo.line_v, topo.line_u)
    for i in rev:
        findings.append(_finding("reverse_slope", [str(no[up_node[i]]), str(no[dn_node[i]])], [int(fid[i])],
                                 f"line {fid[i]}: the invert rises {inv_dn[i] - inv_up[i]:.3f} m from {no[up_node[i]]} "
                                 f"to {no[dn_node[i]]} in the flow direction ({basis[i]})", str(topo.line_network[i]),
                                 rise_m=round(float(inv_dn[i] - inv_up[i]), 3), flow_basis=str(basis[i])))

    # depth and diameter outliers
    cls = catalogue().feature_class("pipe")
    nets = pipe_networks()
    limit = {c: DEPTH_FACTOR * n.typical_depth_m[1] for c, n in nets.items() if n.typical_depth_m}
    deepest = pd.Series(topo.line_network, dtype=object).map(limit).fillna(np.inf).to_numpy(dtype=float)
    dmax = cls.field("depth_start").max or 50
    for end in ("start", "end"):
        depth = _numeric(lines_df, f"depth_{end}")
        bad = np.flatnonzero(in_net & np.isfinite(depth) & ((depth <= 0) | (depth > np.minimum(deepest, dmax))))
        for i in bad:
            findings.append(_finding("depth_outlier", [], [int(fid[i])],
                                     f"line {fid[i]}: depth at the {end} {depth[i]:g} m is outside (0, "
                                     f"{min(deepest[i], dmax):g}] m", str(topo.line_network[i])))
    width, _ = topo.diameter
    fd = cls.field("diameter_mm")
    bad = np.flatnonzero(in_net & np.isfinite(width) & ((width < (fd.min or 0)) | (width > (fd.max or np.inf))))
    for i in bad:
        findings.append(_finding("diameter_outlier", [], [int(fid[i])],
                                 f"line {fid[i]}: size {width[i]:g} mm is outside {fd.min:g}–{fd.max:g} mm",
                                 str(topo.line_network[i])))
    two = np.flatnonzero((degree == 2) & node_in & (topo.feature != "reducer"))
    if two.size:
        inc = topo.incidence[two]
        pairs = inc.indices.reshape(-1, 2) if inc.nnz == 2 * two.size else None
        if pairs is not None:
            wa, wb = width[pairs[:, 0]], width[pairs[:, 1]]
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.maximum(wa, wb) / np.minimum(wa, wb)
            for k in np.flatnonzero(ratio >= DIAMETER_JUMP):
                findings.append(_finding("diameter_outlier", [str(no[two[k]])],
                                         [int(fid[pairs[k, 0]]), int(fid[pairs[k, 1]])],
                                         f"at point {no[two[k]]} the size jumps from {wa[k]:g} to {wb[k]:g} mm "
                                         f"without a reducer (变径)", str(topo.node_network[two[k]])))

    # cover against GB 50289-2016 Table 4.1.1
    sub = lines_df["subtype"].astype(object).to_numpy() if "subtype" in lines_df.columns else np.full(m, None)
    burial = lines_df["burial"].astype(object).to_numpy() if "burial" in lines_df.columns else np.full(m, None)
    position = lines_df["position"].astype(object).to_numpy() if "position" in lines_df.columns else np.full(m, None)
    keys = pd.DataFrame({"n": topo.line_network, "s": sub, "b": burial, "p": position}).astype(object)
    keys = keys.where(keys.notna(), None)
    codes = [pd.factorize(keys[c], use_na_sentinel=False)[0].astype(np.int64) for c in keys.columns]
    combined = codes[0]
    for c in codes[1:]:
        combined = combined * (int(c.max(initial=0)) + 1) + c
    _, first_index, key_id = np.unique(combined, return_index=True, return_inverse=True)
    key_id = key_id.ravel()
    first_row = pd.Series(first_index, index=np.arange(len(first_index)))
    need = np.full(key_id.max() + 1 if m else 0, np.nan)
    rules: dict[int, Any] = {}
    for k, row in first_row.items():
        r = keys.iloc[row]
        rule = minimum_cover(r["n"], r["s"], r["b"], r["p"])
        if rule is not None:
            need[k] = rule.min_m
            rules[k] = rule
    req = need[key_id] if m else np.zeros(0)
    cover = np.fmin(h["cover_start"], h["cover_end"])
    shallow = np.flatnonzero(in_net & np.isfinite(req) & np.isfinite(cover) & (cover < req - 1e-9))
    for i in shallow:
        rule = rules[int(key_id[i])]
        findings.append(_finding("shallow_cover", [], [int(fid[i])],
                                 f"line {fid[i]}: cover {cover[i]:.2f} m is below the minimum {rule.min_m:.2f} m "
                                 f"({rule.note})", str(topo.line_network[i]), source=rule.citation,
                                 verified=rule.verified, cover_m=round(float(cover[i]), 3), required_m=rule.min_m))

    counts = {rule: 0 for rule in RULES}
    for f in findings:
        counts[f["rule"]] += 1
    return {"networks": sorted(set(topo.line_network[in_net].astype(str))), "lines": int(in_net.sum()),
            "points": int(node_in.sum()), "components": n_parts, "tolerance_m": topo.tolerance,
            "counts": counts, "findings": findings, "seconds": round(time.perf_counter() - started, 4)}
