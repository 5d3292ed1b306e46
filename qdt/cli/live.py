"""``qdt live record|status``: live facility status over MQTT, kept in the project's GeoPackage.

    qdt live record SOURCE --broker mqtt://HOST:PORT [--seconds S]
    qdt live status SOURCE [--class C] [--json]

``record`` subscribes to ``qdt/+/+/status`` and stores every valid report (``qdt_live_history``)
and the newest state per facility (``qdt_live_status``) until S seconds pass or Ctrl-C; bad
messages are counted and logged, never fatal. ``status`` prints the stored states:
``{"states": {"<code>": {"status": 2, "ts": "…", "feature_class": "streetlight"}}}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from qdt.cli.main import UserError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("live", help="live facility status from MQTT (record, status)",
                       description="Live facility status from the city's IoT platform over MQTT "
                                   "(topic qdt/<feature_class>/<code>/status, JSON payload).")
    actions = p.add_subparsers(dest="live_command", metavar="ACTION")
    actions.required = True
    r = actions.add_parser("record", help="subscribe and store states in the project's GeoPackage")
    r.add_argument("source", help="project file (.qdt) or GeoPackage")
    r.add_argument("--broker", required=True, metavar="URL", help="mqtt://HOST:PORT")
    r.add_argument("--seconds", type=float, metavar="S", help="stop after S seconds (default: until Ctrl-C)")
    r.add_argument("--json", action="store_true", help="print the counters as one JSON object at the end")
    r.set_defaults(func=run_record)
    s = actions.add_parser("status", help="print the stored latest states")
    s.add_argument("source", help="project file (.qdt) or GeoPackage")
    s.add_argument("--class", dest="feature_class", metavar="C", help="only this feature class (e.g. streetlight)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=run_status)


def _source(path: str):  # noqa: ANN202
    from qdt.live import LiveSourceError, open_live_source

    try:
        return open_live_source(path)
    except LiveSourceError as exc:
        raise UserError(str(exc)) from None


def run_record(args: argparse.Namespace) -> int:
    from qdt.live import Broker, BrokerURLError, LiveFeed, record

    if args.seconds is not None and not args.seconds > 0:
        raise UserError(f"--seconds must be positive, not {args.seconds}")
    try:
        broker = Broker.parse(args.broker)
    except BrokerURLError as exc:
        raise UserError(str(exc)) from None
    logging.basicConfig(level=logging.WARNING, format="qdt live: %(message)s", stream=sys.stderr)
    source = _source(args.source)
    feed = LiveFeed(source.index, source.gpkg, broker, initial_status=source.initial_status())
    feed.events.state.connect(lambda state, detail: print(f"qdt live: broker {state} {detail}".rstrip(),
                                                          file=sys.stderr))
    try:
        record(feed, args.seconds)
    except KeyboardInterrupt:
        pass
    counters = feed.counters
    if feed.last_error:
        print(f"qdt live record: warning: {feed.last_error}", file=sys.stderr)
    if args.json:
        print(json.dumps({**counters, "gpkg": str(source.gpkg)}, ensure_ascii=False))
    else:
        print(f"{counters['stored']} reports stored in {source.gpkg} ({counters['facilities']} facilities), "
              f"{counters['rejected_total']} bad messages rejected"
              + (f": {', '.join(f'{k} {v}' for k, v in sorted(counters['rejected'].items()))}"
                 if counters["rejected_total"] else ""))
    return 0


def run_status(args: argparse.Namespace) -> int:
    from qdt.cim.schema import catalogue
    from qdt.live import read_states

    source = _source(args.source)
    if args.feature_class and args.feature_class not in source.index.classes:
        raise UserError(f"no facilities of class '{args.feature_class}' in '{args.source}' "
                        f"(classes: {', '.join(sorted(source.index.classes))})")
    frame = read_states(source.gpkg, args.feature_class)
    if args.json:
        states = {} if frame.empty else {
            str(row.code): {"status": int(row.status), "ts": row.ts, "feature_class": row.feature_class}
            for row in frame.itertuples(index=False)}
        print(json.dumps({"states": states}, ensure_ascii=False))
        return 0
    labels = {int(e.code): e.zh for e in catalogue().codelist("facility_status").entries}
    if frame.empty:
        print(f"no live states stored in {source.gpkg} yet (run qdt live record)")
        return 0
    for row in frame.itertuples(index=False):
        print(f"{row.feature_class}\t{row.code}\t{labels.get(int(row.status), row.status)}\t{row.ts}")
    return 0
