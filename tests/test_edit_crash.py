"""Crash safety of a commit: a child process writes a large batch and is killed with SIGKILL at random moments.

Each time the GeoPackage must pass ``PRAGMA integrity_check`` and hold either all of that
commit (values and change-log rows) or none of it. The child runs
:func:`qdt.io.gpkg_write.update_attributes` — the one function through which
:meth:`qdt.edit.EditSession.commit` writes (everything before it happens in memory) — loaded
from its file alone, so a child starts in a fraction of a second and 50+ kills fit in a few
seconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from qdt.io.gpkg_write import CHANGE_LOG_TABLE
from tests.conftest import ROOT, SAMPLE_GPKG

KILLS = 50
TILES = 8  # copies of the sample's streetlights: about 7 000 features in one commit

CHILD = r"""
import importlib.util, sys
import numpy as np

spec = importlib.util.spec_from_file_location("gpkg_write", sys.argv[1])
gw = importlib.util.module_from_spec(spec)
sys.modules["gpkg_write"] = gw
spec.loader.exec_module(gw)
path, count, value = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
fids = np.arange(1, count + 1)
print("ready", flush=True)
sys.stdin.readline()  # "go"
gw.update_attributes(path, "streetlights",
                     [gw.ColumnUpdate("power_w", fids, [value] * count),
                      gw.ColumnUpdate("status", fids, [int(value) % 4 + 1] * count)],
                     user="crash-test", conflict_check=lambda column, f, current: np.zeros(len(f), dtype=bool))
print("done", flush=True)
"""


def make_big_gpkg(path):
    """A GeoPackage written by GDAL with ~10k streetlights (fid 1..n)."""
    lights = pyogrio.read_dataframe(SAMPLE_GPKG, layer="streetlights")
    tiles = []
    for k in range(TILES):
        tile = lights.copy()
        tile["geometry"] = shapely.transform(tile.geometry.to_numpy(), lambda xy, k=k: xy + [0.0, 1500.0 * k])
        tiles.append(tile)
    big = gpd.GeoDataFrame(pd.concat(tiles, ignore_index=True), crs=lights.crs)
    pyogrio.write_dataframe(big, path, layer="streetlights")
    return len(big)


def read_state(path):
    """(integrity, power_w, status, change-log rows); opening rolls back a hot journal first."""
    con = sqlite3.connect(path)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchall()
        rows = np.array(con.execute("SELECT power_w, status FROM streetlights ORDER BY fid").fetchall(), dtype=float)
        has_log = con.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (CHANGE_LOG_TABLE,)).fetchone()
        log = con.execute(f'SELECT count(*) FROM "{CHANGE_LOG_TABLE}"').fetchone()[0] if has_log else 0
    finally:
        con.close()
    return integrity, rows[:, 0], rows[:, 1], log


def start_child(script, path, count, value):
    """A child writer that has imported everything and waits for "go" before touching the file."""
    args = [sys.executable, str(script), str(ROOT / "qdt" / "io" / "gpkg_write.py"), str(path), str(count), repr(value)]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def go_and_kill(proc, delay):
    """Let the child commit; SIGKILL it after ``delay`` seconds unless it finished. True if it was killed."""
    proc.stdin.write("go\n")
    proc.stdin.flush()
    try:
        proc.wait(timeout=delay)
        killed = False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed = True
    proc.stdout.close()
    proc.stdin.close()
    return killed


def test_commit_killed_at_random_moments_leaves_all_or_nothing(tmp_path):
    pristine = tmp_path / "pristine.gpkg"
    count = make_big_gpkg(pristine)
    assert 5_000 <= count <= 20_000
    path = tmp_path / "big.gpkg"
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    before_power, before_status, before_log = read_state(pristine)[1:]

    # time undisturbed commits (go → exit) to scale the kill delays
    durations = []
    for value in (1000.0, 1001.0, 1002.0):
        shutil.copyfile(pristine, path)
        proc = start_child(script, path, count, value)
        started = time.perf_counter()
        assert not go_and_kill(proc, 60) and proc.returncode == 0
        durations.append(time.perf_counter() - started)
    commit_s = float(np.median(durations))

    rng = np.random.default_rng(20240607)
    outcomes = {"none": 0, "all": 0}
    mid_commit = 0
    i = 0
    # at least KILLS rounds; more (up to 3×) until kills landed before, inside and after commits,
    # the delays rescaled when a loaded machine runs slower or faster than while timing
    while i < KILLS or ((min(outcomes.values()) == 0 or mid_commit == 0) and i < 3 * KILLS):
        if i and i % 10 == 0:
            if outcomes["all"] == 0:
                commit_s *= 1.5
            elif outcomes["none"] == 0:
                commit_s /= 1.5
        # every round starts from the same file, so the commit takes the same time. A journal still
        # there after read_state() (which rolled back any hot one) was never made hot: SQLite ignores
        # it, but it must not meet the fresh copy.
        if os.path.exists(f"{path}-journal"):
            os.remove(f"{path}-journal")
        shutil.copyfile(pristine, path)
        new_value = 2000.0 + i
        proc = start_child(script, path, count, new_value)
        killed = go_and_kill(proc, float(rng.uniform(0.0, 1.6 * commit_s)))
        mid_commit += killed and os.path.exists(f"{path}-journal")  # died inside the transaction
        integrity, power, status, log = read_state(path)
        assert integrity == [("ok",)], f"kill {i}: {integrity[:3]}"
        if (power == new_value).all():
            assert (status == int(new_value) % 4 + 1).all() and log == before_log + 2 * count, f"kill {i}"
            outcomes["all"] += 1
        else:
            assert killed, f"round {i}: the child finished but its commit is not in the file"
            assert np.array_equal(power, before_power) and np.array_equal(status, before_status), \
                f"kill {i}: partial commit in the file"
            assert log == before_log, f"kill {i}: change log rows without their values"
            outcomes["none"] += 1
        i += 1
    assert i >= KILLS and outcomes["none"] > 0 and outcomes["all"] > 0, outcomes
    assert mid_commit > 0, "no kill landed inside a transaction; the delays do not span the commit"

    # a file recovered from a kill takes the next commit, and GDAL reads it with every feature
    proc = start_child(script, path, count, 3000.0)
    assert not go_and_kill(proc, 60) and proc.returncode == 0
    integrity, power, _, _ = read_state(path)
    assert integrity == [("ok",)] and (power == 3000.0).all()
    assert pyogrio.read_info(path, layer="streetlights")["features"] == count
    assert shutil.which("ogrinfo") is None or f"Feature Count: {count}" in subprocess.run(
        ["ogrinfo", "-so", str(path), "streetlights"], capture_output=True, text=True, check=True).stdout
