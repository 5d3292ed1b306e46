"""``python -m qdt.bench tiles``: 3D Tiles figures for the README.

Two runs::

    python -m qdt.bench tiles --tileset PATH/tileset.json --crs EPSG:32618 [--json]
        open a tileset (first view streamed: the whole set seen from above), render the first
        frame offscreen; prints seconds and the process's resident memory before and after.

    python -m qdt.bench tiles --scale 100000 [--keep DIR] [--json]
        generate the city (``qdt.cim.sample``), export its buildings with ``qdt export-tiles``
        (seconds, MB, tiles, glb), then the first frame of that export opened in QDT against
        the first frame of the same buildings opened from the city's GeoPackage.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

FRAME = (1600, 1000)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tiles", help="3D Tiles: open + first frame + memory; export of the city and reopening it")
    p.add_argument("--tileset", help="a tileset.json to open")
    p.add_argument("--crs", default="EPSG:4549", help="project CRS to open it in (default EPSG:4549)")
    p.add_argument("--scale", type=int, help="buildings in the generated city (export run)")
    p.add_argument("--keep", help="keep the generated city and export in this folder")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON line at the end")
    p.set_defaults(func=run)


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def _first_frame(layers: list[Any]) -> float:
    from qdt.layers import LayerList
    from qdt.render.offscreen import render_offscreen

    layer_list = LayerList()
    for layer in layers:
        layer_list.append(layer)
    start = time.perf_counter()
    render_offscreen(layer_list, *FRAME)
    return time.perf_counter() - start


def open_tileset(path: str, crs: str) -> dict[str, Any]:
    from qdt.io import LayerSource, load_layer

    before = _rss_mb()
    start = time.perf_counter()
    result = load_layer(LayerSource(path), project_crs=crs)
    opened = time.perf_counter() - start
    layer = result.layer
    frame = _first_frame([layer])
    out = {"tileset": path, "crs": crs, "open_s": opened, "first_frame_s": frame, "open_plus_frame_s": opened + frame,
           "rss_before_mb": before, "rss_after_mb": _rss_mb(), "tile_geometry_mb": layer.streamer.memory_used / 1e6,
           "triangles": int(len(layer.triangles)), "points": int(len(layer.points)), "warnings": result.warnings}
    layer.streamer.close()
    return out


def export_city(scale: int, keep: str | None) -> dict[str, Any]:
    from qdt.bench.scene import generate_city
    from qdt.export.tiles3d import export_tiles
    from qdt.io import LayerSource, load_layer
    from qdt.project import open_project

    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="qdt-bench-tiles-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        city = folder / "city"
        if not (city / "qingdao_shinan.qdt").exists():
            generate_city(city, scale)
        project = open_project(city / "qingdao_shinan.qdt")
        buildings = next(layer for layer in project.layers if getattr(layer, "feature_class", None) == "building")
        out_dir = folder / "tiles"
        summary = export_tiles(project.layers, out_dir, crs=project.crs, names=[buildings.name])
        figures: dict[str, Any] = {"scale": scale, "export_s": summary.seconds, "export_mb": summary.bytes / 1e6,
                                   "tiles": summary.tiles, "glb": summary.contents, "features": summary.features,
                                   "triangles": summary.triangles}
        # opening back: tileset (first view streamed) vs the GeoPackage layer, each with its first frame
        start = time.perf_counter()
        tiles = load_layer(LayerSource(out_dir / "tileset.json"), project_crs=project.crs).layer
        figures["tiles_open_s"] = time.perf_counter() - start
        figures["tiles_first_frame_s"] = _first_frame([tiles])
        figures["tiles_first_view_triangles"] = int(len(tiles.triangles))
        tiles.streamer.close()
        gpkg = Path(buildings.source)
        start = time.perf_counter()
        layer = load_layer(LayerSource(gpkg, layer=buildings.source_layer, feature_class="building"),
                           project_crs=project.crs).layer
        figures["gpkg_open_s"] = time.perf_counter() - start
        figures["gpkg_first_frame_s"] = _first_frame([layer])
        return figures
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    figures: dict[str, Any] = {}
    if args.tileset:
        figures["open"] = open_tileset(args.tileset, args.crs)
        o = figures["open"]
        print(f"opened {args.tileset} in {args.crs}: {o['open_s']:.2f} s, first frame {o['first_frame_s']:.2f} s "
              f"({FRAME[0]}x{FRAME[1]}), {o['triangles']} triangles + {o['points']} points, tile geometry "
              f"{o['tile_geometry_mb']:.1f} MB, RSS {o['rss_before_mb']:.0f} -> {o['rss_after_mb']:.0f} MB")
    if args.scale:
        figures["city"] = export_city(args.scale, args.keep)
        c = figures["city"]
        print(f"export of {c['features']} buildings: {c['export_s']:.1f} s, {c['export_mb']:.1f} MB, "
              f"{c['tiles']} tiles, {c['glb']} glb, {c['triangles']} triangles")
        print(f"open + first frame: 3D Tiles {c['tiles_open_s']:.2f} + {c['tiles_first_frame_s']:.2f} s "
              f"({c['tiles_first_view_triangles']} triangles in the first view); GeoPackage {c['gpkg_open_s']:.2f} + "
              f"{c['gpkg_first_frame_s']:.2f} s")
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, default=str))
    return 0
