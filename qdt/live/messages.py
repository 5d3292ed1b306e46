"""Facility status messages from the city's IoT platform (物联感知平台): topics, payloads, validation, alarms.

Topic scheme: ``qdt/<feature_class>/<code>/status`` — ``feature_class`` a CIM catalogue class
(``streetlight``, ``smart_pole``, ``manhole`` …), ``code`` the facility's 16-digit object code.
Payload: a JSON object ``{"status": <code or label>, "ts": "<ISO-8601>", ...readings}``:

- ``status``: a code of the ``facility_status`` code list (1 正常, 2 故障, 3 维修中, 4 停用), as a
  number, or its Chinese or English label (``"故障"``, ``"Fault"``);
- ``ts``: when the device measured it, ISO-8601 with a time zone (``2026-05-01T08:00:00+08:00``;
  without one it is taken as UTC); stored in UTC;
- any other key is a reading (number, boolean, short text or null), e.g. ``"cover": "open"`` from
  a manhole cover sensor, ``"power_w": 118.5`` from a lamp controller.

A message that does not follow the scheme is *rejected* with a reason (counted and logged by the
feed), never raised: unknown topic, unknown feature, unparsable JSON, wrong type.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

TOPIC_PREFIX = "qdt"
TOPIC_FILTER = "qdt/+/+/status"
MAX_PAYLOAD = 16_384  # bytes: a status report is a few hundred; anything larger is not one
MAX_TEXT = 200  # characters of a text reading
FAULT = 2  # facility_status 故障
REJECT_REASONS = ("bad_topic", "unknown_feature", "bad_json", "bad_type", "bad_status", "bad_ts", "too_large")


def topic_for(feature_class: str, code: str) -> str:
    return f"{TOPIC_PREFIX}/{feature_class}/{code}/status"


@dataclass(frozen=True)
class StatusUpdate:
    """One valid status report of one facility."""

    feature_class: str
    code: str
    layer: str
    fid: int
    status: int
    ts: str  # UTC, ``YYYY-MM-DDTHH:MM:SS.fffZ``
    received: str
    readings: dict[str, Any] = field(default_factory=dict)

    def payload_json(self) -> str:
        return json.dumps({"status": self.status, "ts": self.ts, **self.readings}, ensure_ascii=False,
                          sort_keys=True)


@dataclass(frozen=True)
class Rejected:
    """A message the feed could not use: ``reason`` (one of :data:`REJECT_REASONS`) and a one-line detail."""

    topic: str
    reason: str
    detail: str


@dataclass(frozen=True)
class Alarm:
    """A facility that needs attention: a device turned 故障, a manhole cover opened."""

    feature_class: str
    code: str
    layer: str
    fid: int
    kind: str  # "fault" | "cover_open"
    ts: str
    message: str


def utc_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now_text() -> str:
    return utc_text(datetime.now(timezone.utc))


def parse_ts(value: Any) -> str | None:
    """ISO-8601 text → UTC text; None if it is not a timestamp."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return utc_text(moment)


class FacilityIndex:
    """Which facility a (feature_class, code) pair names: its layer and fid; and the status labels.

    Built from the project's vector layers that have a catalogue class and a ``code`` column.
    """

    def __init__(self, entries: Mapping[tuple[str, str], tuple[str, int]], status_labels: Mapping[str, int],
                 status_codes: Iterable[int]) -> None:
        self._entries = dict(entries)
        self._labels = {k.lower(): v for k, v in status_labels.items()}
        self._codes = frozenset(int(c) for c in status_codes)
        self.classes = frozenset(cls for cls, _ in self._entries)

    @classmethod
    def from_layers(cls, layers: Iterable[Any]) -> FacilityIndex:
        from qdt.cim.schema import catalogue

        entries: dict[tuple[str, str], tuple[str, int]] = {}
        for layer in layers:
            fc = getattr(layer, "feature_class", None)
            frame = getattr(layer, "frame", None)
            if not fc or frame is None or "code" not in frame.columns:
                continue
            codes = frame["code"].astype(str).to_numpy()
            entries.update(zip(((fc, c) for c in codes), ((layer.name, int(f)) for f in layer.fids), strict=True))
        status = catalogue().codelist("facility_status")
        labels = {}
        for e in status.entries:
            labels[e.zh] = int(e.code)
            labels[e.en] = int(e.code)
        return cls(entries, labels, status.codes)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._entries

    def lookup(self, feature_class: str, code: str) -> tuple[str, int] | None:
        return self._entries.get((feature_class, code))

    def items(self) -> Iterable[tuple[tuple[str, str], tuple[str, int]]]:
        return self._entries.items()

    def status_code(self, value: Any) -> int | None:
        """A status value of a payload → facility_status code, None if it is not one."""
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value if value in self._codes else None
        if isinstance(value, float):
            return int(value) if value.is_integer() and int(value) in self._codes else None
        if isinstance(value, str):
            text = value.strip()
            if text.isdigit():
                return int(text) if int(text) in self._codes else None
            return self._labels.get(text.lower())
        return None

    def parse(self, topic: str, payload: bytes | str, received: str | None = None) -> StatusUpdate | Rejected:
        """One MQTT message → a :class:`StatusUpdate` or a :class:`Rejected` with the reason."""
        parts = topic.split("/")
        if len(parts) != 4 or parts[0] != TOPIC_PREFIX or parts[3] != "status" or not parts[1] or not parts[2]:
            return Rejected(topic, "bad_topic", f"topic '{topic[:120]}' is not qdt/<feature_class>/<code>/status")
        feature_class, code = parts[1], parts[2]
        where = self.lookup(feature_class, code)
        if where is None:
            return Rejected(topic, "unknown_feature", f"no {feature_class} with code '{code[:40]}' in the project")
        if len(payload) > MAX_PAYLOAD:
            return Rejected(topic, "too_large", f"payload of {len(payload)} bytes (at most {MAX_PAYLOAD})")
        try:
            doc = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            return Rejected(topic, "bad_json", f"payload is not JSON: {' '.join(str(exc).split())[:120]}")
        if not isinstance(doc, dict):
            return Rejected(topic, "bad_type", f"payload is a JSON {type(doc).__name__}, not an object")
        if "status" not in doc:
            return Rejected(topic, "bad_status", "payload has no 'status'")
        status = self.status_code(doc["status"])
        if status is None:
            return Rejected(topic, "bad_status", f"status {str(doc['status'])[:40]!r} is not a facility_status code "
                                                 "or label (1 正常, 2 故障, 3 维修中, 4 停用)")
        ts = parse_ts(doc.get("ts"))
        if ts is None:
            return Rejected(topic, "bad_ts", f"ts {str(doc.get('ts'))[:40]!r} is not an ISO-8601 timestamp")
        readings = {}
        for key, value in doc.items():
            if key in ("status", "ts"):
                continue
            ok = value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float)
                                                                         and math.isfinite(value))
            if not ok or (isinstance(value, str) and len(value) > MAX_TEXT) or len(key) > 64:
                return Rejected(topic, "bad_type", f"reading '{key[:40]}' must be a number, boolean or short text")
            readings[key] = value
        return StatusUpdate(feature_class, code, where[0], where[1], status, ts, received or now_text(), readings)


def cover_open(readings: Mapping[str, Any]) -> bool:
    """A manhole cover sensor reports the cover open (``"cover": "open"``/``true``, ``"cover_open": true``)."""
    value = readings.get("cover", readings.get("cover_open"))
    if isinstance(value, str):
        return value.strip().lower() in ("open", "opened", "开启", "打开")
    return value is True


def alarm_for(update: StatusUpdate, previous: StatusUpdate | None, previous_status: int | None) -> Alarm | None:
    """The alarm an update raises, if any: a facility turning 故障 (it was not before), a cover opening.

    ``previous`` is the last stored update of the facility; ``previous_status`` its status before
    any live update (the layer's value) when there is no previous update.
    """
    before = previous.status if previous is not None else previous_status
    if update.status == FAULT and before != FAULT:
        return Alarm(update.feature_class, update.code, update.layer, update.fid, "fault", update.ts,
                     f"{update.layer} {update.code}: 故障")
    if update.feature_class == "manhole" and cover_open(update.readings) and not (
            previous is not None and cover_open(previous.readings)):
        return Alarm(update.feature_class, update.code, update.layer, update.fid, "cover_open", update.ts,
                     f"{update.layer} {update.code}: 井盖开启")
    return None
