"""Labels: the style model and its project round trip, texts from fields and code lists, placement
without overlaps, the same placement at every snapshot size, the live view's overlay, the CLI flag."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from qdt.layers import LayerList
from qdt.layers.style import LabelStyle, label_style_from_dict
from qdt.project import open_project, save_project
from qdt.render.label_placement import (
    LabelError,
    ViewCamera,
    label_candidates,
    label_texts,
    place_labels,
)
from tests.conftest import SAMPLE_PROJECT


@pytest.fixture(scope="module")
def project():
    return open_project(SAMPLE_PROJECT)


def _layer(project, name):
    return next(layer for layer in project.layers if layer.name == name)


def _no_overlaps(placement, scale=1.0):
    polygons = placement.polygons(scale)
    for (i, a), (j, b) in itertools.combinations(enumerate(polygons), 2):
        assert not a.intersects(b), (placement.labels[i].text, placement.labels[j].text)


# --- model ---------------------------------------------------------------------------------------

def test_label_style_round_trips_and_rejects_bad_values():
    style = LabelStyle(text="{名称}（{高度} m）", where="height >= 60", size=15, colour=(1, 2, 3), priority=9,
                       min_distance=10, max_distance=900, placement="line", spacing=120)
    assert label_style_from_dict(style.to_dict()) == style
    assert label_style_from_dict(None) is None
    assert label_style_from_dict({"text": "name", "priority": 99}).priority == 10  # clamped
    with pytest.raises(ValueError, match="placement"):
        label_style_from_dict({"text": "name", "placement": "curved"})
    with pytest.raises(ValueError, match="'size' must be a number"):
        label_style_from_dict({"text": "name", "size": "big"})
    with pytest.raises(ValueError, match="colour"):
        label_style_from_dict({"text": "name", "colour": [1, 2]})


def test_labels_fade_at_the_ends_of_their_distance_range():
    style = LabelStyle(text="x", min_distance=100, max_distance=1000)
    alpha = style.shown_at(np.array([50, 100, 500, 900, 1000, 2000]))
    assert alpha[0] == 0 and alpha[2] == 1 and alpha[5] == 0
    assert 0 < alpha[3] < 1  # within the last 15 % of the range: fading
    assert alpha[1] == pytest.approx(1.0) and alpha[4] == pytest.approx(0.0)


def test_sample_project_labels_load_and_save(project, sample_copy):
    roads = _layer(project, "道路")
    assert roads.labels is not None and roads.labels.placement == "line"
    assert _layer(project, "智慧杆").labels.max_distance > 0  # pole codes only at street level
    assert _layer(project, "建筑").labels.where  # only tall buildings
    assert _layer(project, "路灯").labels is None
    copy = open_project(sample_copy / "qingdao_shinan.qdt")
    lights = _layer(copy, "路灯")
    lights.labels = LabelStyle(text="状态", size=10)
    _layer(copy, "道路").labels = None
    saved = save_project(copy, copy.path)
    again = open_project(saved)
    assert _layer(again, "路灯").labels == LabelStyle(text="状态", size=10)
    assert _layer(again, "道路").labels is None


def test_bad_labels_in_a_project_file_are_a_warning_not_a_failure(sample_copy):
    import json

    path = sample_copy / "qingdao_shinan.qdt"
    doc = json.loads(path.read_text(encoding="utf-8"))
    entry = next(e for e in doc["layers"] if e.get("layer") == "roads")
    entry["labels"] = {"text": "name", "size": "huge"}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    opened = open_project(path)
    roads = _layer(opened, "道路")
    assert roads.labels is None
    warnings = opened.entry_for(roads).warnings
    assert any("道路" in w and "size" in w for w in warnings), warnings


# --- texts ------------------------------------------------------------------------------------------

def test_text_from_a_coded_field_shows_the_code_list_labels(project):
    lights = _layer(project, "路灯")
    texts = label_texts(lights, LabelStyle(text="状态"))  # the catalogue's Chinese name of `status`
    from qdt.cim import catalogue

    codes = catalogue().codelist("facility_status")
    expected = [codes.label(v) for v in lights.frame["status"]]
    assert list(texts) == expected
    assert set(texts) <= {"正常", "故障", "维修中", "停用"}


def test_template_text_and_condition(project):
    buildings = _layer(project, "建筑")
    style = LabelStyle(text="{名称}（{height} m）", where="height >= 60")
    texts = label_texts(buildings, style)
    frame = buildings.frame
    tall = frame["height"].to_numpy() >= 60
    assert tall.any() and (~tall).any()
    assert all(t is None for t in texts[~tall])
    row = np.flatnonzero(tall)[0]
    height = frame["height"].iloc[row]
    assert texts[row] == f"{frame['name'].iloc[row]}（{height:g} m）"


@pytest.mark.parametrize("text, where, message", [
    ("{nosuch}", "", "unknown field 'nosuch'"),
    ("名称", "height >", "label condition"),
    ("{}", "", "empty"),
])
def test_bad_label_text_names_the_layer(project, text, where, message):
    buildings = _layer(project, "建筑")
    with pytest.raises(LabelError, match=message) as info:
        label_texts(buildings, LabelStyle(text=text, where=where))
    assert "'建筑'" in str(info.value)


# --- placement -------------------------------------------------------------------------------------

def _top_down(width=1600.0, height=1000.0, half_width=500.0):
    """An orthographic top-down view of x, y in ±half_width around (0, 0), as a ViewCamera."""
    sx = 1.0 / half_width
    sy = sx * width / height
    matrix = np.array([[sx, 0, 0, 0], [0, sy, 0, 0], [0, 0, -1e-4, 0], [0, 0, 0, 1.0]])
    return ViewCamera(matrix, eye=np.array([0.0, 0.0, 1000.0]), origin=np.zeros(3), width=width, height=height)


def test_crowded_points_never_overlap_and_priority_wins(project):
    from qdt.render.label_placement import LabelCandidates, text_extent

    rng = np.random.default_rng(3)
    n = 3000
    texts = np.array([f"标注{i}" for i in range(n)], dtype=object)
    extents = np.array([text_extent(t) for t in texts])

    def cands(layer_id, priority, anchors, directions=None):
        return LabelCandidates(layer_id, LabelStyle(text="x", priority=priority), np.arange(len(anchors)),
                               texts[:len(anchors)], anchors, directions, extents[:len(anchors)])

    anchors = np.column_stack([rng.uniform(-500, 500, (n, 2)), np.zeros(n)])
    low = cands("low", 1, anchors)
    gx, gy = np.meshgrid(-405.0 + 90.0 * np.arange(10), -300.0 + 150.0 * np.arange(5))
    grid = np.column_stack([gx.ravel(), gy.ravel(), np.zeros(50)])
    anchors[:50] = grid + [3.0, 0.0, 0.0]  # 50 low labels right next to the high ones
    high = cands("high", 9, grid)
    angle = rng.uniform(0, np.pi, 400)
    lines = cands("lines", 5, anchors[:400] * 0.5, np.column_stack([np.cos(angle), np.sin(angle)]))
    placement = place_labels([low, high, lines], _top_down())
    assert 50 < len(placement.labels) < n
    _no_overlaps(placement)
    assert sum(label.layer_id == "high" for label in placement.labels) == 50  # nothing outranks them
    turned = [label for label in placement.labels if label.layer_id == "lines"]
    assert turned and all(-90 < label.angle <= 90 for label in turned)  # upright
    for label in placement.labels:
        corners = label.corners()
        assert corners.min() >= 0 and corners[:, 0].max() <= 1600 and corners[:, 1].max() <= 1000


def test_road_labels_follow_the_road_on_screen(project):
    roads = _layer(project, "道路")
    cand = label_candidates(roads, list(project.layers))
    assert cand.directions is not None
    xmin, ymin, xmax, ymax = roads.bounds
    centre = np.array([(xmin + xmax) / 2, (ymin + ymax) / 2, 0.0])
    view = _top_down(half_width=(xmax - xmin) / 2 + 50)
    view.origin = centre
    placement = place_labels([cand], view)
    names = {label.text for label in placement.labels}
    assert {"香港中路", "山东路"} <= names
    for label in placement.labels:
        row = roads.frame[roads.frame["name"] == label.text].iloc[0]
        east_west = abs(row.geometry.coords[-1][0] - row.geometry.coords[0][0]) > 1
        if east_west:  # along the road, level
            assert abs(label.angle) == pytest.approx(0.0, abs=0.5) and not label.glyphs, label
        else:  # a road running up the screen: upright characters one below the other, in reading order
            assert "".join(ch for ch, _, _ in label.glyphs) == label.text
            xs, ys = [g[1] for g in label.glyphs], [g[2] for g in label.glyphs]
            assert max(xs) - min(xs) < 1.0 and all(b > a for a, b in zip(ys, ys[1:], strict=False)), label


# --- snapshots ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def labelled_layers(project):
    """Roads, buildings and landmarks of the sample with their labels (no rasters: quick to render)."""
    keep = LayerList()
    for layer in project.layers:
        if layer.name in ("道路", "建筑", "地标建筑(LOD2)"):
            keep.append(layer)
    return keep


STREET = {"position": [534300.0, 3991930.0, 150.0], "focal_point": [534560.0, 3992260.0, 20.0],
          "view_up": [0.0, 0.0, 1.0], "view_angle": 30.0}


def test_big_snapshot_places_the_same_labels_as_a_small_one(labelled_layers):
    from qdt.export import SnapshotOptions, snapshot_layers

    small = snapshot_layers(labelled_layers, SnapshotOptions(width=1200, height=750, overlays=(), camera=STREET))
    big = snapshot_layers(labelled_layers, SnapshotOptions(width=4800, height=3000, overlays=(), camera=STREET))
    a, b = small.view.labels, big.view.labels
    assert len(a.labels) >= 5
    assert a.keys() == b.keys()
    for la, lb in zip(a.labels, b.labels, strict=True):
        assert (la.x, la.y, la.angle) == pytest.approx((lb.x, lb.y, lb.angle), abs=1e-6)
    _no_overlaps(b, scale=3.0)
    # drawn at full resolution: the big image has text in the label's colour on its halo in each box
    for label in b.labels[:5]:
        x0, y0 = np.floor(label.corners(3.0).min(axis=0)).astype(int)
        x1, y1 = np.ceil(label.corners(3.0).max(axis=0)).astype(int)
        patch = big.image[max(0, y0):y1, max(0, x0):x1].astype(int)
        ink = np.abs(patch - label.style.colour).max(axis=2) < 40
        halo = np.abs(patch - label.style.halo_colour).max(axis=2) < 20
        assert ink.sum() > 50 and halo.sum() > 50, label.text


def test_snapshot_labels_avoid_the_overlays_and_can_be_turned_off(labelled_layers):
    from qdt.export import SnapshotOptions, snapshot_layers

    shot = snapshot_layers(labelled_layers, SnapshotOptions(width=800, height=500, camera=STREET, title="标注"))
    bare = snapshot_layers(labelled_layers, SnapshotOptions(width=800, height=500, camera=STREET, title="标注",
                                                            labels=False))
    assert shot.view.labels.labels and bare.view.labels is None
    unit = 0.75
    import shapely

    for box in shot.boxes.values():
        panel = shapely.box(*(v / unit for v in box))
        assert not any(p.intersects(panel) for p in shot.view.labels.polygons())
    _no_overlaps(shot.view.labels)
    changed = np.abs(shot.image.astype(int) - bare.image.astype(int)).max(axis=2) > 40
    assert changed.sum() > 200  # the labels are drawn
    inside = np.zeros_like(changed)
    for label in shot.view.labels.labels:
        x0, y0 = np.floor(label.corners(unit).min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(label.corners(unit).max(axis=0)).astype(int) + 2
        inside[max(0, y0):y1, max(0, x0):x1] = True
    assert not (changed & ~inside).any()  # and nothing else changes


def test_cli_no_labels_flag(tmp_path, monkeypatch):
    from qdt.cli.main import main
    from qdt.export import snapshot as snapshot_module
    from qdt.tasks import Task

    seen = []

    def spy(project, options, out):  # what the CLI asks for; rendering is tested above
        seen.append((options.labels, options.camera))
        return Task("snapshot", lambda progress, is_cancelled: out)

    monkeypatch.setattr(snapshot_module, "snapshot_task", spy)
    monkeypatch.setattr("qdt.export.snapshot_task", spy)
    assert main(["snapshot", str(SAMPLE_PROJECT), "--out", str(tmp_path / "a.png"), "--no-labels", "--quiet"]) == 0
    assert main(["snapshot", str(SAMPLE_PROJECT), "--out", str(tmp_path / "b.png"), "--quiet",
                 "--camera", "534160,3991880,200,534600,3992300,0"]) == 0
    assert [labels for labels, _ in seen] == [False, True]
    assert seen[0][1] is None and seen[1][1]["position"] == [534160.0, 3991880.0, 200.0]
    assert seen[1][1]["focal_point"] == [534600.0, 3992300.0, 0.0]
    with pytest.raises(SystemExit):
        main(["snapshot", str(SAMPLE_PROJECT), "--out", str(tmp_path / "c.png"), "--camera", "1,2,3"])


# --- the live view's overlay ------------------------------------------------------------------------

def test_scene_labels_overlay_follows_the_camera_and_the_layers(labelled_layers):
    from qdt.render import Scene, offscreen_window
    from qdt.render.offscreen import grab_image

    window = offscreen_window(480, 300)
    scene = Scene(labelled_layers, lod=False, labels=True)
    window.AddRenderer(scene.renderer)
    try:
        scene.set_camera_state(STREET)
        window.Render()
        labels = scene.labels
        assert labels.place_count == 1 and labels.placement is not None
        window.Render()  # placed again once, with the depth of the first frame (labels behind towers hidden)
        assert labels.place_count == 2
        first = labels.placement
        assert first.labels and labels.actor.GetVisibility()
        _no_overlaps(first)
        with_labels = grab_image(window)
        from qdt.render.labels import read_depth

        near = scene.renderer.GetActiveCamera().GetClippingRange()[0]
        assert read_depth(scene.renderer).distance.min() > 2 * near  # the drawn labels do not count as surfaces
        count = labels.place_count
        window.Render()
        assert labels.place_count == count  # the camera did not move: nothing placed again
        scene.renderer.GetActiveCamera().Azimuth(20)
        window.Render()
        assert labels.place_count == count + 1 and labels.placement.keys() != first.keys()
        scene.renderer.GetActiveCamera().Azimuth(-20)
        labels.occlusion = False
        roads = next(layer for layer in labelled_layers if layer.name == "道路")
        roads.labels = replace(roads.labels, enabled=False)
        window.Render()
        assert not any(label.layer_id == roads.id for label in labels.placement.labels)
        roads.labels = replace(roads.labels, enabled=True)
        labels.enabled = False
        window.Render()
        without = grab_image(window)
        assert not labels.actor.GetVisibility()
        assert (np.abs(with_labels.astype(int) - without.astype(int)).max(axis=2) > 40).sum() > 100
    finally:
        scene.close()
        window.RemoveRenderer(scene.renderer)
        window.Finalize()


def test_labels_behind_what_is_drawn_are_hidden():
    from qdt.render.label_placement import DepthMap, LabelCandidates, text_extent

    # a perspective camera at the origin looking down -z (OpenGL convention), 90° field of view
    near, far = 1.0, 1000.0
    matrix = np.array([[1.0, 0, 0, 0], [0, 1.6, 0, 0],
                       [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)], [0, 0, -1, 0]])
    view = ViewCamera(matrix, eye=np.zeros(3), origin=np.zeros(3), width=1600, height=1000)
    anchors = np.array([[-50.0, 0.0, -100.0], [50.0, 0.0, -300.0]])  # left one near, right one far
    texts = np.array(["近处", "远处"], dtype=object)
    cand = LabelCandidates("L", LabelStyle(text="x"), np.array([1, 2]), texts, anchors, None,
                           np.array([text_extent(t) for t in texts]))
    # a wall 200 m away covering the right half of the view, written as an OpenGL depth buffer
    distance = np.full((100, 160), np.inf)
    distance[:, 80:] = 200.0
    ndc = (far + near) / (far - near) - 2 * far * near / ((far - near) * distance)
    zbuffer = np.where(np.isfinite(distance), (ndc + 1) / 2, 1.0)[::-1]  # rows bottom-up
    depth = DepthMap.from_zbuffer(zbuffer, near, far)
    assert np.allclose(depth.distance[:, 80:], 200.0, rtol=1e-6) and np.isinf(depth.distance[:, :79]).all()
    assert {label.text for label in place_labels([cand], view).labels} == {"近处", "远处"}
    assert {label.text for label in place_labels([cand], view, depth).labels} == {"近处"}
