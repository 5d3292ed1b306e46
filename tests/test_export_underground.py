"""Underground snapshot of the sample: pipes show in their network colours; surface symbols step back."""

from __future__ import annotations

import numpy as np
import pytest

from qdt.export import SnapshotOptions
from qdt.export.snapshot import snapshot_project
from qdt.project import open_project
from qdt.render import Scene
from qdt.render.colours import pipe_network_colours
from qdt.render.scene import UNDERGROUND_SURFACE_OPACITY
from tests.conftest import SAMPLE_PROJECT

# the saturated CJJ 61 network colours (drainage brown and black read as shadows)
NETWORKS = ("JS", "RQ", "RL", "DL", "TX")


def network_share(image: np.ndarray) -> float:
    colours = np.array([pipe_network_colours()[k] for k in NETWORKS], dtype=np.int16)
    rgb = image.reshape(-1, 1, 3).astype(np.int16)
    distance = np.abs(rgb - colours[None]).sum(axis=2).min(axis=1)
    return float((distance < 60).mean())


@pytest.fixture(scope="module")
def project():
    return open_project(SAMPLE_PROJECT)


def test_underground_snapshot_shows_pipes_in_network_colours(project):
    under = snapshot_project(project, SnapshotOptions(width=1600, height=1000, overlays=(), underground=True)).image
    share = network_share(under)
    # 0.06 % when the pipes were tubes of their true (sub-pixel) width under 5 px lamp dots
    assert share > 0.003, f"pipes cover {share:.2%} of the underground snapshot"


def test_surface_symbols_step_back_and_pipes_keep_a_drawn_width(project):
    scene = Scene(project.layers, lod=False)
    try:
        lights = scene.visual(project.layers["路灯"])
        pipes = scene.visual(next(layer for layer in project.layers if getattr(layer, "feature_class", "") == "pipe"))
        dots = [p for p in lights.parts if p.point_px]
        lines = [p for p in pipes.parts if p.line_px]
        assert dots and lines and lights.surface_symbol and not pipes.surface_symbol
        size = dots[0].actor.GetProperty().GetPointSize()
        scene.set_underground(True)
        assert dots[0].actor.GetProperty().GetPointSize() < size
        assert lights.parts[0].actor.GetProperty().GetOpacity() == pytest.approx(UNDERGROUND_SURFACE_OPACITY)
        assert pipes.parts[0].actor.GetProperty().GetOpacity() == 1.0
        assert lines[0].actor.GetProperty().GetLineWidth() >= 2.0  # pipes keep a drawn width
        scene.set_underground(False)
        assert dots[0].actor.GetProperty().GetPointSize() == pytest.approx(size)
    finally:
        scene.close()
