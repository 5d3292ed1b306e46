"""Shared fixtures, and the virtual X display the GUI tests need.

Without a DISPLAY the test session starts its own Xvfb (Qt's offscreen platform cannot host the
VTK widget). The server must outlive the test process: VTK and Qt still hold X connections while
Python shuts down, and an X server that disappears first makes Xlib abort with exit status 1. So a
small watcher process stops Xvfb only after pytest has exited.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.pg_cluster import pg_cluster, pg_dsn  # noqa: F401  (PostGIS fixtures: a throw-away cluster)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT / "sample_data"
SAMPLE_PROJECT = SAMPLE_DIR / "qingdao_shinan.qdt"
SAMPLE_GPKG = SAMPLE_DIR / "qingdao_shinan.gpkg"
TEST_DATA = ROOT / "tests" / "data"

# Keep QSettings written by GUI tests out of the user's home, and apart from any other test run
# (recent projects, language and window layout are read back by the tests).
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="qdt-test-config-")
atexit.register(shutil.rmtree, os.environ["XDG_CONFIG_HOME"], ignore_errors=True)


@pytest.fixture
def sample_copy(tmp_path):
    """A private copy of the sample project folder (tests may modify it)."""
    dest = tmp_path / "sample"
    shutil.copytree(SAMPLE_DIR, dest)
    return dest


def _start_xvfb() -> None:
    if os.environ.get("DISPLAY") or shutil.which("Xvfb") is None:
        return
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                              pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()  # Xvfb writes the display number once it accepts clients
    if not number:
        server.kill()
        raise RuntimeError("Xvfb did not start; install it with tools/system_deps.sh")
    os.environ["DISPLAY"] = f":{number}"
    watcher = f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 0.2; done; kill {server.pid}"
    subprocess.Popen(["sh", "-c", watcher], start_new_session=True, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "someone_answers: the test answers the main window's modal questions itself")
    _start_xvfb()


@pytest.fixture(scope="session", autouse=True)
def nobody_answers():
    """Tests have nobody to answer the main window's "save the changes?": it is told "discard"
    for the whole run (module-scoped windows close after the last test's fixtures are gone). A
    test marked ``someone_answers`` gets the real question box and clicks it itself."""
    try:
        from PySide6.QtWidgets import QMessageBox

        from qdt.ui.mainwindow import MainWindow
    except ImportError:  # no Qt here: no window either
        yield
        return
    real = MainWindow.ask_unsaved_changes
    MainWindow.ask_unsaved_changes = lambda self: QMessageBox.StandardButton.Discard
    yield real
    MainWindow.ask_unsaved_changes = real


@pytest.fixture(autouse=True)
def someone_answers(request, nobody_answers, monkeypatch):
    if nobody_answers is not None and request.node.get_closest_marker("someone_answers"):
        from qdt.ui.mainwindow import MainWindow

        monkeypatch.setattr(MainWindow, "ask_unsaved_changes", nobody_answers)


@pytest.fixture(autouse=True)
def _language_from_environment():
    """Each test starts with the shared language taken from the environment (a GUI test that picks
    the window's language must not change the language of a later CLI test)."""
    yield
    from qdt import language

    language.set_language(None)
