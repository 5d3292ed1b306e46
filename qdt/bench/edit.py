"""Time attribute edits: validation + buffer (batch command), undo, and the GeoPackage commit.

Run::

    python -m qdt.bench.edit [--features 10000] [--batch 100 --batch 10000] [--repeat 5] [--dir DIR] [--json]

(or ``python -m qdt.bench edit …`` once registered in ``qdt.bench.__main__.BENCHES``).

A GeoPackage with ``--features`` streetlights (tiles of the sample's, written by GDAL) is
made in a temporary folder and loaded as a layer of class ``streetlight``. For each batch
size, ``--repeat`` rounds each set ``status`` of the first N features (a label, so the
code-list lookup is included) as one command, undo it and redo it, and commit: ``commit``
is :meth:`qdt.edit.EditSession.commit` (encoding, the transaction with conflict check and
change log, fsync), ``transaction`` the part inside SQLite. Medians are printed; the change
log grows by N rows per round. Benchmarks print; tests never assert on these times.

The view-attached run (``--view``)::

    python -m qdt.bench edit --view [--scale 100000 | --data DIR] [--batch 100] [--repeat 5]

opens the generated city (``qdt.cim.sample --scale``, as ``python -m qdt.bench scene``; ``--data
DIR``: one generated before) with its 3D scene in an offscreen window (tiles and levels of detail,
as the window), the camera 300 m above the first edited light, and an edit session with
notifications on. Per round it sets ``status`` of ``--batch`` streetlights as one command:
``view_update_ms`` is the call from ``set_values`` until the scene has updated the colour arrays
VTK reads (the edit is in the view's data, a render requested), ``view_frame_ms`` the next frame
drawn. ``rebuild_update_ms`` is the same edit announced as "everything changed", which rebuilds
the layer's 3D geometry as every edit did before change events named their features.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

STATUS_LABELS = ("故障", "维修中")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edit", help="attribute edit and GeoPackage commit latency", description=__doc__.splitlines()[0])
    _arguments(p)
    p.set_defaults(func=run)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features", type=int, default=10_000, help="features in the layer (default 10000)")
    p.add_argument("--batch", type=int, action="append", help="features per commit (repeatable; default 100, 10000)")
    p.add_argument("--repeat", type=int, default=5, help="rounds per batch size; medians are printed (default 5)")
    p.add_argument("--dir", help="folder for the temporary GeoPackage (e.g. a network drive); default: system temp")
    p.add_argument("--json", action="store_true", help="last line: one JSON object with the figures")
    p.add_argument("--view", action="store_true",
                   help="the view-attached run: status edits on the generated city with its 3D scene")
    p.add_argument("--scale", type=int, default=100_000, help="--view: buildings in the generated city (100000)")
    p.add_argument("--data", metavar="DIR", help="--view: a city generated before (qdt.cim.sample --out DIR)")


def make_gpkg(path: Path, features: int) -> int:
    """Write ``features`` streetlights (tiles of the sample's) to ``path``; returns the count."""
    import geopandas as gpd
    import pandas as pd
    import pyogrio
    import shapely

    sample = Path(__file__).resolve().parents[2] / "sample_data" / "qingdao_shinan.gpkg"
    lights = pyogrio.read_dataframe(sample, layer="streetlights")
    tiles, k = [], 0
    while sum(len(t) for t in tiles) < features:
        tile = lights.copy()
        tile["geometry"] = shapely.transform(tile.geometry.to_numpy(), lambda xy, k=k: xy + [0.0, 1500.0 * k])
        tiles.append(tile)
        k += 1
    frame = gpd.GeoDataFrame(pd.concat(tiles, ignore_index=True).iloc[:features], crs=lights.crs)
    pyogrio.write_dataframe(frame, path, layer="streetlights")
    return len(frame)


def run(args: argparse.Namespace) -> int:
    if args.view:
        return run_view(args)
    from qdt.edit import start_editing
    from qdt.io import LayerSource, load_layer

    batches = args.batch or [100, 10_000]
    figures: dict[str, Any] = {"features": args.features}
    with tempfile.TemporaryDirectory(prefix="qdt-bench-edit-", dir=args.dir) as folder:
        path = Path(folder) / "lights.gpkg"
        count = make_gpkg(path, args.features)
        layer = load_layer(LayerSource(path, layer="streetlights", feature_class="streetlight")).layer
        session = start_editing(layer, user="bench", notify_layer=False)
        print(f"layer: {count} streetlights in {path.name}")
        for n in batches:
            n = min(n, count)
            fids = layer.fids[:n]
            times: dict[str, list[float]] = {"set": [], "undo_redo": [], "commit": [], "transaction": []}
            for r in range(args.repeat):
                label = STATUS_LABELS[r % 2]
                t0 = time.perf_counter()
                session.set_values(fids, {"status": label})
                t1 = time.perf_counter()
                session.undo()
                session.redo()
                t2 = time.perf_counter()
                result = session.commit()
                t3 = time.perf_counter()
                times["set"].append(t1 - t0)
                times["undo_redo"].append(t2 - t1)
                times["commit"].append(t3 - t2)
                times["transaction"].append(result.seconds)
            med = {k: statistics.median(v) for k, v in times.items()}
            figures[f"batch_{n}"] = med
            print(f"batch {n:>6}: set_values {med['set'] * 1e3:8.1f} ms   undo+redo {med['undo_redo'] * 1e3:8.1f} ms   "
                  f"commit {med['commit'] * 1e3:8.1f} ms (transaction {med['transaction'] * 1e3:.1f} ms)   "
                  f"median of {args.repeat}")
        session.close()
    if args.json:
        print(json.dumps(figures))
    return 0


def run_view(args: argparse.Namespace) -> int:
    """The view-attached run (module docstring)."""
    from qdt.bench.scene import PROJECT_FILE, generate_city
    from qdt.edit import start_editing
    from qdt.project import open_project
    from qdt.render import Scene, offscreen_window

    n = (args.batch or [100])[0]
    figures: dict[str, Any] = {"scale": args.scale, "batch": n,
                               "command": "python -m qdt.bench edit --view"
                               + (f" --data {args.data}" if args.data else f" --scale {args.scale}")}
    with tempfile.TemporaryDirectory(prefix="qdt-bench-edit-view-") as temp:
        folder = Path(args.data) if args.data else Path(temp)
        if not args.data:
            seconds = generate_city(folder, args.scale)
            print(f"generated --scale {args.scale} in {seconds:.1f} s")
        project = open_project(folder / PROJECT_FILE)
        lights = next(layer for layer in project.layers if getattr(layer, "feature_class", None) == "streetlight")
        window = offscreen_window(1600, 1000)
        scene = Scene(project.layers)
        window.AddRenderer(scene.renderer)
        fids = lights.fids[:n]
        scene.fly_to_feature(lights, int(fids[0]), min_size=600.0)  # a street-level view of the edited lights
        window.Render()
        session = start_editing(lights, user="bench", notify_layer=True)
        print(f"city: {lights.feature_count} streetlights; editing {n} of them with the view attached")
        keys = ("view_update", "view_frame", "rebuild_update", "rebuild_frame")
        rounds: dict[str, list[float]] = {key: [] for key in keys}
        for r in range(args.repeat):
            label = STATUS_LABELS[r % 2]
            t0 = time.perf_counter()
            session.set_values(fids, {"status": label})  # notifies the layer: the scene recolours these lights
            t1 = time.perf_counter()
            window.Render()
            t2 = time.perf_counter()
            rounds["view_update"].append(t1 - t0)
            rounds["view_frame"].append(t2 - t1)
        for _ in range(min(args.repeat, 3)):
            t0 = time.perf_counter()
            lights.notify_data()  # the same edit seen as "everything changed": the old rebuild of the layer
            t1 = time.perf_counter()
            window.Render()
            t2 = time.perf_counter()
            rounds["rebuild_update"].append(t1 - t0)
            rounds["rebuild_frame"].append(t2 - t1)
        session.rollback()
        session.close()
        scene.close()
        window.Finalize()
        for key, values in rounds.items():
            figures[f"{key}_ms"] = round(statistics.median(values) * 1e3, 1)
        print(f"status edit of {n} lights, view attached (median of {args.repeat}): "
              f"scene updated in {figures['view_update_ms']:.1f} ms, next frame {figures['view_frame_ms']:.1f} ms; "
              f"as a layer rebuild (before): {figures['rebuild_update_ms']:.1f} ms, "
              f"next frame {figures['rebuild_frame_ms']:.1f} ms")
    if args.json:
        print(json.dumps(figures))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qdt.bench.edit", description=__doc__.splitlines()[0])
    _arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
