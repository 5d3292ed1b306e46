"""Render bridge, tier 2: offscreen images (pixel statistics, PNG output, headless start)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from vtkmodules.vtkIOImage import vtkPNGReader

from qdt.layers import LayerList
from qdt.render import Scene, render_offscreen
from qdt.render.arrays import image_to_numpy
from qdt.render.colours import HIGHLIGHT, SKY_ZENITH
from tests.test_render_builders import full_scene, make_buildings

ROOT = Path(__file__).resolve().parents[1]


def read_png(path: Path) -> np.ndarray:
    reader = vtkPNGReader()
    reader.SetFileName(str(path))
    reader.Update()
    return image_to_numpy(reader.GetOutput())


def test_render_offscreen_exact_size_not_blank_and_colourful(tmp_path):
    out = tmp_path / "scene.png"
    image = render_offscreen(full_scene(), 321, 207, out)
    assert image.shape == (207, 321, 3) and image.dtype == np.uint8
    assert image.std() > 20
    quantised = {tuple(c) for c in (image.reshape(-1, 3) // 16)}
    assert len(quantised) > 20
    # sky at the top, deeper blue than at the horizon
    top = image[0, image.shape[1] // 2].astype(int)
    assert abs(top - np.array(SKY_ZENITH) * 255).max() < 25
    # the PNG holds the same pixels, first row at the top
    np.testing.assert_array_equal(read_png(out), image)


def test_render_offscreen_shows_buildings_lights_and_highlight():
    layers = full_scene()
    base = render_offscreen(layers, 400, 300)
    greenish = (base[:, :, 1] > base[:, :, 0] + 20) & (base[:, :, 1] > base[:, :, 2] + 20)  # grass tint
    greyish = (np.ptp(base.astype(int), axis=2) < 25) & (base.mean(axis=2) > 120)  # building walls and roofs
    assert greenish.mean() > 0.2 and greyish.mean() > 0.01
    layers["buildings"].selection = {14}
    selected = render_offscreen(layers, 400, 300)
    yellow = np.all(np.abs(selected.astype(int) - HIGHLIGHT) < 60, axis=2)
    assert yellow.sum() > 50 and not np.all(np.abs(base.astype(int) - HIGHLIGHT) < 60, axis=2).any()


def test_render_offscreen_with_camera_state_is_repeatable():
    layers = full_scene()
    scene = Scene(layers)
    scene.frame_all(azimuth=30)
    state = scene.camera_state()
    scene.close()
    first = render_offscreen(layers, 200, 150, camera=state)
    second = render_offscreen(layers, 200, 150, camera=state)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, render_offscreen(layers, 200, 150))


def test_render_offscreen_rejects_bad_sizes_and_folders(tmp_path):
    layers = LayerList()
    layers.append(make_buildings())
    with pytest.raises(ValueError, match="width"):
        render_offscreen(layers, 0, 100)
    with pytest.raises(ValueError, match="height"):
        render_offscreen(layers, 100, 2.5)
    with pytest.raises(OSError, match="does not exist"):
        render_offscreen(layers, 50, 50, tmp_path / "missing" / "x.png")


def test_empty_layer_list_renders_sky():
    image = render_offscreen(LayerList(), 64, 48)
    assert image.shape == (48, 64, 3)
    assert image[0, 0, 2] > image[0, 0, 0]  # blue sky


def test_headless_render_without_display_uses_egl_quietly(tmp_path):
    out = tmp_path / "headless.png"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "VTK_DEFAULT_OPENGL_WINDOW")}
    env["PYTHONPATH"] = str(ROOT)
    code = ("import sys; from tests.test_render_builders import full_scene; from qdt.render import render_offscreen; "
            "img = render_offscreen(full_scene(), 120, 90, sys.argv[1]); print(img.shape)")
    done = subprocess.run([sys.executable, "-c", code, str(out)], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "(90, 120, 3)" in done.stdout
    assert "X server" not in done.stderr and "WARN" not in done.stderr
    assert read_png(out).shape == (90, 120, 3)


def test_orthophoto_drapes_north_up_on_the_dem():
    from qdt.layers import RasterLayer
    from tests.test_render_builders import CRS_4549, X0, Y0, make_dem

    rgb = np.zeros((3, 100, 100), dtype=np.uint8)
    rgb[0, :50] = 230  # northern half red
    rgb[2, 50:] = 230  # southern half blue
    layers = LayerList()
    layers.append(make_dem())
    layers.append(RasterLayer("ortho", rgb, (2, 0, X0, 0, -2, Y0 + 200), CRS_4549, role="ortho"))
    down = {"position": [534000.0, 3992000.0, 400.0], "focal_point": [534000.0, 3992000.0, 0.0],
            "view_up": [0.0, 1.0, 0.0]}
    image = render_offscreen(layers, 120, 120, camera=down).astype(int)
    north, south = image[30, 60], image[90, 60]
    assert north[0] > north[2] + 60 and south[2] > south[0] + 60
    layers["ortho"].visible = False
    plain = render_offscreen(layers, 120, 120, camera=down).astype(int)
    assert plain[30, 60, 1] > plain[30, 60, 0]  # hypsometric green without the photo
