"""The language people read QDT in, for every part that writes text (window, snapshots, reports, CLI).

One language at a time: the window's language (``qdt.ui.i18n.set_language`` passes it here when
the window starts), else ``QDT_LANG``, else ``LANGUAGE`` (gettext's preference list) when it names
one, else the first locale variable set (``LC_ALL``, ``LC_MESSAGES``, ``LANG``): ``zh_*`` Chinese,
``en_*`` English. A locale that names no language
(``C``, ``POSIX``, none) leaves each part its own default: documents (snapshots, reports) Chinese,
command-line messages English. Stdlib only, so models, exports and the CLI can ask without Qt.

Text is written in Chinese in the code and is its own key, as in the window (``qdt.ui.i18n``):
:func:`translate` looks the English up in the same catalogues, ``assets/i18n/en*.json``; a string
without an entry stays Chinese.
"""

from __future__ import annotations

import json
import os
from functools import cache

CHINESE = "zh_CN"
ENGLISH = "en"
_chosen: str | None = None


def set_language(code: str | None) -> None:
    """Fix the language (``"zh_CN"`` or ``"en"``; None: back to the environment)."""
    global _chosen
    if code is not None and code not in (CHINESE, ENGLISH):
        raise ValueError(f"unknown language {code!r}; choose {CHINESE} or {ENGLISH}")
    _chosen = code


def language(default: str = CHINESE) -> str:
    """``"zh_CN"`` or ``"en"`` (see the module docstring); ``default`` when nothing names one."""
    if _chosen is not None:
        return _chosen
    requested = os.environ.get("QDT_LANG")
    if requested in (CHINESE, ENGLISH):
        return requested
    for preferred in os.environ.get("LANGUAGE", "").lower().split(":"):
        if preferred.startswith("zh"):
            return CHINESE
        if preferred.startswith("en"):
            return ENGLISH
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "").lower()
        if value:
            if value.startswith("zh"):
                return CHINESE
            if value.startswith("en"):
                return ENGLISH
            break  # C, POSIX …: no language named
    return default


def text(chinese: str, english: str, default: str = CHINESE) -> str:
    """``chinese`` or ``english``, whichever the language is (``default`` when none is named)."""
    return english if language(default) == ENGLISH else chinese


def message(chinese: str, english: str) -> str:
    """A command-line message: English unless a language is named (the CLI's established default)."""
    return text(chinese, english, default=ENGLISH)


@cache
def english_catalogue() -> dict[str, str]:
    """Chinese text → English, from every ``assets/i18n/en*.json`` (the window's catalogues too)."""
    from qdt.resources import asset

    entries: dict[str, str] = {}
    for path in sorted(asset("i18n").glob("en*.json")):
        entries.update(json.loads(path.read_text(encoding="utf-8")))
    return entries


def translate(chinese: str, default: str = CHINESE, /, **values: object) -> str:
    """``chinese`` (the source text, its own catalogue key) in the language, then ``format(**values)``."""
    result = english_catalogue().get(chinese, chinese) if language(default) == ENGLISH else chinese
    return result.format(**values) if values else result


def cli_text(chinese: str, /, **values: object) -> str:
    """A message to whoever runs the work (command-line errors and progress; the window has set its
    language), from the catalogue: English unless a language is named."""
    return translate(chinese, ENGLISH, **values)
