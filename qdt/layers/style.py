"""Layer styles: single colour, categorised by a field, graduated by a numeric field.

Styles are plain data so the project file saves them (``to_dict``/``style_from_dict``).
Colours are ``(r, g, b)`` tuples of 0–255 ints.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any, ClassVar

import numpy as np

RGB = tuple[int, int, int]

# Colour ramps as (position, rgb) stops; names follow QGIS's defaults.
RAMPS: dict[str, list[tuple[float, RGB]]] = {
    "Viridis": [(0.0, (68, 1, 84)), (0.25, (59, 82, 139)), (0.5, (33, 145, 140)), (0.75, (94, 201, 98)),
                (1.0, (253, 231, 37))],
    "Blues": [(0.0, (247, 251, 255)), (1.0, (8, 48, 107))],
    "Reds": [(0.0, (255, 245, 240)), (1.0, (103, 0, 13))],
    "Spectral": [(0.0, (215, 25, 28)), (0.25, (253, 174, 97)), (0.5, (255, 255, 191)), (0.75, (171, 221, 164)),
                 (1.0, (43, 131, 186))],
    "YlOrRd": [(0.0, (255, 255, 178)), (0.5, (253, 141, 60)), (1.0, (189, 0, 38))],
}

# Qualitative palette for categories without a declared colour.
PALETTE: list[RGB] = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
]


def ramp_colours(name: str, t: np.ndarray) -> np.ndarray:
    """Interpolate ramp ``name`` at positions ``t`` (0..1) → (n, 3) uint8."""
    stops = RAMPS.get(name) or RAMPS["Viridis"]
    pos = np.array([s[0] for s in stops])
    cols = np.array([s[1] for s in stops], dtype=float)
    t = np.clip(np.asarray(t, dtype=float), 0, 1)
    out = np.stack([np.interp(t, pos, cols[:, i]) for i in range(3)], axis=-1)
    return out.round().astype(np.uint8)


class Style:
    """Base of all styles; ``kind`` names the style in project files."""

    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def colours(self, table: Any, n: int) -> np.ndarray:
        """Per-feature colours (n, 3) uint8 for a pandas table of n rows."""
        raise NotImplementedError

    def legend(self) -> list[tuple[str, RGB]]:
        raise NotImplementedError


@dataclass
class SingleStyle(Style):
    colour: RGB = (200, 200, 200)
    kind: ClassVar[str] = "single"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "single", "colour": list(self.colour)}

    def colours(self, table: Any, n: int) -> np.ndarray:
        return np.tile(np.array(self.colour, dtype=np.uint8), (n, 1))

    def legend(self) -> list[tuple[str, RGB]]:
        return [("", self.colour)]


@dataclass
class CategorisedStyle(Style):
    """Colour by the value of ``field``; ``categories`` maps str(value) → (label, rgb)."""

    field: str = ""
    categories: dict[str, tuple[str, RGB]] = _field(default_factory=dict)
    default: RGB = (160, 160, 160)
    kind: ClassVar[str] = "categorised"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "categorised",
            "field": self.field,
            "categories": {k: [lbl, list(c)] for k, (lbl, c) in self.categories.items()},
            "default": list(self.default),
        }

    def colours(self, table: Any, n: int) -> np.ndarray:
        out = np.tile(np.array(self.default, dtype=np.uint8), (n, 1))
        if self.field not in getattr(table, "columns", ()):
            return out
        keys = table[self.field].astype(str).to_numpy()
        for key, (_, rgb) in self.categories.items():
            out[keys == key] = rgb
        return out

    def legend(self) -> list[tuple[str, RGB]]:
        return [(lbl, c) for lbl, c in self.categories.values()]


@dataclass
class GraduatedStyle(Style):
    """Colour by numeric ``field`` in classes bounded by ``breaks`` (len = classes + 1)."""

    field: str = ""
    breaks: list[float] = _field(default_factory=list)
    ramp: str = "Viridis"
    default: RGB = (160, 160, 160)
    kind: ClassVar[str] = "graduated"

    @classmethod
    def equal_interval(cls, field_name: str, values: np.ndarray, classes: int = 5,
                       ramp: str = "Viridis") -> GraduatedStyle:
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v)]
        lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
        return cls(field=field_name, breaks=list(np.linspace(lo, hi, classes + 1)), ramp=ramp)

    @classmethod
    def quantile(cls, field_name: str, values: np.ndarray, classes: int = 5, ramp: str = "Viridis") -> GraduatedStyle:
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v)]
        qs = np.quantile(v, np.linspace(0, 1, classes + 1)) if v.size else np.linspace(0, 1, classes + 1)
        return cls(field=field_name, breaks=[float(q) for q in qs], ramp=ramp)

    def class_colours(self) -> np.ndarray:
        k = max(len(self.breaks) - 1, 1)
        return ramp_colours(self.ramp, np.linspace(0, 1, k))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "graduated", "field": self.field, "breaks": list(self.breaks), "ramp": self.ramp,
                "default": list(self.default)}

    def colours(self, table: Any, n: int) -> np.ndarray:
        out = np.tile(np.array(self.default, dtype=np.uint8), (n, 1))
        if self.field not in getattr(table, "columns", ()) or len(self.breaks) < 2:
            return out
        import pandas as pd

        v = pd.to_numeric(table[self.field], errors="coerce").to_numpy(dtype=float)
        idx = np.clip(np.searchsorted(self.breaks, v, side="right") - 1, 0, len(self.breaks) - 2)
        ok = np.isfinite(v)
        out[ok] = self.class_colours()[idx[ok]]
        return out

    def legend(self) -> list[tuple[str, RGB]]:
        cols = self.class_colours()
        return [
            (f"{self.breaks[i]:.4g} – {self.breaks[i + 1]:.4g}", tuple(int(c) for c in cols[i]))  # type: ignore[misc]
            for i in range(len(self.breaks) - 1)
        ]


def style_from_dict(d: dict[str, Any] | None) -> Style:
    """Rebuild a style saved with ``to_dict``; unknown kinds fall back to a single grey."""
    if not d:
        return SingleStyle()
    kind = d.get("kind", "single")
    if kind == "categorised":
        cats = {str(k): (str(v[0]), tuple(int(x) for x in v[1])) for k, v in d.get("categories", {}).items()}
        return CategorisedStyle(field=str(d.get("field", "")), categories=cats,  # type: ignore[arg-type]
                                default=tuple(d.get("default", (160, 160, 160))))  # type: ignore[arg-type]
    if kind == "graduated":
        return GraduatedStyle(field=str(d.get("field", "")), breaks=[float(b) for b in d.get("breaks", [])],
                              ramp=str(d.get("ramp", "Viridis")),
                              default=tuple(d.get("default", (160, 160, 160))))  # type: ignore[arg-type]
    return SingleStyle(colour=tuple(int(x) for x in d.get("colour", (200, 200, 200))))  # type: ignore[arg-type]
