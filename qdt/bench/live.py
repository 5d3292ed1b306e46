"""Time the live facility feed: messages stored per second, and publish → recoloured frame.

Run::

    python -m qdt.bench live [--facilities 10000] [--messages 50000] [--rate 1000] [--seconds 20] [--json]

A city with at least ``--facilities`` streetlights is generated (``qdt.cim.sample --scale``) into a
temporary folder and opened as a project with its 3D scene in an offscreen window; a Mosquitto
broker is started on 127.0.0.1 at a free port; a :class:`qdt.live.LiveFeed` subscribes and writes
the project's GeoPackage (``qdt_live_*``).

- **throughput**: a publisher process sends ``--messages`` reports (the facilities in turn) as
  fast as the broker takes them; ``stored_per_s`` is messages stored in the GeoPackage per second,
  from the first one received to the last one committed.
- **latency**: the publisher process keeps the ``--facilities`` lights reporting at ``--rate``
  messages per second for ``--seconds``; meanwhile this process publishes a status change of one
  light every 0.5 s, stamped with the wall-clock time. The main loop stands in for the GUI thread:
  it takes the feed's updates, applies them to the layer (the scene recolours the features in
  place) and renders a frame; ``latency_ms`` is publish → that frame drawn (median, p95, max).

Benchmarks print; tests never assert on these times.
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LIGHTS_PER_DISTRICT = 915  # streetlights of one generated district
BUILDINGS_PER_DISTRICT = 727


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("live", help="live feed: messages stored per second, publish → recoloured frame",
                       description=__doc__.splitlines()[0])
    p.add_argument("--facilities", type=int, default=10_000, help="streetlights reporting (default 10000)")
    p.add_argument("--messages", type=int, default=50_000, help="throughput: reports sent (default 50000)")
    p.add_argument("--rate", type=float, default=1000.0, help="latency: background reports per second (1000)")
    p.add_argument("--seconds", type=float, default=20.0, help="latency: how long (default 20)")
    p.add_argument("--qos", type=int, choices=(0, 1), default=1,
                   help="throughput: QoS of the publisher (0 lets one publisher outrun the feed)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _publisher(url: str, codes_file: str, count: int, rate: float, seconds: float, qos: int = 1) -> None:
    """Child process: ``count`` reports as fast as possible (rate 0), else ``rate`` per second for ``seconds``."""
    import paho.mqtt.client as mqtt

    from qdt.live import Broker

    codes = Path(codes_file).read_text().split()
    b = Broker.parse(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{rate}")
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(1000)
    client.connect(b.host, b.port)
    client.loop_start()
    start = time.monotonic()
    sent = 0
    status = 1
    while (count and sent < count) or (not count and time.monotonic() - start < seconds):
        code = codes[sent % len(codes)]
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{sent % 1000:03d}Z"
        info = client.publish(f"qdt/streetlight/{code}/status",
                              json.dumps({"status": status, "ts": ts, "power_w": 118.0}), qos=qos)
        sent += 1
        if sent % 500 == 0 and qos:
            info.wait_for_publish(30)
        if rate:
            lag = start + sent / rate - time.monotonic()
            if lag > 0:
                time.sleep(lag)
    client.disconnect()
    client.loop_stop()
    print(sent)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import paho.mqtt.client as mqtt

    from qdt.bench.scene import PROJECT_FILE, generate_city
    from qdt.live import Broker, LiveFeed
    from qdt.live.apply import apply_updates
    from qdt.live.broker import Mosquitto
    from qdt.live.messages import FacilityIndex
    from qdt.project import open_project
    from qdt.render import Scene, offscreen_window

    districts = -(-args.facilities // LIGHTS_PER_DISTRICT)
    scale = districts * BUILDINGS_PER_DISTRICT - BUILDINGS_PER_DISTRICT // 2
    figures: dict[str, Any] = {"command": f"python -m qdt.bench live --facilities {args.facilities} --messages "
                                          f"{args.messages} --rate {args.rate:g} --seconds {args.seconds:g} "
                                          f"--qos {args.qos}"}
    with tempfile.TemporaryDirectory(prefix="qdt-bench-live-") as temp, Mosquitto() as broker:
        folder = Path(temp)
        print(f"generating a city of {districts} districts (--scale {scale})…", file=sys.stderr)
        generate_city(folder, scale)
        project = open_project(folder / PROJECT_FILE)
        lights = next(layer for layer in project.layers if getattr(layer, "feature_class", None) == "streetlight")
        lights_n = min(args.facilities, lights.feature_count)
        codes = lights.frame["code"].astype(str).to_numpy()[:lights_n]
        (folder / "codes.txt").write_text("\n".join(codes))
        index = FacilityIndex.from_layers([lights])
        gpkg = Path(lights.source) if getattr(lights, "source", None) else folder / "qingdao_shinan.gpkg"
        feed = LiveFeed(index, gpkg, broker.url)
        pending: queue.SimpleQueue = queue.SimpleQueue()
        put = pending.put  # a plain function: the signal holds bound methods weakly
        feed.events.updates.connect(lambda updates: put(updates))
        feed.start()
        deadline = time.monotonic() + 20
        while feed.state != "connected" and time.monotonic() < deadline:
            time.sleep(0.05)
        figures.update({"facilities": int(lights_n), "broker": broker.url})

        # --- throughput ---
        child = [sys.executable, "-c", "import sys; from qdt.bench.live import _publisher; "
                 "_publisher(sys.argv[1], sys.argv[2], int(sys.argv[3]), 0.0, 0.0, int(sys.argv[4]))",
                 broker.url, str(folder / "codes.txt"), str(args.messages), str(args.qos)]
        t_pub = time.perf_counter()
        subprocess.run(child, check=True, capture_output=True, text=True)
        publish_s = time.perf_counter() - t_pub
        while feed.received < args.messages and time.perf_counter() - t_pub < 120:
            previous = feed.received
            time.sleep(1.0)
            if args.qos == 0 and feed.received == previous:
                break  # QoS 0: what the broker dropped never comes
        feed.flush(120)
        stored_s = time.perf_counter() - (feed.first_received or t_pub)
        figures.update({"messages": feed.stored, "publish_s": round(publish_s, 2), "store_s": round(stored_s, 2),
                        "stored_per_s": round(feed.stored / stored_s), "batches": feed.batches})
        print(f"throughput: {feed.stored} reports of {lights_n} facilities stored in {stored_s:.2f} s "
              f"= {figures['stored_per_s']} messages/s, first received to last committed ({feed.batches} batches; "
              f"the publisher process took {publish_s:.2f} s with its start)")
        while not pending.empty():
            pending.get()

        # --- latency: background reporting plus timed probes ---
        window = offscreen_window(1280, 800)
        scene = Scene(project.layers)
        window.AddRenderer(scene.renderer)
        probe_fid = int(lights.fids[0])
        scene.fly_to_feature(lights, probe_fid, min_size=600.0)
        window.Render()
        layers = {layer.name: layer for layer in project.layers}
        background = subprocess.Popen([sys.executable, "-c", "import sys; from qdt.bench.live import _publisher; "
                                       "_publisher(sys.argv[1], sys.argv[2], 0, float(sys.argv[3]), "
                                       "float(sys.argv[4]))", broker.url, str(folder / "codes.txt"),
                                       str(args.rate), str(args.seconds)], stdout=subprocess.DEVNULL)
        b = Broker.parse(broker.url)
        probe = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-probe")
        probe.connect(b.host, b.port)
        probe.loop_start()
        probe_code = str(lights.frame.loc[probe_fid, "code"])
        latencies, frames = [], []
        sent_at: dict[int, float] = {}
        start = time.monotonic()
        next_probe = start + 1.0
        n_probe = 0
        while time.monotonic() - start < args.seconds:
            now = time.monotonic()
            if now >= next_probe:
                n_probe += 1
                status = 2 if n_probe % 2 else 3  # 故障 / 维修中: a real change every time
                ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 3600)) + f".{n_probe % 1000:03d}Z"
                sent_at[status * 100000 + n_probe] = time.perf_counter()
                probe.publish(f"qdt/streetlight/{probe_code}/status",
                              json.dumps({"status": status, "ts": ts, "probe": n_probe}), qos=1)
                next_probe = now + 0.5
            try:
                batch = pending.get(timeout=0.02)
            except queue.Empty:
                continue
            updates = list(batch)
            while not pending.empty():
                updates.extend(pending.get())
            t0 = time.perf_counter()
            apply_updates(layers, updates)
            window.Render()
            t1 = time.perf_counter()
            frames.append(t1 - t0)
            for u in updates:
                key = u.readings.get("probe")
                if isinstance(key, int) and (u.status * 100000 + key) in sent_at:
                    latencies.append(t1 - sent_at.pop(u.status * 100000 + key))
        background.wait(30)
        probe.disconnect()
        probe.loop_stop()
        feed.stop()
        scene.close()
        window.Finalize()
        ms = np.array(latencies) * 1e3
        figures.update({"background_rate": args.rate, "probes": len(latencies),
                        "latency_ms_median": round(float(np.median(ms)), 1) if len(ms) else None,
                        "latency_ms_p95": round(float(np.percentile(ms, 95)), 1) if len(ms) else None,
                        "latency_ms_max": round(float(ms.max()), 1) if len(ms) else None,
                        "apply_and_frame_ms_median": round(statistics.median(frames) * 1e3, 1) if frames else None,
                        "feed_rejected": sum(feed.rejected.values())})
        print(f"latency publish → recoloured frame with {lights_n} facilities reporting at {args.rate:g}/s: "
              f"median {figures['latency_ms_median']} ms, p95 {figures['latency_ms_p95']} ms, "
              f"max {figures['latency_ms_max']} ms over {len(latencies)} probes "
              f"(apply + frame {figures['apply_and_frame_ms_median']} ms)")
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    return 0
