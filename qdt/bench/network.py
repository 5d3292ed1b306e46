"""Time the pipe-network topology and analyses on the generated city's survey deliveries.

Run::

    python -m qdt.bench network [--scale 100000] [--queries 50] [--json]

The city's pipe point and line tables are built in memory by :func:`qdt.cim.sample.build`
(``--scale`` buildings; default 100 000). Figures: ``topology_s`` (nodes and edges of every
segment of every network from the point numbers, components included), ``check_s`` (all survey
checks), and the median of ``--queries`` random ``isolate``, ``trace`` and ``connected`` runs
(``isolate_ms``, ``trace_ms``, ``connected_ms``; the first isolate pays the one-off
valve-part precomputation, reported as ``isolate_prepare_s``). Benchmarks print; tests
never assert on these times.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("network", help="pipe-network topology and analyses")
    p.add_argument("--scale", type=int, default=100_000, help="about this many buildings (default 100000)")
    p.add_argument("--queries", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from qdt.cim.sample import build
    from qdt.network import PipeDelivery, build_topology, check, connected, isolate, trace
    from qdt.network.analysis import _isolation

    t0 = time.perf_counter()
    _, layers = build(args.scale)
    generate_s = time.perf_counter() - t0
    delivery = PipeDelivery.from_frames(layers["pipe_points"], layers["pipes"])
    t0 = time.perf_counter()
    topo = build_topology(delivery)
    topology_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = check(topo)
    check_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    _isolation(topo)
    prepare_s = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    water = np.flatnonzero(topo.line_network == "JS")
    storm = np.flatnonzero(topo.gravity)
    times: dict[str, list[float]] = {"isolate": [], "trace": [], "connected": []}
    for _ in range(args.queries):
        fid = int(topo.line_fid[rng.choice(water)])
        t0 = time.perf_counter()
        isolate(topo, fid)
        times["isolate"].append(time.perf_counter() - t0)
        node = topo.line_u[rng.choice(storm)]
        t0 = time.perf_counter()
        trace(topo, topo.node_no[node], "up", "PS")
        times["trace"].append(time.perf_counter() - t0)
        line = rng.choice(water)
        lo, hi = topo.component_range(int(topo.line_u[line]))
        a, b = rng.integers(lo, hi, 2)
        t0 = time.perf_counter()
        connected(topo, topo.node_no[a], topo.node_no[b], topo.node_network[a])
        times["connected"].append(time.perf_counter() - t0)
    figures = {"scale": args.scale, "lines": topo.n_lines, "points": topo.n_nodes, "components": topo.n_components,
               "generate_s": round(generate_s, 2), "topology_s": round(topology_s, 3), "check_s": round(check_s, 3),
               "findings": len(report["findings"]), "isolate_prepare_s": round(prepare_s, 3),
               **{f"{k}_ms": round(statistics.median(v) * 1000, 2) for k, v in times.items()}}
    for k, v in figures.items():
        print(f"{k}: {v}")
    if args.json:
        print(json.dumps(figures))
    return 0
