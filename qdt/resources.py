"""Where the shipped assets (icons, north arrow, report template, message catalogues) are.

The source layout keeps them in the top-level ``assets/`` folder; the wheel carries that
folder as ``qdt/assets`` (see ``setup.py``), read here with :mod:`importlib.resources`, so an
ordinary (non-editable) install finds them too. Stdlib only.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def assets_dir() -> Path:
    """The assets folder: ``qdt/assets`` of an installed wheel, else the source tree's ``assets/``."""
    installed = importlib.resources.files("qdt") / "assets"
    if installed.is_dir():
        return Path(str(installed))
    return Path(__file__).resolve().parent.parent / "assets"


def asset(*parts: str) -> Path:
    """A file of the assets folder, e.g. ``asset("icons", "open.svg")``."""
    return assets_dir().joinpath(*parts)
