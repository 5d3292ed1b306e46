"""多杆合一: find poles of different kinds standing close together that one smart pole could replace.

Rule (issue 18):

- every pole of the pole classes (:data:`POLE_CLASSES`) is a node; two poles are **linked** when
  they stand within ``distance`` metres of each other (default 15 m) **and** the straight line
  between them crosses no road centreline (a pole is never grouped across the road);
- groups are the connected components of the links (single linkage) that hold poles of at least
  two different kinds;
- the **site** of a group is an existing smart pole when the group has one (several: the one with
  the least total distance to the other members), else the member with the least total distance
  to the others;
- the **devices** to mount are the union of the members' devices (code list ``device_type``);
  every member but the site is removed.

Everything is vectorised: pairs from a ``scipy.spatial.cKDTree``, the side rule as one STRtree
``intersects`` query of all pair segments against the centrelines, components from
``scipy.sparse.csgraph``, sites from one merge of members with members.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qdt.crs import PROJECT_CRS

DEFAULT_DISTANCE = 15.0  # m, issue 18
# catalogue classes of poles, in the order a group lists its members' kinds
POLE_CLASSES = ("smart_pole", "streetlight", "traffic_signal_pole", "sign_pole", "camera_pole")
# layer names the sample and most deliveries use, for GeoPackages opened without a project
POLE_LAYER_NAMES = {"smart_poles": "smart_pole", "streetlights": "streetlight",
                    "traffic_signal_poles": "traffic_signal_pole", "sign_poles": "sign_pole",
                    "camera_poles": "camera_pole"}
# devices a pole of a class carries even when its record names none
CLASS_DEVICES = {"streetlight": ("lighting",), "traffic_signal_pole": ("traffic_signal",),
                 "sign_pole": ("traffic_sign",), "camera_pole": ("camera",), "smart_pole": ()}
DEVICE_SEPARATORS = ("、", ",", "，", ";", "；", "/", "|")


class ConsolidationError(ValueError):
    """Input the consolidation cannot use (no pole layers, a bad distance); one line for the user."""


@dataclass(frozen=True)
class Poles:
    """All poles of all pole layers as flat arrays (one row per pole).

    ``layer`` and ``fid`` identify the feature; ``kind`` is its catalogue class; ``devices``
    a tuple of ``device_type`` codes per pole; ``road`` the road name the record gives (or "").
    """

    layer: np.ndarray
    fid: np.ndarray
    kind: np.ndarray
    x: np.ndarray
    y: np.ndarray
    devices: np.ndarray  # object array of tuples
    layer_order: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.fid.size)


@dataclass(frozen=True)
class Group:
    """One consolidation candidate: ``members`` and ``removed`` are (layer, fid) pairs."""

    members: list[tuple[str, int]]
    kinds: list[str]
    site: tuple[float, float]
    site_member: tuple[str, int]
    site_is_smart_pole: bool
    devices: list[str]
    removed: list[tuple[str, int]]
    road: str | None
    member_xy: np.ndarray = field(repr=False)  # (n, 2) positions of ``members``
    member_kinds: list[str] = field(default_factory=list, repr=False)  # the class of each member

    def to_dict(self) -> dict[str, Any]:
        return {"members": [{"layer": layer, "fid": fid} for layer, fid in self.members],
                "site": [round(self.site[0], 3), round(self.site[1], 3)],
                "devices": list(self.devices),
                "site_member": {"layer": self.site_member[0], "fid": self.site_member[1]},
                "existing_smart_pole": self.site_is_smart_pole,
                "removed": [{"layer": layer, "fid": fid} for layer, fid in self.removed],
                "kinds": list(self.kinds), "road": self.road}


@dataclass(frozen=True)
class Plan:
    """The result of :func:`consolidate`."""

    distance: float
    poles_before: int
    groups: list[Group]
    crs: str = PROJECT_CRS

    @property
    def poles_removed(self) -> int:
        return sum(len(g.removed) for g in self.groups)

    @property
    def poles_after(self) -> int:
        return self.poles_before - self.poles_removed

    def to_dict(self) -> dict[str, Any]:
        """``{"distance", "poles_before", "poles_after", "groups": [{"members", "site", "devices", …}]}``."""
        return {"distance": self.distance, "poles_before": self.poles_before, "poles_after": self.poles_after,
                "groups": [g.to_dict() for g in self.groups]}

    def per_road(self) -> pd.DataFrame:
        """Counts per road: groups, member poles, poles removed, new smart poles (sites not already one)."""
        rows = pd.DataFrame({"road": [g.road or "" for g in self.groups],
                             "groups": 1, "poles": [len(g.members) for g in self.groups],
                             "removed": [len(g.removed) for g in self.groups],
                             "new_smart_poles": [int(not g.site_is_smart_pole) for g in self.groups]})
        if rows.empty:
            return pd.DataFrame(columns=["road", "groups", "poles", "removed", "new_smart_poles"])
        out = rows.groupby("road", sort=True).sum().reset_index()
        return out.sort_values(["groups", "road"], ascending=[False, True], kind="stable").reset_index(drop=True)

    # --- frames for the planning layer and the exports --------------------------------------------
    def sites_frame(self) -> gpd.GeoDataFrame:
        """One point per group at its site: group number, road, members, devices, site member."""
        g = self.groups
        return gpd.GeoDataFrame({
            "group_no": np.arange(1, len(g) + 1, dtype=np.int32),
            "road": [x.road or "" for x in g],
            "member_count": np.array([len(x.members) for x in g], dtype=np.int32),
            "removed_count": np.array([len(x.removed) for x in g], dtype=np.int32),
            "kinds": ["、".join(x.kinds) for x in g],
            "devices": ["、".join(x.devices) for x in g],
            "site_layer": [x.site_member[0] for x in g],
            "site_fid": np.array([x.site_member[1] for x in g], dtype=np.int64),
            "existing_smart_pole": np.array([x.site_is_smart_pole for x in g], dtype=bool),
            "members": [";".join(f"{layer}:{fid}" for layer, fid in x.members) for x in g],
        }, geometry=shapely.points([x.site for x in g]) if g else [], crs=self.crs)

    def members_frame(self) -> gpd.GeoDataFrame:
        """One point per member pole: group number, layer, fid, kind, whether it is the site or removed."""
        rows = [(i + 1, layer, fid, kind, (layer, fid) == grp.site_member, xy[0], xy[1])
                for i, grp in enumerate(self.groups)
                for (layer, fid), kind, xy in zip(grp.members, grp.member_kinds, grp.member_xy, strict=True)]
        frame = pd.DataFrame(rows, columns=["group_no", "layer", "fid", "kind", "is_site", "x", "y"])
        frame["removed"] = ~frame["is_site"].astype(bool)
        return gpd.GeoDataFrame(frame.drop(columns=["x", "y"]).rename(columns={"fid": "member_fid"}),
                                geometry=shapely.points(frame["x"].to_numpy(float), frame["y"].to_numpy(float)),
                                crs=self.crs)

    def links_frame(self) -> gpd.GeoDataFrame:
        """One line from each removed member to its group's site (the planning layer's links)."""
        members = self.members_frame()
        removed = members[members["removed"]]
        site = np.array([self.groups[i - 1].site for i in removed["group_no"].to_numpy()], dtype=float).reshape(-1, 2)
        start = shapely.get_coordinates(removed.geometry.to_numpy()).reshape(-1, 2)
        lines = shapely.linestrings(np.stack([start, site], axis=1)) if len(removed) else []
        return gpd.GeoDataFrame({"group_no": removed["group_no"].to_numpy(), "layer": removed["layer"].to_numpy(),
                                 "member_fid": removed["member_fid"].to_numpy(),
                                 "length_m": np.round(shapely.length(lines), 2) if len(removed) else []},
                                geometry=lines, crs=self.crs)


# --- gathering poles ----------------------------------------------------------------------------------
def pole_kind(layer: Any) -> str | None:
    """The pole class of a vector layer (its catalogue class, else its usual layer name), or None."""
    cls = getattr(layer, "feature_class", None)
    if cls in POLE_CLASSES:
        return cls
    for name in (getattr(layer, "source_layer", None), getattr(layer, "name", None)):
        if name in POLE_LAYER_NAMES:
            return POLE_LAYER_NAMES[name]
    return None


def _device_lookup() -> dict[str, str]:
    """Label, English name, alias or code of a ``device_type`` entry → its code."""
    from qdt.cim.schema import catalogue

    out: dict[str, str] = {}
    for e in catalogue().codelist("device_type").entries:
        for key in (e.code, e.zh, e.en, *e.extra.get("aliases", ())):
            out[str(key).strip().lower()] = str(e.code)
    return out


def device_order() -> dict[str, int]:
    from qdt.cim.schema import catalogue

    return {str(e.code): i for i, e in enumerate(catalogue().codelist("device_type").entries)}


def parse_devices(texts: np.ndarray) -> np.ndarray:
    """Device summaries (``交通信号灯、视频监控``, ``camera,5g``) → tuples of device codes (object array).

    Only the distinct texts are parsed (a layer holds a handful); unknown names are kept as written.
    """
    lookup = _device_lookup()
    values = pd.Series(texts, dtype=object).fillna("").astype(str)
    uniques, inverse = np.unique(values.to_numpy(), return_inverse=True)
    parsed = []
    for text in uniques:
        for sep in DEVICE_SEPARATORS[1:]:
            text = text.replace(sep, DEVICE_SEPARATORS[0])
        names = [t.strip() for t in text.split(DEVICE_SEPARATORS[0]) if t.strip()]
        parsed.append(tuple(lookup.get(t.lower(), t) for t in names))
    out = np.empty(len(parsed), dtype=object)
    out[:] = parsed
    return out[inverse] if len(values) else np.empty(0, dtype=object)


def gather_poles(layers: Sequence[Any], device_table: pd.DataFrame | None = None) -> Poles:
    """The poles of every pole layer in ``layers`` (others are skipped), with their devices.

    Devices come from the record's ``devices`` text, the class's own device (a streetlight is
    ``lighting``), and for smart poles from ``device_table`` (``smart_pole_device`` rows:
    ``pole_code`` → ``device_type``) when it is given.
    """
    by_pole: dict[str, tuple[str, ...]] = {}
    if device_table is not None and {"pole_code", "device_type"} <= set(device_table.columns):
        grouped = device_table.dropna(subset=["pole_code", "device_type"]).groupby("pole_code")["device_type"]
        by_pole = {str(k): tuple(dict.fromkeys(str(v) for v in vals)) for k, vals in grouped}
    parts = []
    order = []
    for layer in layers:
        kind = pole_kind(layer)
        if kind is None or not getattr(layer, "has_geometry", False):
            continue
        frame = layer.frame
        geoms = layer.geometry
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        coords = np.full((len(geoms), 2), np.nan)
        if ok.any():
            pts = shapely.centroid(geoms[ok])  # points stay points; a multipoint or a stray polygon its centre
            coords[ok] = shapely.get_coordinates(pts)[:, :2]
        ok &= np.isfinite(coords).all(axis=1)
        devices = parse_devices(frame["devices"].to_numpy()) if "devices" in frame.columns else \
            np.array([()] * len(frame) + [None], dtype=object)[:-1]
        if kind == "smart_pole" and by_pole and "code" in frame.columns:
            listed = pd.Series(frame["code"].astype(str).to_numpy()).map(by_pole).to_numpy()
            has = pd.notna(listed)
            devices = devices.copy()
            devices[has] = listed[has]
        own = CLASS_DEVICES[kind]
        if own:
            devices = np.array([own + tuple(d) for d in devices] + [None], dtype=object)[:-1]
        order.append(layer.name)
        parts.append(pd.DataFrame({"layer": layer.name, "fid": layer.fids, "kind": kind, "x": coords[:, 0],
                                   "y": coords[:, 1], "devices": devices})[ok])
    if not parts:
        raise ConsolidationError("no pole layers (streetlights, smart poles, traffic-signal, sign or camera poles)")
    table = pd.concat(parts, ignore_index=True)
    return Poles(table["layer"].to_numpy(object), table["fid"].to_numpy(np.int64), table["kind"].to_numpy(object),
                 table["x"].to_numpy(float), table["y"].to_numpy(float), table["devices"].to_numpy(object),
                 tuple(order))


# --- the rule --------------------------------------------------------------------------------------------
def linked_pairs(x: np.ndarray, y: np.ndarray, distance: float, centrelines: np.ndarray) -> np.ndarray:
    """Index pairs (i < j) of poles within ``distance`` whose connecting segment crosses no centreline."""
    from scipy.spatial import cKDTree

    xy = np.column_stack([x, y])
    if len(xy) < 2:
        return np.empty((0, 2), dtype=np.int64)
    pairs = cKDTree(xy).query_pairs(distance, output_type="ndarray").astype(np.int64)
    lines = np.asarray(centrelines, dtype=object)
    lines = lines[~(shapely.is_missing(lines) | shapely.is_empty(lines))] if lines.size else lines
    if pairs.size == 0 or lines.size == 0:
        return pairs
    segments = shapely.linestrings(np.stack([xy[pairs[:, 0]], xy[pairs[:, 1]]], axis=1))
    crossing = shapely.STRtree(lines).query(segments, predicate="intersects")[0]
    keep = np.ones(len(pairs), dtype=bool)
    keep[crossing] = False
    return pairs[keep]


def consolidate(poles: Poles, centrelines: np.ndarray, distance: float = DEFAULT_DISTANCE, *,
                road_names: np.ndarray | None = None,
                progress: Callable[[float, str], None] | None = None) -> Plan:
    """Consolidation groups of ``poles`` (see the module's rule); ``centrelines`` are road lines.

    ``road_names`` (one per centreline) names each group's road: the centreline nearest its site.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not np.isfinite(distance) or distance <= 0:
        raise ConsolidationError(f"distance must be a positive number of metres, not {distance}")
    report = progress or (lambda f, m: None)
    n = len(poles)
    report(0.1, "pairs")
    pairs = linked_pairs(poles.x, poles.y, distance, centrelines)
    report(0.5, "groups")
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    kind_rank = np.array([POLE_CLASSES.index(k) for k in poles.kind], dtype=np.int64) if n else np.zeros(0, np.int64)
    layer_rank = pd.Series(poles.layer).map({name: i for i, name in enumerate(poles.layer_order)}).to_numpy(np.int64)
    table = pd.DataFrame({"label": label, "kind": kind_rank, "layer_rank": layer_rank, "fid": poles.fid,
                          "x": poles.x, "y": poles.y, "row": np.arange(n)})
    kinds = table.groupby("label")["kind"].nunique()
    grouped = kinds.index[kinds.to_numpy() >= 2]
    members = table[table["label"].isin(grouped)].sort_values(["label", "layer_rank", "fid"], kind="stable")
    if members.empty:
        return Plan(float(distance), n, [])
    # site: smart poles are the candidates when the group has one, else every member
    has_smart = members.groupby("label")["kind"].transform("min").to_numpy() == 0
    candidates = members[~has_smart | (members["kind"].to_numpy() == 0)]
    both = candidates.merge(members, on="label", suffixes=("", "_other"))
    both["d"] = np.hypot(both["x"] - both["x_other"], both["y"] - both["y_other"])
    total = both.groupby(["label", "row"], sort=False)["d"].sum().reset_index()
    total = total.merge(members[["row", "layer_rank", "fid"]], on="row")
    site_row = total.sort_values(["label", "d", "layer_rank", "fid"], kind="stable").groupby("label")["row"].first()
    report(0.8, "sites")
    site_xy = np.column_stack([poles.x[site_row.to_numpy()], poles.y[site_row.to_numpy()]])
    roads: list[str | None] = [None] * len(site_row)
    lines = np.asarray(centrelines, dtype=object)
    if road_names is not None and lines.size:
        nearest = shapely.STRtree(lines).query_nearest(shapely.points(site_xy), return_distance=False)
        names = np.asarray(road_names, dtype=object)
        found = np.full(len(site_row), None, dtype=object)
        found[nearest[0]] = names[nearest[1]]  # ties: the last one listed wins, deterministically
        roads = [None if pd.isna(v) else str(v) for v in found]
    order = device_order()
    groups = []
    rows_by_label = members.groupby("label", sort=True)["row"].apply(lambda s: s.to_numpy())
    for i, (lab, rows) in enumerate(rows_by_label.items()):
        site = int(site_row.loc[lab])
        devices = {d for r in rows for d in (poles.devices[r] or ())}
        member_ids = [(str(poles.layer[r]), int(poles.fid[r])) for r in rows]
        site_id = (str(poles.layer[site]), int(poles.fid[site]))
        group = Group(members=member_ids, kinds=sorted({str(poles.kind[r]) for r in rows}, key=POLE_CLASSES.index),
                      site=(float(poles.x[site]), float(poles.y[site])), site_member=site_id,
                      site_is_smart_pole=poles.kind[site] == "smart_pole",
                      devices=sorted(devices, key=lambda d: (order.get(d, len(order)), d)),
                      removed=[m for m in member_ids if m != site_id], road=roads[i],
                      member_xy=np.column_stack([poles.x[rows], poles.y[rows]]),
                      member_kinds=[str(poles.kind[r]) for r in rows])
        groups.append(group)
    report(1.0, "")
    return Plan(float(distance), n, groups)


def consolidate_layers(layers: Sequence[Any], distance: float = DEFAULT_DISTANCE, *,
                       progress: Callable[[float, str], None] | None = None) -> Plan:
    """Consolidation over the layers of a project: pole layers, the road layer's centrelines and the
    smart-pole device table are found by catalogue class (or usual layer name)."""
    roads = [lyr for lyr in layers if getattr(lyr, "feature_class", None) == "road"
             or getattr(lyr, "name", None) == "roads" or getattr(lyr, "source_layer", None) == "roads"]
    devices = next((lyr.frame for lyr in layers if getattr(lyr, "feature_class", None) == "smart_pole_device"
                    or getattr(lyr, "source_layer", None) == "smart_pole_devices"), None)
    poles = gather_poles(layers, devices)
    lines, names = [], []
    for road in roads:
        if getattr(road, "has_geometry", False):
            geoms = road.geometry
            lines.append(geoms)
            names.append(road.frame["name"].to_numpy(object) if "name" in road.frame.columns
                         else np.full(len(geoms), None, dtype=object))
    centrelines = np.concatenate(lines) if lines else np.empty(0, dtype=object)
    road_names = np.concatenate(names) if names else None
    return consolidate(poles, centrelines, distance, road_names=road_names, progress=progress)


# --- exports -------------------------------------------------------------------------------------------------
EXPORT_SUFFIXES = (".gpkg", ".csv")


def _atomic_target(target: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    os.unlink(tmp)
    return Path(tmp)


def export_plan(plan: Plan, path: str | os.PathLike[str]) -> Path:
    """Write the plan: a GeoPackage (layers ``consolidation_sites``, ``consolidation_links``,
    ``consolidation_members``) or a CSV (one row per group, UTF-8 with BOM for Excel). The file
    is written beside the target and renamed over it, so a failure never leaves half a file."""
    import pyogrio

    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise ConsolidationError(f"cannot export to '{target}': use a file ending in .gpkg or .csv")
    if not target.parent.exists():
        raise ConsolidationError(f"cannot export to '{target}': folder '{target.parent}' does not exist")
    tmp = _atomic_target(target)
    try:
        sites = plan.sites_frame()
        if suffix == ".csv":
            xy = shapely.get_coordinates(sites.geometry.to_numpy()) if len(sites) else np.empty((0, 2))
            table = pd.DataFrame(sites.drop(columns="geometry"))
            table.insert(2, "site_x", np.round(xy[:, 0], 3))
            table.insert(3, "site_y", np.round(xy[:, 1], 3))
            table.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\n")
        else:
            for i, (name, frame) in enumerate((("consolidation_sites", sites),
                                                ("consolidation_links", plan.links_frame()),
                                                ("consolidation_members", plan.members_frame()))):
                pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG", append=i > 0,
                                        geometry_type="Point" if name != "consolidation_links" else "LineString")
        os.replace(tmp, target)
    except (OSError, ValueError, RuntimeError, pyogrio.errors.DataSourceError) as exc:
        tmp.unlink(missing_ok=True)
        raise ConsolidationError(f"cannot export to '{target}': {' '.join(str(exc).split())}") from exc
    return target
