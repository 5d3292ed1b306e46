"""横断面: every pipe a cut line crosses, in order, with heights and clearances to its neighbours."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely

from qdt.network.model import NetworkError
from qdt.network.topology import Topology

__all__ = ["parse_cut", "section"]


def parse_cut(text: str) -> shapely.LineString:
    """``"X1 Y1, X2 Y2[, …]"`` → a line (project CRS metres); a one-line error otherwise."""
    try:
        coords = [tuple(float(v) for v in part.split()) for part in text.split(",")]
    except ValueError:
        raise NetworkError(f"cut line {text!r}: write it as \"X1 Y1, X2 Y2\" in metres") from None
    if len(coords) < 2 or any(len(c) != 2 for c in coords):
        raise NetworkError(f"cut line {text!r}: write it as \"X1 Y1, X2 Y2\" (two or more vertices)")
    line = shapely.LineString(coords)
    if line.length <= 0:
        raise NetworkError(f"cut line {text!r} has no length")
    return line


def _num(v: float, digits: int = 3) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), digits)


def section(topo: Topology, cut: shapely.LineString | str, networks: list[str] | None = None) -> dict[str, Any]:
    """Pipes cut by ``cut`` in order along it.

    Each pipe row: ``network``, ``line`` (fid), ``distance_m`` along the cut, ``x``, ``y``,
    ``top``, ``centre``, ``invert`` (elevations interpolated along the pipe), ``width_mm``,
    ``height_mm``, ``ground`` (DEM at the cut point, else interpolated from the points' ground),
    ``depth_top``. Each neighbour pair: horizontal clear distance along the cut (outer walls),
    the GB 50289-2016 minimum for the pair (``required_m``, ``source``, ``verified``) or
    ``unchecked`` when the table has no rule.
    """
    from qdt.cim import network_code, required_clearance

    if isinstance(cut, str):
        cut = parse_cut(cut)
    lines_df = topo.delivery.lines
    geoms = lines_df.geometry.to_numpy()
    hits = shapely.STRtree(geoms).query(cut, predicate="intersects")
    if networks:
        wanted = {network_code(n) for n in networks}
        hits = hits[np.isin(topo.line_network[hits], list(wanted))]
    rows: list[dict[str, Any]] = []
    h = topo.heights
    width, height = topo.diameter
    wall = lines_df["wall_mm"].to_numpy(dtype=float, na_value=np.nan) if "wall_mm" in lines_df.columns \
        else np.full(len(lines_df), np.nan)
    if hits.size:
        inter = shapely.intersection(geoms[hits], cut)
        parts, owner = shapely.get_parts(inter, return_index=True)
        keep = shapely.get_type_id(parts) == 0  # points; a pipe lying along the cut has no single crossing
        pts, owner = parts[keep], owner[keep]
        line_rows = hits[owner]
        dist = shapely.line_locate_point(cut, pts)
        frac = shapely.line_locate_point(geoms[line_rows], pts, normalized=True)
        x, y = shapely.get_x(pts), shapely.get_y(pts)
        top = h["top_start"][line_rows] + (h["top_end"][line_rows] - h["top_start"][line_rows]) * frac
        inv = h["invert_start"][line_rows] + (h["invert_end"][line_rows] - h["invert_start"][line_rows]) * frac
        outer = h["outer_h"][line_rows]
        g_nodes = topo.ground
        g_u, g_v = g_nodes[topo.line_u[line_rows]], g_nodes[topo.line_v[line_rows]]
        ground = g_u + (g_v - g_u) * frac
        if topo.delivery.dem is not None:
            sampled = topo.delivery.dem.sample(x, y)
            ground = np.where(np.isfinite(sampled), sampled, ground)
        order = np.argsort(dist, kind="stable")
        # a cut through a survey point meets the two lines that end there: one pipe, listed once
        node = np.where(frac <= 1e-9, topo.line_u[line_rows], np.where(frac >= 1 - 1e-9, topo.line_v[line_rows], -1))
        seen: set[int] = set()
        keep_rows = []
        for k in order:
            if node[k] >= 0:
                if int(node[k]) in seen:
                    continue
                seen.add(int(node[k]))
            keep_rows.append(k)
        order = np.array(keep_rows, dtype=np.int64)
        for k in order:
            r = line_rows[k]
            outer_w = (width[r] + 2 * np.nan_to_num(wall[r])) / 1000.0 if np.isfinite(width[r]) else float("nan")
            rows.append({"network": str(topo.line_network[r]), "line": int(topo.line_fid[r]),
                         "distance_m": _num(dist[k]), "x": _num(x[k]), "y": _num(y[k]), "top": _num(top[k]),
                         "centre": _num(top[k] - outer[k] / 2), "invert": _num(inv[k]),
                         "width_mm": _num(width[r], 0), "height_mm": _num(height[r], 0),
                         "outer_width_m": _num(outer_w), "ground": _num(ground[k]),
                         "depth_top": _num(ground[k] - top[k]),
                         "subtype": _attr(lines_df, r, "subtype"), "pressure": _attr(lines_df, r, "pressure"),
                         "burial": _attr(lines_df, r, "burial")})
    pairs = []
    for a, b in zip(rows[:-1], rows[1:], strict=False):
        clear = (b["distance_m"] - a["distance_m"]) - (a["outer_width_m"] or 0) / 2 - (b["outer_width_m"] or 0) / 2
        attrs_a = {k: a[k] for k in ("pressure", "burial") if a[k] is not None}
        attrs_b = {k: b[k] for k in ("pressure", "burial") if b[k] is not None}
        if a["width_mm"]:
            attrs_a["diameter_mm"] = a["width_mm"]
        if b["width_mm"]:
            attrs_b["diameter_mm"] = b["width_mm"]
        same = a["network"] == b["network"]
        rule = None if same else required_clearance(a["network"], b["network"], "horizontal", attrs_a, attrs_b)
        pair = {"lines": [a["line"], b["line"]], "networks": [a["network"], b["network"]],
                "clear_m": _num(clear), "required_m": rule.min_m if rule else None,
                "source": f"{rule.source} 表 {rule.table}" if rule else None,
                "verified": rule.verified if rule else None, "unchecked": rule is None,
                "below_minimum": bool(rule is not None and clear < rule.min_m - 1e-9)}
        pairs.append(pair)
    return {"cut": [[round(c[0], 3), round(c[1], 3)] for c in cut.coords], "length_m": round(cut.length, 3),
            "pipes": rows, "neighbours": pairs}


def _attr(frame: Any, row: int, column: str) -> Any:
    if column not in frame.columns:
        return None
    import pandas as pd

    v = frame[column].iloc[row]
    return None if pd.isna(v) else str(v)
