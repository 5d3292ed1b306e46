"""Default colours of the 3D scene and lookups of standard colours from the CIM catalogue.

Standard colours (pipe networks, facility status) come from ``qdt.cim`` code lists when the
catalogue provides them; the tables here are the fallback and follow /work/shared/CIM.md.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from qdt.layers.style import SingleStyle, Style

RGB = tuple[int, int, int]

HIGHLIGHT: RGB = (255, 255, 0)  # selection: pure yellow as in QGIS, far from the orange of 维修中 (under repair)

# Sky: hazy horizon at the bottom of the view, deeper blue at the top.
SKY_HORIZON = (0.86, 0.90, 0.95)
SKY_ZENITH = (0.42, 0.60, 0.82)
# Underground view: a dark earth-grey behind the faded ground, so the standard pipe colours stand out
UNDERGROUND_BOTTOM = (0.16, 0.15, 0.14)
UNDERGROUND_TOP = (0.30, 0.31, 0.33)

BUILDING_WALL: RGB = (232, 226, 214)  # light warm grey
BUILDING_ROOF: RGB = (205, 198, 187)
CITY_ROOF: RGB = (178, 86, 62)  # Qingdao's red tile roofs
CITY_WALL: RGB = (236, 229, 216)
CITY_GROUND: RGB = (128, 128, 128)
CITY_OTHER: RGB = (200, 200, 205)
POLE_METAL: RGB = (96, 102, 110)
ROAD_ASPHALT: RGB = (88, 90, 96)
ZONE_DEFAULT: RGB = (64, 130, 230)
POINT_DEFAULT: RGB = (30, 144, 255)
LINE_DEFAULT: RGB = (40, 40, 40)

# CJJ 61-2017 Appendix B pipeline colours by network letters (CIM.md "Underground pipelines", to confirm).
PIPE_NETWORK_FALLBACK: dict[str, RGB] = {
    "JS": (0, 255, 255), "PS": (76, 57, 38), "RQ": (255, 0, 255), "RL": (255, 128, 0),
    "DL": (255, 0, 0), "TX": (0, 255, 0), "GY": (0, 0, 0), "QT": (102, 0, 204),
}
# The same networks by numeric code and Chinese name, so either spelling in the data works.
_NETWORK_ALIASES = {
    "1": "JS", "2": "PS", "3": "RQ", "4": "RL", "5": "DL", "6": "TX", "7": "GY", "8": "QT",
    "给水": "JS", "排水": "PS", "燃气": "RQ", "热力": "RL", "电力": "DL", "通信": "TX", "工业": "GY", "其他": "QT",
}
PIPE_UNKNOWN: RGB = (160, 160, 160)

# Facility status (正常 normal, 故障 fault, 维修中 under repair, 停用 out of service).
STATUS_FALLBACK: dict[str, RGB] = {"1": (46, 184, 92), "2": (220, 38, 38), "3": (245, 140, 20), "4": (130, 130, 130)}

# Hypsometric tints: (height m, rgb) stops; sea blue below 0 m, greens then browns above.
HYPSOMETRIC: list[tuple[float, RGB]] = [
    (-60.0, (22, 60, 120)), (-10.0, (50, 110, 175)), (-0.01, (110, 165, 210)), (0.0, (214, 206, 160)),
    (3.0, (150, 185, 110)), (40.0, (105, 160, 85)), (120.0, (160, 150, 95)), (300.0, (140, 110, 80)),
    (700.0, (215, 205, 195)),
]


def hypsometric(z: np.ndarray) -> np.ndarray:
    """(n,) heights → (n, 3) uint8 hypsometric colours; NaN → grey."""
    z = np.asarray(z, dtype=np.float64)
    stops = np.array([s[0] for s in HYPSOMETRIC])
    cols = np.array([s[1] for s in HYPSOMETRIC], dtype=np.float64)
    out = np.stack([np.interp(z, stops, cols[:, i]) for i in range(3)], axis=-1)
    out[~np.isfinite(z)] = 150
    return np.ascontiguousarray(out.round().astype(np.uint8))


def is_default_style(style: Style | None) -> bool:
    """True for a layer nobody has styled (the layer base's plain grey SingleStyle)."""
    return style is None or (type(style) is SingleStyle and tuple(style.colour) == tuple(SingleStyle().colour))


def _codelist_colours(feature_class: str, field: str) -> dict[str, RGB]:
    """Colours of the code list behind ``feature_class.field`` in the CIM catalogue, or {}."""
    try:
        from qdt.cim import catalogue
    except ImportError:  # the catalogue is optional for rendering
        return {}
    try:
        cat = catalogue()
        definition = cat.feature_class(feature_class).field(field)
        codelist = cat.codelist(definition.codelist) if definition is not None and definition.codelist else None
    except (KeyError, AttributeError, ValueError, OSError):
        return {}
    if codelist is None:
        return {}
    out: dict[str, RGB] = {}
    for entry in codelist.entries:
        if entry.colour is not None:
            out[str(entry.code)] = tuple(int(c) for c in entry.colour)[:3]  # type: ignore[assignment]
    return out


@lru_cache(maxsize=1)
def pipe_network_colours() -> dict[str, RGB]:
    """Network code → CJJ 61 colour, from the catalogue's code list with the CIM.md table as fallback."""
    colours = dict(PIPE_NETWORK_FALLBACK)
    colours.update(_codelist_colours("pipe", "network"))
    return colours


@lru_cache(maxsize=8)
def status_colours(feature_class: str = "streetlight") -> dict[str, RGB]:
    """Status code (as str) → colour, from the catalogue when it has colours, else the fallback."""
    colours = dict(STATUS_FALLBACK)
    colours.update(_codelist_colours(feature_class, "status"))
    return colours


def network_key(values: np.ndarray) -> np.ndarray:
    """Normalise network values (``"JS"``, ``1``, ``"给水"``) to letter codes as an object array."""
    import pandas as pd

    series = pd.Series(np.asarray(values, dtype=object))
    keys = series.where(series.notna(), "").astype(str).str.strip().str.upper().to_numpy(dtype=object)
    for alias, code in _NETWORK_ALIASES.items():
        keys[keys == alias.upper()] = code
    # integer codes read from a float column ("1.0")
    for number, code in (("1.0", "JS"), ("2.0", "PS"), ("3.0", "RQ"), ("4.0", "RL"), ("5.0", "DL"), ("6.0", "TX")):
        keys[keys == number] = code
    return keys


def lookup_colours(keys: np.ndarray, table: dict[str, RGB], default: RGB) -> np.ndarray:
    """Vectorised colour lookup: (n,) keys → (n, 3) uint8 (one pass per table entry, not per feature)."""
    keys = np.asarray(keys, dtype=object)
    out = np.empty((len(keys), 3), dtype=np.uint8)
    out[:] = default
    for key, rgb in table.items():
        out[keys == key] = rgb
    return out


def status_keys(values: np.ndarray) -> np.ndarray:
    """Status values as strings of their integer code ("1", not "1.0")."""
    import pandas as pd

    series = pd.Series(np.asarray(values, dtype=object))
    numeric = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    keys = series.astype(str).to_numpy(dtype=object)
    ok = np.isfinite(numeric) & (numeric == np.round(numeric))
    keys[ok] = numeric[ok].astype(np.int64).astype(str)
    return keys
