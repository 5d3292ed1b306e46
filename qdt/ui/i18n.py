"""Interface language: Chinese (简体中文) first, English as the option.

The Chinese text is written in the code and is its own key, the way Qt's ``tr()`` uses the
source text; English comes from message catalogues ``assets/i18n/en*.json`` (``{"中文": "English"}``),
one file per part of the interface so that parts can grow their catalogue independently.
A string with no English entry stays Chinese, so a missing entry never blanks a label.

The language is chosen at start-up (``QSettings`` key ``ui/language``, ``--lang`` on the command
line, or ``QDT_LANG``) before any widget is built; changing it takes effect on the next start,
as in QGIS.
"""

from __future__ import annotations

import json
import os
from functools import cache

from qdt.resources import asset

CATALOGUE_DIR = asset("i18n")
LANGUAGES = {"zh_CN": "简体中文", "en": "English"}
DEFAULT_LANGUAGE = "zh_CN"

_language = os.environ.get("QDT_LANG", DEFAULT_LANGUAGE)


def language() -> str:
    """The interface language code (a key of :data:`LANGUAGES`)."""
    return _language


def set_language(code: str) -> None:
    """Choose the interface language; an unknown code raises ValueError naming it."""
    global _language
    if code not in LANGUAGES:
        raise ValueError(f"unknown interface language {code!r}; choose one of {', '.join(LANGUAGES)}")
    _language = code
    from qdt import language as shared

    shared.set_language(code)  # the window's language is everyone's in this process (snapshots, reports)


@cache
def catalogue(code: str) -> dict[str, str]:
    """All entries of the ``assets/i18n/<code>*.json`` catalogues (Chinese text → translation)."""
    entries: dict[str, str] = {}
    if code == DEFAULT_LANGUAGE:
        return entries
    for path in sorted(CATALOGUE_DIR.glob(f"{code}*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise ValueError(f"{path}: a message catalogue must be one JSON object of strings")
        entries.update(data)
    return entries


def tr(text: str) -> str:
    """``text`` (Chinese, as written in the code) in the interface language."""
    if _language == DEFAULT_LANGUAGE:
        return text
    return catalogue(_language).get(text, text)
