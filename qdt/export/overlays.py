"""Overlays drawn on a rendered snapshot at full resolution: title, north arrow, scale bar, legend, CRS and date.

Sizes follow the image (a unit of ``min(width, height) / 600`` pixels), so a 4000×3000
snapshot looks like an 800×600 one, only sharper. Shapes with slanted edges (the north arrow)
are drawn 4× larger and scaled down, so their edges are smooth; text comes from the CJK
TrueType font at the final size.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from qdt.export.errors import cjk_font_path
from qdt.export.snapshot import REFERENCE_SIDE, SnapshotOptions, ViewInfo, visible_styled_layers
from qdt.language import ENGLISH, language
from qdt.language import text as in_language
from qdt.resources import asset

__all__ = ["draw_overlays", "legend_entries", "nice_length", "NORTH_ARROW_SVG"]

NORTH_ARROW_SVG = asset("north_arrow.svg")
INK = (26, 32, 44)
PANEL = (255, 255, 255, 215)
SUPERSAMPLE = 4
MAX_ENTRIES_PER_LAYER = 10  # a legend lists at most this many classes of a layer ("… 另有 n 类")


def _font(size: float):  # noqa: ANN202 - PIL.ImageFont.FreeTypeFont

    return _cached_font(str(cjk_font_path()), max(6, round(size)))


@lru_cache(maxsize=64)
def _cached_font(path: str, size: int):  # noqa: ANN202
    from PIL import ImageFont

    return ImageFont.truetype(path, size, index=0)


def nice_length(metres: float) -> float:
    """The largest 1, 2 or 5 × 10ⁿ metres not above ``metres``."""
    if not math.isfinite(metres) or metres <= 0:
        return math.nan
    exponent = math.floor(math.log10(metres))
    for step in (5, 2, 1):
        value = step * 10.0 ** exponent
        if value <= metres * (1 + 1e-9):
            return value
    return 10.0 ** exponent


def _format_metres(metres: float) -> str:
    if metres >= 1000:
        km = metres / 1000
        return f"{km:g} km"
    return f"{metres:g} m"


def _dominant_colour(layer: Any, scene_colours: dict[str, tuple[int, int, int]] | None) -> tuple[int, int, int]:
    if scene_colours and layer.id in scene_colours:
        return scene_colours[layer.id]
    colour = getattr(layer.style, "colour", (200, 200, 200))
    return tuple(int(c) for c in colour)  # type: ignore[return-value]


def legend_entries(layers: Any, drawn_colours: dict[str, tuple[int, int, int]] | None = None,
                   highlight: dict[str, Any] | None = None) -> list[tuple[str, list[tuple[str, tuple[int, int, int]]]]]:
    """Legend of the visible vector and city-model layers: ``[(layer name, [(label, rgb), …]), …]``.

    Categorised and graduated styles list their classes; a single-coloured layer gets one
    swatch in its drawn colour (``drawn_colours`` by layer id, else its style colour).
    A selection (the layers' own, or ``highlight``: layer id → fids) adds an entry "选中要素"
    in the highlight colour.
    """
    from qdt.layers.style import SingleStyle
    from qdt.render.colours import HIGHLIGHT

    out: list[tuple[str, list[tuple[str, tuple[int, int, int]]]]] = []
    selected = 0
    for layer in visible_styled_layers(layers):
        selected += len(set(layer.selection) | {int(f) for f in (highlight or {}).get(layer.id, ())})
        style = layer.style
        if isinstance(style, SingleStyle):
            out.append((layer.name, [("", _dominant_colour(layer, drawn_colours))]))
            continue
        items = [(str(label), tuple(int(c) for c in rgb)) for label, rgb in style.legend()]
        if language() == ENGLISH:
            items = _english_labels(layer, style, items)
        out.append((layer.name, items))  # type: ignore[arg-type]
    if selected:
        label = in_language("选中要素", "Selected features") + f" ({selected})"
        out.append((in_language("选择集", "Selection"), [(label, HIGHLIGHT)]))
    return out


def _english_labels(layer: Any, style: Any, items: list) -> list:
    """Class labels in English: a category's code-list label from the catalogue (the project keeps the
    Chinese one), else the message catalogue's entry; other labels (numbers, names) as they are."""
    from qdt.language import translate
    from qdt.layers.style import CategorisedStyle
    from qdt.query import feature_class_of

    codelist = None
    if isinstance(style, CategorisedStyle):
        fclass = feature_class_of(layer)
        definition = next((f for f in fclass.fields if f.name == style.field), None) if fclass is not None else None
        if definition is not None and definition.codelist:
            from qdt.cim import catalogue

            try:
                codelist = catalogue().codelist(definition.codelist)
            except KeyError:
                codelist = None
        keys = list(style.categories)
    else:
        keys = [None] * len(items)
    out = []
    for key, (label, rgb) in zip(keys, items, strict=True):
        english = codelist.label(key, "en") if codelist is not None and key is not None else None
        out.append((english or translate(label, ENGLISH), rgb))
    return out


def _svg_shapes(path: Path) -> list[tuple[str, Any, dict[str, str]]]:
    """Circles, M/L/Z paths and text of the north-arrow SVG (the subset it uses) in its viewBox units."""
    root = ET.parse(path).getroot()
    shapes: list[tuple[str, Any, dict[str, str]]] = []
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        attrs = dict(element.attrib)
        if tag == "circle":
            shapes.append(("circle", (float(attrs["cx"]), float(attrs["cy"]), float(attrs["r"])), attrs))
        elif tag == "path":
            tokens = attrs.get("d", "").replace(",", " ").replace("M", " M ").replace("L", " L ").replace("Z", " Z ")
            numbers = [t for t in tokens.split() if t not in ("M", "L", "Z")]
            points = [(float(numbers[i]), float(numbers[i + 1])) for i in range(0, len(numbers) - 1, 2)]
            shapes.append(("polygon", points, attrs))
        elif tag == "text":
            shapes.append(("text", (float(attrs.get("x", 0)), float(attrs.get("y", 0)), element.text or "N"), attrs))
    return shapes


def _rgba(colour: str | None, opacity: str | None = None) -> tuple[int, int, int, int] | None:
    if not colour or colour == "none":
        return None
    colour = colour.strip()
    if colour.startswith("#") and len(colour) == 7:
        rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    else:
        rgb = {"white": (255, 255, 255), "black": (0, 0, 0)}.get(colour, INK)
    alpha = round(255 * float(opacity)) if opacity else 255
    return (*rgb, alpha)  # type: ignore[return-value]


def _north_arrow(size_px: float, angle: float):  # noqa: ANN202 - PIL.Image.Image
    """The north arrow, ``size_px`` tall, its needle turned ``angle`` degrees clockwise ("N" stays upright)."""
    from PIL import Image, ImageDraw

    shapes = _svg_shapes(NORTH_ARROW_SVG)
    view_w, view_h = 64.0, 96.0
    s = size_px / view_h * SUPERSAMPLE
    big = Image.new("RGBA", (math.ceil(view_w * s), math.ceil(view_h * s)), (0, 0, 0, 0))
    draw = ImageDraw.Draw(big)
    circle = next((geom for kind, geom, _ in shapes if kind == "circle"), (32.0, 56.0, 28.0))
    cx, cy = circle[0], circle[1]
    theta = math.radians(angle if math.isfinite(angle) else 0.0)
    cos, sin = math.cos(theta), math.sin(theta)

    def turn(x: float, y: float) -> tuple[float, float]:
        dx, dy = x - cx, y - cy
        return ((cx + dx * cos - dy * sin) * s, (cy + dx * sin + dy * cos) * s)

    for kind, geom, attrs in shapes:
        stroke = _rgba(attrs.get("stroke"))
        width = max(1, round(float(attrs.get("stroke-width", 0)) * s)) if stroke else 0
        if kind == "circle":
            x, y, r = geom
            draw.ellipse(((x - r) * s, (y - r) * s, (x + r) * s, (y + r) * s),
                         fill=_rgba(attrs.get("fill"), attrs.get("fill-opacity")), outline=stroke, width=width)
        elif kind == "polygon":
            draw.polygon([turn(x, y) for x, y in geom], fill=_rgba(attrs.get("fill")), outline=stroke, width=width)
        else:
            x, y, text = geom
            nx, ny = turn(x, y + 2)  # the letter follows the needle's tip
            font = _font(float(attrs.get("font-size", 18)) * s)
            draw.text((nx, ny), text, fill=_rgba(attrs.get("fill")) or INK, font=font, anchor="ms")
    return big.resize((max(1, round(view_w * s / SUPERSAMPLE)), max(1, round(view_h * s / SUPERSAMPLE))),
                      Image.LANCZOS)


def _drawn_colours(layers: Any) -> dict[str, tuple[int, int, int]]:
    """The drawn colour of single-styled layers nobody styled (builders choose it): their style's
    colour unless it is the base grey, in which case the builder default for the layer kind."""
    from qdt.render.colours import CITY_ROOF, LINE_DEFAULT, POINT_DEFAULT, ZONE_DEFAULT, is_default_style

    out: dict[str, tuple[int, int, int]] = {}
    for layer in layers:
        if not is_default_style(layer.style):
            continue
        kind = getattr(layer, "geometry_type", "")
        if getattr(layer, "kind", None) is not None and layer.kind.value == "citymodel":
            out[layer.id] = CITY_ROOF
        elif kind == "Polygon":
            out[layer.id] = ZONE_DEFAULT
        elif kind == "LineString":
            out[layer.id] = LINE_DEFAULT
        elif kind == "Point":
            out[layer.id] = POINT_DEFAULT
    return out


def draw_overlays(image: np.ndarray, view: ViewInfo, layers: Any, options: SnapshotOptions, *,
                  crs_text: str = "") -> tuple[np.ndarray, dict[str, tuple[int, int, int, int]]]:
    """Draw ``options.overlays`` on a copy of ``image``; returns it and the box of each overlay drawn."""
    from PIL import Image, ImageDraw

    height, width = image.shape[:2]
    u = min(width, height) / REFERENCE_SIDE  # overlay unit: 1 px at 600 px, 5 px at 3000 px
    margin = round(12 * u)
    base = Image.fromarray(np.ascontiguousarray(image[..., :3]), "RGB").convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    boxes: dict[str, tuple[int, int, int, int]] = {}
    wanted = set(options.overlays)
    top = 0

    if "title" in wanted and options.title:
        font = _font(24 * u)
        band = round(44 * u)
        draw.rectangle((0, 0, width, band), fill=(255, 255, 255, 200))
        draw.text((width / 2, band / 2), options.title, fill=INK, font=font, anchor="mm")
        boxes["title"] = (0, 0, width, band + 1)  # PIL rectangles include their last row
        top = band

    if "north_arrow" in wanted:
        arrow = _north_arrow(80 * u, view.north_angle)
        x0, y0 = width - margin - arrow.width, top + margin
        layer.alpha_composite(arrow, (x0, y0))
        boxes["north_arrow"] = (x0, y0, x0 + arrow.width, y0 + arrow.height)

    bottom = height - margin
    if "crs_date" in wanted:
        font = _font(11 * u)
        date = options.date.isoformat() if options.date else ""
        text = " · ".join(t for t in (crs_text, date) if t)
        if text:
            box = draw.textbbox((0, 0), text, font=font)
            tw, th = box[2] - box[0], box[3] - box[1]
            pad = round(4 * u)
            x1, y1 = width - margin, height - margin
            x0, y0 = x1 - tw - 2 * pad, y1 - th - 2 * pad
            draw.rectangle((x0, y0, x1, y1), fill=PANEL)
            draw.text((x0 + pad - box[0], y0 + pad - box[1]), text, fill=INK, font=font)
            boxes["crs_date"] = (int(x0), int(y0), int(x1) + 1, int(y1) + 1)
            bottom = int(y0) - round(6 * u)

    if "scale_bar" in wanted and math.isfinite(view.metres_per_pixel):
        target = width * 0.18 * view.metres_per_pixel
        length = nice_length(target)
        bar_px = length / view.metres_per_pixel
        font = _font(12 * u)
        small = _font(10 * u)
        pad = round(6 * u)
        bar_h = max(3, round(7 * u))
        label_h = round(16 * u)
        scale_n = view.metres_per_pixel * float(options.dpi) / 0.0254  # ground metres per metre of print
        scale_text = f" 1:{_round_scale(scale_n):,} ({int(options.dpi)} dpi)"
        note = in_language("视图中心比例 约", "Scale at the view centre about") + scale_text
        note_w = draw.textlength(note, font=small)
        x0 = margin
        x1 = x0 + 2 * pad + max(bar_px + draw.textlength(_format_metres(length), font=font) / 2, note_w)
        y1 = height - margin
        y0 = y1 - (2 * pad + label_h + bar_h + round(4 * u) + label_h)
        draw.rectangle((x0, y0, x1, y1), fill=PANEL)
        bx, by = x0 + pad, y0 + pad + label_h
        segments = 4
        for i in range(segments):
            sx0 = bx + bar_px * i / segments
            sx1 = bx + bar_px * (i + 1) / segments
            draw.rectangle((round(sx0), by, round(sx1), by + bar_h), fill=INK if i % 2 == 0 else (255, 255, 255),
                           outline=INK, width=max(1, round(u)))
        draw.text((bx, by - round(2 * u)), "0", fill=INK, font=font, anchor="ms")
        draw.text((bx + bar_px, by - round(2 * u)), _format_metres(length), fill=INK, font=font, anchor="ms")
        draw.text((bx, by + bar_h + round(4 * u)), note, fill=INK, font=small, anchor="lt")
        boxes["scale_bar"] = (int(x0), int(y0), math.ceil(x1) + 1, int(y1) + 1)

    if "legend" in wanted:
        box = _draw_legend(draw, legend_entries(layers, _drawn_colours(layers), options.highlight), u, width, margin,
                           top=boxes.get("north_arrow", (0, top, 0, top))[3] + margin, bottom=bottom)
        if box is not None:
            boxes["legend"] = box

    base.alpha_composite(layer)
    return np.asarray(base.convert("RGB")), boxes


def _round_scale(n: float) -> int:
    """1:N rounded to two significant figures (1:23 456 → 1:23 000)."""
    if not math.isfinite(n) or n <= 0:
        return 0
    digits = max(0, int(math.floor(math.log10(n))) - 1)
    return int(round(n / 10 ** digits) * 10 ** digits)


def _draw_legend(draw: Any, entries: list, u: float, width: int, margin: int, *, top: int,
                 bottom: int) -> tuple[int, int, int, int] | None:
    """Legend in columns at the right edge between ``top`` and ``bottom``; returns its box."""
    if not entries:
        return None
    head_font, font = _font(13 * u), _font(11 * u)
    row = max(1, round(16 * u))  # a tiny image still gets a (clipped) legend, never a zero row height
    swatch = round(11 * u)
    pad = round(6 * u)
    rows: list[tuple[str, str, tuple[int, int, int] | None]] = [("title", in_language("图例", "Legend"), None)]
    for name, items in entries:
        if len(items) == 1 and not items[0][0]:
            rows.append(("item", name, items[0][1]))
            continue
        rows.append(("head", name, None))
        for label, rgb in items[:MAX_ENTRIES_PER_LAYER]:
            rows.append(("item", "  " + (label or name), rgb))
        if len(items) > MAX_ENTRIES_PER_LAYER:
            more = len(items) - MAX_ENTRIES_PER_LAYER
            rows.append(("head", "  … " + in_language(f"另有 {more} 类", f"{more} more classes"), None))
    per_column = max(1, (bottom - top - 2 * pad) // row)
    columns = [rows[i:i + per_column] for i in range(0, len(rows), per_column)]
    col_widths = []
    for column in columns:
        widest = 0.0
        for kind, text, _ in column:
            f = head_font if kind in ("title", "head") else font
            widest = max(widest, draw.textlength(text, font=f) + (swatch + pad if kind == "item" else 0))
        col_widths.append(math.ceil(widest) + pad)
    total_w = sum(col_widths) + pad
    x1 = width - margin
    x0 = max(margin, x1 - total_w)
    y1 = bottom
    y0 = y1 - 2 * pad - row * max(len(c) for c in columns)
    draw.rectangle((x0, y0, x1, y1), fill=PANEL, outline=(120, 120, 120, 255), width=max(1, round(u)))
    cx = x0 + pad
    for column, col_w in zip(columns, col_widths, strict=True):
        cy = y0 + pad
        for kind, text, rgb in column:
            if kind == "item" and rgb is not None:
                sy = cy + (row - swatch) / 2
                draw.rectangle((cx, round(sy), cx + swatch, round(sy) + swatch), fill=(*rgb, 255),
                               outline=(60, 60, 60, 255), width=max(1, round(u / 2)))
                draw.text((cx + swatch + pad, cy + row / 2), text.strip(), fill=INK, font=font, anchor="lm")
            else:
                draw.text((cx, cy + row / 2), text, fill=INK, font=head_font if kind != "item" else font, anchor="lm")
            cy += row
        cx += col_w
    return (int(x0), int(y0), int(x1) + 1, int(y1) + 1)
