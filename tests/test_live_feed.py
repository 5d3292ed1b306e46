"""Live facility status over MQTT: a real Mosquitto on loopback, thousands of messages, bad ones included."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import paho.mqtt.client as mqtt
import pyogrio
import pytest

from qdt.cli.main import main as qdt_main
from qdt.live import (
    Broker,
    BrokerURLError,
    LiveFeed,
    LiveStore,
    open_live_source,
    read_alarms,
    read_history,
    read_states,
)
from qdt.live.broker import Mosquitto
from qdt.live.messages import Rejected, StatusUpdate
from tests.conftest import SAMPLE_GPKG

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=timezone(timedelta(hours=8)))


@pytest.fixture
def broker():
    with Mosquitto() as b:
        yield b


@pytest.fixture
def gpkg(tmp_path):
    path = tmp_path / "city.gpkg"
    shutil.copy(SAMPLE_GPKG, path)
    return path


def publisher(url):
    b = Broker.parse(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-publisher")
    client.connect(b.host, b.port)
    client.loop_start()
    return client


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def codes_of(path, layer):
    return pyogrio.read_dataframe(path, layer=layer, columns=["code", "status"], read_geometry=False)


def test_stored_states_equal_the_last_valid_message_per_feature(broker, gpkg):
    source = open_live_source(gpkg)
    feed = LiveFeed(source.index, source.gpkg, broker.url, initial_status=source.initial_status())
    feed.start()
    assert wait_for(lambda: feed.state == "connected")
    lights = codes_of(gpkg, "streetlights")["code"].tolist()
    holes = codes_of(gpkg, "manholes")["code"].tolist()
    rng = np.random.default_rng(18)
    labels = {1: "正常", 2: "故障", 3: "Under repair", 4: 4}
    expected, bad, sent = {}, 0, []
    for n in range(4000):
        ts = (T0 + timedelta(milliseconds=10 * n)).isoformat()
        kind = rng.random()
        if kind < 0.75:
            cls, code = ("streetlight", lights[rng.integers(40)]) if rng.random() < 0.7 else \
                ("manhole", holes[rng.integers(30)])
            status = int(rng.integers(1, 5))
            doc = {"status": labels[status] if rng.random() < 0.5 else status, "ts": ts, "power_w": 100.5}
            if cls == "manhole":
                doc = {"status": status, "ts": ts, "cover": "open" if rng.random() < 0.1 else "closed"}
            sent.append((f"qdt/{cls}/{code}/status", json.dumps(doc, ensure_ascii=False)))
            expected[(cls, code)] = (status, ts)
            continue
        bad += 1
        which = rng.integers(7)
        code = lights[rng.integers(40)]
        topic = f"qdt/streetlight/{code}/status"
        payload = [
            "{not json",  # unparsable
            json.dumps({"status": [1], "ts": ts}),  # wrong type
            json.dumps({"status": 9, "ts": ts}),  # not a facility_status code
            json.dumps({"status": 1, "ts": "yesterday"}),  # not a timestamp
            json.dumps([1, 2]),  # not an object
            json.dumps({"status": 1, "ts": ts, "power_w": {"nested": 1}}),  # a reading of the wrong type
            json.dumps({"status": 2, "ts": ts}),
        ][which]
        if which == 6:
            topic = "qdt/streetlight/3702029999999999/status"  # unknown feature code
        sent.append((topic, payload))
    sent.append(("qdt//3702020110000001/status", json.dumps({"status": 1, "ts": T0.isoformat()})))  # no class
    bad += 1
    client = publisher(broker.url)
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in sent]
        for info in infos:
            info.wait_for_publish(10)
        assert wait_for(lambda: feed.received == len(sent), 30), (feed.received, len(sent))
        assert feed.flush(30)
    finally:
        client.disconnect()
        client.loop_stop()
        feed.stop()
    assert sum(feed.rejected.values()) == bad and feed.stored == len(sent) - bad
    assert set(feed.rejected) <= {"bad_json", "bad_type", "bad_status", "bad_ts", "unknown_feature", "bad_topic"}
    assert feed.rejected["unknown_feature"] > 0 and feed.rejected["bad_json"] > 0 and feed.rejected["bad_topic"] == 1
    stored = read_states(gpkg)
    got = {(r.feature_class, r.code): (int(r.status), r.ts) for r in stored.itertuples()}
    want = {k: (s, datetime.fromisoformat(ts).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
            for k, (s, ts) in expected.items()}
    assert got == want
    history = sqlite3.connect(gpkg).execute("SELECT COUNT(*) FROM qdt_live_history").fetchone()[0]
    assert history == len(sent) - bad
    # GDAL lists the live tables as attribute tables of the GeoPackage
    tables = dict(pyogrio.list_layers(gpkg))
    assert {"qdt_live_status", "qdt_live_history", "qdt_live_alarms"} <= set(tables)
    assert pyogrio.read_info(gpkg, layer="qdt_live_status")["features"] == len(want)
    # alarms: lights turning 故障 and covers opening, each with its time
    alarms = read_alarms(gpkg, limit=100_000)
    assert set(alarms["kind"]) == {"fault", "cover_open"} and alarms["ts"].str.endswith("Z").all()
    one = stored.iloc[0]
    hist = read_history(gpkg, one.feature_class, one.code)
    assert hist["ts"].is_monotonic_increasing and hist["ts"].iloc[-1] == one.ts


def test_a_lost_broker_is_retried_and_the_feed_goes_on(gpkg):
    source = open_live_source(gpkg)
    code = codes_of(gpkg, "streetlights")["code"].iloc[0]
    with Mosquitto() as first:
        port = first.port
        feed = LiveFeed(source.index, source.gpkg, first.url)
        states = []
        feed.events.state.connect(lambda state, detail: states.append((state, detail)))
        feed.start()
        assert wait_for(lambda: feed.state == "connected")
    try:
        assert wait_for(lambda: feed.state == "offline")
        assert any("retry in" in detail for state, detail in states if state == "offline")
        assert feed.latest == {}  # nothing lost, nothing invented while offline
        with Mosquitto(port=port) as second:
            assert wait_for(lambda: feed.state == "connected", 40)
            client = publisher(second.url)
            client.publish(f"qdt/streetlight/{code}/status", json.dumps({"status": "故障", "ts": T0.isoformat()}),
                           qos=1).wait_for_publish(10)
            assert wait_for(lambda: ("streetlight", code) in feed.latest)
            client.disconnect()
            client.loop_stop()
            assert feed.flush(10)
    finally:
        feed.stop()
    assert read_states(gpkg, "streetlight")["status"].tolist() == [2]
    # offline start: a new feed knows the last states before any broker answers
    again = LiveFeed(source.index, source.gpkg, "mqtt://127.0.0.1:9")
    assert [u.code for u in again.load_last_known()] == [code]


def test_parse_and_store_rules(gpkg):
    source = open_live_source(gpkg)
    code = codes_of(gpkg, "streetlights")["code"].iloc[0]
    topic = f"qdt/streetlight/{code}/status"
    ok = source.index.parse(topic, json.dumps({"status": "Fault", "ts": "2026-05-04T08:00:00+08:00", "lux": 3}))
    assert isinstance(ok, StatusUpdate) and ok.status == 2 and ok.ts == "2026-05-04T00:00:00.000Z"
    assert ok.readings == {"lux": 3} and ok.layer == "streetlights"
    for payload, reason in [(b"\xff\xfe", "bad_json"), ("null", "bad_type"), ('{"ts": "2026-05-04T08:00"}',
                                                                             "bad_status"),
                            ('{"status": true, "ts": "2026-05-04T08:00"}', "bad_status"),
                            ('{"status": 1}', "bad_ts"), ("x" * 20000, "too_large")]:
        got = source.index.parse(topic, payload)
        assert isinstance(got, Rejected) and got.reason == reason, (payload[:20], got)
    # a late report of an older state goes to the history but never overwrites the newer state
    store = LiveStore(gpkg)
    newer = source.index.parse(topic, json.dumps({"status": 2, "ts": "2026-05-04T09:00:00Z"}))
    older = source.index.parse(topic, json.dumps({"status": 1, "ts": "2026-05-04T08:00:00Z"}))
    store.write([newer])
    store.write([older])
    store.close()
    assert read_states(gpkg)["status"].tolist() == [2]
    assert len(read_history(gpkg, "streetlight", code)) == 2
    with pytest.raises(BrokerURLError, match="not mqtt://HOST:PORT"):
        Broker.parse("http://example/x")
    with pytest.raises(BrokerURLError, match="port"):
        Broker.parse("mqtt://127.0.0.1:99999")


def test_cli_record_and_status(broker, gpkg, capsys):
    code = codes_of(gpkg, "smart_poles")["code"].iloc[3]
    recorder = subprocess.Popen([sys.executable, "-m", "qdt.cli", "live", "record", str(gpkg), "--broker", broker.url,
                                 "--seconds", "4", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        client = publisher(broker.url)
        deadline = time.monotonic() + 4
        n = 0
        while time.monotonic() < deadline and recorder.poll() is None:  # until the recorder is subscribed
            client.publish(f"qdt/smart_pole/{code}/status",
                           json.dumps({"status": 3, "ts": (T0 + timedelta(seconds=n)).isoformat()}), qos=1)
            client.publish("qdt/smart_pole/nope/status", "{}", qos=1)
            n += 1
            time.sleep(0.05)
        client.disconnect()
        client.loop_stop()
        out, err = recorder.communicate(timeout=30)
    finally:
        if recorder.poll() is None:
            recorder.kill()
    assert recorder.returncode == 0, err
    counters = json.loads(out)
    assert counters["stored"] > 0 and counters["rejected"]["unknown_feature"] > 0
    assert "broker connected" in err and "bad message" in err
    assert qdt_main(["live", "status", str(gpkg), "--class", "smart_pole", "--json"]) == 0
    states = json.loads(capsys.readouterr().out)["states"]
    assert list(states) == [code] and states[code]["status"] == 3
    assert qdt_main(["live", "status", str(gpkg), "--class", "pipe", "--json"]) == 2
    assert "no facilities of class 'pipe'" in capsys.readouterr().err
    assert qdt_main(["live", "record", str(gpkg), "--broker", "ftp://x"]) == 2
    assert "is not mqtt://HOST:PORT" in capsys.readouterr().err


def test_updates_reach_the_layers_as_one_change_event_per_layer(gpkg):
    from qdt.live.apply import apply_updates

    source = open_live_source(gpkg)
    lights = next(layer for layer in source.layers if layer.feature_class == "streetlight")
    frame = lights.frame
    fids = [int(f) for f in frame.index[frame["status"].to_numpy() == 1][:3]]
    events = []
    lights.events.data.connect(lambda *args: events.append(args))
    ups = [source.index.parse(f"qdt/streetlight/{frame.loc[f, 'code']}/status",
                              json.dumps({"status": 2, "ts": f"2026-05-04T08:00:0{i}Z"})) for i, f in enumerate(fids)]
    changed = apply_updates({lights.name: lights}, ups)
    assert changed[lights.name].tolist() == sorted(fids) and len(events) == 1
    assert frame.loc[fids, "status"].tolist() == [2, 2, 2]
    change = events[0][0] if events[0] else None
    if change is not None:  # layers that name what changed: only these features, only status
        assert sorted(change.fids.tolist()) == sorted(fids) and set(change.fields) == {"status"}
    assert apply_updates({lights.name: lights}, ups) == {} and len(events) == 1  # nothing new: no event
