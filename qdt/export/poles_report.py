"""Report section of a 多杆合一 consolidation plan: the totals and the counts per road."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qdt.export.report import FONT


@dataclass
class ConsolidationSection:
    """A :class:`qdt.poles.Plan` as a report section (``write_report(..., sections=[...])``)."""

    plan: Any

    def rows(self) -> list[list[str]]:
        """Header and one row per road (most groups first), then the total."""
        per_road = self.plan.per_road()
        rows = [["道路", "合杆点", "涉及杆件", "拆除杆件", "新建智慧杆", "利用现有智慧杆"]]
        for r in per_road.itertuples(index=False):
            rows.append([r.road or "（未知道路）", str(r.groups), str(r.poles), str(r.removed), str(r.new_smart_poles),
                         str(r.groups - r.new_smart_poles)])
        groups = len(self.plan.groups)
        new = int(per_road["new_smart_poles"].sum()) if len(per_road) else 0
        rows.append(["合计", str(groups), str(int(per_road["poles"].sum()) if len(per_road) else 0),
                     str(self.plan.poles_removed), str(new), str(groups - new)])
        return rows

    def flowables(self, styles: dict[str, Any], accent: Any, frame_width: float) -> list[Any]:
        from reportlab.lib import colors
        from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

        plan = self.plan
        text = (f"合杆距离 {plan.distance:g} m（同侧单链接，道路中心线两侧不合并）：现状杆件 {plan.poles_before} 根，"
                f"合并为 {len(plan.groups)} 个合杆点，拆除 {plan.poles_removed} 根，合杆后 {plan.poles_after} 根。")
        rows = self.rows()
        table = Table(rows, colWidths=[120] + [80] * 5, repeatRows=1)
        table.setStyle(TableStyle([
            ("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("BACKGROUND", (0, 0), (-1, 0), accent), ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
            ("GRID", (0, 0), (-1, -1), 0.3, colors.grey), ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
            ("BACKGROUND", (0, -1), (-1, -1), colors.Color(0.93, 0.93, 0.93))]))
        return [Paragraph("多杆合一合杆方案（按道路统计）", styles["h2"]), Paragraph(text, styles["base"]),
                Spacer(1, 4), table]
