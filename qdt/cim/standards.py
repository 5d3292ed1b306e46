"""Standards tables as data: GB 50289-2016 clearances, CJJ 61 networks, GB/T 30428.2 component codes.

Conditions in ``clearances.csv`` are tiny structured strings (``diameter_mm<=200``,
``pressure in MB,MA``) parsed here — never evaluated as code.
"""

from __future__ import annotations

import csv
import json
import operator
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from qdt.cim.schema import DATA_DIR, catalogue

_CONDITION = re.compile(r"^\s*(\w+)\s*(<=|>=|<|>|=|in)\s*(.+?)\s*$")
_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any

    @classmethod
    def parse(cls, text: str) -> Condition | None:
        if not text.strip():
            return None
        m = _CONDITION.match(text)
        if m is None:
            raise ValueError(f"bad clearance condition {text!r}")
        fld, op, raw = m.groups()
        if op == "in":
            return cls(fld, op, tuple(v.strip() for v in raw.split(",")))
        if op == "=":
            return cls(fld, op, raw)
        return cls(fld, op, float(raw))

    def holds(self, attrs: dict[str, Any]) -> bool | None:
        """True/False, or None when the attribute needed is not known."""
        v = attrs.get(self.field)
        if v is None:
            return None
        if self.op == "in":
            return str(v) in self.value
        if self.op == "=":
            return str(v) == self.value
        try:
            return bool(_OPS[self.op](float(v), self.value))
        except (TypeError, ValueError):
            return None

    def __str__(self) -> str:
        value = ",".join(self.value) if isinstance(self.value, tuple) else self.value
        return f"{self.field} {self.op} {value}"


@dataclass(frozen=True)
class ClearanceRule:
    """Minimum clear distance between the outer walls of two pipes (metres)."""

    kind: str
    network_a: str
    condition_a: Condition | None
    network_b: str
    condition_b: Condition | None
    min_m: float
    table: str
    source: str
    verified: bool
    note: str

    @property
    def citation(self) -> str:
        """Standard and table ("GB 50289-2016 Table 4.1.9"); whether the value is verified is :attr:`verified`."""
        return f"{self.source} Table {self.table}"


@lru_cache(maxsize=1)
def clearance_rules() -> tuple[ClearanceRule, ...]:
    rules = []
    with open(DATA_DIR / "clearances.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            rules.append(ClearanceRule(
                kind=row["kind"], network_a=row["network_a"], condition_a=Condition.parse(row["condition_a"]),
                network_b=row["network_b"], condition_b=Condition.parse(row["condition_b"]),
                min_m=float(row["min_m"]), table=row["table"], source=row["source"],
                verified=row["verified"].strip().lower() == "true", note=row["note"]))
    return tuple(rules)


# What may stand for a network in :func:`required_clearance` besides its code
_BUILDING = "BLDG"
_BUILDING_WORDS = {"bldg", "building", "建筑", "建筑物", "房屋"}


def network_code(value: Any) -> str:
    """The CJJ 61 network code for a network code, sub-type code or label ("YS" → "PS", "给水" → "JS", "js" → "JS").

    ``"building"``/``"建筑"`` give ``"BLDG"``, the building side of Table 4.1.9. Unknown
    values come back unchanged (stripped), so a rule lookup simply finds nothing.
    """
    text = str(value).strip()
    if text.lower() in _BUILDING_WORDS:
        return _BUILDING
    cat = catalogue()
    for candidate in (text, text.upper()):  # codes are upper case; people type "js"
        code = cat.codelist("pipe_network").code_for(candidate)
        if code is not None:
            return str(code)
        sub = cat.codelist("pipe_subtype").code_for(candidate)
        if sub is not None:
            return str(cat.codelist("pipe_subtype").entry(sub).parent)  # type: ignore[union-attr]
    return text


def _normalised_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """Gas pressure and burial given as labels ("中压A", "直埋") become the codes the table uses."""
    out = dict(attrs)
    for key, codelist in (("pressure", "gas_pressure"), ("burial", "burial_method")):
        if out.get(key) is not None:
            code = catalogue().codelist(codelist).code_for(out[key])
            if code is not None:
                out[key] = code
    return out


def required_clearance(network_a: str, network_b: str, kind: str = "horizontal",
                       attrs_a: dict[str, Any] | None = None, attrs_b: dict[str, Any] | None = None,
                       **conditions: Any) -> ClearanceRule | None:
    """The rule for a pair of networks (order does not matter), or None if the table has none.

    Networks are CJJ 61 codes (``"JS"``), sub-type codes (``"YS"`` → drainage), labels
    (``"燃气"``) or ``"building"``. ``attrs_a``/``attrs_b`` hold each pipe's attributes
    (``diameter_mm``, ``pressure``, ``burial`` …); keyword ``conditions`` apply to both
    sides, e.g. ``required_clearance("JS", "PS", diameter_mm=300)`` (the water pipe's
    diameter decides between 1.0 and 1.5 m) or ``required_clearance("PS", "RQ",
    pressure="MA")``. Pressure and burial may be codes or labels (``"中压A"``). When the
    attributes that decide between rows are unknown, the strictest (largest) candidate is
    returned. Rules come from ``data/clearances.csv`` (GB 50289-2016 Tables 4.1.9 and 4.1.14).
    """
    if kind not in ("horizontal", "vertical"):
        raise ValueError(f"kind must be 'horizontal' or 'vertical', not {kind!r}")
    network_a, network_b = network_code(network_a), network_code(network_b)
    a = _normalised_attrs({**conditions, **(attrs_a or {})})
    b = _normalised_attrs({**conditions, **(attrs_b or {})})
    best: ClearanceRule | None = None
    for rule in clearance_rules():
        if rule.kind != kind:
            continue
        for (na, aa), (nb, ab) in (((network_a, a), (network_b, b)), ((network_b, b), (network_a, a))):
            if rule.network_a != na or rule.network_b != nb:
                continue
            ok_a = rule.condition_a.holds(aa) if rule.condition_a else True
            ok_b = rule.condition_b.holds(ab) if rule.condition_b else True
            if ok_a is False or ok_b is False:
                continue
            if best is None or rule.min_m > best.min_m:
                best = rule
    return best


@dataclass(frozen=True)
class PipeSubtype:
    code: str
    cjj_code: str
    zh: str
    en: str


@dataclass(frozen=True)
class PipeNetwork:
    """One row of the CJJ 61-2017 Appendix B table (with QDT's typical burial depths)."""

    code: str
    cjj_code: int
    zh: str
    en: str
    colour: tuple[int, int, int]
    subtypes: tuple[str, ...]  # sub-type codes, e.g. ("YS", "WS", "HS")
    typical_depth_m: tuple[float, float] | None  # to the pipe top
    gravity: bool
    subtype_table: tuple[PipeSubtype, ...] = ()
    colour_zh: str = ""
    source: str = ""
    verified: bool = False
    #: which depth a survey records: "invert" (管内底, gravity drainage) or "top" (outer top)
    depth_reference: str = "top"
    depth_reference_source: str = ""

    def subtype(self, code: str) -> PipeSubtype | None:
        return next((s for s in self.subtype_table if s.code == code), None)


@lru_cache(maxsize=1)
def pipe_networks() -> dict[str, PipeNetwork]:
    """Networks by code (JS, PS, RQ, RL, DL, TX, GY, QT) from ``data/pipe_networks.json``."""
    doc = json.loads((DATA_DIR / "pipe_networks.json").read_text(encoding="utf-8"))
    out = {}
    for n in doc["networks"]:
        table = tuple(PipeSubtype(s["code"], s["cjj_code"], s["zh"], s["en"]) for s in n["subtypes"])
        out[n["code"]] = PipeNetwork(
            n["code"], n["cjj_code"], n["zh"], n["en"], tuple(n["colour"]), tuple(s.code for s in table),
            tuple(n["typical_depth_m"]) if n["typical_depth_m"] else None, bool(n["gravity"]), table,
            n.get("colour_zh", ""), n.get("source", ""), bool(n.get("verified", False)),
            n.get("depth_reference", "top"), n.get("depth_reference_source", ""))
    return out


@lru_cache(maxsize=1)
def component_codes() -> dict[str, dict[str, Any]]:
    """GB/T 30428.2 minor classes by 4-digit code (major + minor), with a ``verified`` flag."""
    doc = json.loads((DATA_DIR / "component_codes.json").read_text(encoding="utf-8"))
    return {c["code"]: c for c in doc["minor_classes"]}


@dataclass(frozen=True)
class CoverRule:
    """Minimum cover (ground to the pipe's outer top) of one network, sub-type, burial and position."""

    network: str
    subtype: str | None
    condition: Condition | None
    position: str
    min_m: float
    table: str
    source: str
    verified: bool
    note: str

    @property
    def citation(self) -> str:
        return f"{self.source} Table {self.table}"


@lru_cache(maxsize=1)
def cover_rules() -> tuple[CoverRule, ...]:
    """GB 50289-2016 Table 4.1.1 minimum cover depths from ``data/min_cover.csv``."""
    rules = []
    with open(DATA_DIR / "min_cover.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            rules.append(CoverRule(row["network"], row["subtype"] or None, Condition.parse(row["condition"]),
                                   row["position"], float(row["min_m"]), row["table"], row["source"],
                                   row["verified"].strip().lower() == "true", row["note"]))
    return tuple(rules)


def minimum_cover(network: str, subtype: str | None = None, burial: str | None = None,
                  position: str | None = None) -> CoverRule | None:
    """The minimum-cover rule for a pipe, or None when the table has none.

    A sub-type row (再生水 ZS) wins over the network's row; an unknown position takes the
    carriageway (``motor``, the stricter) and an unknown burial the strictest matching row.
    """
    network = network_code(network)
    attrs = _normalised_attrs({"burial": burial} if burial else {})
    pos = position if position in ("motor", "non_motor") else "motor"
    best: CoverRule | None = None
    for rule in cover_rules():
        if rule.network != network or rule.position != pos:
            continue
        if rule.subtype is not None and rule.subtype != subtype:
            continue
        if rule.condition is not None and rule.condition.holds(attrs) is False:
            continue
        if best is None or (rule.subtype is not None and best.subtype is None) or (
                (rule.subtype is None) == (best.subtype is None) and rule.min_m > best.min_m):
            best = rule
    return best
