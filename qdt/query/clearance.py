"""Pipe clearance check: where do two pipes come closer than GB 50289-2016 asks?

The minimum clear distances are data (``qdt/cim/data/clearances.csv``, read through
:func:`qdt.cim.required_clearance`): horizontal ones from Table 4.1.9, vertical ones (at
crossings) from Table 4.1.14. A pair below its minimum is reported as "below the
standard's minimum" — Table 4.1.9 is a recommended clause that allows smaller distances
with protective measures, so nothing here calls a pipe illegal.

How a pair is judged
--------------------
Pipes are cut into straight segments (a pipe feature's depths are interpolated along
it). Candidate pairs come from one STRtree query over all segments with their bounding boxes
grown by a per-segment search distance — its own half-width + the largest horizontal
minimum among the networks present + the largest half-width — so every pair that could
be too close is found. Pairs of the same feature, and of networks (with their
attributes) for which the table has no rule, are dropped. Then, for each pair at once
(numpy), the closest points of the two segments in plan, the angle between them and the
length over which they run side by side are computed:

- **alongside** — the segments are roughly parallel (at most ``parallel_angle``, 20° by
  default) and overlap when projected onto each other: the **horizontal** clear distance
  is the 2D distance between the centrelines minus both half-widths (outer wall to outer
  wall) and is compared with Table 4.1.9;
- **crossing** — the segments intersect in plan at a larger angle (pipes that merely meet
  end to end are a connection, not a crossing): the **vertical** clear distance at the
  crossing point is the gap between the bottom of the upper pipe and the top of the lower
  one, compared with Table 4.1.14;
- anything else (oblique pipes that pass near each other without crossing) has no rule
  in the standard and is not judged.

Heights: ``depth_start``/``depth_end`` are burial depths from the ground to the pipe's top
at the feature's first and last vertex (CJJ 61-2017 survey convention). With a DEM, the
top's elevation at each end is ground minus depth and the pipe runs straight between them
(the elevation is interpolated along the pipe); without a DEM, or where the DEM has no
value at an end of either pipe, the ground is taken as flat and the depth itself is
interpolated. The half-height is half the diameter (``diameter_mm``) or, for box sections,
half of ``height_mm`` (half of ``width_mm`` horizontally).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely

__all__ = ["COLUMNS", "DISPLAY_COLUMNS", "ClearanceError", "ClearanceReport", "check_clearances", "display_frame"]

# Segments whose directions differ by at most this run "alongside" (horizontal rule).
PARALLEL_ANGLE_DEG = 20.0
# Closer than this in plan, two segments cross (metres; coordinates are ~1e6, doubles keep ~1e-9).
CROSSING_TOLERANCE_M = 1e-6
# Two alongside segments must overlap by more than this when projected onto each other.
OVERLAP_TOLERANCE_M = 1e-6

COLUMNS = ["fid_a", "fid_b", "network_a", "network_b", "network_a_name", "network_b_name", "kind", "kind_zh",
           "measured_m", "required_m", "shortfall_m", "segment_pairs", "run_length_m", "citation", "verified",
           "rule_note", "x", "y", "depth_a", "depth_b", "fids_a", "fids_b", "message", "message_zh"]


class ClearanceError(ValueError):
    """The pipes layer lacks what the check needs (a field, line geometry); one line naming the layer."""


@dataclass
class ClearanceReport:
    """Result of :func:`check_clearances`.

    Attributes
    ----------
    layer
        Name of the pipes layer.
    violations
        One row per run below the minimum — consecutive segment pairs of one parallel run
        (or one crossing) are one finding — at its worst place, columns :data:`COLUMNS`:
        the worst pair's fids, networks as codes and names, ``kind`` ("horizontal" or
        "vertical") and ``kind_zh`` (水平/垂直), ``measured_m`` (clear distance, negative when
        the pipes overlap), ``required_m``, ``shortfall_m``, ``segment_pairs`` and
        ``run_length_m`` (the run's side-by-side length), ``citation`` (standard and table),
        ``verified`` (whether that value was checked against the standard's text),
        ``rule_note``, the location ``x``, ``y`` (project CRS), the depths to each pipe's top
        there, the features of each side (``fids_a``, ``fids_b``) and one-line messages in
        English and Chinese.
    segments, candidate_pairs, horizontal_checked, vertical_checked, crossings_without_depth
        What was examined (crossings without known depths cannot be judged vertically).
    ground
        ``"dem"`` when a DEM gave the ground heights, else ``"flat"``.
    unchecked
        Pairs that run alongside or cross but that no rule covers, per pair of networks and
        kind: ``{"kind", "kind_zh", "networks", "names", "names_en", "pairs", "reason", "reason_zh"}`` — 再生水 (its own
        row in GB 50289, none in QDT's table yet), gas above 1.6 MPa (outside Table 4.1.9) and
        pairs the table has no row for are counted here, never dropped silently.
    seconds
        Run time.
    """

    layer: str
    violations: pd.DataFrame
    segments: int = 0
    candidate_pairs: int = 0
    horizontal_checked: int = 0
    vertical_checked: int = 0
    crossings_without_depth: int = 0
    ground: str = "flat"
    seconds: float = 0.0
    unchecked: list = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.unchecked is None:
            self.unchecked = []

    @property
    def count(self) -> int:
        return int(len(self.violations))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: layer, count, what was checked, and the violations as records."""
        records = []
        for row in self.violations.to_dict("records"):
            records.append({k: (None if isinstance(v, float) and math.isnan(v) else
                                v.item() if hasattr(v, "item") else v) for k, v in row.items()})
        return {"layer": self.layer, "count": self.count, "ground": self.ground,
                "checked": {"segments": self.segments, "candidate_pairs": self.candidate_pairs,
                            "horizontal": self.horizontal_checked, "vertical": self.vertical_checked,
                            "crossings_without_depth": self.crossings_without_depth},
                "unchecked": self.unchecked, "violations": records}


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _text(frame: pd.DataFrame, column: str) -> np.ndarray:
    values = frame[column].astype(object).to_numpy()
    missing = pd.isna(frame[column]).to_numpy()
    out = values.copy()
    out[missing] = None
    return out


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})


def _explode(geoms: np.ndarray) -> dict[str, np.ndarray]:
    """Straight segments of line features: ends, owning row, and the ends' fractions along the feature."""
    rows = np.flatnonzero(np.isin(shapely.get_type_id(geoms), (1, 5)) & ~shapely.is_empty(geoms))
    parts, part_row = shapely.get_parts(geoms[rows], return_index=True)
    coords, coord_part = shapely.get_coordinates(parts, return_index=True)
    start = np.flatnonzero(coord_part[:-1] == coord_part[1:])
    x0, y0 = coords[start, 0], coords[start, 1]
    x1, y1 = coords[start + 1, 0], coords[start + 1, 1]
    row = rows[part_row[coord_part[start]]]
    length = np.hypot(x1 - x0, y1 - y0)
    # fractions of the feature's length at each segment end (parts taken in order)
    cum = np.cumsum(length)
    first = np.r_[0, np.flatnonzero(np.diff(row)) + 1] if len(row) else np.empty(0, dtype=np.int64)
    counts = np.diff(np.r_[first, len(row)])
    offset = np.repeat((cum - length)[first], counts)
    total = np.repeat(np.add.reduceat(length, first) if len(first) else np.empty(0), counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        t0 = np.where(total > 0, (cum - length - offset) / total, 0.0)
        t1 = np.where(total > 0, (cum - offset) / total, 1.0)
    keep = length > 0
    return {"x0": x0[keep], "y0": y0[keep], "x1": x1[keep], "y1": y1[keep], "row": row[keep],
            "t0": t0[keep], "t1": t1[keep]}


def _feature_ends(seg: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """First and last vertex of each feature (NaN for rows without segments)."""
    xs, ys, xe, ye = (np.full(n, np.nan) for _ in range(4))
    row = seg["row"]
    # segments are in feature order: the first segment of a row sets the start, the last one the end
    first = np.r_[True, row[1:] != row[:-1]] if len(row) else np.empty(0, dtype=bool)
    last = np.r_[row[1:] != row[:-1], True] if len(row) else np.empty(0, dtype=bool)
    xs[row[first]], ys[row[first]] = seg["x0"][first], seg["y0"][first]
    xe[row[last]], ye[row[last]] = seg["x1"][last], seg["y1"][last]
    return xs, ys, xe, ye


def _rules_for_keys(key_frame: pd.DataFrame, pair_keys: np.ndarray, kind: str
                    ) -> tuple[np.ndarray, list[Any]]:
    """Required distance per distinct pair of attribute keys (NaN where the table has no rule), and the rules.

    The loop runs over distinct combinations of network and rule attributes (a few dozen),
    never over pipes.
    """
    from qdt.cim import required_clearance

    required = np.full(len(pair_keys), np.nan)
    rules: list[Any] = [None] * len(pair_keys)
    records = key_frame.to_dict("records")
    for n, (ka, kb) in enumerate(pair_keys):
        attrs_a = {k: v for k, v in records[ka].items() if k != "network" and not _missing(v)}
        attrs_b = {k: v for k, v in records[kb].items() if k != "network" and not _missing(v)}
        if {records[ka]["network"], records[kb]["network"]} & {RECLAIMED, HIGH_GAS}:
            continue  # its own row (再生水) or outside the table (gas above 1.6 MPa): reported as unchecked
        rule = required_clearance(records[ka]["network"], records[kb]["network"], kind, attrs_a=attrs_a,
                                  attrs_b=attrs_b)
        if rule is not None:
            required[n] = rule.min_m
            rules[n] = rule
    return required, rules


def _invert_referenced(network: np.ndarray) -> np.ndarray:
    """True where the network is surveyed by invert depth (``depth_reference`` in pipe_networks.json)."""
    from qdt.cim import network_code, pipe_networks

    invert = {code for code, net in pipe_networks().items() if net.depth_reference == "invert"}
    return np.array([v is not None and network_code(v) in invert for v in network], dtype=bool)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def check_clearances(pipes: Any, dem: Any = None, *, parallel_angle: float = PARALLEL_ANGLE_DEG,
                     name: str | None = None) -> ClearanceReport:
    """Check every pair of pipe segments against GB 50289-2016's minimum clearances.

    Parameters
    ----------
    pipes
        A :class:`qdt.layers.VectorLayer` (or a GeoDataFrame indexed by fid) of pipe lines in a
        projected CRS in metres, with ``network`` (JS, PS, RQ, RL, DL, TX …), ``depth_start``,
        ``depth_end`` (m to the pipe top), ``diameter_mm`` (or ``width_mm``/``height_mm``) and
        the attributes the rules depend on (``pressure``, ``burial``, ``diameter_mm``).
    dem
        A DEM :class:`qdt.layers.RasterLayer` in the same CRS, or None for flat ground.
    parallel_angle
        Largest angle (degrees) between two segments judged as running alongside.
    name
        Layer name for messages (default: the layer's name).

    Returns
    -------
    ClearanceReport

    Raises
    ------
    ClearanceError
        A needed field is missing.
    """
    started = time.perf_counter()
    frame = pipes.frame if hasattr(pipes, "frame") else pipes
    layer_name = name or getattr(pipes, "name", None) or "pipes"
    for column in ("network", "depth_start", "depth_end"):
        if column not in frame.columns:
            raise ClearanceError(f"layer '{layer_name}' has no field '{column}', which the clearance check needs "
                                 f"(fields: {', '.join(map(str, frame.columns))})")
    if "diameter_mm" not in frame.columns and "width_mm" not in frame.columns:
        raise ClearanceError(f"layer '{layer_name}' has neither 'diameter_mm' nor 'width_mm': pipe sizes are needed "
                             "to measure from outer wall to outer wall")
    n = len(frame)
    fids = frame.index.to_numpy(dtype=np.int64)
    geoms = frame.geometry.to_numpy()
    network = _text(frame, "network")
    diameter, width, height = _numeric(frame, "diameter_mm"), _numeric(frame, "width_mm"), _numeric(frame, "height_mm")
    half_h = np.nan_to_num(np.where(diameter > 0, diameter, width) / 2000.0)
    half_v = np.nan_to_num(np.where(diameter > 0, diameter, height) / 2000.0)
    depth_start, depth_end = _numeric(frame, "depth_start"), _numeric(frame, "depth_end")
    # gravity drainage is surveyed by invert depth: its top is one inner height plus a wall above
    wall = np.nan_to_num(_numeric(frame, "wall_mm")) / 1000.0
    invert = _invert_referenced(network)
    depth_start = np.where(invert, depth_start - 2 * half_v - wall, depth_start)
    depth_end = np.where(invert, depth_end - 2 * half_v - wall, depth_end)
    # outer walls: the surveyed size is the inner one where a wall thickness is recorded
    half_h, half_v = half_h + wall, half_v + wall

    seg = _explode(geoms)
    m = len(seg["row"])
    report = ClearanceReport(layer_name, _empty(), segments=m)
    if m < 2:
        report.seconds = time.perf_counter() - started
        return report

    # ground: top elevations at each feature's ends from the DEM where it has values
    xs, ys, xe, ye = _feature_ends(seg, n)
    top_start, top_end = -depth_start, -depth_end
    dem_ok = np.zeros(n, dtype=bool)
    if dem is not None:
        ground_s, ground_e = dem.sample(xs, ys), dem.sample(xe, ye)
        dem_ok = np.isfinite(ground_s) & np.isfinite(ground_e)
        dem_top_start, dem_top_end = ground_s - depth_start, ground_e - depth_end
        report.ground = "dem"

    # rule keys: network plus the attributes the table's conditions use
    from qdt.cim import clearance_rules

    condition_fields = sorted({c.field for r in clearance_rules() for c in (r.condition_a, r.condition_b) if c})
    key_columns = {"network": network}
    for column in condition_fields:
        if column in frame.columns:
            key_columns[column] = frame[column].astype(object).where(frame[column].notna(), None).to_numpy()
    key_columns["network"] = _rule_networks(frame, network)
    key_frame_all = pd.DataFrame(key_columns)
    key_id = key_frame_all.groupby(list(key_columns), dropna=False, sort=False).ngroup().to_numpy()
    n_keys = int(key_id.max()) + 1 if n else 0
    key_rows = pd.Series(np.arange(n)).groupby(key_id).first().to_numpy()
    key_frame = key_frame_all.iloc[key_rows].reset_index(drop=True)

    nets = {v for v in network if v is not None}
    widest = max((r.min_m for r in clearance_rules()
                  if r.kind == "horizontal" and r.network_a in nets and r.network_b in nets), default=0.0)

    # candidate pairs: one bulk query of the segments' boxes grown by a per-segment search distance
    # (boxes, not exact distances: the pair geometry below is exact and cheaper in numpy than in GEOS)
    row = seg["row"]
    search = half_h[row] + widest + float(half_h.max(initial=0.0)) + CROSSING_TOLERANCE_M
    lines = shapely.linestrings(np.stack([np.stack([seg["x0"], seg["y0"]], -1),
                                          np.stack([seg["x1"], seg["y1"]], -1)], 1))
    boxes = shapely.box(np.minimum(seg["x0"], seg["x1"]) - search, np.minimum(seg["y0"], seg["y1"]) - search,
                        np.maximum(seg["x0"], seg["x1"]) + search, np.maximum(seg["y0"], seg["y1"]) + search)
    i, j = shapely.STRtree(lines).query(boxes)
    keep = (i < j) & (row[i] != row[j])
    i, j = i[keep], j[keep]
    fa, fb = row[i], row[j]
    known = (network[fa] != None) & (network[fb] != None)  # noqa: E711 - elementwise on object arrays
    i, j, fa, fb = i[known], j[known], fa[known], fb[known]
    report.candidate_pairs = int(len(i))

    # the rule of each pair, looked up once per distinct pair of keys
    ka, kb = key_id[fa], key_id[fb]
    combo = np.minimum(ka, kb).astype(np.int64) * max(n_keys, 1) + np.maximum(ka, kb)
    unique_combo, pair_rule = np.unique(combo, return_inverse=True)
    pair_keys = np.stack([unique_combo // max(n_keys, 1), unique_combo % max(n_keys, 1)], -1)
    need_h, rules_h = _rules_for_keys(key_frame, pair_keys, "horizontal")
    need_v, rules_v = _rules_for_keys(key_frame, pair_keys, "vertical")
    req_h, req_v = need_h[pair_rule], need_v[pair_rule]
    rule_net = key_columns["network"]
    same_network = network[fa] == network[fb]  # same-network pairs: GB 50289's tables are between networks
    i, j, fa, fb, pair_rule, req_h, req_v = (x[~same_network] for x in (i, j, fa, fb, pair_rule, req_h, req_v))

    # closest points of the two segments in plan (Ericson, Real-Time Collision Detection §5.1.9), vectorised
    px, py = seg["x0"][i], seg["y0"][i]
    ux, uy = seg["x1"][i] - px, seg["y1"][i] - py
    qx, qy = seg["x0"][j], seg["y0"][j]
    vx, vy = seg["x1"][j] - qx, seg["y1"][j] - qy
    rx, ry = px - qx, py - qy  # small numbers: the pair's own frame keeps precision
    a = ux * ux + uy * uy
    e = vx * vx + vy * vy
    b = ux * vx + uy * vy
    c = ux * rx + uy * ry
    f = vx * rx + vy * ry
    denom = a * e - b * b
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(denom > 1e-12 * a * e, np.clip((b * f - c * e) / denom, 0.0, 1.0), 0.0)
        t = (b * s + f) / e
        s = np.where(t < 0, np.clip(-c / a, 0.0, 1.0), np.where(t > 1, np.clip((b - c) / a, 0.0, 1.0), s))
        t = np.clip(t, 0.0, 1.0)
    dx = (rx + ux * s) - vx * t
    dy = (ry + uy * s) - vy * t
    plan = np.hypot(dx, dy)
    cos2 = (b * b) / (a * e)
    parallel = cos2 >= math.cos(math.radians(parallel_angle)) ** 2
    # overlap of b projected onto a (fractions of a)
    sb0 = -c / a
    sb1 = ((qx + vx - px) * ux + (qy + vy - py) * uy) / a
    lo, hi = np.maximum(0.0, np.minimum(sb0, sb1)), np.minimum(1.0, np.maximum(sb0, sb1))
    alongside = parallel & ((hi - lo) * np.sqrt(a) > OVERLAP_TOLERANCE_M)
    # exactly parallel: report the middle of the stretch they share rather than one end of it
    flat = alongside & (denom <= 1e-12 * a * e)
    s = np.where(flat, (lo + hi) / 2, s)
    t = np.where(flat, np.clip(((px + ux * s - qx) * vx + (py + uy * s - qy) * vy) / e, 0.0, 1.0), t)
    loc_x = (px + ux * s + qx + vx * t) / 2
    loc_y = (py + uy * s + qy + vy * t) / 2
    # fractions along each feature at the pair's closest points
    pos_a = seg["t0"][i] + s * (seg["t1"][i] - seg["t0"][i])
    pos_b = seg["t0"][j] + t * (seg["t1"][j] - seg["t0"][j])
    at_end_a = (pos_a <= 0.0) | (pos_a >= 1.0)
    at_end_b = (pos_b <= 0.0) | (pos_b >= 1.0)
    crossing = (plan <= CROSSING_TOLERANCE_M) & ~parallel & ~(at_end_a & at_end_b)

    # tops at the closest points: elevations with a DEM at all four ends, depths below a flat ground otherwise
    use_dem = dem_ok[fa] & dem_ok[fb]
    flat_top_a = top_start[fa] + (top_end[fa] - top_start[fa]) * pos_a
    flat_top_b = top_start[fb] + (top_end[fb] - top_start[fb]) * pos_b
    if dem is not None:
        top_a = np.where(use_dem, dem_top_start[fa] + (dem_top_end[fa] - dem_top_start[fa]) * pos_a, flat_top_a)
        top_b = np.where(use_dem, dem_top_start[fb] + (dem_top_end[fb] - dem_top_start[fb]) * pos_b, flat_top_b)
        ground_here = dem.sample(loc_x, loc_y)
        depth_a = np.where(use_dem & np.isfinite(ground_here), ground_here - top_a, -flat_top_a)
        depth_b = np.where(use_dem & np.isfinite(ground_here), ground_here - top_b, -flat_top_b)
    else:
        top_a, top_b = flat_top_a, flat_top_b
        depth_a, depth_b = -flat_top_a, -flat_top_b

    # pairs that run alongside or cross but whose networks the table has no row for: counted, never silent
    overlap_m = (hi - lo) * np.sqrt(a)
    report.unchecked = _unchecked(rule_net[fa], rule_net[fb], alongside & ~np.isfinite(req_h),
                                  crossing & ~np.isfinite(req_v))
    horizontal = alongside & np.isfinite(req_h)
    clear_h = plan - half_h[fa] - half_h[fb]
    vertical = crossing & np.isfinite(req_v)
    depth_known = np.isfinite(top_a) & np.isfinite(top_b)
    report.horizontal_checked = int(horizontal.sum())
    report.vertical_checked = int((vertical & depth_known).sum())
    report.crossings_without_depth = int((vertical & ~depth_known).sum())
    vertical &= depth_known
    with np.errstate(invalid="ignore"):
        clear_v = np.maximum((top_a - 2 * half_v[fa]) - top_b, (top_b - 2 * half_v[fb]) - top_a)

    found = []
    for kind, mask, measured, required, rules in (("horizontal", horizontal & (clear_h < req_h - 1e-9), clear_h,
                                                   req_h, rules_h),
                                                  ("vertical", vertical & (clear_v < req_v - 1e-9), clear_v,
                                                   req_v, rules_v)):
        if not mask.any():
            continue
        rule_objs = np.array(rules, dtype=object)[pair_rule[mask]]
        found.append(pd.DataFrame({
            "fa": fa[mask], "fb": fb[mask], "kind": kind, "measured_m": measured[mask], "required_m": required[mask],
            "citation": [r.citation for r in rule_objs], "verified": [r.verified for r in rule_objs],
            "rule_note": [r.note for r in rule_objs], "x": loc_x[mask], "y": loc_y[mask],
            "depth_a": depth_a[mask], "depth_b": depth_b[mask],
            "overlap_m": overlap_m[mask] if kind == "horizontal" else np.nan}))
    if found:
        report.violations = _finish(pd.concat(found, ignore_index=True), fids, network, geoms)
    report.seconds = time.perf_counter() - started
    return report


def _finish(raw: pd.DataFrame, fids: np.ndarray, network: np.ndarray, geoms: np.ndarray) -> pd.DataFrame:
    """Feature ids in order, one finding per run (the worst place, the run's length), and one-line messages."""
    from qdt.cim import pipe_networks

    # side A is the network that sorts first, so the two sides of one run stay on the same side
    na, nb = network[raw["fa"].to_numpy()].astype(str), network[raw["fb"].to_numpy()].astype(str)
    fid_a, fid_b = fids[raw["fa"].to_numpy()], fids[raw["fb"].to_numpy()]
    swap = (na > nb) | ((na == nb) & (fid_a > fid_b))
    ra = np.where(swap, raw["fb"], raw["fa"])
    rb = np.where(swap, raw["fa"], raw["fb"])
    depth_a = np.where(swap, raw["depth_b"], raw["depth_a"])
    depth_b = np.where(swap, raw["depth_a"], raw["depth_b"])
    out = pd.DataFrame({
        "fid_a": fids[ra], "fid_b": fids[rb], "network_a": network[ra], "network_b": network[rb],
        "kind": raw["kind"].to_numpy(), "measured_m": raw["measured_m"].to_numpy(),
        "required_m": raw["required_m"].to_numpy(),
        "shortfall_m": raw["required_m"].to_numpy() - raw["measured_m"].to_numpy(),
        "citation": raw["citation"].to_numpy(), "verified": raw["verified"].to_numpy(dtype=bool),
        "rule_note": raw["rule_note"].to_numpy(), "x": raw["x"].to_numpy(), "y": raw["y"].to_numpy(),
        "depth_a": depth_a, "depth_b": depth_b, "overlap_m": raw["overlap_m"].to_numpy(),
        "row_a": ra, "row_b": rb})
    out = _group_runs(out, geoms)
    names = {code: net.zh for code, net in pipe_networks().items()}
    out["network_a_name"] = out["network_a"].map(lambda c: names.get(c, c))
    out["network_b_name"] = out["network_b"].map(lambda c: names.get(c, c))
    out["kind_zh"] = out["kind"].map(KIND_ZH)
    columns = [out[c].tolist() for c in ("fid_a", "fid_b", "network_a", "network_b", "kind", "measured_m",
                                         "required_m", "citation", "verified", "segment_pairs", "run_length_m")]
    english = {code: net.en for code, net in pipe_networks().items()}  # one language per message
    out["message"] = [
        f"{english.get(na, na)} {na} pipe {a} and {english.get(nb, nb)} {nb} pipe {b} "
        + (f"run alongside {meas:.2f} m apart (outer walls)" if kind == "horizontal"
           else f"cross {meas:.2f} m apart vertically" if meas >= 0 else f"cross overlapping by {-meas:.2f} m")
        + (f" over {length:.0f} m ({pairs} segment pairs)" if pairs > 1 else "")
        + f", below the standard's minimum of {req:.2f} m — {cite}" + ("" if ok else " (value to confirm)")
        for a, b, na, nb, kind, meas, req, cite, ok, pairs, length in zip(*columns, strict=True)]
    out["message_zh"] = [
        f"{names.get(na, na)}管 {a} 与{names.get(nb, nb)}管 {b} "
        + (f"平行敷设，外壁水平净距 {meas:.2f} m" if kind == "horizontal"
           else f"交叉，垂直净距 {meas:.2f} m" if meas >= 0 else f"交叉，相互重叠 {-meas:.2f} m")
        + (f"（平行段长 {length:.0f} m，{pairs} 对管段）" if pairs > 1 else "")
        + f"，小于 {cite} 规定的最小净距 {req:.2f} m" + ("" if ok else "（规范值待核实）")
        for a, b, na, nb, kind, meas, req, cite, ok, pairs, length in zip(*columns, strict=True)]
    return out[COLUMNS]


def _group_runs(out: pd.DataFrame, geoms: np.ndarray) -> pd.DataFrame:
    """One finding per run: segment pairs of the same two networks and kind whose features share a
    feature or touch end to end (consecutive segments of one parallel run) are one finding.

    The finding keeps the worst pair's place, fids and distances, and gains ``segment_pairs``,
    ``run_length_m`` (sum of the pairs' side-by-side lengths; NaN for crossings) and the
    features of each side (``fids_a``, ``fids_b``, text).
    """
    from scipy import sparse
    from scipy.sparse import csgraph

    n = len(out)
    # features of either side are joined when they share an end vertex (rounded to a millimetre)
    rows = np.unique(np.r_[out["row_a"].to_numpy(), out["row_b"].to_numpy()])
    ends = [shapely.get_point(geoms[rows], 0), shapely.get_point(geoms[rows], -1)]
    xy = np.round(np.r_[np.column_stack([shapely.get_x(ends[0]), shapely.get_y(ends[0])]),
                        np.column_stack([shapely.get_x(ends[1]), shapely.get_y(ends[1])])], 3)
    _, vertex = np.unique(xy, axis=0, return_inverse=True)
    vertex = vertex.ravel()
    nr = rows.size
    # graph: violation rows — features (by side) — shared vertices
    group_key = (out["network_a"].astype(str) + "|" + out["network_b"].astype(str) + "|" + out["kind"]).to_numpy()
    gk = pd.factorize(group_key)[0]
    fa = np.searchsorted(rows, out["row_a"].to_numpy())
    fb = np.searchsorted(rows, out["row_b"].to_numpy())
    # node ids: violation i → i; (group, feature) → n + …; (group, vertex) nodes come after
    feat_a = n + gk * nr + fa
    feat_b = n + gk * nr + fb
    n_groups = int(gk.max()) + 1 if n else 0
    base_v = n + n_groups * nr
    n_vert = int(vertex.max()) + 1 if vertex.size else 0
    feat_vertex_a = [base_v + gk * n_vert + vertex[fa], base_v + gk * n_vert + vertex[fa + nr]]
    feat_vertex_b = [base_v + gk * n_vert + vertex[fb], base_v + gk * n_vert + vertex[fb + nr]]
    src = np.r_[np.arange(n), np.arange(n), feat_a, feat_a, feat_b, feat_b]
    dst = np.r_[feat_a, feat_b, feat_vertex_a[0], feat_vertex_a[1], feat_vertex_b[0], feat_vertex_b[1]]
    size = base_v + n_groups * n_vert
    g = sparse.coo_matrix((np.ones(src.size), (src, dst)), shape=(size, size))
    _, label = csgraph.connected_components(g, directed=False)
    out = out.assign(run=label[:n])
    agg = out.groupby("run").agg(segment_pairs=("fid_a", "size"), run_length_m=("overlap_m", "sum"),
                                 fids_a=("fid_a", lambda s: " ".join(map(str, sorted(set(s))))),
                                 fids_b=("fid_b", lambda s: " ".join(map(str, sorted(set(s))))))
    worst = out.sort_values("shortfall_m", ascending=False, kind="stable").drop_duplicates("run", keep="first")
    worst = worst.drop(columns=["overlap_m", "row_a", "row_b"]).join(agg, on="run").drop(columns=["run"])
    worst["run_length_m"] = np.where(worst["kind"] == "horizontal", worst["run_length_m"].round(2), np.nan)
    return worst.sort_values(["fid_a", "fid_b", "kind"], kind="stable", ignore_index=True)


KIND_ZH = {"horizontal": "水平", "vertical": "垂直"}
RECLAIMED = "再生水"  # GB 50289-2016 gives 再生水 its own rows (none in QDT's table yet): never judged as 给水
HIGH_GAS = "高压燃气"  # gas above 1.6 MPa: outside Table 4.1.9 (GB 50028 applies)


def _rule_networks(frame: pd.DataFrame, network: np.ndarray) -> np.ndarray:
    """The network each pipe is judged as: its code, 再生水 for reclaimed water (JS/ZS), 高压燃气 above 1.6 MPa."""
    from qdt.cim import network_code

    out = np.array([network_code(v) if v is not None else None for v in network], dtype=object)
    if "subtype" in frame.columns:
        out[(frame["subtype"].astype(object).to_numpy() == "ZS") & (out == "JS")] = RECLAIMED
    high = np.zeros(len(frame), dtype=bool)
    if "pressure" in frame.columns:
        high |= frame["pressure"].astype(object).isin(["H", "高压"]).to_numpy()
    if "pressure_mpa" in frame.columns:
        high |= pd.to_numeric(frame["pressure_mpa"], errors="coerce").to_numpy(dtype=float, na_value=np.nan) > 1.6
    out[high & (out == "RQ")] = HIGH_GAS
    return out


def _unchecked(net_a: np.ndarray, net_b: np.ndarray, alongside: np.ndarray, crossing: np.ndarray
               ) -> list[dict[str, Any]]:
    """Pairs near each other that no rule covers, counted per pair of networks and kind, with the reason."""
    from qdt.cim import pipe_networks

    names = {code: net.zh for code, net in pipe_networks().items()}
    english = {code: net.en for code, net in pipe_networks().items()}
    out = []
    for kind, mask in (("horizontal", alongside), ("vertical", crossing)):
        if not mask.any():
            continue
        a, b = net_a[mask].astype(str), net_b[mask].astype(str)
        lo, hi = np.where(a <= b, a, b), np.where(a <= b, b, a)
        pairs = pd.Series(1, index=pd.MultiIndex.from_arrays([lo, hi])).groupby(level=[0, 1]).size()
        for (x, y), count in pairs.items():
            high_gas = HIGH_GAS in (x, y)
            reason = ("gas above 1.6 MPa is outside GB 50289-2016 Table 4.1.9 (GB 50028 applies)"
                      if high_gas else "no GB 50289-2016 rule for this pair in QDT's table")
            reason_zh = ("压力高于 1.6 MPa 的燃气管不在 GB 50289-2016 表 4.1.9 范围内（适用 GB 50028）"
                         if high_gas else "QDT 的净距表中没有这两类管线的 GB 50289-2016 规定")
            out.append({"kind": kind, "kind_zh": KIND_ZH[kind], "networks": [x, y],
                        "names": [names.get(x, x), names.get(y, y)], "names_en": [english.get(x, x), english.get(y, y)],
                        "pairs": int(count), "reason": reason,
                        "reason_zh": reason_zh})
    return out


DISPLAY_COLUMNS = ["network_a_name", "network_b_name", "kind_zh", "measured_m", "required_m", "shortfall_m",
                   "run_length_m", "segment_pairs", "citation", "verified", "rule_note", "fid_a", "fid_b", "x", "y"]


def display_frame(violations: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The findings as people read them: network names, 水平/垂直, the standard and a verified column (是/否).

    ``lang="en"`` gives English names and words. Same rows as ``violations``.
    """
    from qdt.cim import pipe_networks

    out = violations.reindex(columns=DISPLAY_COLUMNS).copy()
    if lang != "zh":
        names = {code: net.en for code, net in pipe_networks().items()}
        out["network_a_name"] = violations["network_a"].map(lambda c: names.get(c, c))
        out["network_b_name"] = violations["network_b"].map(lambda c: names.get(c, c))
        out["kind_zh"] = violations["kind"]
    yes, no = ("是", "否") if lang == "zh" else ("yes", "no")
    out["verified"] = np.where(violations["verified"].astype(bool), yes, no)
    return out.reset_index(drop=True)
