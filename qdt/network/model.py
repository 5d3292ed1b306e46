"""A pipe survey delivery (CJJ 61-2017): a point table (管点) and a line table (管线) per network.

The topology is in the point numbers (物探点号): a line names its start and end point. This
module turns the two tables into canonical columns (through the catalogue's aliases, so
``起点点号``/``QDDH`` become ``start_point``) and per-line heights that honour the network's
depth reference: gravity drainage is surveyed by invert depth (管内底), everything else by depth to
the outer top (``qdt/cim/data/pipe_networks.json``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["NetworkError", "PipeDelivery", "normalise_point_numbers", "line_heights"]


class NetworkError(ValueError):
    """The delivery cannot be analysed as asked (a missing field, an unknown point); one line for the user."""


_FLOAT_NUMBER = re.compile(r"^(\d+)\.0+$")


def normalise_point_numbers(values: Any) -> np.ndarray:
    """Point numbers as stripped text (object array, None when missing).

    Text keeps its leading zeros (``"00012"`` stays); a number that a DBF stored as a float
    (``12.0``) becomes ``"12"`` so it still matches a line that names it ``12``.
    """
    s = pd.Series(values, dtype=object)
    missing = s.isna().to_numpy()
    text = s.astype(str).str.strip()
    text = text.str.replace(_FLOAT_NUMBER, r"\1", regex=True)
    out = text.to_numpy(dtype=object)
    out[missing | (text == "").to_numpy()] = None
    return out


def _column(frame: pd.DataFrame, name: str, default: Any = None) -> np.ndarray:
    if name in frame.columns:
        return frame[name].to_numpy()
    return np.full(len(frame), default, dtype=object)


def _numeric(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def section_size(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Inner width and height (mm) per line: diameter, else ``width_mm``/``height_mm``, else ``section`` "B×H"."""
    diameter = _numeric(frame, "diameter_mm")
    width, height = _numeric(frame, "width_mm"), _numeric(frame, "height_mm")
    if "section" in frame.columns:
        parts = frame["section"].astype("string").str.extract(r"(\d+(?:\.\d+)?)\s*[×xX*]\s*(\d+(?:\.\d+)?)")
        width = np.where(np.isfinite(width), width, pd.to_numeric(parts[0], errors="coerce").to_numpy(float))
        height = np.where(np.isfinite(height), height, pd.to_numeric(parts[1], errors="coerce").to_numpy(float))
    round_ = np.isfinite(diameter) & (diameter > 0)
    return np.where(round_, diameter, width), np.where(round_, diameter, height)


def line_heights(lines: pd.DataFrame, ground_start: np.ndarray, ground_end: np.ndarray) -> dict[str, np.ndarray]:
    """Elevations at both ends of each line from ground elevations and surveyed depths.

    Returns arrays ``top_start``, ``top_end`` (outer top), ``invert_start``, ``invert_end``
    (inner bottom), ``outer_h`` (m), ``cover_start``, ``cover_end`` (ground to outer top) and
    ``invert_ref`` (True where the depth is an invert depth). The wall is ``wall_mm`` where
    known, else 0 (the surveyed size is taken as the outer size).
    """
    from qdt.cim import pipe_networks

    nets = pipe_networks()
    network = _column(lines, "network")
    invert = {code: net.depth_reference == "invert" for code, net in nets.items()}
    invert_ref = pd.Series(network, dtype=object).map(invert).eq(True).to_numpy()
    _, inner_h = section_size(lines)
    inner_h = np.where(np.isfinite(inner_h), inner_h, 0.0) / 1000.0
    wall = np.nan_to_num(_numeric(lines, "wall_mm")) / 1000.0
    outer_h = inner_h + 2 * wall
    out: dict[str, np.ndarray] = {"outer_h": outer_h, "invert_ref": invert_ref}
    for end, ground in (("start", ground_start), ("end", ground_end)):
        depth = _numeric(lines, f"depth_{end}")
        level = ground - depth
        top = np.where(invert_ref, level + inner_h + wall, level)
        invert = np.where(invert_ref, level, level - wall - inner_h)
        out[f"top_{end}"] = top
        out[f"invert_{end}"] = invert
        out[f"cover_{end}"] = np.where(invert_ref, depth - inner_h - wall, depth)
    return out


@dataclass
class PipeDelivery:
    """Point and line tables of one or more networks, in canonical columns.

    Attributes
    ----------
    points
        GeoDataFrame of points: ``point_no`` (text), ``network`` and the catalogue's pipe-point
        fields (``feature``, ``appurtenance``, ``ground_elev``, ``valve_status``, ``operable`` …).
    lines
        GeoDataFrame of lines indexed by fid: ``start_point``, ``end_point`` (text),
        ``network``, ``depth_start``, ``depth_end``, ``diameter_mm`` …
    dem
        Optional DEM (anything with ``sample(x, y)``) for ground where points lack it.
    sources
        Where the tables came from (for messages).
    """

    points: Any
    lines: Any
    dem: Any = None
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_frames(cls, points: Any, lines: Any, network: str | None = None, dem: Any = None,
                    sources: list[str] | None = None) -> PipeDelivery:
        """Canonicalise two frames as a delivery (column aliases, codes from labels, text point numbers).

        ``network`` fills the network where a table has no network column (a per-network delivery).
        """
        from qdt.cim import catalogue, coerce_table

        cat = catalogue()
        tables = []
        for frame, class_name in ((points, "pipe_point"), (lines, "pipe")):
            fc = cat.feature_class(class_name)
            geometry = frame.geometry.name if hasattr(frame, "geometry") else None
            keep_text = {c: frame[c] for c in frame.columns if c != geometry}
            mapping = fc.map_columns([c for c in frame.columns if c != geometry])
            renamed = frame.rename(columns={k: v for k, v in mapping.items() if k != v})
            renamed = renamed.loc[:, ~renamed.columns.duplicated()]
            coerced, _issues = coerce_table(fc, renamed, class_name)
            # point numbers stay text as delivered (coercion must not touch leading zeros)
            for col, canon in mapping.items():
                if canon in ("point_no", "start_point", "end_point"):
                    coerced[canon] = normalise_point_numbers(keep_text[col].to_numpy())
            if network is not None:
                code = cat.codelist("pipe_network").code_for(network) or network
                if "network" not in coerced.columns:
                    coerced["network"] = code
                else:
                    coerced["network"] = coerced["network"].where(coerced["network"].notna(), code)
            tables.append(coerced)
        pts, lns = tables
        for name, table, needed in (("point table", pts, "point_no"), ("line table", lns, None)):
            if needed and needed not in table.columns:
                raise NetworkError(f"the {name} has no survey point number field (物探点号/WTDH); "
                                   f"fields: {', '.join(map(str, table.columns))}")
        if "network" not in lns.columns or lns["network"].isna().all():
            raise NetworkError("the network of the lines is unknown: give it (--network JS) or name the layers "
                               "after it (给水管线, JS_LINE)")
        if "network" not in pts.columns:
            pts["network"] = None
        for col in ("start_point", "end_point"):
            if col not in lns.columns:
                lns[col] = None
        return cls(pts, lns, dem, list(sources or []))

    @property
    def networks(self) -> list[str]:
        return sorted({str(n) for n in self.lines["network"].dropna().unique()})
