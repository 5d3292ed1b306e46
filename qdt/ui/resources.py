"""Where the application's icons and other assets live."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

from qdt.resources import assets_dir

ASSETS = assets_dir()


def asset_path(name: str) -> Path:
    return ASSETS / name


def icon(name: str) -> QIcon:
    """A toolbar icon from assets/icons/NAME.svg (an empty icon if the file is missing)."""
    path = ASSETS / "icons" / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


def app_icon() -> QIcon:
    return QIcon(str(ASSETS / "qdt_icon.svg"))
