"""The CIM facility catalogue: classes, fields, code lists — loaded from ``data/catalogue.json``.

The catalogue is data so it can be corrected or extended by an organisation without code
changes; this module only gives it types and lookups.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
FIELD_TYPES = ("str", "int", "float", "date", "bool")
GEOMETRY_TYPES = ("Point", "LineString", "Polygon", None)


class CatalogueError(ValueError):
    """The catalogue file itself is inconsistent (a developer's error, reported at load)."""


@dataclass(frozen=True)
class CodeEntry:
    code: Any
    zh: str
    en: str
    colour: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class CodeList:
    """A list of codes with Chinese and English labels. Data stores codes; people see labels."""

    name: str
    zh: str
    en: str
    dtype: str
    entries: tuple[CodeEntry, ...]
    source: str | None = None
    verified: bool | None = None

    @property
    def codes(self) -> list[Any]:
        return [e.code for e in self.entries]

    def entry(self, code: Any) -> CodeEntry | None:
        key = self._normalise(code)
        return next((e for e in self.entries if e.code == key), None)

    def label(self, code: Any, lang: str = "zh") -> str | None:
        """The label of ``code`` (None if it is not in the list)."""
        e = self.entry(code)
        if e is None:
            return None
        return e.zh if lang == "zh" else e.en

    def code_for(self, value: Any) -> Any:
        """The code for a code or a (Chinese or English) label; None when nothing matches."""
        e = self.entry(value)
        if e is not None:
            return e.code
        text = str(value).strip()
        for e in self.entries:
            if text in (e.zh, e.en) or text.lower() == e.en.lower():
                return e.code
        return None

    def _normalise(self, code: Any) -> Any:
        if code is None:
            return None
        if self.dtype == "int":
            try:
                f = float(code)
            except (TypeError, ValueError):
                return code
            return int(f) if f == int(f) else code
        return str(code).strip()

    def colours(self) -> dict[str, tuple[int, int, int]]:
        return {str(e.code): e.colour for e in self.entries if e.colour is not None}


@dataclass(frozen=True)
class FieldDef:
    """One attribute of a facility class.

    ``applies_to`` restricts a field to rows where other fields take given values, e.g.
    gas pressure ``{"network": ["RQ"]}``; ``required`` then holds only on those rows.
    """

    name: str
    type: str
    zh: str
    en: str
    unit: str | None = None
    required: bool = False
    codelist: str | None = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    pattern: str | None = None
    aliases: tuple[str, ...] = ()
    applies_to: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    description: str = ""

    @property
    def display(self) -> str:
        """"height (高度)" — how messages name the field."""
        return f"'{self.name}' ({self.zh})" if self.zh and self.zh != self.name else f"'{self.name}'"


@dataclass(frozen=True)
class FeatureClass:
    name: str
    zh: str
    en: str
    geometry: str | None
    category: str
    level: str
    fields: tuple[FieldDef, ...]
    description: str = ""
    related: dict[str, str] | None = None

    def field(self, name: str) -> FieldDef:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"class '{self.name}' has no field '{name}'")

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required_fields(self) -> list[FieldDef]:
        return [f for f in self.fields if f.required]

    def map_columns(self, columns: list[str] | Any) -> dict[str, str]:
        """Source column → canonical field name, for columns matching a name or an alias.

        Matching is case-insensitive and ignores surrounding spaces. An exact canonical
        name wins over an alias; each field is taken by at most one column.
        """
        lookup: dict[str, str] = {}
        for f in self.fields:
            for alias in f.aliases:
                lookup.setdefault(alias.strip().lower(), f.name)
        for f in self.fields:  # canonical names override aliases of other fields
            lookup[f.name.lower()] = f.name
        mapping: dict[str, str] = {}
        taken: set[str] = set()
        cols = [str(c) for c in columns]
        # exact canonical names first so an alias column never steals a present canonical field
        for col in sorted(cols, key=lambda c: c.strip().lower() not in self.field_names):
            target = lookup.get(col.strip().lower())
            if target is not None and target not in taken:
                mapping[col] = target
                taken.add(target)
        return mapping


class Catalogue:
    """All classes and code lists, plus the standards tables in ``data/``."""

    def __init__(self, classes: dict[str, FeatureClass], codelists: dict[str, CodeList]) -> None:
        self.classes = classes
        self.codelists = codelists

    def feature_class(self, name: str) -> FeatureClass:
        try:
            return self.classes[name]
        except KeyError:
            raise KeyError(f"unknown feature class '{name}' (known: {', '.join(sorted(self.classes))})") from None

    def codelist(self, name: str) -> CodeList:
        try:
            return self.codelists[name]
        except KeyError:
            raise KeyError(f"unknown code list '{name}'") from None

    def class_for_layer(self, layer_name: str) -> FeatureClass | None:
        """Guess a class from a layer name such as 'streetlights' or '路灯'."""
        key = layer_name.strip().lower()
        for cls in self.classes.values():
            if key in (cls.name, cls.name + "s", cls.name + "es", cls.zh, cls.en.lower(), cls.en.lower() + "s"):
                return cls
        return None


def _codelist_from(name: str, d: dict[str, Any]) -> CodeList:
    entries = tuple(CodeEntry(e["code"], e["zh"], e["en"], tuple(e["colour"]) if e.get("colour") else None)
                    for e in d["entries"])
    return CodeList(name, d["zh"], d["en"], d["dtype"], entries, d.get("source"), d.get("verified"))


def _field_from(d: dict[str, Any]) -> FieldDef:
    if d["type"] not in FIELD_TYPES:
        raise CatalogueError(f"field '{d['name']}': unknown type {d['type']!r}")
    return FieldDef(
        name=d["name"], type=d["type"], zh=d.get("zh", ""), en=d.get("en", ""), unit=d.get("unit"),
        required=bool(d.get("required", False)), codelist=d.get("codelist"), min=d.get("min"), max=d.get("max"),
        max_length=d.get("max_length"), pattern=d.get("pattern"), aliases=tuple(d.get("aliases", ())),
        applies_to={k: tuple(v) for k, v in d.get("applies_to", {}).items()}, description=d.get("description", ""),
    )


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and check a catalogue file (default: the one shipped with QDT)."""
    path = path or DATA_DIR / "catalogue.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    codelists = {name: _codelist_from(name, d) for name, d in doc["codelists"].items()}
    classes: dict[str, FeatureClass] = {}
    for name, d in doc["classes"].items():
        fields = tuple(_field_from(f) for f in d["fields"])
        for f in fields:
            if f.codelist is not None and f.codelist not in codelists:
                raise CatalogueError(f"class '{name}' field '{f.name}': unknown code list '{f.codelist}'")
        if d.get("geometry") not in GEOMETRY_TYPES:
            raise CatalogueError(f"class '{name}': unknown geometry {d.get('geometry')!r}")
        classes[name] = FeatureClass(name, d["zh"], d["en"], d.get("geometry"), d["category"], d["level"], fields,
                                     d.get("description", ""), d.get("related"))
    return Catalogue(classes, codelists)


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The shipped catalogue, loaded once."""
    return load_catalogue()
