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

    ``layer`` and ``fid`` identify the feature; ``kind`` is its catalogue class; ``devices`` a
    bit mask per pole over :attr:`device_names` (bit i set: the pole carries ``device_names[i]``).
    """

    layer: np.ndarray
    fid: np.ndarray
    kind: np.ndarray
    x: np.ndarray
    y: np.ndarray
    devices: np.ndarray  # uint64 bit masks
    device_names: tuple[str, ...] = ()
    layer_order: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.fid.size)

    def device_list(self, mask: int) -> list[str]:
        """The device codes of a bit mask, in code-list order."""
        return [name for i, name in enumerate(self.device_names) if mask >> i & 1]


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


MAX_DEVICE_KINDS = 64  # bits of the device mask


class DeviceVocabulary:
    """Device codes ↔ bits: the ``device_type`` code list first (its order is the output order),
    then names the code list does not know, as written."""

    def __init__(self) -> None:
        from qdt.cim.schema import catalogue

        self.names: list[str] = [str(e.code) for e in catalogue().codelist("device_type").entries]
        self._bit = {name: i for i, name in enumerate(self.names)}
        self._lookup = _device_lookup()

    def bit(self, name: str) -> int:
        code = self._lookup.get(name.strip().lower(), name.strip())
        if code not in self._bit:
            if len(self.names) >= MAX_DEVICE_KINDS:
                raise ConsolidationError(f"more than {MAX_DEVICE_KINDS} kinds of device named (at '{name}')")
            self._bit[code] = len(self.names)
            self.names.append(code)
        return self._bit[code]

    def masks(self, texts: np.ndarray) -> np.ndarray:
        """Device summaries (``交通信号灯、视频监控``, ``camera,5g``) → bit masks; only distinct texts are parsed."""
        values = pd.Series(texts, dtype=object).fillna("").astype(str).to_numpy()
        if values.size == 0:
            return np.zeros(0, dtype=np.uint64)
        uniques, inverse = np.unique(values, return_inverse=True)
        out = np.zeros(len(uniques), dtype=np.uint64)
        for k, text in enumerate(uniques):
            for sep in DEVICE_SEPARATORS[1:]:
                text = text.replace(sep, DEVICE_SEPARATORS[0])
            for name in filter(None, (n.strip() for n in text.split(DEVICE_SEPARATORS[0]))):
                out[k] |= np.uint64(1) << np.uint64(self.bit(name))
        return out[inverse]


def gather_poles(layers: Sequence[Any], device_table: pd.DataFrame | None = None) -> Poles:
    """The poles of every pole layer in ``layers`` (others are skipped), with their devices.

    Devices come from the record's ``devices`` text, the class's own device (a streetlight is
    ``lighting``), and for smart poles from ``device_table`` (``smart_pole_device`` rows:
    ``pole_code`` → ``device_type``) when it is given.
    """
    vocab = DeviceVocabulary()
    table_codes = table_masks = None
    if device_table is not None and {"pole_code", "device_type"} <= set(device_table.columns):
        rows = device_table.dropna(subset=["pole_code", "device_type"])
        bits = vocab.masks(rows["device_type"].to_numpy())
        frame = pd.DataFrame({"pole": rows["pole_code"].astype(str).to_numpy(), "bits": bits}).sort_values(
            "pole", kind="stable")
        pole = frame["pole"].to_numpy()
        if len(pole):
            starts = np.r_[0, np.flatnonzero(pole[1:] != pole[:-1]) + 1]
            table_codes = pd.Index(pole[starts])
            table_masks = np.bitwise_or.reduceat(frame["bits"].to_numpy(np.uint64), starts)
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
        masks = vocab.masks(frame["devices"].to_numpy()) if "devices" in frame.columns else \
            np.zeros(len(frame), dtype=np.uint64)
        if kind == "smart_pole" and table_codes is not None and "code" in frame.columns:
            at = table_codes.get_indexer(frame["code"].astype(str).to_numpy())
            listed = at >= 0
            masks[listed] = table_masks[at[listed]]  # the device table is the full list where it has the pole
        for own in CLASS_DEVICES[kind]:
            masks |= np.uint64(1) << np.uint64(vocab.bit(own))
        order.append(layer.name)
        parts.append(pd.DataFrame({"layer": layer.name, "fid": layer.fids, "kind": kind, "x": coords[:, 0],
                                   "y": coords[:, 1], "devices": masks})[ok])
    if not parts:
        raise ConsolidationError("no pole layers (streetlights, smart poles, traffic-signal, sign or camera poles)")
    table = pd.concat(parts, ignore_index=True)
    return Poles(table["layer"].to_numpy(object), table["fid"].to_numpy(np.int64), table["kind"].to_numpy(object),
                 table["x"].to_numpy(float), table["y"].to_numpy(float), table["devices"].to_numpy(np.uint64),
                 tuple(vocab.names), tuple(order))


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
    kind_rank = pd.Series(poles.kind).map({k: i for i, k in enumerate(POLE_CLASSES)}).to_numpy(np.int64)
    layer_rank = pd.Series(poles.layer).map({name: i for i, name in enumerate(poles.layer_order)}).to_numpy(np.int64)
    # members of components with two kinds or more, sorted by component, layer, fid
    kind_bits = np.left_shift(np.int64(1), kind_rank)
    order = np.lexsort((poles.fid, layer_rank, label))
    lab = label[order]
    starts = np.r_[0, np.flatnonzero(lab[1:] != lab[:-1]) + 1] if n else np.zeros(0, np.int64)
    kinds_of = np.bitwise_or.reduceat(kind_bits[order], starts) if n else np.zeros(0, np.int64)
    several = np.array([bin(int(b)).count("1") >= 2 for b in np.unique(kinds_of)], dtype=bool)
    keep_component = several[np.searchsorted(np.unique(kinds_of), kinds_of)] if n else np.zeros(0, bool)
    sizes = np.diff(np.r_[starts, n])
    member_rows = order[np.repeat(keep_component, sizes)]
    if member_rows.size == 0:
        return Plan(float(distance), n, [])
    group_of = np.repeat(np.arange(int(keep_component.sum())), sizes[keep_component])
    group_starts = np.r_[0, np.flatnonzero(np.diff(group_of)) + 1]
    # site: smart poles are the candidates when the group has one, else every member
    members = pd.DataFrame({"g": group_of, "row": member_rows, "kind": kind_rank[member_rows],
                            "layer_rank": layer_rank[member_rows], "fid": poles.fid[member_rows],
                            "x": poles.x[member_rows], "y": poles.y[member_rows]})
    has_smart = np.minimum.reduceat(members["kind"].to_numpy(), group_starts)[group_of] == 0
    candidates = members[~has_smart | (members["kind"].to_numpy() == 0)]
    both = candidates.merge(members[["g", "x", "y"]], on="g", suffixes=("", "_other"))
    both["d"] = np.hypot(both["x"].to_numpy() - both["x_other"].to_numpy(),
                         both["y"].to_numpy() - both["y_other"].to_numpy())
    total = both.groupby(["g", "row", "layer_rank", "fid"], sort=False, as_index=False)["d"].sum()
    site_row = total.sort_values(["g", "d", "layer_rank", "fid"], kind="stable").groupby("g")["row"].first()
    site_row = site_row.to_numpy(np.int64)
    report(0.8, "sites")
    site_xy = np.column_stack([poles.x[site_row], poles.y[site_row]])
    roads = np.full(len(site_row), None, dtype=object)
    lines = np.asarray(centrelines, dtype=object)
    if road_names is not None and lines.size:
        nearest = shapely.STRtree(lines).query_nearest(shapely.points(site_xy), return_distance=False)
        roads[nearest[0]] = np.asarray(road_names, dtype=object)[nearest[1]]  # ties: the last listed wins
    device_masks = np.bitwise_or.reduceat(poles.devices[member_rows], group_starts)
    kind_masks = np.bitwise_or.reduceat(kind_bits[member_rows], group_starts)
    device_lists = {int(m): poles.device_list(int(m)) for m in np.unique(device_masks)}
    kind_lists = {int(m): [k for i, k in enumerate(POLE_CLASSES) if int(m) >> i & 1] for m in np.unique(kind_masks)}
    ids = list(zip(poles.layer[member_rows].tolist(), poles.fid[member_rows].tolist(), strict=True))
    kinds_per_member = poles.kind[member_rows].tolist()
    bounds = np.r_[group_starts, member_rows.size].tolist()
    xy = np.column_stack([poles.x[member_rows], poles.y[member_rows]])
    site_ids = list(zip(poles.layer[site_row].tolist(), poles.fid[site_row].tolist(), strict=True))
    site_smart = (kind_rank[site_row] == 0).tolist()
    groups = []
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        member_ids = ids[a:b]
        site_id = site_ids[i]
        groups.append(Group(members=member_ids, kinds=kind_lists[int(kind_masks[i])],
                            site=(float(site_xy[i, 0]), float(site_xy[i, 1])), site_member=site_id,
                            site_is_smart_pole=site_smart[i], devices=device_lists[int(device_masks[i])],
                            removed=[m for m in member_ids if m != site_id],
                            road=None if roads[i] is None or pd.isna(roads[i]) else str(roads[i]),
                            member_xy=xy[a:b], member_kinds=kinds_per_member[a:b]))
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


# --- the planning layer -----------------------------------------------------------------------------------
SITE_CLASS, LINK_CLASS = "pole_plan_site", "pole_plan_link"  # the render builders of qdt.render.builders.planning
SITE_HEIGHT = 14.0  # m: the proposed pole stands out above the 10–12 m lights it replaces
PLAN_COLOUR = (214, 48, 160)


def planning_layers(plan: Plan, name: str = "多杆合一规划") -> tuple[Any, Any]:
    """Two vector layers for the 3D view: proposed sites (points) and links (lines), indexed by group number."""
    from qdt.layers import VectorLayer
    from qdt.layers.style import SingleStyle

    sites = plan.sites_frame()
    sites.index = pd.RangeIndex(1, len(sites) + 1, name="fid")
    sites["pole_height"] = SITE_HEIGHT
    links = plan.links_frame()
    links.index = pd.RangeIndex(1, len(links) + 1, name="fid")
    site_layer = VectorLayer(f"{name}·站点", sites, feature_class=SITE_CLASS)
    link_layer = VectorLayer(f"{name}·连线", links, feature_class=LINK_CLASS)
    for layer in (site_layer, link_layer):
        layer.style = SingleStyle(PLAN_COLOUR)
        layer.metadata["category"] = "规划管控"
        layer.metadata["transient"] = True  # an analysis result: not saved with the project
    return site_layer, link_layer
