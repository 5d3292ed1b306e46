"""Snapshots: tiled rendering keeps the framing, overlays land where they should, files carry the DPI."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from qdt.cli.main import main
from qdt.export import ExportError, SnapshotOptions, render_view, save_image, snapshot_project
from qdt.export.overlays import draw_overlays, legend_entries, nice_length
from qdt.export.snapshot import ViewInfo
from qdt.project import Camera, open_project
from tests.conftest import SAMPLE_PROJECT


@pytest.fixture(scope="module")
def project():
    return open_project(SAMPLE_PROJECT)


def _small(image: np.ndarray, size=(800, 600)) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize(size, Image.BOX), dtype=np.float64)


def test_big_snapshot_has_the_size_and_framing_of_a_small_one(project):
    big = snapshot_project(project, SnapshotOptions(width=4000, height=3000, overlays=()))
    small = snapshot_project(project, SnapshotOptions(width=800, height=600, overlays=()))
    assert big.image.shape == (3000, 4000, 3)
    assert small.image.shape == (600, 800, 3)
    same = np.abs(_small(big.image) - small.image.astype(np.float64)).mean()
    # the same view moved by 2 % of its width: what a framing error would look like
    shifted = np.roll(small.image, 16, axis=1).astype(np.float64)
    moved = np.abs(shifted - small.image.astype(np.float64)).mean()
    assert same < 6.0, same
    assert same < moved / 2, (same, moved)
    assert abs(big.view.metres_per_pixel * 5 - small.view.metres_per_pixel) < 1e-6 * small.view.metres_per_pixel


def test_tiles_join_without_seams(project):
    whole, _ = render_view(project.layers, 640, 480)
    tiled, _ = render_view(project.layers, 640, 480, tile_size=200)  # 4×3 tiles of 160×160 … with guard bands
    assert tiled.shape == whole.shape
    difference = np.abs(tiled.astype(np.int16) - whole.astype(np.int16))
    assert difference.mean() < 1.5, difference.mean()
    assert np.percentile(difference, 99) < 40


def test_view_info_north_and_scale(project):
    from qdt.render.scene import Scene

    scene = Scene(project.layers, lod=False)
    try:
        scene.frame_all(azimuth=90.0)  # camera east of the scene looking west: north is to the right
        state = scene.camera_state()
    finally:
        scene.close()
    _, view = render_view(project.layers, 400, 300, camera=state)
    assert view.north_angle == pytest.approx(90.0, abs=2.0)
    _, south = render_view(project.layers, 400, 300)
    assert south.north_angle == pytest.approx(0.0, abs=1.0)
    # the scene is ~1.9 km wide and fills most of 400 px: a few metres per pixel
    assert 2.0 < south.metres_per_pixel < 10.0


def test_overlays_appear_where_expected(project):
    bare = snapshot_project(project, SnapshotOptions(width=800, height=600, overlays=(), title="测试标题"))
    options = SnapshotOptions(width=800, height=600, title="测试标题", date=bare.options.date)
    drawn, boxes = draw_overlays(bare.image, bare.view, project.layers, options, crs_text="EPSG:4549")
    assert set(boxes) == {"title", "north_arrow", "scale_bar", "legend", "crs_date"}
    changed = np.any(drawn != bare.image, axis=2)
    inside = np.zeros_like(changed)
    for name, (x0, y0, x1, y1) in boxes.items():
        assert changed[y0:y1, x0:x1].mean() > 0.05, name
        inside[y0:y1, x0:x1] = True
    assert not changed[~inside].any()  # nothing drawn outside the overlays' boxes
    w, h = 800, 600
    x0, y0, x1, y1 = boxes["title"]
    assert (y0, x0, x1) == (0, 0, w) and y1 < h * 0.12
    x0, y0, x1, y1 = boxes["north_arrow"]
    assert x0 > w * 0.85 and y0 >= boxes["title"][3] and y1 < h * 0.3
    x0, y0, x1, y1 = boxes["scale_bar"]
    assert x0 < w * 0.05 and y1 > h * 0.9 and x1 < w / 2
    x0, y0, x1, y1 = boxes["legend"]
    assert x1 > w * 0.95 and x0 > w / 2 and y0 > boxes["north_arrow"][3]
    x0, y0, x1, y1 = boxes["crs_date"]
    assert x1 > w * 0.95 and y1 > h * 0.95
    # the title is dark text on a light band
    band = drawn[boxes["title"][1]:boxes["title"][3]]
    assert band.min() < 80 and np.median(band) > 200


def test_legend_lists_visible_styled_layers_and_selection(project):
    names = [name for name, _ in legend_entries(project.layers)]
    assert "道路" in names and "建筑" in names and "数字高程模型" not in names
    roads = dict(legend_entries(project.layers))["道路"]
    assert ("快速路", (192, 57, 43)) in roads
    lights = project.layers["路灯"]
    lights.visible = False
    lights.selection = []
    try:
        assert "路灯" not in [name for name, _ in legend_entries(project.layers)]
    finally:
        lights.visible = True
    project.layers["建筑"].selection = [1, 2]
    try:
        last_name, last_items = legend_entries(project.layers)[-1]
        assert last_name == "选择集" and last_items[0] == ("选中要素 (2)", (255, 255, 0))
    finally:
        project.layers["建筑"].selection = []


def test_selection_is_highlighted_in_the_snapshot(project):
    buildings = project.layers["建筑"]
    plain = snapshot_project(project, SnapshotOptions(width=400, height=300, overlays=()))
    buildings.selection = buildings.fids[:200].tolist()
    try:
        lit = snapshot_project(project, SnapshotOptions(width=400, height=300, overlays=()))
    finally:
        buildings.selection = []
    yellow = lambda im: ((im[..., 0] > 200) & (im[..., 1] > 200) & (im[..., 2] < 90)).sum()  # noqa: E731
    assert yellow(lit.image) > yellow(plain.image) + 200


def test_nice_lengths():
    assert [nice_length(v) for v in (7.3, 180.0, 260.0, 999.0, 1000.0)] == [5.0, 100.0, 200.0, 500.0, 1000.0]


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_files_record_dpi(tmp_path, suffix):
    image = np.zeros((30, 40, 3), dtype=np.uint8)
    image[:, :20] = (200, 30, 30)
    out = save_image(image, tmp_path / f"a{suffix}", dpi=300)
    with Image.open(out) as saved:
        assert saved.size == (40, 30)
        assert saved.info["dpi"] == pytest.approx((300, 300), abs=0.1)
        assert saved.format == ("PNG" if suffix == ".png" else "JPEG")
    assert [p.name for p in tmp_path.iterdir()] == [f"a{suffix}"]  # no temporary left behind


def test_bad_options_and_paths(tmp_path, project):
    with pytest.raises(ExportError, match="width"):
        SnapshotOptions(width=0).check()
    with pytest.raises(ExportError, match="overlay 'compass'"):
        SnapshotOptions(overlays=("compass",)).check()
    with pytest.raises(ExportError, match=r"\.tif"):
        save_image(np.zeros((2, 2, 3), np.uint8), tmp_path / "a.tif")
    with pytest.raises(ExportError, match="bookmark 'nowhere'"):
        snapshot_project(project, SnapshotOptions(width=64, height=64, bookmark="nowhere"))
    with pytest.raises(ExportError, match="does not exist"):
        save_image(np.zeros((2, 2, 3), np.uint8), tmp_path / "missing" / "a.png")


def test_bookmark_and_underground(project):
    from qdt.project import Bookmark

    lights = project.layers["路灯"]
    x0, y0, x1, y1 = lights.bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    project.bookmarks.append(Bookmark("俯视", Camera((cx, cy, 900.0), (cx, cy, 0.0), (0.0, 1.0, 0.0))))
    try:
        snap = snapshot_project(project, SnapshotOptions(width=300, height=200, bookmark="俯视", overlays=()))
        under = snapshot_project(project, SnapshotOptions(width=300, height=200, bookmark="俯视", overlays=(),
                                                         underground=True))
    finally:
        project.bookmarks.pop()
    assert snap.view.north_angle == pytest.approx(0.0, abs=0.5)
    # straight down from 900 m with a 30° view angle: 2·900·tan 15° / 200 px ≈ 2.41 m a pixel
    assert snap.view.metres_per_pixel == pytest.approx(2 * 900 * np.tan(np.radians(15)) / 200, rel=0.02)
    assert np.abs(snap.image.astype(int) - under.image.astype(int)).mean() > 10


def test_cli_snapshot(tmp_path, capsys):
    out = tmp_path / "view.png"
    assert main(["snapshot", str(SAMPLE_PROJECT), "--out", str(out), "--width", "320", "--height", "240",
                 "--dpi", "300", "--title", "市南区", "--quiet"]) == 0
    with Image.open(out) as image:
        assert image.size == (320, 240)
        assert image.info["dpi"] == pytest.approx((300, 300), abs=0.1)
    assert main(["snapshot", str(SAMPLE_PROJECT), "--out", str(tmp_path / "v.bmp")]) == 2
    assert "v.bmp" in capsys.readouterr().err
    assert main(["snapshot", str(SAMPLE_PROJECT), "--out", str(out), "--width", "20000"]) == 2
    assert main(["snapshot", str(SAMPLE_PROJECT), "--out", str(out), "--bookmark", "无此书签", "--quiet"]) == 2
    assert "无此书签" in capsys.readouterr().err


def test_view_info_default():
    assert np.isnan(ViewInfo().north_angle)
