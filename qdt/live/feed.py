"""The live feed: an MQTT subscriber that keeps facility states, history and alarms.

Threads: paho's network thread receives and parses messages (cheap) and queues the valid ones;
one writer thread takes them in batches (every :attr:`LiveFeed.batch_interval` seconds or
:attr:`LiveFeed.max_batch` messages), stores a batch in one GeoPackage transaction, updates the
in-memory latest states and then emits. Nothing here runs on, or blocks, a UI thread.

Events (``feed.events``), emitted from the writer or network thread — a Qt listener must move
them to the GUI thread (a queued signal):

- ``updates(list[StatusUpdate])``: facilities whose latest state changed in a batch (the newest
  report of each);
- ``alarms(list[Alarm])``: alarms raised by a batch;
- ``state(str, str)``: broker state (``connecting``, ``connected``, ``offline``, ``stopped``) and a
  one-line detail (``retry in 4 s``);
- ``rejected(Rejected)``: a bad message (also counted in :attr:`LiveFeed.rejected` and logged).

A lost broker is retried by paho with exponential back-off (1 s doubling to 30 s); meanwhile the
last known states stay in memory and in the GeoPackage.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from qdt.events import EventGroup
from qdt.live.messages import TOPIC_FILTER, Alarm, FacilityIndex, Rejected, StatusUpdate, alarm_for
from qdt.live.store import StoreProcess, read_states

log = logging.getLogger("qdt.live")
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 30
LOG_FIRST_PER_REASON = 20  # then every 1000th: a flood of bad messages must not flood the log


class BrokerURLError(ValueError):
    """A broker address that is not ``mqtt://HOST[:PORT]``."""


@dataclass(frozen=True)
class Broker:
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Broker:
        """``mqtt://HOST:PORT`` (port 1883 when omitted) → Broker; BrokerURLError naming the URL otherwise."""
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise BrokerURLError(f"broker '{url}' is not mqtt://HOST:PORT")
        try:
            port = parts.port or 1883
        except ValueError:
            raise BrokerURLError(f"broker '{url}': the port is not a number from 1 to 65535") from None
        return cls(parts.hostname, port)

    def __str__(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


class LiveFeed:
    """Subscribe to ``qdt/+/+/status`` on ``broker`` and keep the states of the facilities in ``index``.

    Parameters
    ----------
    index
        The project's facilities (:class:`FacilityIndex`).
    gpkg
        The GeoPackage that keeps the live tables (None: memory only).
    broker
        ``mqtt://HOST:PORT`` or a :class:`Broker`.
    initial_status
        Status of each (feature_class, code) before live reports (the layers' values): a facility
        already 故障 raises no new alarm.
    """

    def __init__(self, index: FacilityIndex, gpkg: str | os.PathLike[str] | None, broker: str | Broker, *,
                 initial_status: Mapping[tuple[str, str], int] | None = None, batch_interval: float = 0.2,
                 max_batch: int = 5000, client_id: str | None = None) -> None:
        self.index = index
        self.gpkg = gpkg
        self.broker = broker if isinstance(broker, Broker) else Broker.parse(broker)
        self.batch_interval = float(batch_interval)
        self.max_batch = int(max_batch)
        self.events = EventGroup("updates", "alarms", "state", "rejected")
        self.latest: dict[tuple[str, str], StatusUpdate] = {}
        self.initial_status = dict(initial_status or {})
        self.received = 0
        self.first_received: float | None = None  # time.perf_counter() of the first message
        self.stored = 0
        self.batches = 0
        self.rejected: Counter[str] = Counter()
        self.recent_rejections: deque[Rejected] = deque(maxlen=200)
        self.state = "stopped"
        self.state_detail = ""
        self.last_error: str | None = None
        self._queue: queue.SimpleQueue[StatusUpdate | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._flushed = threading.Condition()
        self._enqueued = 0
        self._processed = 0
        self._writer: threading.Thread | None = None
        self._client: Any = None
        self._client_id = client_id or f"qdt-{os.getpid()}-{id(self):x}"
        self._retry_delay = RECONNECT_MIN_S
        self._lock = threading.Lock()
        self._acknowledged: list[tuple[Alarm, str, str]] = []  # waiting for the writer

    # --- lifecycle ----------------------------------------------------------------------------------
    def load_last_known(self) -> list[StatusUpdate]:
        """The states stored by earlier sessions (offline start); they become :attr:`latest`."""
        if self.gpkg is None:
            return []
        frame = read_states(self.gpkg)
        out = []
        for row in frame.itertuples(index=False):
            if (row.feature_class, row.code) not in self.index:
                continue
            payload = json.loads(row.payload) if row.payload else {}
            readings = {k: v for k, v in payload.items() if k not in ("status", "ts")}
            u = StatusUpdate(row.feature_class, row.code, row.layer, int(row.feature_fid), int(row.status), row.ts,
                             row.received, readings)
            self.latest[(u.feature_class, u.code)] = u
            out.append(u)
        return out

    def start(self) -> None:
        """Connect (in the background) and start the writer; returns at once."""
        import paho.mqtt.client as mqtt

        if self._writer is not None:
            return
        self._stop.clear()
        self._writer = threading.Thread(target=self._write_loop, name="qdt-live-writer", daemon=True)
        self._writer.start()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self._client_id, clean_session=True)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        self._client = client
        self._set_state("connecting", str(self.broker))
        client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        client.loop_start()

    def stop(self, timeout: float = 10.0) -> None:
        """Disconnect, store what is queued, stop the writer. Idempotent."""
        client, self._client = self._client, None
        if client is not None:
            try:
                client.disconnect()
            finally:
                client.loop_stop()
        if self._writer is not None:
            self._stop.set()
            self._queue.put(None)
            self._writer.join(timeout)
            self._writer = None
        self._set_state("stopped", "")

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every message received so far is stored and emitted; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._flushed:
            target = self._enqueued
            while self._processed < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._flushed.wait(left)
        return True

    def acknowledge(self, alarm: Alarm, user: str | None = None) -> None:
        """Record that someone acknowledged ``alarm`` (stored with the next batch, or within 0.5 s)."""
        from qdt.live.messages import now_text

        with self._lock:
            self._acknowledged.append((alarm, now_text(), user or os.environ.get("USER") or ""))

    @property
    def counters(self) -> dict[str, Any]:
        return {"received": self.received, "stored": self.stored, "batches": self.batches,
                "rejected": dict(self.rejected), "rejected_total": sum(self.rejected.values()),
                "facilities": len(self.latest), "state": self.state}

    # --- paho callbacks (network thread) -------------------------------------------------------------
    def _set_state(self, state: str, detail: str) -> None:
        self.state, self.state_detail = state, detail
        self.events.state.emit(state, detail)

    def _on_connect(self, client: Any, _userdata: Any, _flags: Any, reason_code: Any, _props: Any) -> None:
        if getattr(reason_code, "is_failure", False):
            self.last_error = str(reason_code)
            self._offline(f"refused: {reason_code}")
            return
        self._retry_delay = RECONNECT_MIN_S
        client.subscribe(TOPIC_FILTER, qos=1)
        self._set_state("connected", str(self.broker))
        log.info("live feed connected to %s", self.broker)

    def _offline(self, why: str) -> None:
        delay = self._retry_delay
        self._retry_delay = min(RECONNECT_MAX_S, self._retry_delay * 2)  # paho's back-off: doubling to the max
        self._set_state("offline", f"{why}; retry in {delay} s")
        log.warning("live feed: broker %s %s; retry in %s s", self.broker, why, delay)

    def _on_disconnect(self, _client: Any, _userdata: Any, _flags: Any, reason_code: Any, _props: Any) -> None:
        if self._client is None:
            return  # our own stop()
        self._offline(f"lost ({reason_code})")

    def _on_connect_fail(self, _client: Any, _userdata: Any) -> None:
        self._offline("unreachable")

    def _on_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        if self.first_received is None:
            self.first_received = time.perf_counter()
        self.received += 1
        try:
            result = self.index.parse(msg.topic, msg.payload)
        except Exception as exc:  # a parser bug must not kill the network thread
            result = Rejected(str(getattr(msg, "topic", "?")), "bad_type", f"unreadable message ({exc!r})")
        if isinstance(result, Rejected):
            self._reject(result)
            return
        with self._flushed:
            self._enqueued += 1
        self._queue.put(result)

    def _reject(self, rejected: Rejected) -> None:
        with self._lock:
            self.rejected[rejected.reason] += 1
            count = self.rejected[rejected.reason]
        self.recent_rejections.append(rejected)
        if count <= LOG_FIRST_PER_REASON or count % 1000 == 0:
            log.warning("live feed: bad message on %s (%s, %d so far): %s", rejected.topic, rejected.reason, count,
                        rejected.detail)
        self.events.rejected.emit(rejected)

    # --- the writer thread ----------------------------------------------------------------------------
    def _write_loop(self) -> None:
        store = None
        if self.gpkg is not None:
            try:
                store = StoreProcess(self.gpkg)
            except Exception as exc:  # keep the feed running on memory; say why nothing is stored
                self.last_error = str(exc)
                log.error("live feed: %s", exc)
        try:
            stopping = False
            while not stopping:
                batch, stopping = self._take_batch()
                if batch:
                    self._process(batch, store)
                elif self._acknowledged and store is not None:
                    self._store(store, [], [])
        finally:
            if store is not None:
                store.close()

    def _drain(self) -> list[StatusUpdate]:
        out = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return out
            if item is not None:
                out.append(item)

    def _take_batch(self) -> tuple[list[StatusUpdate], bool]:
        """Up to ``max_batch`` updates arriving within ``batch_interval`` of the first, and whether to stop."""
        try:
            first = self._queue.get(timeout=0.5)
        except queue.Empty:
            return [], self._stop.is_set()
        if first is None:  # stop() disconnected first: nothing arrives after the marker
            return self._drain(), True
        batch = [first]
        deadline = time.monotonic() + self.batch_interval
        while len(batch) < self.max_batch:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                item = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if item is None:
                return batch + self._drain(), True
            batch.append(item)
        return batch, False

    def _store(self, store: StoreProcess, batch: list[StatusUpdate], alarms: list[Alarm]) -> None:
        with self._lock:
            acknowledged, self._acknowledged = self._acknowledged, []
        try:
            store.write(batch, alarms, acknowledged)
            self.stored += len(batch)
        except Exception as exc:  # a locked or full disk must not kill the feed: keep the states in memory
            self.last_error = f"cannot store live states in '{self.gpkg}': {exc}"
            log.error("live feed: %s", self.last_error)

    def _process(self, batch: list[StatusUpdate], store: StoreProcess | None) -> None:
        changed: dict[tuple[str, str], StatusUpdate] = {}
        alarms: list[Alarm] = []
        for u in batch:  # arrival order; the newest device time wins
            key = (u.feature_class, u.code)
            previous = changed.get(key) or self.latest.get(key)
            if previous is not None and u.ts < previous.ts:
                continue  # a late report of an older state: history only
            alarm = alarm_for(u, previous, self.initial_status.get(key))
            if alarm is not None:
                alarms.append(alarm)
            changed[key] = u
        self.latest.update(changed)
        # the window hears first (it recolours within the batch interval); the GeoPackage follows
        if changed:
            self.events.updates.emit(list(changed.values()))
        if alarms:
            self.events.alarms.emit(alarms)
        if store is not None:
            self._store(store, batch, alarms)
        self.batches += 1
        with self._flushed:
            self._processed += len(batch)
            self._flushed.notify_all()


def record(feed: LiveFeed, seconds: float | None, tick: Callable[[LiveFeed], None] | None = None) -> None:
    """Run ``feed`` for ``seconds`` (None: until KeyboardInterrupt), then store what is queued and stop."""
    feed.start()
    end = None if seconds is None else time.monotonic() + seconds
    try:
        while end is None or time.monotonic() < end:
            time.sleep(min(1.0, max(0.0, end - time.monotonic())) if end is not None else 1.0)
            if tick is not None:
                tick(feed)
    finally:
        feed.flush(timeout=30.0)
        feed.stop()
