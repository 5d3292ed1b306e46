"""Every Chinese string the interface shows through ``tr`` has an English catalogue entry."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TR_LITERAL = re.compile(r'\btr\((["\'])(.*?)\1\)')
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")


def english_catalogue() -> dict[str, str]:
    entries: dict[str, str] = {}
    for path in sorted((ROOT / "assets" / "i18n").glob("en*.json")):
        entries.update(json.loads(path.read_text(encoding="utf-8")))
    return entries


def test_every_tr_literal_in_the_ui_has_an_english_entry():
    catalogue = english_catalogue()
    missing = []
    files = sorted((ROOT / "qdt" / "ui").glob("*.py"))
    assert len(files) > 10
    for path in files:
        for match in TR_LITERAL.finditer(path.read_text(encoding="utf-8")):
            text = match.group(2)
            if CJK.search(text) and text not in catalogue:
                missing.append(f"{path.name}: {text!r}")
    assert not missing, "no English entry for:\n" + "\n".join(missing)


def test_label_tables_translated_through_tr_have_english_entries():
    """Labels kept in tables and passed to ``tr`` as variables (the regex above cannot see them)."""
    from qdt.ui import export_dialog, query_panel

    catalogue = english_catalogue()
    tables = [query_panel.MODE_LABELS, query_panel.PREDICATE_LABELS, query_panel._CLEARANCE_HEADERS,
              export_dialog.OVERLAY_LABELS, {label: label for label, _w, _h in export_dialog.SIZE_PRESETS}]
    missing = [text for table in tables for text in table.values() if CJK.search(text) and text not in catalogue]
    assert not missing, missing


def test_catalogue_entries_are_translations():
    for path in sorted((ROOT / "assets" / "i18n").glob("en*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert isinstance(data, dict), path
        for chinese, english in data.items():
            assert english.strip(), f"{path.name}: {chinese!r} has an empty translation"
            # placeholders survive translation ({n}, {name}, {t:.2f} …)
            assert sorted(re.findall(r"\{[^}]*\}", chinese)) == sorted(re.findall(r"\{[^}]*\}", english)), \
                f"{path.name}: {chinese!r} → {english!r}"
