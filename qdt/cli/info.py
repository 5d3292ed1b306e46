"""``qdt info PATH [--json]``: layers of a project or dataset with kind, count, CRS and bbox."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from qdt.cli.main import UserError
from qdt.crs import crs_label, parse_crs, transformer
from qdt.language import cli_text


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="list the layers of a project (.qdt) or a dataset",
                       description="List layers with kind, feature count (or raster size), CRS and bounding box.")
    p.add_argument("path", help="project file (.qdt) or dataset (GeoPackage, Shapefile, GeoJSON, GeoTIFF, CityJSON)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _to_project_bbox(bbox: list[float] | None, crs: str | None, project_crs: str) -> list[float] | None:
    if bbox is None or crs is None or crs == project_crs:
        return bbox
    try:
        t = transformer(parse_crs(crs), parse_crs(project_crs))
        return list(t.transform_bounds(*bbox))
    except Exception:  # noqa: BLE001 - an untransformable bbox is reported as is
        return bbox


def _anchored_bbox(bbox: list[float], anchor: list[float]) -> list[float]:
    """A local model's bbox placed by its anchor (x, y, z[, rotation°]) in the project CRS."""
    x0, y0, x1, y1 = bbox
    angle = math.radians(float(anchor[3])) if len(anchor) > 3 else 0.0
    corners = [(x, y) for x in (x0, x1) for y in (y0, y1)]
    xs = [float(anchor[0]) + math.cos(angle) * x - math.sin(angle) * y for x, y in corners]
    ys = [float(anchor[1]) + math.sin(angle) * x + math.cos(angle) * y for x, y in corners]
    return [min(xs), min(ys), max(xs), max(ys)]


def project_info(path: Path) -> dict[str, Any]:
    """Info for a project: each layer's source info, with CRS and bbox as the project sees them."""
    from qdt.io import ReadError, open_datasource
    from qdt.project import load_project
    from qdt.project.loading import layer_source

    project = load_project(path)
    project_crs = crs_label(parse_crs(project.crs))
    layers: list[dict[str, Any]] = []
    for entry in project.entries:
        row: dict[str, Any] = {"name": entry.name, "kind": entry.kind, "source": entry.source}
        if entry.layer_name:
            row["layer"] = entry.layer_name
        if entry.feature_class:
            row["feature_class"] = entry.feature_class
        source = layer_source(entry)
        try:
            infos = [i.as_dict() for i in open_datasource(source).layers()]
        except (ReadError, OSError) as exc:
            row.update({"available": False, "error": str(exc)})
            layers.append(row)
            continue
        info = next((i for i in infos if i["name"] == source.layer), None) if source.layer else infos[0]
        if info is None:
            row.update({"available": False, "error": f"layer '{entry.layer_name}' not found in '{entry.source}'"})
            layers.append(row)
            continue
        source_crs = info.get("crs") or entry.crs
        row.update({k: v for k, v in info.items() if k not in ("name", "kind", "crs", "bbox")})
        row["available"] = True
        row["source_crs"] = source_crs
        row["crs"] = project_crs if source_crs else None
        row["bbox"] = _to_project_bbox(info.get("bbox"), source_crs, project_crs)
        if info.get("local") and entry.extra.get("anchor") and info.get("bbox"):  # a local tileset, anchored
            row["bbox"], row["crs"] = _anchored_bbox(info["bbox"], entry.extra["anchor"]), project_crs
        layers.append(row)
    return {"project": project.name, "crs": project_crs, "layers": layers}


def run(args: argparse.Namespace) -> int:
    from qdt.io import dataset_info

    path = Path(args.path)
    if not path.exists():
        raise UserError(cli_text("“{path}”不存在", path=path))
    if path.suffix.lower() == ".qdt":
        result = project_info(path)
    else:
        result = {"layers": dataset_info(path)}
    if args.json:
        print(json.dumps(result, ensure_ascii=False, default=_json_default))
        return 0
    if "project" in result:
        print(cli_text("项目：{name}  ({crs})", name=result["project"], crs=result["crs"]))
    for layer in result["layers"]:
        print(_format_row(layer))
    return 0


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _format_row(layer: dict[str, Any]) -> str:
    name = layer["name"]
    if layer.get("available") is False:
        return f"{name:<24} {layer['kind']:<10} {cli_text('不可用')}: {layer.get('error', '')}"
    if layer["kind"] == "tileset":
        return _format_tileset(layer)
    if layer.get("kind") == "raster" and layer.get("size"):
        cols, rows, bands = layer["size"]
        amount = f"{cols}x{rows}x{bands} px"
    else:
        amount = cli_text("{n} 个要素", n=layer.get("count", "?"))
    bbox = layer.get("bbox")
    box = "" if not bbox else "bbox " + ", ".join("nan" if not math.isfinite(v) else f"{v:.2f}" for v in bbox)
    geom = layer.get("geometry_type") or ""
    if layer["kind"] == "vector" and not geom:
        geom, crs = cli_text("属性表"), "—"
    else:
        crs = layer.get("crs") or cli_text("无坐标系")
    return f"{name:<24} {layer['kind']:<10} {geom:<16} {amount:<18} {crs:<11} {box}"


def _format_tileset(layer: dict[str, Any]) -> str:
    """3D Tiles: version, tiles, contents, geometric error, bbox (project CRS, else lon/lat) and problems."""
    bbox = layer.get("bbox") or []
    crs = layer.get("crs") or cli_text("本地（无坐标系）")
    lines = [f"{layer['name']:<24} tileset    3D Tiles {layer.get('version')}  {layer.get('tiles')} tiles  "
             f"{layer.get('contents')} contents  depth {layer.get('depth')}  "
             f"{layer.get('external_tilesets', 0)} external tileset(s)  geometric error {layer.get('geometric_error')}",
             f"{'':<24} bbox {', '.join(f'{v:.2f}' if abs(v) > 1000 else f'{v:.6f}' for v in bbox)} ({crs})"
             + (f", z {layer['zrange'][0]:.2f}…{layer['zrange'][1]:.2f} m" if layer.get("zrange") else "")]
    if layer.get("note"):
        lines.append(f"{'':<24} {cli_text('说明')}: {layer['note']}")
    for problem in layer.get("problems", []):
        lines.append(f"{'':<24} {cli_text('问题')}: {problem}")
    return "\n".join(lines)
