"""Report section of a 多杆合一 consolidation plan: the totals and the counts per road."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qdt.export.report import FONT
from qdt.language import translate


@dataclass
class ConsolidationSection:
    """A :class:`qdt.poles.Plan` as a report section (``write_report(..., sections=[...])``)."""

    plan: Any

    def rows(self) -> list[list[str]]:
        """Header and one row per road (most groups first), then the total."""
        per_road = self.plan.per_road()
        rows = [[translate(t) for t in ("道路", "合杆点", "涉及杆件", "拆除杆件", "新建智慧杆", "利用现有智慧杆")]]
        for r in per_road.itertuples(index=False):
            rows.append([r.road or translate("（未知道路）"), str(r.groups), str(r.poles), str(r.removed),
                         str(r.new_smart_poles), str(r.groups - r.new_smart_poles)])
        groups = len(self.plan.groups)
        new = int(per_road["new_smart_poles"].sum()) if len(per_road) else 0
        rows.append([translate("合计"), str(groups), str(int(per_road["poles"].sum()) if len(per_road) else 0),
                     str(self.plan.poles_removed), str(new), str(groups - new)])
        return rows

    def flowables(self, styles: dict[str, Any], accent: Any, frame_width: float) -> list[Any]:
        from reportlab.lib import colors
        from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

        plan = self.plan
        text = translate("合杆距离 {distance} m（同侧单链接，道路中心线两侧不合并）：", distance=f"{plan.distance:g}")
        text += translate("现状杆件 {before} 根，合并为 {groups} 个合杆点，拆除 {removed} 根，合杆后 {after} 根。",
                          before=plan.poles_before, groups=len(plan.groups), removed=plan.poles_removed,
                          after=plan.poles_after)
        rows = self.rows()
        table = Table(rows, colWidths=[120] + [80] * 5, repeatRows=1)
        table.setStyle(TableStyle([
            ("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("BACKGROUND", (0, 0), (-1, 0), accent), ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
            ("GRID", (0, 0), (-1, -1), 0.3, colors.grey), ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
            ("BACKGROUND", (0, -1), (-1, -1), colors.Color(0.93, 0.93, 0.93))]))
        return [Paragraph(translate("多杆合一合杆方案（按道路统计）"), styles["h2"]), Paragraph(text, styles["base"]),
                Spacer(1, 4), table]
