"""Errors of the export package and the CJK font every overlay and report uses."""

from __future__ import annotations

from pathlib import Path

from qdt.query.export import ExportError

__all__ = ["CJK_FONT_CANDIDATES", "ExportError", "cjk_font_path"]

# fonts-wqy-microhei (tools/system_deps.sh) first; Noto CJK where a system has it instead
CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


def cjk_font_path() -> Path:
    """The first installed CJK font; ExportError (one line) when there is none."""
    for candidate in CJK_FONT_CANDIDATES:
        path = Path(candidate)
        if path.is_file():
            return path
    raise ExportError("no Chinese (CJK) font installed: install fonts-wqy-microhei (tools/system_deps.sh)")

