"""The language people read QDT in, for every part that writes text (window, snapshots, reports, CLI).

One language at a time: the window's language (``qdt.ui.i18n.set_language`` passes it here when
the window starts), else ``QDT_LANG``, else the first locale variable set (``LC_ALL``,
``LC_MESSAGES``, ``LANG``): ``zh_*`` Chinese, any other English; no locale at all is POSIX's "C",
English. Stdlib only, so models, exports and the CLI can ask without Qt.
"""

from __future__ import annotations

import os

CHINESE = "zh_CN"
ENGLISH = "en"
_chosen: str | None = None


def set_language(code: str | None) -> None:
    """Fix the language (``"zh_CN"`` or ``"en"``; None: back to the environment)."""
    global _chosen
    if code is not None and code not in (CHINESE, ENGLISH):
        raise ValueError(f"unknown language {code!r}; choose {CHINESE} or {ENGLISH}")
    _chosen = code


def language() -> str:
    """``"zh_CN"`` or ``"en"`` (see the module docstring)."""
    if _chosen is not None:
        return _chosen
    requested = os.environ.get("QDT_LANG")
    if requested in (CHINESE, ENGLISH):
        return requested
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            return CHINESE if value.lower().startswith("zh") else ENGLISH
    return ENGLISH


def text(chinese: str, english: str) -> str:
    """``chinese`` or ``english``, whichever the language is."""
    return english if language() == ENGLISH else chinese
