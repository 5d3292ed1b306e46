"""Demo publisher: plausible status reports for the facilities of a project, over MQTT.

``python -m qdt.live.demo --broker mqtt://127.0.0.1:1883 [SOURCE] [--rate N] [--seconds S]``, or
``--with-broker PORT`` to start a throw-away Mosquitto on 127.0.0.1:PORT first (``make run DEMO_FEED=1``).

Every facility of SOURCE (default: the sample project) reports now and then; most reports say
正常 with readings (a lamp's power, a manhole's water level); some lamps and pole devices turn
故障 and are repaired (维修中, then 正常) a while later; some manhole covers open and close.
Deterministic for a given ``--seed``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from qdt.live.messages import topic_for

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "sample_data" / "qingdao_shinan.qdt"
LAMP_CLASSES = ("streetlight", "smart_pole")


def reports(keys: list[tuple[str, str]], rng: np.random.Generator, fault_share: float = 0.02):  # noqa: ANN201
    """Endless (topic, payload) pairs for facilities ``keys`` ((feature_class, code))."""
    broken: dict[int, int] = {}  # facility → reports left until repaired
    opened: set[int] = set()
    n = len(keys)
    clock = datetime.now(timezone(timedelta(hours=8)))
    while True:
        i = int(rng.integers(n))
        cls, code = keys[i]
        clock = max(clock, datetime.now(timezone(timedelta(hours=8))))
        doc: dict = {"ts": clock.isoformat(timespec="milliseconds")}
        if i in broken:
            broken[i] -= 1
            doc["status"] = "维修中" if broken[i] > 0 else "正常"
            if broken[i] <= 0:
                del broken[i]
        elif cls != "manhole" and rng.random() < fault_share:
            broken[i] = int(rng.integers(2, 5))
            doc["status"] = "故障"
        else:
            doc["status"] = 1
        if cls in LAMP_CLASSES:
            doc["power_w"] = 0.0 if doc["status"] == "故障" else round(float(rng.normal(118, 6)), 1)
            doc["dimming"] = int(rng.choice([50, 80, 100]))
        elif cls == "manhole":
            if i in opened:
                opened.discard(i)
                doc["cover"] = "closed"
            elif rng.random() < fault_share:
                opened.add(i)
                doc["cover"] = "open"
            else:
                doc["cover"] = "closed"
            doc["water_level_m"] = round(float(rng.gamma(2.0, 0.1)), 2)
        yield topic_for(cls, code), json.dumps(doc, ensure_ascii=False)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qdt.live.demo", description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default=str(DEFAULT_SOURCE), help="project (.qdt) or GeoPackage")
    parser.add_argument("--broker", help="mqtt://HOST:PORT (required unless --with-broker)")
    parser.add_argument("--with-broker", type=int, metavar="PORT",
                        help="start a Mosquitto on 127.0.0.1:PORT for the demo and publish to it")
    parser.add_argument("--rate", type=float, default=50.0, help="reports per second (default 50)")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args(argv)
    import paho.mqtt.client as mqtt

    from qdt.live.feed import Broker, BrokerURLError
    from qdt.live.source import LiveSourceError, open_live_source

    if not args.rate > 0:
        parser.error("--rate must be positive")
    import signal

    signal.signal(signal.SIGTERM, _interrupt)  # `make run` ends the demo so: stop the broker we started
    if (args.broker is None) == (args.with_broker is None):
        parser.error("give either --broker URL or --with-broker PORT")
    server = None
    try:
        if args.with_broker is not None:
            from qdt.live.broker import Mosquitto

            server = Mosquitto(port=args.with_broker).start()
            args.broker = server.url
        broker = Broker.parse(args.broker)
        source = open_live_source(args.source)
    except (BrokerURLError, LiveSourceError, OSError, RuntimeError) as exc:
        print(f"qdt.live.demo: error: {exc}", file=sys.stderr)
        if server is not None:
            server.stop()
        return 2
    keys = sorted(k for k, _ in source.index.items())
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"qdt-demo-{args.seed}")
    client.reconnect_delay_set(1, 30)
    client.connect_async(broker.host, broker.port)
    client.loop_start()
    print(f"publishing status of {len(keys)} facilities to {broker} at {args.rate:g}/s", file=sys.stderr)
    gen = reports(keys, np.random.default_rng(args.seed))
    start = time.monotonic()
    sent = 0
    try:
        while args.seconds is None or time.monotonic() - start < args.seconds:
            topic, payload = next(gen)
            client.publish(topic, payload, qos=1)
            sent += 1
            lag = start + sent / args.rate - time.monotonic()
            if lag > 0:
                time.sleep(lag)
    except KeyboardInterrupt:
        pass
    finally:
        client.disconnect()
        client.loop_stop()
        if server is not None:
            server.stop()
    print(f"sent {sent} reports", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
