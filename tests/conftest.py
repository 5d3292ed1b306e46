"""Shared fixtures. GUI tests run on the Xvfb display that pytest-xvfb starts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT / "sample_data"
SAMPLE_PROJECT = SAMPLE_DIR / "qingdao_shinan.qdt"
SAMPLE_GPKG = SAMPLE_DIR / "qingdao_shinan.gpkg"
TEST_DATA = ROOT / "tests" / "data"

# Keep QSettings written by GUI tests out of the user's home.
os.environ.setdefault("XDG_CONFIG_HOME", str(ROOT / ".pytest_cache" / "xdg-config"))


@pytest.fixture
def sample_copy(tmp_path):
    """A private copy of the sample project folder (tests may modify it)."""
    dest = tmp_path / "sample"
    shutil.copytree(SAMPLE_DIR, dest)
    return dest
