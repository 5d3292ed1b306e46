"""The ``qdt`` command line: info counts equal pyogrio's, snapshot writes a real image, errors are one line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyogrio
import pytest

from tests.conftest import ROOT, SAMPLE_GPKG, SAMPLE_PROJECT


def qdt(*args, check=False):
    proc = subprocess.run([sys.executable, "-m", "qdt.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_info_json_counts_equal_pyogrio():
    out = qdt("info", SAMPLE_GPKG, "--json", check=True)
    doc = json.loads(out.stdout)
    names = [row["name"] for row in doc["layers"]]
    expected = {name: pyogrio.read_info(SAMPLE_GPKG, layer=name)["features"]
                for name, _ in pyogrio.list_layers(SAMPLE_GPKG)}
    assert sorted(names) == sorted(expected)
    for row in doc["layers"]:
        assert row["count"] == expected[row["name"]], row["name"]
        assert row["kind"] == "vector"
        info = pyogrio.read_info(SAMPLE_GPKG, layer=row["name"])
        if info["geometry_type"]:
            assert row["crs"] == "EPSG:4549"
            assert np.allclose(row["bbox"], info["total_bounds"])


def test_info_project_lists_every_layer_in_project_crs():
    doc = json.loads(qdt("info", SAMPLE_PROJECT, "--json", check=True).stdout)
    assert doc["crs"] == "EPSG:4549"
    kinds = {row["kind"] for row in doc["layers"]}
    assert {"vector", "raster", "citymodel"} <= kinds
    for row in doc["layers"]:
        assert row["available"], row
        if row["kind"] == "vector" and not row.get("geometry_type"):
            assert row["feature_class"] == "smart_pole_device" and row["count"] > 0  # attribute table
            continue
        assert row["crs"] == "EPSG:4549", row
        xmin, ymin, xmax, ymax = row["bbox"]
        # the district lies in Qingdao's 市南区 in EPSG:4549
        assert 520_000 < xmin < xmax < 550_000 and 3_980_000 < ymin < ymax < 4_000_000, row


def test_info_text_output_names_layers():
    out = qdt("info", SAMPLE_PROJECT, check=True).stdout
    assert "EPSG:4549" in out
    assert "features" in out and "px" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("info", "no/such/file.gpkg"), "no/such/file.gpkg"),
        (("snapshot", "no/such/project.qdt", "--out", "x.png"), "no/such/project.qdt"),
    ],
)
def test_missing_files_exit_2_with_one_line(args, message):
    proc = qdt(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreadable_file_exit_2(tmp_path):
    bad = tmp_path / "broken.gpkg"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)
    proc = qdt("info", bad)
    assert proc.returncode == 2
    assert "broken.gpkg" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_snapshot_writes_png_of_requested_size(tmp_path):
    import vtkmodules.vtkIOImage as io_image
    from vtkmodules.util.numpy_support import vtk_to_numpy

    out = tmp_path / "view.png"
    qdt("snapshot", SAMPLE_PROJECT, "--out", out, "--width", 640, "--height", 400, check=True)
    reader = io_image.vtkPNGReader()
    reader.SetFileName(str(out))
    reader.Update()
    img = reader.GetOutput()
    assert img.GetDimensions()[:2] == (640, 400)
    pixels = vtk_to_numpy(img.GetPointData().GetScalars())[:, :3]
    colours = np.unique(pixels // 16, axis=0)
    assert len(colours) > 30, "a rendered city has many distinct colours"
    assert pixels.std(axis=0).max() > 20, "image is not blank"


def test_main_without_display_says_so_and_names_snapshot():
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "No display" in lines[0] and "qdt snapshot" in lines[0]
