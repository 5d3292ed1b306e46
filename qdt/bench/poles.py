"""Time the 多杆合一 consolidation on a generated city.

Run::

    python -m qdt.bench poles [--scale 100000] [--distance 15] [--repeat 3] [--json]

The city's layers are built in memory by :func:`qdt.cim.sample.build` (``--scale`` buildings,
default 100 000: ~140 districts, about 190 000 poles of five kinds); the timing covers
:func:`qdt.poles.consolidate_layers` end to end (gathering poles and devices, pairs, the side
rule against every road centreline, components, sites, devices), best of ``--repeat``. With
``--json`` the last line is one JSON object. Benchmarks print; tests never assert on these times.
"""

from __future__ import annotations

import argparse
import json
import time

DEFAULT_SCALE = 100_000


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("poles", help="多杆合一 consolidation on a generated city", description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=int, default=DEFAULT_SCALE, help="buildings in the generated city (default 100000)")
    p.add_argument("--distance", type=float, default=15.0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qdt.cim.sample import PROJECT_LAYERS, build
    from qdt.layers import VectorLayer
    from qdt.poles import consolidate_layers

    t0 = time.perf_counter()
    _, frames = build(args.scale)
    classes = {e["layer"]: e["feature_class"] for e in PROJECT_LAYERS if "layer" in e}
    layers = [VectorLayer(name, frame, feature_class=classes.get(name)) for name, frame in frames.items()]
    generated = time.perf_counter() - t0
    times = []
    plan = None
    for _ in range(max(1, args.repeat)):
        start = time.perf_counter()
        plan = consolidate_layers(layers, args.distance)
        times.append(time.perf_counter() - start)
    assert plan is not None
    figures = {"command": f"python -m qdt.bench poles --scale {args.scale} --distance {args.distance:g} "
                          f"--repeat {args.repeat}",
               "buildings": len(frames["buildings"]), "roads": len(frames["roads"]),
               "poles_before": plan.poles_before, "poles_after": plan.poles_after, "groups": len(plan.groups),
               "consolidate_s": round(min(times), 3), "generate_s": round(generated, 2)}
    print(f"{figures['buildings']} buildings, {figures['poles_before']} poles, {figures['roads']} roads: "
          f"{figures['groups']} groups, {figures['poles_after']} poles after, consolidation "
          f"{figures['consolidate_s']:.3f} s (best of {args.repeat})")
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    return 0
