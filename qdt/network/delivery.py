"""Open a survey delivery as delivered: a GeoPackage, Shapefiles (GBK or UTF-8), or a QDT project.

Point layers whose fields map to the pipe-point class (a 物探点号 field) become the point table;
line layers whose fields map to pipe lines (起点点号/终点点号 or a network field) the line
table. The network of a layer comes from its ``network`` field, else from its name (给水管线,
JS_LINE, 雨水管点 …), else from ``network`` given by the user.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from qdt.network.model import NetworkError, PipeDelivery

__all__ = ["open_delivery", "network_from_name"]


def network_from_name(name: str) -> str | None:
    """The network a layer name speaks of: 给水管线 → JS, JS_POINT → JS, ys_line → PS (雨水), None if none."""
    from qdt.cim import catalogue

    cat = catalogue()
    nets, subs = cat.codelist("pipe_network"), cat.codelist("pipe_subtype")
    text = name.strip()
    for cl, is_sub in ((subs, True), (nets, False)):
        for e in cl.entries:
            if e.zh and e.zh in text:
                return str(e.parent) if is_sub else str(e.code)
    tokens = [t for t in re.split(r"[^A-Za-z]+", text.upper()) if t]
    for token in tokens:
        for candidate in (token, token[:2]):
            if nets.entry(candidate) is not None:
                return candidate
        e = subs.entry(token[:2])
        if e is not None and len(token) <= 4:
            return str(e.parent)
    return None


def _subtype_from_name(name: str) -> str | None:
    from qdt.cim import catalogue

    subs = catalogue().codelist("pipe_subtype")
    for e in subs.entries:
        if e.zh and e.zh in name:
            return str(e.code)
    return None


def _layers(path: Path) -> list[tuple[Path, str, str | None]]:
    """(file, layer, geometry type) of every vector layer of a file or of the Shapefiles in a folder."""
    from qdt.io import dataset_info

    files = sorted(path.glob("*.shp")) + sorted(path.glob("*.SHP")) if path.is_dir() else [path]
    if path.suffix.lower() == ".shp":
        files = sorted({*path.parent.glob("*.shp"), *path.parent.glob("*.SHP")})
    out = []
    for f in files:
        for info in dataset_info(f):
            if info.get("kind") == "vector":
                out.append((f, info["name"], info.get("geometry_type")))
    return out


def open_delivery(source: str | Path, network: str | None = None, *, dem: Any = None) -> PipeDelivery:
    """Read a delivery (see the module docstring); ``network`` fills layers that do not say theirs.

    A project file (.qdt) gives the layers of classes ``pipe_point`` and ``pipe`` and its DEM.
    Raises :class:`NetworkError` (one line) when no point/line tables are found.
    """
    from qdt.cim import catalogue
    from qdt.io import LayerSource, load_layer

    path = Path(source)
    if not path.exists():
        raise NetworkError(f"'{path}' does not exist")
    cat = catalogue()
    point_cls, line_cls = cat.feature_class("pipe_point"), cat.feature_class("pipe")
    points, lines, notes, names = [], [], [], []
    if path.suffix.lower() == ".qdt":
        from qdt.project import load_project

        project = load_project(path)
        for e in project.entries:
            if e.feature_class in ("pipe_point", "pipe"):
                src = LayerSource(path=e.source, layer=e.layer_name, kind=e.kind, name=e.name, crs=e.crs,
                                  feature_class=e.feature_class)
                result = load_layer(src, project_crs=project.crs)
                notes += result.warnings
                frame = result.layer.frame
                (points if e.feature_class == "pipe_point" else lines).append((frame, None))
                names.append(e.name)
            elif dem is None and e.kind == "raster" and e.role == "dem":
                dem = load_layer(LayerSource(path=e.source, kind="raster", role="dem"),
                                 project_crs=project.crs).layer
    else:
        from qdt.io import dataset_info

        for f, layer, geom in _layers(path):
            fields = [fd["name"] for info in dataset_info(f) if info["name"] == layer for fd in info.get("fields", [])]
            kind = None
            if geom and "Point" in geom and "point_no" in point_cls.map_columns(fields).values():
                kind = "pipe_point"
            elif geom and "LineString" in geom:
                mapped = set(line_cls.map_columns(fields).values())
                if {"start_point", "end_point"} <= mapped or ("network" in mapped and "depth_start" in mapped):
                    kind = "pipe"
            if kind is None:
                continue
            result = load_layer(LayerSource(path=f, layer=layer, kind="vector", feature_class=kind))
            notes += result.warnings
            frame = result.layer.frame
            name_net = network_from_name(layer if path.suffix.lower() != ".shp" and not path.is_dir() else f.stem)
            fill = name_net or network
            if fill is not None:
                from qdt.cim import network_code

                code = network_code(fill)
                if "network" not in frame.columns:
                    frame["network"] = code
                else:
                    frame["network"] = frame["network"].where(frame["network"].notna(), code)
                sub = _subtype_from_name(layer if not path.is_dir() else f.stem)
                if sub and "subtype" not in frame.columns:
                    frame["subtype"] = sub
            (points if kind == "pipe_point" else lines).append((frame, fill))
            names.append(f"{f.name}:{layer}" if f.suffix.lower() != ".shp" else f.name)
    if not lines:
        raise NetworkError(f"'{path}': no pipe line table found (a line layer with 起点点号/终点点号 fields)")
    if not points:
        raise NetworkError(f"'{path}': no pipe point table found (a point layer with a 物探点号 field)")
    import geopandas as gpd

    pts = gpd.GeoDataFrame(pd.concat([f for f, _ in points], ignore_index=True), crs=points[0][0].crs)
    if len(lines) == 1:
        lns = lines[0][0]
    else:  # fids of several tables are renumbered so they stay unique
        lns = gpd.GeoDataFrame(pd.concat([f for f, _ in lines], ignore_index=True), crs=lines[0][0].crs)
        lns.index = pd.RangeIndex(1, len(lns) + 1, name="fid")
    delivery = PipeDelivery.from_frames(pts, lns, network=network, dem=dem, sources=names)
    delivery.notes = notes
    return delivery
