"""The CIM facility catalogue: classes, fields, code lists — loaded from ``data/catalogue.json``.

The catalogue is data so it can be corrected or extended by an organisation without code
changes; this module only gives it types and lookups, and checks at load that the file is
consistent (every code list a field names exists, colours are RGB triples, codes are
unique, every class has a known CIM category and level, aliases do not collide).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
FIELD_TYPES = ("str", "int", "float", "date", "bool")
GEOMETRY_TYPES = ("Point", "LineString", "Polygon", None)
DBF_NAME_LENGTH = 10  # Shapefile (dBASE) field names: GDAL and ArcGIS truncate longer names to 10 characters


class CatalogueError(ValueError):
    """The catalogue file itself is inconsistent (a developer's error, reported at load)."""


@dataclass(frozen=True)
class CodeEntry:
    """One code with its Chinese and English label, an optional RGB colour and, for
    hierarchical lists (pipe sub-types), the code of its parent (the network).

    ``extra`` keeps the entry's other data, e.g. ``cjj_code`` or ``aliases``: former codes that
    input may still use (``PEI`` for 配水 ``JP``); they are read as the code, never written.
    """

    code: Any
    zh: str
    en: str
    colour: tuple[int, int, int] | None = None
    parent: Any = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)


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
    parent: str | None = None  # code list of the entries' parents (pipe_subtype → pipe_network)

    @property
    def codes(self) -> list[Any]:
        return [e.code for e in self.entries]

    @cached_property
    def lookup(self) -> dict[str, int]:
        """Entry index by code (as text), Chinese label, English label and former code — codes win."""
        out: dict[str, int] = {}
        for attr in ("code", "zh", "en"):
            for i, e in enumerate(self.entries):
                out.setdefault(str(getattr(e, attr)).strip(), i)
        for i, e in enumerate(self.entries):
            for alias in e.extra.get("aliases", ()):
                out.setdefault(str(alias).strip(), i)
        return out

    @cached_property
    def lookup_lower(self) -> dict[str, int]:
        """Entry index by lower-case code and English label ("fault" → 故障, "ys" → YS)."""
        out: dict[str, int] = {}
        for attr in ("code", "en"):
            for i, e in enumerate(self.entries):
                out.setdefault(str(getattr(e, attr)).strip().lower(), i)
        for i, e in enumerate(self.entries):
            for alias in e.extra.get("aliases", ()):
                out.setdefault(str(alias).strip().lower(), i)
        return out

    @cached_property
    def lookup_number(self) -> dict[float, int]:
        """Entry index by numeric code (int lists: 2.0 → code 2)."""
        return {float(e.code): i for i, e in enumerate(self.entries)} if self.dtype == "int" else {}

    def entry(self, code: Any) -> CodeEntry | None:
        """The entry whose code is ``code`` ("3" and 3.0 find code 3 of an int list)."""
        key = self._normalise(code)
        if key is None:
            return None
        i = self.lookup.get(str(key))
        e = self.entries[i] if i is not None else None
        return e if e is not None and str(e.code) == str(key) else None

    def label(self, code: Any, lang: str = "zh") -> str | None:
        """The label of ``code`` (None if it is not in the list)."""
        e = self.entry(code)
        if e is None:
            return None
        return e.zh if lang == "zh" else e.en

    def code_for(self, value: Any) -> Any:
        """The code for a code or a label (Chinese, or English in any case; codes in any case too); None if none."""
        e = self.entry(value)
        if e is not None:
            return e.code
        if value is None:
            return None
        text = str(value).strip()
        i = self.lookup.get(text)
        if i is None:
            i = self.lookup_lower.get(text.lower())
        return self.entries[i].code if i is not None else None

    def colour(self, code: Any) -> tuple[int, int, int] | None:
        e = self.entry(code)
        return e.colour if e is not None else None

    def _normalise(self, code: Any) -> Any:
        if code is None:
            return None
        if self.dtype == "int":
            try:
                f = float(code)
            except (TypeError, ValueError):
                return code
            if not math.isfinite(f):  # NaN is "no value", not a code
                return None
            return int(f) if f == int(f) else code
        return str(code).strip()

    def colours(self) -> dict[str, tuple[int, int, int]]:
        return {str(e.code): e.colour for e in self.entries if e.colour is not None}


@dataclass(frozen=True)
class FieldDef:
    """One attribute of a facility class.

    ``applies_to`` restricts a field to rows where other fields take given values, e.g.
    gas pressure ``{"network": ["RQ"]}``; ``required`` then holds only on those rows.
    ``parent_field`` names the field whose value a code must belong to (a pipe ``subtype``
    code's parent network must equal the row's ``network``).
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
    parent_field: str | None = None
    #: whether values add up meaningfully (power, counts, areas): reports sum only these, never
    #: years, codes, heights or diameters
    additive: bool = False

    @property
    def dbf_name(self) -> str:
        """The name as a Shapefile stores it: upper case, truncated to 10 characters."""
        return self.name.upper()[:DBF_NAME_LENGTH]

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

        Besides the listed aliases, a field is found by its Chinese display name and by its
        name truncated to 10 characters as a Shapefile stores it (``INSTALL_DA``). Matching
        is case-insensitive and ignores surrounding spaces. An exact canonical name wins
        over an alias; each field is taken by at most one column (the first one listed).
        """
        lookup: dict[str, str] = {}
        for f in self.fields:
            for alias in (*f.aliases, f.zh, f.dbf_name):
                if alias:
                    lookup.setdefault(alias.strip().lower(), f.name)
        for f in self.fields:  # canonical names override aliases of other fields
            lookup[f.name.lower()] = f.name
        mapping: dict[str, str] = {}
        taken: set[str] = set()
        cols = [str(c) for c in columns]
        names = {n.lower() for n in self.field_names}
        # exact canonical names first so an alias column never steals a present canonical field
        for col in sorted(cols, key=lambda c: c.strip().lower() not in names):
            target = lookup.get(col.strip().lower())
            if target is not None and target not in taken:
                mapping[col] = target
                taken.add(target)
        return {c: mapping[c] for c in cols if c in mapping}


class Catalogue:
    """All classes and code lists, plus the standards tables in ``data/``."""

    def __init__(self, classes: dict[str, FeatureClass], codelists: dict[str, CodeList],
                 categories: dict[str, dict[str, Any]] | None = None,
                 levels: dict[str, dict[str, Any]] | None = None) -> None:
        self.classes = classes
        self.codelists = codelists
        #: CIM data categories (时空基础, 资源调查, …) and levels (CIM1–CIM7) with their descriptions
        self.categories = categories or {}
        self.levels = levels or {}

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


def _colour(where: str, value: Any) -> tuple[int, int, int] | None:
    if value is None:
        return None
    if (not isinstance(value, list) or len(value) != 3
            or not all(isinstance(c, int) and 0 <= c <= 255 for c in value)):
        raise CatalogueError(f"{where}: colour {value!r} is not an RGB triple of 0–255 integers")
    return (value[0], value[1], value[2])


def _codelist_from(name: str, d: dict[str, Any]) -> CodeList:
    if d.get("dtype") not in ("int", "str"):
        raise CatalogueError(f"code list '{name}': dtype must be 'int' or 'str', not {d.get('dtype')!r}")
    entries = []
    for e in d["entries"]:
        code = e["code"]
        if (d["dtype"] == "int") != (isinstance(code, int) and not isinstance(code, bool)):
            raise CatalogueError(f"code list '{name}': code {code!r} does not match dtype {d['dtype']!r}")
        extra = {k: v for k, v in e.items() if k not in ("code", "zh", "en", "colour", "parent")}
        entries.append(CodeEntry(code, e["zh"], e["en"], _colour(f"code list '{name}' code {code!r}", e.get("colour")),
                                 e.get("parent"), extra))
    codes = [str(e.code) for e in entries]
    if len(set(codes)) != len(codes):
        dup = sorted({c for c in codes if codes.count(c) > 1})
        raise CatalogueError(f"code list '{name}': duplicate codes {', '.join(dup)}")
    return CodeList(name, d["zh"], d["en"], d["dtype"], tuple(entries), d.get("source"), d.get("verified"),
                    d.get("parent"))


def _field_from(cls: str, d: dict[str, Any]) -> FieldDef:
    if d["type"] not in FIELD_TYPES:
        raise CatalogueError(f"class '{cls}' field '{d['name']}': unknown type {d['type']!r}")
    f = FieldDef(
        name=d["name"], type=d["type"], zh=d.get("zh", ""), en=d.get("en", ""), unit=d.get("unit"),
        required=bool(d.get("required", False)), codelist=d.get("codelist"), min=d.get("min"), max=d.get("max"),
        max_length=d.get("max_length"), pattern=d.get("pattern"), aliases=tuple(d.get("aliases", ())),
        applies_to={k: tuple(v) for k, v in d.get("applies_to", {}).items()}, description=d.get("description", ""),
        parent_field=d.get("parent_field"), additive=bool(d.get("additive", False)),
    )
    if f.min is not None and f.max is not None and f.min >= f.max:
        raise CatalogueError(f"class '{cls}' field '{f.name}': min {f.min} is not below max {f.max}")
    return f


def _check_class(cls: FeatureClass, codelists: dict[str, CodeList], categories: dict[str, Any],
                 levels: dict[str, Any]) -> None:
    where = f"class '{cls.name}'"
    if cls.geometry not in GEOMETRY_TYPES:
        raise CatalogueError(f"{where}: unknown geometry {cls.geometry!r}")
    if categories and cls.category not in categories:
        raise CatalogueError(f"{where}: unknown CIM category {cls.category!r}")
    if levels and cls.level not in levels:
        raise CatalogueError(f"{where}: unknown CIM level {cls.level!r}")
    names = [f.name for f in cls.fields]
    if len(set(names)) != len(names):
        raise CatalogueError(f"{where}: a field is defined twice")
    owner: dict[str, str] = {n.lower(): n for n in names}
    for f in cls.fields:
        if f.codelist is not None and f.codelist not in codelists:
            raise CatalogueError(f"{where} field '{f.name}': unknown code list '{f.codelist}'")
        if f.codelist is not None and f.type != codelists[f.codelist].dtype:
            raise CatalogueError(f"{where} field '{f.name}': type {f.type!r} does not fit code list '{f.codelist}'")
        for other in (*f.applies_to, *([f.parent_field] if f.parent_field else [])):
            if other not in names:
                raise CatalogueError(f"{where} field '{f.name}': refers to unknown field '{other}'")
        for alias in f.aliases:
            key = alias.strip().lower()
            if owner.setdefault(key, f.name) != f.name:
                raise CatalogueError(f"{where}: alias {alias!r} of field '{f.name}' is also a name or alias of "
                                     f"field '{owner[key]}'")


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and check a catalogue file (default: the one shipped with QDT).

    Raises :class:`CatalogueError` with a one-line message naming the class, field or code
    list at fault.
    """
    path = path or DATA_DIR / "catalogue.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogueError(f"{path}: cannot read the catalogue ({exc})") from exc
    codelists = {name: _codelist_from(name, d) for name, d in doc["codelists"].items()}
    for cl in codelists.values():
        if cl.parent is None:
            continue
        if cl.parent not in codelists:
            raise CatalogueError(f"code list '{cl.name}': unknown parent code list '{cl.parent}'")
        known = {str(c) for c in codelists[cl.parent].codes}
        for e in cl.entries:
            if e.parent is None or str(e.parent) not in known:
                raise CatalogueError(f"code list '{cl.name}' code {e.code!r}: parent {e.parent!r} is not a code of "
                                     f"'{cl.parent}'")
    categories = doc.get("categories", {}).get("entries", {})
    levels = doc.get("levels", {}).get("entries", {})
    classes: dict[str, FeatureClass] = {}
    for name, d in doc["classes"].items():
        fields = tuple(_field_from(name, f) for f in d["fields"])
        cls = FeatureClass(name, d["zh"], d["en"], d.get("geometry"), d["category"], d["level"], fields,
                           d.get("description", ""), d.get("related"))
        _check_class(cls, codelists, categories, levels)
        classes[name] = cls
    return Catalogue(classes, codelists, categories, levels)


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The shipped catalogue, loaded once."""
    return load_catalogue()
