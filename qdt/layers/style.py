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


# --- labels ------------------------------------------------------------------------------------------

LABEL_PLACEMENTS = ("point", "line")


@dataclass
class LabelStyle:
    """How a layer's features are labelled in the 3D view, snapshots and reports (saved in the project).

    Attributes
    ----------
    text
        A field — its column name, or the catalogue's Chinese name, English name or alias
        (``名称``, ``Name``) — or a template whose ``{…}`` parts are expressions of the query
        language (``{名称}（{高度} m）``, ``{height / floors}``), parsed and evaluated column-wise,
        never ``eval``-ed. A field with a code list shows its Chinese label (``状态`` → ``故障``).
    where
        A condition in the query language (``高度 >= 60``): only features meeting it are
        labelled (empty: all), as QGIS's rule-based labels.
    enabled
        Whether the labels are drawn (the layer tree's toggle).
    size
        Font size in pixels of a 1000-pixel-high view (snapshots scale it with their height).
    colour, halo_colour
        Text colour and the colour of the outline that keeps it readable on any background.
    halo
        Outline width in pixels (0: none).
    priority
        0–10; where labels would overlap, the higher priority wins (then the nearer feature).
    min_distance, max_distance
        Camera distances (m) between which the labels show; they fade out over the last
        :data:`LABEL_FADE` of the range. ``max_distance`` 0 means no limit.
    placement
        ``"point"``: centred on the feature (on top of buildings and poles); ``"line"``: on the
        ground along the line, following its direction on screen and kept upright.
    spacing
        Line placement: candidate positions every this many metres along a line (a long road is
        labelled again where it shows far enough apart).
    """

    text: str = ""
    where: str = ""
    enabled: bool = True
    size: float = 13.0
    colour: RGB = (33, 37, 41)
    halo_colour: RGB = (255, 255, 255)
    halo: float = 1.5
    priority: int = 5
    min_distance: float = 0.0
    max_distance: float = 0.0
    placement: str = "point"
    spacing: float = 200.0

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "where": self.where, "enabled": self.enabled, "size": self.size,
                "colour": list(self.colour),
                "halo_colour": list(self.halo_colour), "halo": self.halo, "priority": self.priority,
                "min_distance": self.min_distance, "max_distance": self.max_distance,
                "placement": self.placement, "spacing": self.spacing}

    def shown_at(self, distance: np.ndarray) -> np.ndarray:
        """Opacity 0…1 of labels at camera ``distance`` (m): 1 inside the range, fading at its ends."""
        d = np.asarray(distance, dtype=float)
        alpha = np.ones_like(d)
        if self.max_distance > 0:
            fade = self.max_distance * LABEL_FADE
            alpha = np.minimum(alpha, np.clip((self.max_distance - d) / fade, 0.0, 1.0))
        if self.min_distance > 0:
            fade = self.min_distance * LABEL_FADE
            alpha = np.minimum(alpha, np.clip((d - self.min_distance + fade) / fade, 0.0, 1.0))
        return np.where(np.isfinite(d), alpha, 0.0)


LABEL_FADE = 0.15  # labels fade over the last 15 % of their distance range instead of popping


def _rgb(value: Any, key: str) -> RGB:
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ValueError(f"label '{key}' must be three numbers 0–255, not {value!r}")
    try:
        return tuple(int(min(255, max(0, int(v)))) for v in value)  # type: ignore[return-value]
    except (TypeError, ValueError):
        raise ValueError(f"label '{key}' must be three numbers 0–255, not {value!r}") from None


def label_style_from_dict(d: Any) -> LabelStyle | None:
    """Rebuild a :class:`LabelStyle` saved with ``to_dict`` (None for None). Raises ValueError (one
    line naming the key) for a value of the wrong type; numbers out of range are clamped."""
    if d is None:
        return None
    if not isinstance(d, dict):
        raise ValueError(f"labels must be an object, not {type(d).__name__}")
    base = LabelStyle()

    def number(key: str, lo: float, hi: float) -> float:
        value = d.get(key, getattr(base, key))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise ValueError(f"label '{key}' must be a number, not {value!r}")
        return float(min(hi, max(lo, value)))

    text = d.get("text", "")
    if not isinstance(text, str):
        raise ValueError(f"label 'text' must be text, not {text!r}")
    where = d.get("where", "")
    if not isinstance(where, str):
        raise ValueError(f"label 'where' must be text, not {where!r}")
    placement = d.get("placement", "point")
    if placement not in LABEL_PLACEMENTS:
        raise ValueError(f"label 'placement' must be one of {', '.join(LABEL_PLACEMENTS)}, not {placement!r}")
    return LabelStyle(text=text, where=where, enabled=bool(d.get("enabled", True)), size=number("size", 4, 200),
                      colour=_rgb(d.get("colour", base.colour), "colour"),
                      halo_colour=_rgb(d.get("halo_colour", base.halo_colour), "halo_colour"),
                      halo=number("halo", 0, 20), priority=int(number("priority", 0, 10)),
                      min_distance=number("min_distance", 0, 1e7), max_distance=number("max_distance", 0, 1e7),
                      placement=placement, spacing=number("spacing", 10, 1e6))
