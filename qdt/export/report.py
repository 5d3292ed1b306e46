"""PDF reports (reportlab, no Qt): title block, snapshot, legend, statistics, a chart and paged tables.

A report is laid out from a template (``assets/report_template.json``: organisation, logo,
title, page size, colours, snapshot size, table limits) that an organisation adjusts without
touching code. Chinese text is set in the CJK TrueType font (WenQuanYi Micro Hei), embedded
as a subset, so every PDF reader shows it.

Headless API::

    from qdt.export.report import ReportTable, write_report
    table = ReportTable.from_query(project.layers, "路灯", "状态 = '故障'")
    write_report(project, "report.pdf", title="故障路灯", tables=[table])
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qdt.export.errors import ExportError, cjk_font_path
from qdt.language import ENGLISH, cli_text, language, translate
from qdt.resources import assets_dir
from qdt.safe_output import atomic_output, input_files, read_small_text
from qdt.tasks import CancelFn, ProgressFn, Task, check_cancel

__all__ = ["DEFAULT_TEMPLATE", "ReportTable", "load_template", "report_task", "write_report"]

ASSETS = assets_dir()
DEFAULT_TEMPLATE = ASSETS / "report_template.json"
FONT = "QDT-CJK"
BUILTIN_TEMPLATE: dict[str, Any] = {
    "organisation": "",
    "logo": None,
    "title": "数字底板专题报告",
    "author": "",
    "page_size": "A4",
    "accent_colour": "#1F5FA8",
    "snapshot": {"width": 2400, "height": 1350, "dpi": 200, "overlays": ["north_arrow", "scale_bar"]},
    "table": {"max_rows": 2000, "max_columns": 9, "font_size": 7.5},
    "footer": "QDT 数字底板",
}


def load_template(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The report template: :data:`BUILTIN_TEMPLATE` updated from ``path`` (default the one in assets/).

    A relative ``logo`` is taken relative to the template file. ExportError (one line naming
    the file) for unreadable JSON or a bad value.
    """
    template = json.loads(json.dumps(BUILTIN_TEMPLATE))
    source = Path(path) if path is not None else DEFAULT_TEMPLATE
    if path is None and not source.is_file():
        return template
    text = read_small_text(source, 4 * 2**20, "report template", ExportError)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportError(f"report template '{source}' cannot be read: {exc}") from None
    except RecursionError:
        raise ExportError(f"report template '{source}' is nested too deeply") from None
    if not isinstance(data, dict):
        raise ExportError(f"report template '{source}' must be a JSON object")
    for key, value in data.items():
        if key.startswith("_"):
            continue  # comments
        if key not in template:
            raise ExportError(f"report template '{source}': unknown setting '{key}' (known: {', '.join(template)})")
        if isinstance(template[key], dict) and isinstance(value, dict):
            template[key].update(value)
        else:
            template[key] = value
    if template.get("logo"):
        logo = Path(template["logo"])
        template["logo"] = str(logo if logo.is_absolute() else source.parent / logo)
    if str(template["page_size"]).upper() not in ("A4", "A3"):
        raise ExportError(f"report template '{source}': page_size must be A4 or A3, not {template['page_size']!r}")
    return template


@dataclass
class ReportTable:
    """Rows of one layer for the report: a query result or a selection.

    Attributes
    ----------
    layer
        The vector layer.
    fids
        The feature ids to list (ascending).
    description
        What was selected ("路灯: 状态 = '故障'"), printed above the table.
    """

    layer: Any
    fids: np.ndarray
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_query(cls, layers: Any, layer_name: str, where: str | None = None) -> ReportTable:
        """Run an attribute query (QueryError/ExpressionError naming the layer on bad input)."""
        from qdt.query import Query, run_query

        result = run_query(Query(layer_name, where=where), layers)
        text = f"{result.layer.name}: {where}" if where else f"{result.layer.name}: {translate('全部要素')}"
        return cls(result.layer, result.fids, text)

    @classmethod
    def from_selection(cls, layer: Any) -> ReportTable:
        return cls(layer, np.array(sorted(layer.selection), dtype=np.int64), f"{layer.name}: {translate('当前选择')}")


# --- table content ---------------------------------------------------------------------------------

LAYER_KINDS = {"vector": "矢量", "raster": "栅格", "citymodel": "三维城市模型"}
RASTER_ROLES = {"dem": "高程", "ortho": "正射影像", "image": "影像"}
HISTOGRAM_ABOVE = 12  # distinct values of a numeric field above which the chart is a histogram
HISTOGRAM_BINS = 8


def _additive_fields(layer: Any) -> set[str]:
    """Fields whose values add up (power, counts, areas: ``additive`` in the catalogue)."""
    from qdt.query import feature_class_of

    fclass = feature_class_of(layer)
    return {f.name for f in fclass.fields if f.additive} if fclass is not None else set()


def _number(value: Any, spec: str) -> str:
    """A statistic for the table: NULL when there is none (an empty or all-NULL column)."""
    from qdt.layers import NULL_TEXT

    if value is None or value is pd.NA or (isinstance(value, float) and not np.isfinite(value)):
        return NULL_TEXT
    try:
        return format(float(value), spec)
    except (TypeError, ValueError):
        return NULL_TEXT


def _nice_bins(values: np.ndarray, bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """Histogram edges on round numbers (1, 2, 2.5, 5 × 10^k) covering ``values``."""
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.array([lo, lo + 1.0])
    raw = (hi - lo) / bins
    magnitude = 10 ** np.floor(np.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = np.floor(lo / step) * step
    return start + step * np.arange(int(np.ceil((hi - start) / step)) + 1)


def _histogram(values: pd.Series) -> pd.Series:
    """Counts of a continuous field in round bins, labelled "10–20" (the last bin includes its end)."""
    data = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    edges = _nice_bins(data)
    counts, _ = np.histogram(data, bins=edges)
    labels = [f"{a:g}–{b:g}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return pd.Series(counts, index=labels)


def _cell_text(text: str) -> str:
    """Escape a value for a reportlab Paragraph (which reads a little XML)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _english() -> bool:
    return language() == ENGLISH


def _field_info(layer: Any) -> dict[str, tuple[str, str | None, Any]]:
    """column → (label with unit in the language, unit, code list or None) from the CIM catalogue."""
    from qdt.query import feature_class_of

    out: dict[str, tuple[str, str | None, Any]] = {}
    fclass = feature_class_of(layer)
    if fclass is None:
        return out
    from qdt.cim import catalogue

    cat = catalogue()
    for definition in fclass.fields:
        codelist = None
        if definition.codelist:
            try:
                codelist = cat.codelist(definition.codelist)
            except KeyError:
                codelist = None
        name = (definition.en or definition.zh) if _english() else definition.zh
        label = name + (f" ({definition.unit})" if definition.unit else "")
        out[definition.name] = (label, definition.unit, codelist)
    return out


def _display_column(values: pd.Series, codelist: Any) -> pd.Series:
    """Values as text; code-list codes with their label in the language ("2 故障", "2 Faulty"),
    vectorised per code; missing values as NULL."""
    from qdt.layers import NULL_TEXT

    missing = values.isna().to_numpy()
    text = values.astype(object).where(~missing, "")
    if pd.api.types.is_datetime64_any_dtype(values):
        text = values.dt.strftime("%Y-%m-%d").where(~missing, "")
    elif pd.api.types.is_float_dtype(values):
        text = values.map(lambda v: "" if pd.isna(v) else f"{v:.6g}")
    text = text.astype(str)
    if codelist is not None:
        labels = {}
        english = _english()
        for entry in codelist.entries:
            name = (entry.en or entry.zh) if english else entry.zh
            same = str(name).strip().upper() == str(entry.code).strip().upper()
            labels[str(entry.code)] = str(entry.code) if same else f"{entry.code} {name}"
        keys = text.str.replace(r"\.0$", "", regex=True)
        text = keys.map(labels).fillna(text)
    return text.where(~missing, NULL_TEXT)


def _category_column(layer: Any, frame: pd.DataFrame, info: dict) -> str | None:
    """The field to count by in the chart: the style's, else a code-list field, preferring one with
    more than one value among the rows."""
    candidates = [getattr(layer.style, "field", None)]
    candidates += [name for name, (_, _, codelist) in info.items() if codelist is not None]
    candidates = [c for c in candidates if c and c in frame.columns]
    for name in candidates:  # a field that tells the rows apart (not the one the query filtered on)
        if frame[name].nunique() > 1:
            return name
    return candidates[0] if candidates else None


# --- PDF -------------------------------------------------------------------------------------------

def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(cjk_font_path()), subfontIndex=0))


def _styles(accent: Any) -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("base", fontName=FONT, fontSize=9.5, leading=13, wordWrap="CJK")
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontSize=20, leading=26, textColor=accent),
        "org": ParagraphStyle("org", parent=base, fontSize=11, leading=15),
        "h2": ParagraphStyle("h2", parent=base, fontSize=13, leading=18, textColor=accent, spaceBefore=6,
                             spaceAfter=4),
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9),
    }


def _image_flowable(image: np.ndarray, max_w: float, max_h: float) -> Any:
    from PIL import Image as PILImage
    from reportlab.platypus import Image

    buffer = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(image[..., :3])).save(buffer, "JPEG", quality=90, subsampling=0)
    buffer.seek(0)
    h, w = image.shape[:2]
    scale = min(max_w / w, max_h / h)
    return Image(buffer, width=w * scale, height=h * scale)


def _legend_table(entries: list, styles: dict, max_height: float, column_width: float = 105) -> Any:
    """The legend as a table of swatches and labels, in as many columns as ``max_height`` needs."""
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    items: list[tuple[tuple[int, int, int] | None, str, bool]] = []
    for name, classes in entries:
        if len(classes) == 1 and not classes[0][0]:
            items.append((classes[0][1], name, False))
            continue
        items.append((None, name, True))
        items += [(rgb, str(label), False) for label, rgb in classes[:10]]
    row_h = 10.5
    per_column = max(1, int((max_height - 20) // row_h))
    n_columns = max(1, -(-len(items) // per_column))
    per_column = -(-len(items) // n_columns)
    rows: list[list[Any]] = [[Paragraph(translate("图例"), styles["h2"])] + [""] * (2 * n_columns - 1)]
    commands: list[tuple] = [("SPAN", (0, 0), (-1, 0))]
    for r in range(per_column):
        row: list[Any] = []
        for c in range(n_columns):
            k = c * per_column + r
            if k >= len(items):
                row += ["", ""]
                continue
            rgb, text, bold = items[k]
            if bold:
                row += [Paragraph(f"<b>{text}</b>", styles["small"]), ""]
                commands.append(("SPAN", (2 * c, r + 1), (2 * c + 1, r + 1)))
            else:
                row += ["", Paragraph(text, styles["small"])]
                if rgb is not None:
                    fill = colors.Color(*[v / 255 for v in rgb])
                    commands.append(("BACKGROUND", (2 * c, r + 1), (2 * c, r + 1), fill))
        rows.append(row)
    table = Table(rows, colWidths=[10, column_width - 10] * n_columns, rowHeights=[20] + [row_h] * per_column)
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("TOPPADDING", (0, 1), (-1, -1), 0),
                               ("BOTTOMPADDING", (0, 1), (-1, -1), 0), ("LEFTPADDING", (0, 0), (-1, -1), 2),
                               *commands]))
    return table


def _bar_chart(counts: pd.Series, title: str, styles: dict, accent: Any, width: float, height: float) -> Any:
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing, String

    drawing = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 30, width - 60, height - 55
    chart.data = [[int(v) for v in counts.to_numpy()]]
    width_chars = 16 if _english() else 10  # Latin letters are about half as wide as Chinese characters
    chart.categoryAxis.categoryNames = [str(k)[:width_chars] for k in counts.index]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    if len(counts) > 5:  # many bins or categories: slanted labels that do not run into each other
        chart.categoryAxis.labels.angle = 30
        chart.categoryAxis.labels.boxAnchor = "ne"
        chart.categoryAxis.labels.dx = 4
        chart.categoryAxis.labels.dy = -2
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.bars[0].fillColor = accent
    chart.barLabelFormat = "%d"
    chart.barLabels.fontName = FONT
    chart.barLabels.fontSize = 7
    chart.barLabels.nudge = 6
    drawing.add(chart)
    drawing.add(String(width / 2, height - 14, title, fontName=FONT, fontSize=9, textAnchor="middle"))
    return drawing


def _table_section(table: ReportTable, template: dict, styles: dict, accent: Any, frame_width: float,
                   is_cancelled: CancelFn) -> list[Any]:
    from reportlab.lib import colors
    from reportlab.platypus import LongTable, Paragraph, Spacer, Table, TableStyle

    layer = table.layer
    frame = layer.frame.loc[np.asarray(table.fids, dtype=np.int64)]
    info = _field_info(layer)
    # the identifying code, the style's field (what the map colours show), then the rest in order
    first = [c for c in ("code", getattr(layer.style, "field", None)) if c and c in layer.columns]
    columns = list(dict.fromkeys([*first, *layer.columns]))[: int(template["table"]["max_columns"])]
    story: list[Any] = [Paragraph(translate("查询结果：{description}", description=table.description), styles["h2"]),
                        Paragraph(translate("图层 {layer} 共 {total} 个要素，本次选中 {selected} 个。",
                                            layer=layer.name, total=layer.feature_count, selected=len(frame)),
                                  styles["base"]), Spacer(1, 4)]
    # summary statistics of the numeric fields, vectorised by pandas
    numeric = [c for c in layer.columns if pd.api.types.is_numeric_dtype(frame[c]) and c not in ("code",)
               and not pd.api.types.is_bool_dtype(frame[c]) and info.get(c, (None, None, None))[2] is None][:8]
    additive = _additive_fields(layer)
    stat_rows = [[translate(t) for t in ("字段", "数量", "最小值", "平均值", "最大值", "合计")]]
    if len(frame) and numeric:
        values = frame[numeric].apply(pd.to_numeric, errors="coerce").astype("float64")
        described = values.agg(["count", "min", "mean", "max", "sum"]).T
        for name, row in described.iterrows():
            label = info.get(name, (name, None, None))[0]
            # sums only where values add up (power, counts, areas); a sum of years or heights means nothing
            total = _number(row["sum"], ".6g") if name in additive and row["count"] else ""
            stat_rows.append([Paragraph(f"{label}<br/><font size=6>{name}</font>", styles["cell"]),
                              f"{int(row['count'])}", _number(row["min"], ".4g"), _number(row["mean"], ".4g"),
                              _number(row["max"], ".4g"), total])
    if len(frame) and layer.geometry_type == "LineString":  # lengths always add up
        lengths = frame.geometry.length.to_numpy(dtype=float)
        length_label = translate("长度 (m)") + "<br/><font size=6>geometry</font>"
        stat_rows.append([Paragraph(length_label, styles["cell"]), f"{len(lengths)}",
                          _number(lengths.min(), ".4g"), _number(lengths.mean(), ".4g"),
                          _number(lengths.max(), ".4g"), _number(lengths.sum(), ".6g")])
    stats = Table(stat_rows, colWidths=[110, 40, 55, 55, 55, 60])
    stats.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 8),
                               ("BACKGROUND", (0, 0), (-1, 0), accent), ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
                               ("GRID", (0, 0), (-1, -1), 0.3, colors.grey), ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                               ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    chart = None
    category = _category_column(layer, frame, info)
    if category is not None and len(frame):
        codelist = info.get(category, (None, None, None))[2]
        column = frame[category]
        title = translate("按{label}统计（{field}）", label=info.get(category, (category,))[0], field=category)
        if (codelist is None and pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
                and column.nunique() > HISTOGRAM_ABOVE):
            counts = _histogram(column)  # a continuous field: counts in round bins, not a bar per value
            title = translate("{label}分布（{field}）", label=info.get(category, (category,))[0], field=category)
        else:
            counts = _display_column(column, codelist).value_counts().sort_index()
        chart = _bar_chart(counts, title, styles, accent, 300, 170)
    story.append(Table([[stats, chart or ""]], colWidths=[frame_width - 310, 310],
                       style=[("VALIGN", (0, 0), (-1, -1), "TOP")]))
    check_cancel(is_cancelled)
    # the paged table: header row repeated on every page
    max_rows = int(template["table"]["max_rows"])
    shown = frame.iloc[:max_rows]
    header = [Paragraph("fid", styles["cell"])]
    for name in columns:
        label = info.get(name, (name, None, None))[0]
        header.append(Paragraph(f"{label}<br/><font size=6>{name}</font>", styles["cell"]))
    texts = [shown.index.astype(str).to_numpy()]
    for name in columns:
        texts.append(_display_column(shown[name], info.get(name, (None, None, None))[2]).str.slice(0, 120).to_numpy())
    from reportlab.lib.styles import ParagraphStyle

    font_size = float(template["table"]["font_size"])
    cell = ParagraphStyle("body", parent=styles["cell"], fontSize=font_size, leading=font_size + 2)
    # every cell a paragraph, so long text wraps inside its column instead of running into the next
    body = [[Paragraph(_cell_text(str(v)), cell) for v in row] for row in np.column_stack(texts).tolist()] \
        if len(shown) else []
    widths = [36] + [(frame_width - 36) / max(len(columns), 1)] * len(columns)
    data_table = LongTable([header, *body], colWidths=widths, repeatRows=1)
    data_table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 1), (-1, -1), font_size),
        ("LEADING", (0, 1), (-1, -1), font_size + 2),
        ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.88, 0.92, 0.97)),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.Color(0.96, 0.96, 0.96)]),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.Color(0.7, 0.7, 0.7)),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)]))
    story += [Spacer(1, 6), Paragraph(translate("要素明细"), styles["h2"]), data_table]
    if len(frame) > max_rows:
        story.append(Paragraph(translate("（仅列出前 {shown} 行，共 {total} 行；完整数据请导出 CSV/GeoPackage。）",
                                         shown=max_rows, total=len(frame)), styles["small"]))
    return story


def _layers_summary(layers: Any, styles: dict, accent: Any) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    from qdt.layers import VectorLayer

    rows = [[translate(t) for t in ("图层", "类型", "要素数", "可见")]]
    for layer in layers:
        count = layer.feature_count if isinstance(layer, VectorLayer) else ""
        kind = translate(LAYER_KINDS.get(layer.kind.value, layer.kind.value))
        role = RASTER_ROLES.get(str(getattr(layer, "role", "")), "") if layer.kind.value == "raster" else ""
        kind = translate("{kind}（{role}）", kind=kind, role=translate(role)) if role else kind
        rows.append([layer.name, kind, str(count), translate("是" if layer.visible else "否")])
    table = Table(rows, colWidths=[140, 70, 60, 40], hAlign="LEFT")
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 8),
                               ("BACKGROUND", (0, 0), (-1, 0), accent), ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
                               ("GRID", (0, 0), (-1, -1), 0.3, colors.grey), ("ALIGN", (2, 1), (2, -1), "RIGHT")]))
    return table


def report_snapshot_options(template: dict[str, Any], *, title: str, date: _dt.date | None = None,
                            tables: list[ReportTable] = (), camera: Any = None, underground: bool = False) -> Any:
    """The :class:`qdt.export.SnapshotOptions` of a report's picture: the template's size, dpi and
    overlays, the view ``camera`` (None: the project's) and ``underground``, the listed rows lit."""
    from qdt.export.snapshot import SnapshotOptions

    shot = template["snapshot"]
    return SnapshotOptions(width=int(shot["width"]), height=int(shot["height"]), dpi=int(shot["dpi"]),
                           overlays=tuple(shot["overlays"]), date=date, title=title, camera=camera,
                           underground=bool(underground),
                           highlight={t.layer.id: t.fids for t in tables})  # the rows listed, lit


def write_report(project: Any, path: str | os.PathLike[str], *, title: str | None = None, author: str | None = None,
                 tables: list[ReportTable] | None = None,
                 template: dict[str, Any] | str | os.PathLike[str] | None = None,
                 page_size: str | None = None, snapshot: Any = None, date: _dt.date | None = None,
                 progress: ProgressFn | None = None, is_cancelled: CancelFn | None = None,
                 crs_text: str | None = None, camera: Any = None, underground: bool = False,
                 sections: Sequence[Any] = ()) -> Path:
    """Write a PDF report of ``project`` to ``path``.

    Parameters
    ----------
    title, author
        Override the template's.
    tables
        Query results or selections to list (default: every layer's current selection).
    template
        A template dict, a template file, or None (``assets/report_template.json``).
    page_size
        "A4" or "A3" (landscape); default the template's.
    snapshot
        A :class:`qdt.export.Snapshot` to use; None renders one (see :func:`report_snapshot_options`).
    sections
        More sections after the tables: objects with ``flowables(styles, accent, frame_width)`` returning
        reportlab flowables (e.g. :class:`qdt.export.poles_report.ConsolidationSection`).
    camera, underground
        The view the rendered snapshot shows: a camera state (the GUI passes the 3D view's, so
        the report shows what the user sees) or None for the project's saved camera; and
        whether ground and buildings are faded.

    Returns the Path written (via a temporary file, so a failure leaves no half PDF).
    """
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A3, A4, landscape
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from qdt.export.overlays import _drawn_colours, legend_entries
    from qdt.export.snapshot import project_crs_text, snapshot_project

    progress = progress or (lambda f, m: None)
    is_cancelled = is_cancelled or (lambda: False)
    target = Path(path)
    if target.suffix.lower() != ".pdf":
        raise ExportError(f"cannot write '{target}': a report must end in .pdf")
    if not target.parent.is_dir():
        raise ExportError(f"cannot write '{target}': folder '{target.parent}' does not exist")
    tpl = template if isinstance(template, dict) else load_template(template)
    size = (page_size or tpl["page_size"]).upper()
    if size not in ("A4", "A3"):
        raise ExportError(f"page size must be A4 or A3, not {page_size!r}")
    pagesize = landscape(A3 if size == "A3" else A4)
    _register_font()
    try:
        accent = colors.HexColor(tpl["accent_colour"])
    except (ValueError, TypeError):
        raise ExportError(f"report template: accent_colour {tpl['accent_colour']!r} is not a #RRGGBB colour") from None
    styles = _styles(accent)
    title = title or translate(tpl["title"])  # the shipped template's words have catalogue entries
    author = author if author is not None else tpl["author"]
    date = date or _dt.date.today()
    if tables is None:
        from qdt.layers import VectorLayer

        tables = [ReportTable.from_selection(layer) for layer in project.layers
                  if isinstance(layer, VectorLayer) and layer.selection]

    if snapshot is None:
        options = report_snapshot_options(tpl, title=title, date=date, tables=tables, camera=camera,
                                          underground=underground)

        def sub(fraction: float, message: str) -> None:
            progress(0.7 * fraction, message)

        snapshot = snapshot_project(project, options, sub, is_cancelled, crs_text=crs_text)
    check_cancel(is_cancelled)
    progress(0.75, cli_text("正在排版报告…"))

    margin = 12 * mm
    frame_width = pagesize[0] - 2 * margin
    crs_text = project_crs_text(project) if crs_text is None else crs_text
    # title block: logo | title, organisation | project, CRS, author, date
    logo = ""
    if tpl.get("logo"):
        if not Path(tpl["logo"]).is_file():
            raise ExportError(f"report template: logo '{tpl['logo']}' does not exist")
        logo = Image(tpl["logo"], width=18 * mm, height=18 * mm, kind="proportional")
    meta = Table([[translate("项目"), project.name], [translate("坐标系"), Paragraph(crs_text, styles["small"])],
                  [translate("作者"), author or "—"], [translate("日期"), date.isoformat()]], colWidths=[40, 260])
    meta.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 7.5),
                              ("TEXTCOLOR", (0, 0), (0, -1), colors.grey), ("TOPPADDING", (0, 0), (-1, -1), 0.5),
                              ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5)]))
    heading = [Paragraph(title, styles["title"])]
    if tpl.get("organisation"):
        heading.append(Paragraph(translate(str(tpl["organisation"])), styles["org"]))
    block = Table([[logo, heading, meta]], colWidths=[22 * mm, frame_width - 22 * mm - 300, 300])
    block.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                               ("LINEBELOW", (0, 0), (-1, 0), 1.2, accent)]))
    image_h = pagesize[1] - 2 * margin - 36 * mm
    highlight = getattr(getattr(snapshot, "options", None), "highlight", None)
    legend = _legend_table(legend_entries(project.layers, _drawn_colours(project.layers), highlight), styles, image_h)
    legend_w = sum(legend._colWidths) + 6
    picture = _image_flowable(snapshot.image, frame_width - legend_w - 8, image_h)
    story: list[Any] = [block, Spacer(1, 4),
                        Table([[picture, legend]], colWidths=[frame_width - legend_w, legend_w],
                              style=[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])]
    story += [Paragraph(translate("图层概况"), styles["h2"]), _layers_summary(project.layers, styles, accent)]
    for n, table in enumerate(tables):
        check_cancel(is_cancelled)
        progress(0.8 + 0.15 * n / max(len(tables), 1), cli_text("正在生成表格 {layer}…", layer=table.layer.name))
        story += _table_section(table, tpl, styles, accent, frame_width, is_cancelled)
    for section in sections:
        check_cancel(is_cancelled)
        story += section.flowables(styles, accent, frame_width)
    footer = translate(str(tpl.get("footer") or ""))

    def decorate(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(colors.grey)
        canvas.drawString(margin, 6 * mm, f"{footer} · {project.name} · {title}")
        page = translate("第 {page} 页", page=doc.page)
        canvas.drawRightString(pagesize[0] - margin, 6 * mm, f"{page} · {date.isoformat()}")
        canvas.restoreState()

    with atomic_output(target, inputs=input_files(project.layers, getattr(project, "path", None)),
                       error=ExportError) as temp:
        doc = SimpleDocTemplate(str(temp), pagesize=pagesize, leftMargin=margin, rightMargin=margin,
                                topMargin=margin, bottomMargin=margin + 3 * mm, title=title, author=author or "",
                                subject=project.name, creator="QDT")
        doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    progress(1.0, cli_text("报告完成"))
    return target


def report_task(project: Any, path: str | os.PathLike[str], **kwargs: Any) -> Task:
    """:func:`write_report` as a task (its result: the Path written)."""
    from qdt.export.snapshot import project_crs_text

    kwargs.setdefault("crs_text", project_crs_text(project))  # PROJ on the calling thread, not the worker

    def run(progress: ProgressFn, is_cancelled: CancelFn) -> Path:
        return write_report(project, path, progress=progress, is_cancelled=is_cancelled, **kwargs)

    return Task(cli_text("正在生成报告…"), run)


