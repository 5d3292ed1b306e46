"""``python -m qdt.bench COMMAND``: run a benchmark and print its figures.

With ``--json`` the last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import sys

BENCHES = {"scene": "qdt.bench.scene", "query": "qdt.bench.query", "edit": "qdt.bench.edit", "db": "qdt.bench.db",
           "table": "qdt.bench.table", "tiles": "qdt.bench.tiles",
           "network": "qdt.bench.network"}
BENCHES.update({"poles": "qdt.bench.poles", "live": "qdt.bench.live"})
BENCHES.update({"city": "qdt.bench.city"})


def main(argv: list[str] | None = None) -> int:
    import importlib

    parser = argparse.ArgumentParser(prog="python -m qdt.bench", description="QDT benchmarks")
    sub = parser.add_subparsers(dest="bench", metavar="BENCH", required=True)
    for module in BENCHES.values():
        importlib.import_module(module).add_parser(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
