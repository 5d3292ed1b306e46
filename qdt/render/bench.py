"""Time the builders at city scale (prints figures; tests never assert on time).

Run::

    python -m qdt.render.bench --buildings 10000 --lights 30000 --pipes 2000
"""

from __future__ import annotations

import argparse
import sys
import time

from qdt.render.registry import builder_for
from qdt.render.synthetic import synthetic_layers
from qdt.render.visual import BuildContext


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qdt.render.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=10000)
    parser.add_argument("--lights", type=int, default=30000)
    parser.add_argument("--pipes", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N")
    parser.add_argument("--render", metavar="PNG", help="also render the scene offscreen to this file")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    layers = synthetic_layers(n_buildings=args.buildings, n_lights=args.lights, n_pipes=args.pipes)
    print(f"synthetic data: {time.perf_counter() - t0:.2f} s")
    from qdt.crs import SceneOrigin

    context = BuildContext(origin=SceneOrigin.from_bounds(layers.bounds), dem=layers["DEM"])
    context.terrain_grid()
    for layer in layers:
        builder = builder_for(layer)
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            visual = builder(layer, context)
            best = min(best, time.perf_counter() - start)
        cells = sum(p.polydata.GetNumberOfCells() for p in visual.parts if p.polydata is not None)
        print(f"{layer.name:14s} {layer.feature_count:7d} features  {len(visual.parts)} actors "
              f"{cells:9d} cells  build {best * 1000:8.1f} ms")
    if args.render:
        from qdt.render.offscreen import render_offscreen

        start = time.perf_counter()
        render_offscreen(layers, 1600, 1000, args.render)
        print(f"offscreen render 1600x1000 (scene build + first frame): {time.perf_counter() - start:.2f} s")
    print("command:", "python -m qdt.render.bench " + " ".join(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
