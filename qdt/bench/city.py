"""The whole city on one workstation: streamed file layers on a generated city of ``--scale`` buildings.

Run::

    python -m qdt.bench city [--scale 100000] [--json] [--data DIR] [--keep DIR]

The city is written by the sample generator (``qdt.cim.sample``) in a child process (its time is
``generate_s``; ``--data DIR`` reuses a city generated before, ``--generate-s`` then reports the
time that generation took). The project is opened with a street-level camera at the city's
centre (300 m up, 45° down); GeoPackage layers above the streaming threshold
(:data:`qdt.io.window.settings`) load by view window. Figures:

- ``open_s``: open the project (layers, view windows) and build the scene until the first frame
  is on screen; ``build_s`` the scene build alone, ``first_frame_s`` the first render alone;
- ``street_frame_ms``: median of a street-level orbit (36 steps of 10°, drawn as while dragging);
- ``overview_frame_ms``: median frame of the whole city from above, the streamed layers showing
  their overviews (``overview_load_s``: switching to them);
- ``pan_load_ms``: after a 2 km pan at street level, loading the new window's tiles (none cached,
  no prefetch credited) and drawing it at full detail; a second pan after the tiles ahead were
  prefetched along the motion (as the window does in the background) is printed, not in the JSON;
- ``pick_ms_median``: median of 100 picks at features seen in the street view;
- ``peak_rss_mb``: the process's peak resident memory;
- ``query_s`` / ``query_count``: streetlights within 25 m of a smart pole over the whole city
  (:func:`qdt.query.run_query`, the streamed layer read in chunks); ``gdal_query_count``: the
  same question in GDAL's SQLite dialect on the GeoPackage.

Benchmarks print; tests never assert on these times. With ``--json`` the last line is one JSON
object with exactly those keys and ``scale``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_SCALE = 100_000
PAN_M = 2000.0
KEYS = ("scale", "generate_s", "open_s", "first_frame_s", "street_frame_ms", "overview_frame_ms", "pan_load_ms",
        "pick_ms_median", "peak_rss_mb", "query_s", "query_count", "gdal_query_count")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("city", help="the whole city streamed: open, frames, pan, pick, memory, whole-city query",
                       description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=int, default=DEFAULT_SCALE, help="buildings in the generated city (default 100000)")
    p.add_argument("--json", action="store_true", help="last line: one JSON object of the figures")
    p.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it (default: a temporary folder)")
    p.add_argument("--data", metavar="DIR", help="use the city a previous generation wrote into DIR")
    p.add_argument("--generate-s", type=float, help="with --data: the seconds that generation took (reported)")
    p.add_argument("--width", type=int, default=1600)
    p.add_argument("--height", type=int, default=1000)
    p.add_argument("--seed", type=int, default=7, help="seed of the random picks")
    p.set_defaults(func=run)


def _street_camera(centre: tuple[float, float], ground: float) -> Any:
    from qdt.bench.scene import ORBIT_HEIGHT, ORBIT_PITCH
    from qdt.project.model import Camera

    horizontal = ORBIT_HEIGHT / math.tan(math.radians(ORBIT_PITCH))
    cx, cy = centre
    return Camera((cx, cy - horizontal, ground + ORBIT_HEIGHT), (cx, cy, ground))


def _nearest_building(gpkg: Path, point: tuple[float, float]) -> tuple[float, float]:
    """The centre of the building nearest ``point`` (read through the R-tree, growing the box):
    the city's middle may be sea."""
    import pyogrio
    import shapely

    for half in (500.0, 2000.0, 8000.0, 32000.0):
        box = (point[0] - half, point[1] - half, point[0] + half, point[1] + half)
        frame = pyogrio.read_dataframe(gpkg, layer="buildings", bbox=box, columns=[])
        if len(frame):
            centres = shapely.get_coordinates(shapely.centroid(frame.geometry.to_numpy()))
            i = int(np.argmin(np.hypot(centres[:, 0] - point[0], centres[:, 1] - point[1])))
            return float(centres[i, 0]), float(centres[i, 1])
    return point


def _reload(project: Any, view: tuple[float, float, float, float]) -> float:
    """Load and apply the windows of every streamed layer for ``view``; returns the seconds."""
    from qdt.io.window import apply_window, is_streamed, loader_for

    start = time.perf_counter()
    for layer in project.layers:
        if is_streamed(layer):
            loader = layer.metadata.setdefault("_bench_loader", loader_for(layer))
            if loader.needs_reload(view):
                apply_window(layer, loader.load(view))
    return time.perf_counter() - start


def run(args: argparse.Namespace) -> int:
    import pyogrio

    from qdt.bench.query import _gdal_exists_sql, _gdal_fids
    from qdt.bench.scene import ORBIT_HEIGHT, _frames, _peak_rss_mb, _picks, generate_city
    from qdt.io.postgis.view import camera_ground_bbox
    from qdt.project.store import attach_layers, load_project, open_layers
    from qdt.query import Query, run_query
    from qdt.render import Scene, offscreen_window

    say = print
    figures: dict[str, Any] = {"scale": args.scale, "generate_s": args.generate_s}
    temp = None
    if args.data:
        folder = Path(args.data)
    else:
        folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="qdt-bench-city-"))
        temp = None if args.keep else folder
        folder.mkdir(parents=True, exist_ok=True)
        figures["generate_s"] = generate_city(folder, args.scale)
        say(f"generated --scale {args.scale} in {figures['generate_s']:.1f} s into {folder}")
    try:
        gpkg = folder / "qingdao_shinan.gpkg"
        info = pyogrio.read_info(gpkg, layer="buildings")
        x0, y0, x1, y1 = (float(v) for v in info["total_bounds"])
        say(f"city: {info['features']} buildings over {(x1 - x0) / 1000:.1f} km x {(y1 - y0) / 1000:.1f} km")
        centre = _nearest_building(gpkg, ((x0 + x1) / 2, (y0 + y1) / 2))

        # --- open until the first frame -------------------------------------------------------
        start = time.perf_counter()
        project = load_project(folder / "qingdao_shinan.qdt")
        project.camera = _street_camera(centre, 0.0)
        open_layers(project)
        attach_layers(project)
        opened = time.perf_counter() - start
        window = offscreen_window(args.width, args.height)
        t = time.perf_counter()
        scene = Scene(project.layers)
        build = time.perf_counter() - t
        window.AddRenderer(scene.renderer)
        ground = float(scene.context.ground(np.array([centre[0]]), np.array([centre[1]]))[0]) if scene.context else 0.0
        street = _street_camera(centre, ground)
        state = {"position": list(street.position), "focal_point": list(street.focal_point),
                 "view_up": [0.0, 0.0, 1.0], "view_angle": 30.0}
        scene.set_camera_state(state)
        t = time.perf_counter()
        window.Render()
        figures["first_frame_s"] = time.perf_counter() - t
        figures["open_s"] = time.perf_counter() - start
        streamed = [layer.name for layer in project.layers if layer.metadata.get("windowed")]
        say(f"open: {figures['open_s']:.2f} s (layers {opened:.2f} s, scene build {build:.2f} s, first frame "
            f"{figures['first_frame_s']:.2f} s); streamed: {', '.join(streamed) or 'none'}")
        say("  held: " + ", ".join(f"{layer.name} {layer.feature_count}" for layer in project.layers
                                   if getattr(layer, "feature_count", 0)))

        # --- street-level orbit ---------------------------------------------------------------
        camera = scene.renderer.GetActiveCamera()

        def orbit(_i: int) -> None:
            camera.Azimuth(10.0)
            scene.renderer.ResetCameraClippingRange()

        scene.set_interactive(True)
        street_frames = _frames(window, 36, orbit)
        scene.set_interactive(False)
        figures["street_frame_ms"] = float(np.median(street_frames) * 1000)
        say(f"street-level orbit ({ORBIT_HEIGHT:.0f} m up, 45° down, 36 frames): median "
            f"{figures['street_frame_ms']:.0f} ms")

        # --- picks at street level ------------------------------------------------------------
        scene.set_camera_state(state)
        window.Render()
        rng = np.random.default_rng(args.seed)
        _median, timings, hits = _picks(scene, project.layers, rng, args.width, args.height, count=100)
        figures["pick_ms_median"] = float(np.median(timings) * 1000) if timings else None
        say(f"pick: median {figures['pick_ms_median']:.1f} ms ({hits}/{len(timings)} hit the feature aimed at)")

        # --- pan 2 km -------------------------------------------------------------------------
        panned = dict(state)
        panned["position"] = [state["position"][0] + PAN_M, *state["position"][1:]]
        panned["focal_point"] = [state["focal_point"][0] + PAN_M, *state["focal_point"][1:]]
        t = time.perf_counter()
        scene.set_camera_state(panned)
        view = camera_ground_bbox(panned["position"], panned["focal_point"], 30.0, args.width / args.height)
        load_s = _reload(project, view)
        window.Render()
        figures["pan_load_ms"] = (time.perf_counter() - t) * 1000
        say(f"pan {PAN_M / 1000:.0f} km at street level: new area drawn in {figures['pan_load_ms']:.0f} ms "
            f"(tile loads {load_s * 1000:.0f} ms)")

        # the same pan again, as the window's refresher does it: the tiles ahead along the camera's
        # motion were prefetched in the background while the user looked at the last view
        for layer in project.layers:
            loader = layer.metadata.get("_bench_loader")
            if loader is not None:
                loader.prefetch(view, (PAN_M, 0.0))
        again = dict(panned)
        again["position"] = [panned["position"][0] + PAN_M, *panned["position"][1:]]
        again["focal_point"] = [panned["focal_point"][0] + PAN_M, *panned["focal_point"][1:]]
        t = time.perf_counter()
        scene.set_camera_state(again)
        _reload(project, camera_ground_bbox(again["position"], again["focal_point"], 30.0, args.width / args.height))
        window.Render()
        prefetched_ms = (time.perf_counter() - t) * 1000
        say(f"the next {PAN_M / 1000:.0f} km pan, tiles prefetched along the motion: drawn in {prefetched_ms:.0f} ms")

        # --- the whole city from above ---------------------------------------------------------
        t = time.perf_counter()
        overview_load = _reload(project, (x0, y0, x1, y1))
        scene.frame_all()
        window.Render()
        switch = time.perf_counter() - t
        overview = _frames(window, 5, lambda i: camera.Azimuth(0.5))
        figures["overview_frame_ms"] = float(np.median(overview) * 1000)
        say(f"whole-city view: overviews loaded in {overview_load:.2f} s, first frame after {switch:.2f} s, median "
            f"frame {figures['overview_frame_ms']:.0f} ms; held: " + ", ".join(
                f"{layer.name} {layer.feature_count}" for layer in project.layers if layer.metadata.get("windowed")))
        scene.close()
        window.Finalize()

        # --- the whole-city query -------------------------------------------------------------
        t = time.perf_counter()
        result = run_query(Query("streetlights", predicate="dwithin", distance=25.0, other="smart_poles"),
                           project.layers)
        figures["query_s"] = time.perf_counter() - t
        figures["query_count"] = result.count
        del result
        figures["peak_rss_mb"] = _peak_rss_mb()
        gdal = _gdal_fids(gpkg, _gdal_exists_sql("streetlights", "smart_poles", "ST_Distance(a.geom, b.geom) <= 25",
                                                  25.0))
        figures["gdal_query_count"] = int(len(gdal))
        say(f"streetlights within 25 m of a smart pole, whole city: {figures['query_count']} in "
            f"{figures['query_s']:.2f} s; GDAL SQL: {figures['gdal_query_count']}")
        say(f"memory: peak {figures['peak_rss_mb']:.0f} MiB")
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    say(f"command: python -m qdt.bench city --scale {args.scale}" + (" --json" if args.json else ""))
    if args.json:
        out = {key: (round(figures[key], 3) if isinstance(figures.get(key), float) else figures.get(key))
               for key in KEYS}
        say(json.dumps(out, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    from qdt.bench.__main__ import main as bench_main

    return bench_main(["city", *(argv or [])])
