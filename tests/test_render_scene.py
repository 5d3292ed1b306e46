"""Render bridge, tier 2: the Scene follows layer-list and layer events; camera helpers."""

from __future__ import annotations

import numpy as np
import pytest

from qdt.crs import SceneOrigin
from qdt.layers import LayerList, RasterLayer, SingleStyle, VectorLayer
from qdt.render import Scene, offscreen_window
from qdt.render.arrays import from_vtk
from qdt.render.colours import HIGHLIGHT
from qdt.render.registry import register_builder, unregister_builder
from tests.test_render_builders import (
    CRS_4549,
    X0,
    Y0,
    frame,
    full_scene,
    make_buildings,
    make_dem,
    make_lights,
    make_zones,
    plane_height,
)


class RenderCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def actor_count(scene: Scene) -> int:
    return scene.renderer.GetActors().GetNumberOfItems()


def roof_top(scene: Scene, layer: VectorLayer) -> float:
    poly = scene.visual(layer).parts[0].polydata
    return float(from_vtk(poly.GetPoints().GetData())[:, 2].max())


@pytest.fixture
def window():
    win = offscreen_window(640, 480)
    yield win
    win.Finalize()


def test_scene_builds_every_layer_around_a_local_origin():
    layers = full_scene()
    scene = Scene(layers)
    try:
        assert scene.origin == SceneOrigin(534000.0, 3992000.0, 0.0)
        assert set(scene.visuals) == {layer.id for layer in layers}
        assert actor_count(scene) == sum(len(v.parts) for v in scene.visuals.values()) > len(layers)
        # local coordinates stay within the scene's few hundred metres (float32-safe)
        bounds = scene.renderer.ComputeVisiblePropBounds()
        assert max(abs(b) for b in bounds) < 1000
        assert scene.world_bounds()[0] == pytest.approx(X0 + 0.5, abs=0.01)
    finally:
        scene.close()


def test_scene_follows_inserted_and_removed_layers_and_requests_renders():
    layers = LayerList()
    scene = Scene(layers)
    render = RenderCounter()
    scene.request_render = render
    assert scene.origin is None and actor_count(scene) == 0
    buildings = make_buildings()
    layers.append(buildings)
    assert scene.origin is not None and actor_count(scene) == 1 and render.count == 1
    origin = scene.origin
    lights = make_lights()
    layers.append(lights)
    assert actor_count(scene) == 1 + len(scene.visual(lights).parts)
    assert scene.origin == origin  # fixed once the first layer arrived
    layers.remove(lights)
    assert actor_count(scene) == 1 and scene.visual(lights) is None and render.count == 3
    scene.close()


def test_dem_added_later_lifts_buildings_onto_the_ground():
    layers = LayerList()
    buildings = make_buildings()
    layers.append(buildings)
    scene = Scene(layers)
    assert roof_top(scene, buildings) == pytest.approx(30.0, abs=1e-3)  # no DEM: base 0 m
    layers.append(make_dem())
    assert roof_top(scene, buildings) == pytest.approx(plane_height(533995, 3991995) + 30.0, abs=1e-3)
    layers.remove(layers["dem"])
    assert roof_top(scene, buildings) == pytest.approx(30.0, abs=1e-3)
    scene.close()


def test_visibility_opacity_style_and_selection_events():
    layers = LayerList()
    zones, lights = make_zones(), make_lights()
    layers.append(zones)
    layers.append(lights)
    scene = Scene(layers, lod=False)  # one full-detail part per piece, as the builders make them
    render = RenderCounter()
    scene.request_render = render

    lights.visible = False
    assert not any(a.GetVisibility() for a in scene.visual(lights).actors)
    lights.visible = True
    assert all(a.GetVisibility() for a in scene.visual(lights).actors)

    zones.opacity = 0.5
    fill, outline = scene.visual(zones).parts
    assert fill.actor.GetProperty().GetOpacity() == pytest.approx(0.5 * fill.opacity_factor)
    assert outline.actor.GetProperty().GetOpacity() == pytest.approx(0.5)

    lights.style = SingleStyle(colour=(9, 9, 9))
    head = scene.visual(lights).parts[1]
    assert (head.colours == 9).all()

    lights.selection = {101, 103}
    colours = from_vtk(head.polydata.GetPointData().GetArray("colours"))
    selected = np.isin(head.colour_fids, [101, 103])
    assert (colours[selected] == HIGHLIGHT).all() and (colours[~selected] == 9).all()
    lights.selection = set()
    assert (from_vtk(head.polydata.GetPointData().GetArray("colours")) == 9).all()
    assert render.count == 6  # one request per change
    scene.close()


def test_selection_survives_a_rebuild():
    layers = LayerList()
    buildings = make_buildings()
    layers.append(buildings)
    buildings.selection = {12}
    scene = Scene(layers)
    part = scene.visual(buildings).parts[0]
    assert (part.colours[part.colour_fids == 12] == HIGHLIGHT).all()
    buildings.style = SingleStyle(colour=(50, 60, 70))
    part = scene.visual(buildings).parts[0]
    assert (part.colours[part.colour_fids == 12] == HIGHLIGHT).all()
    assert (part.colours[part.colour_fids == 10][0] == (50, 60, 70)).all()
    scene.close()


def test_orthophoto_visibility_switches_the_terrain_texture():
    layers = LayerList()
    dem = make_dem(size=40, pixel=5.0)
    ortho = RasterLayer("ortho", np.full((3, 20, 20), 120, dtype=np.uint8), (10, 0, X0, 0, -10, Y0 + 200), CRS_4549,
                        role="ortho")
    layers.append(dem)
    layers.append(ortho)
    scene = Scene(layers)
    assert scene.visual(dem).parts[0].actor.GetTexture() is not None
    ortho.visible = False
    assert scene.visual(dem).parts[0].actor.GetTexture() is None
    ortho.visible = True
    assert scene.visual(dem).parts[0].actor.GetTexture() is not None
    scene.close()


def test_data_event_rebuilds_the_layer():
    layers = LayerList()
    buildings = make_buildings()
    layers.append(buildings)
    scene = Scene(layers)
    before = scene.visual(buildings).parts[0].polydata.GetNumberOfCells()
    buildings.replace_frame(buildings.frame.iloc[:1])
    assert scene.visual(buildings).parts[0].polydata.GetNumberOfCells() < before
    assert actor_count(scene) == 1
    scene.close()


def test_close_disconnects_everything():
    layers = full_scene()
    baseline = {name: len(getattr(layers[0].events, name)) for name in ("visible", "opacity", "data", "selection")}
    list_slots = len(layers.events.inserted)
    scene = Scene(layers)
    render = RenderCounter()
    scene.request_render = render
    assert len(layers[0].events.visible) == baseline["visible"] + 1
    scene.close()
    assert actor_count(scene) == 0
    assert {name: len(getattr(layers[0].events, name)) for name in baseline} == baseline
    assert len(layers.events.inserted) == list_slots
    layers[1].visible = False
    layers.append(make_zones())
    assert render.count == 0
    scene.close()  # idempotent


def test_build_failure_is_reported_when_listened_to_and_raised_otherwise():
    def failing(layer, context):
        raise ValueError(f"layer {layer.name!r}: field 'height' of feature 3: 'abc' is not a number")

    register_builder("vector", "test_failing")(failing)
    try:
        bad = VectorLayer("bad", make_buildings().frame, feature_class="test_failing")
        layers = LayerList()
        layers.append(make_zones())
        scene = Scene(layers)
        failures = []
        scene.events.build_failed.connect(lambda layer, message: failures.append((layer, message)))
        layers.append(bad)
        assert failures == [(bad, "layer 'bad': field 'height' of feature 3: 'abc' is not a number")]
        assert scene.visual(bad) is None
        scene.close()

        with pytest.raises(ValueError, match="'abc' is not a number"):
            Scene(layers)
    finally:
        unregister_builder("vector", "test_failing")


def test_frame_all_looks_north_from_the_south(window):
    layers = full_scene()
    scene = Scene(layers)
    window.AddRenderer(scene.renderer)
    scene.frame_all()
    camera = scene.renderer.GetActiveCamera()
    position, focal = np.array(camera.GetPosition()), np.array(camera.GetFocalPoint())
    offset = position - focal
    assert offset[1] < 0 and abs(offset[0]) < 1e-6  # due south of the scene
    assert np.degrees(np.arctan2(offset[2], np.hypot(offset[0], offset[1]))) == pytest.approx(45.0)
    # the whole DEM is in view, and north is up on screen
    corners = np.array([[x, y, plane_height(x, y)] for x in (X0 + 1, X0 + 199) for y in (Y0 + 1, Y0 + 199)])
    display = scene.to_display(corners)
    assert (display[:, 0] > 0).all() and (display[:, 0] < 640).all()
    assert (display[:, 1] > 0).all() and (display[:, 1] < 480).all()
    assert display[1, 1] > display[0, 1] and display[3, 1] > display[2, 1]
    # swing round to the east, then back north-up
    scene.frame_all(azimuth=90)
    assert camera.GetPosition()[0] > camera.GetFocalPoint()[0]
    scene.reset_north_up()
    offset = np.array(camera.GetPosition()) - np.array(camera.GetFocalPoint())
    assert abs(offset[0]) < 1e-6 and offset[1] < 0
    window.RemoveRenderer(scene.renderer)
    scene.close()


def test_fly_to_extent_and_camera_state_round_trip(window):
    layers = full_scene()
    scene = Scene(layers)
    window.AddRenderer(scene.renderer)
    scene.frame_all()
    scene.fly_to_extent((533990, 3991990, 534010, 3992010))
    display = scene.to_display(np.array([[533990, 3991990, 15.0], [534010, 3992010, 15.0]]))
    assert ((display[:, :2] > 0) & (display[:, :2] < [640, 480])).all()
    state = scene.camera_state()
    assert state["focal_point"][0] == pytest.approx(534000.0, abs=0.01)
    scene.frame_all(azimuth=120)
    scene.set_camera_state(state)
    assert scene.camera_state()["position"] == pytest.approx(state["position"], abs=1e-6)
    # the project's Camera objects are accepted as they are
    from qdt.project.model import Camera

    scene.set_camera(Camera(position=(534000.0, 3991800.0, 300.0), focal_point=(534000.0, 3992000.0, 20.0)))
    assert scene.camera_state()["position"] == pytest.approx([534000.0, 3991800.0, 300.0], abs=1e-6)
    with pytest.raises(ValueError, match="'focal_point'"):
        scene.set_camera_state({"position": [0, 0, 1], "view_up": [0, 0, 1]})
    window.RemoveRenderer(scene.renderer)
    scene.close()


def test_point_layer_with_multipoints_and_no_dem():
    import shapely

    layer = VectorLayer("multi", frame([shapely.MultiPoint([(534000, 3992000), (534010, 3992000)])], [5]),
                        feature_class="streetlight")
    layers = LayerList()
    layers.append(layer)
    scene = Scene(layers, lod=False)
    shaft = scene.visual(layer).parts[0]
    assert shaft.polydata.GetNumberOfPoints() == 2
    assert (shaft.colour_fids == 5).all()
    assert from_vtk(shaft.polydata.GetPoints().GetData())[:, 2].max() == 0.0
    scene.close()


def test_fly_to_feature_frames_it_and_raises_for_unknown_fids(window):
    layers = full_scene()
    scene = Scene(layers)
    window.AddRenderer(scene.renderer)
    scene.frame_all()
    state = scene.fly_to_feature(layers["buildings"], 14)  # the 10 m tower at E 534 000 N 3 992 000
    focal = np.array(state["focal_point"])
    base = plane_height(533995, 3991995)
    np.testing.assert_allclose(focal[:2], (534000.0, 3992000.0), atol=0.01)
    assert focal[2] == pytest.approx(base + 15.0, abs=0.01)  # half-way up
    corners = np.array([[533995, 3991995, base], [534005, 3992005, base + 30.0]])
    display = scene.to_display(corners)
    assert ((display[:, :2] > 0) & (display[:, :2] < [640, 480])).all()
    xmin, xmax, ymin, ymax, zmin, zmax = scene.feature_bounds(layers["pipes"], 300)
    assert zmax < plane_height(534040, 3992080) - 1.9  # framed where it lies: 1–2 m under the ground
    light = scene.fly_to_feature(layers["lights"], 102)
    assert np.linalg.norm(np.array(light["position"]) - light["focal_point"]) > 30.0  # a point: its surroundings show
    with pytest.raises(KeyError, match="'buildings'.*999"):
        scene.fly_to_feature(layers["buildings"], 999)
    window.RemoveRenderer(scene.renderer)
    scene.close()


def test_bookmarks_round_trip_through_the_project_model(window):
    from qdt.project.model import Bookmark, Camera

    layers = full_scene()
    scene = Scene(layers)
    window.AddRenderer(scene.renderer)
    scene.frame_all(azimuth=40)
    mark = scene.bookmark("塔楼")
    stored = Bookmark(mark["name"], Camera.from_dict(mark["camera"]))
    scene.frame_all()
    scene.go_to_bookmark(stored)
    assert scene.camera_state()["position"] == pytest.approx(mark["camera"]["position"], abs=1e-6)
    scene.frame_all()
    scene.go_to_bookmark(mark)
    assert scene.camera_state()["focal_point"] == pytest.approx(mark["camera"]["focal_point"], abs=1e-6)
    window.RemoveRenderer(scene.renderer)
    scene.close()
