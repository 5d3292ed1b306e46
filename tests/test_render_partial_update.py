"""Render bridge: a data change recolours only the named features in place; size/geometry changes
rebuild; fields nothing draws change nothing. The result equals a fresh build."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from qdt.layers import CategorisedStyle, DataChange, LayerList
from qdt.render import Scene
from tests.synthetic_city import synthetic_layers


def _colour_rows(scene: Scene, layer) -> dict[int, set[tuple[int, int, int]]]:
    """Every colour row of the layer's parts (and near sets' per-feature arrays) grouped by fid."""
    out: dict[int, set] = {}
    visual = scene.visual(layer)
    for part in visual.parts:
        if part.colours is None or part.colour_fids is None:
            continue
        for fid, rgb in zip(part.colour_fids.tolist(), map(tuple, part.base_colours.tolist()), strict=True):
            out.setdefault(int(fid), set()).add(rgb)
    return out


@pytest.fixture(params=[True, False], ids=["tiled", "full"])
def city(request):
    layers = synthetic_layers(n_buildings=60, n_lights=80, n_pipes=18)
    scene = Scene(layers, lod=request.param)
    yield layers, scene
    scene.close()


def _rebuilt(layers: LayerList, lod: bool, name: str):
    fresh = Scene(layers, lod=lod)
    try:
        return _colour_rows(fresh, layers[name])
    finally:
        fresh.close()


def test_status_edit_recolours_in_place_and_matches_a_rebuild(city):
    layers, scene = city
    lights = layers["streetlights"]
    built, recoloured = [], []
    scene.events.built.connect(lambda layer: built.append(layer.name))
    scene.events.recoloured.connect(lambda layer, fids: recoloured.append((layer.name, fids.tolist())))
    actors_before = [id(a) for a in scene.visual(lights).actors]
    fids = lights.fids[:7]
    before = _colour_rows(scene, lights)
    lights.frame.loc[fids, "status"] = 3  # 故障 (fault)
    lights.notify_data(fids, ["status"])
    assert built == [] and recoloured == [("streetlights", sorted(fids.tolist()))]
    assert [id(a) for a in scene.visual(lights).actors] == actors_before  # same actors, no rebuild
    after = _colour_rows(scene, lights)
    assert after == _rebuilt(layers, scene.lod, "streetlights")
    changed = {f for f in after if after[f] != before[f]}
    assert changed and changed <= set(fids.tolist())
    if scene.lod:  # near sets hold their own per-feature colours; they follow too
        near = scene.visual(lights).near[0]
        rows, _ = near.rows_of(np.sort(fids))
        fresh = Scene(layers, lod=True)
        try:
            ref = fresh.visual(fresh.layer_list["streetlights"]).near[0]
            for mine, theirs in zip(near.pieces, ref.pieces, strict=True):
                assert np.array_equal(np.asarray(mine["colours"])[rows], np.asarray(theirs["colours"])[rows])
        finally:
            fresh.close()


def test_recolour_keeps_selection_highlight(city):
    from qdt.render.colours import HIGHLIGHT

    layers, scene = city
    pipes = layers["pipes"]
    fid = int(pipes.fids[0])
    pipes.selection = {fid}
    pipes.frame.loc[fid, "network"] = "RQ"
    pipes.notify_data([fid], ["network"])
    visual = scene.visual(pipes)
    shown = [part.colours[part.colour_fids == fid] for part in visual.parts
             if part.colours is not None and part.colour_fids is not None and (part.colour_fids == fid).any()]
    assert shown and all((rows == HIGHLIGHT).all() for rows in shown)
    pipes.selection = set()
    assert _colour_rows(scene, pipes) == _rebuilt(layers, scene.lod, "pipes")


def test_styled_buildings_recolour_walls_and_roofs(city):
    layers, scene = city
    buildings = layers["buildings"]
    buildings.style = CategorisedStyle(field="floors", categories={"5": ("5", (200, 30, 30))})
    built = []
    scene.events.built.connect(lambda layer: built.append(layer.name))
    fids = buildings.fids[:5]
    buildings.frame.loc[fids, "floors"] = 5
    buildings.notify_data(fids, ["floors"])  # floors is drawn (height): rebuild
    assert built == ["buildings"]
    built.clear()
    buildings.style = CategorisedStyle(field="kind", categories={"x": ("x", (20, 200, 30))})
    built.clear()
    buildings.frame["kind"] = "y"
    buildings.frame.loc[fids, "kind"] = "x"
    buildings.notify_data(fids, ["kind"])
    assert built == []
    rows = _colour_rows(scene, buildings)
    assert rows == _rebuilt(layers, scene.lod, "buildings")
    assert rows[int(fids[0])] == {(20, 200, 30), (18, 180, 27)}  # walls and roofs (0.9)


def test_undrawn_field_changes_nothing_and_drawn_size_rebuilds(city):
    layers, scene = city
    lights = layers["streetlights"]
    built, recoloured = [], []
    scene.events.built.connect(lambda layer: built.append(layer.name))
    scene.events.recoloured.connect(lambda layer, fids: recoloured.append(layer.name))
    lights.frame["remark"] = ""
    lights.notify_data(lights.fids[:3], ["remark"])
    assert built == [] and recoloured == []
    lights.notify_data(lights.fids[:3], ["pole_height"])
    assert built == ["streetlights"]
    lights.notify_data()  # everything (a reload)
    assert built == ["streetlights", "streetlights"]
    lights.notify_data(lights.fids[:1], ["geometry"])  # the geometry column: rebuild
    assert len(built) == 3


def test_data_change_payload():
    change = DataChange.attributes([5, 3, 5], ["status"], geometry_column="geometry")
    assert change.fids.tolist() == [3, 5] and change.fields == {"status"} and not change.geometry
    assert not change.everything and change.touches(["status", "x"]) and not change.touches(["x"])
    geo = DataChange.attributes([1], ["geometry", "status"], geometry_column="geometry")
    assert geo.geometry and geo.fields == {"status"}
    assert DataChange().everything and DataChange().geometry


def test_listener_ignoring_payload_still_called():
    layers = synthetic_layers(n_buildings=4, n_lights=5, n_pipes=2)
    seen = []
    layers["pipes"].events.data.connect(lambda: seen.append("no-arg"))
    layers["pipes"].events.data.connect(lambda change: seen.append(change.fields))
    layers["pipes"].notify_data([1], ["network"])
    assert seen == ["no-arg", frozenset({"network"})]


def test_frozen_copy_is_detached_from_edits_and_listeners():
    layers = synthetic_layers(n_buildings=4, n_lights=6, n_pipes=2)
    lights = layers["streetlights"]
    frozen = layers.frozen()
    twin = frozen["streetlights"]
    assert twin.id == lights.id and twin is not lights and len(twin.events.data) == 0
    scene = Scene(frozen, lod=False)  # an export's scene: it listens to the copies only
    try:
        before = twin.frame["status"].copy()
        fid = int(lights.fids[0])
        lights.frame.loc[fid, "status"] = 4
        lights.notify_data([fid], ["status"])
        lights.visible = False
        assert twin.frame["status"].equals(before) and twin.visible
        assert scene.visual(twin).shown
    finally:
        scene.close()


def test_scene_deliver_routes_events_to_the_listener_thread():
    """With ``deliver`` set (as the Qt view does with a queued connection) an event emitted on a
    worker thread is handled on the scene's thread, never the worker's."""
    import queue

    layers = synthetic_layers(n_buildings=4, n_lights=6, n_pipes=2)
    scene = Scene(layers, lod=False)
    pending: queue.Queue = queue.Queue()
    scene.deliver = lambda handler, args: pending.put((handler, args))
    handled_on = []
    scene.events.recoloured.connect(lambda layer, fids: handled_on.append(threading.current_thread()))
    lights = layers["streetlights"]
    worker = threading.Thread(target=lambda: lights.notify_data(lights.fids[:2], ["status"]))
    worker.start()
    worker.join()
    assert handled_on == []  # nothing ran on the worker
    handler, args = pending.get_nowait()
    handler(*args)
    assert handled_on == [threading.current_thread()]
    scene.close()


def test_crossing_roads_of_different_classes_lie_at_different_heights():
    """Road junctions do not z-fight: ribbons of different style classes are a few cm apart."""
    import shapely

    from qdt.layers import VectorLayer
    from qdt.render.arrays import from_vtk
    from qdt.render.builders.lines import CLASS_STEP
    from tests.synthetic_city import CENTRE, _frame

    x, y = CENTRE
    roads = np.array([shapely.LineString([(x - 50, y), (x + 50, y)]), shapely.LineString([(x, y - 50), (x, y + 50)])])
    layer = VectorLayer("roads", _frame(roads, road_class=np.array(["1", "3"]), width=np.array([10.0, 10.0])),
                        feature_class="road")
    layer.style = CategorisedStyle(field="road_class", categories={"1": ("快速路", (200, 60, 40)),
                                                                   "3": ("次干路", (240, 200, 40))})
    layers = LayerList()
    layers.append(layer)
    scene = Scene(layers, lod=False)
    try:
        part = scene.visual(layer).parts[0]
        points = from_vtk(part.polydata.GetPoints().GetData())
        fids = part.cell_fids
        conn = from_vtk(part.polydata.GetPolys().GetConnectivityArray()).reshape(-1, 3)
        z_first = points[conn[fids == layer.fids[0]].ravel(), 2].mean()
        z_second = points[conn[fids == layer.fids[1]].ravel(), 2].mean()
        assert z_first - z_second == pytest.approx(CLASS_STEP, abs=1e-3)  # the first class on top
    finally:
        scene.close()


def test_selected_features_get_a_marker_on_top(city):
    layers, scene = city
    lights, buildings, pipes = layers["streetlights"], layers["buildings"], layers["pipes"]
    assert len(scene.selection_markers()) == 0
    lights.selection = lights.fids[:3].tolist()
    buildings.selection = [int(buildings.fids[0])]
    pipes.selection = [int(pipes.fids[0])]
    markers = scene.selection_markers()
    assert len(markers) == 5
    # the building's marker stands on its roof, inside its footprint
    b = scene.feature_bounds(buildings, int(buildings.fids[0]))
    o = scene.origin
    inside = [(b[0] - o.x <= m[0] <= b[1] - o.x) and (b[2] - o.y <= m[1] <= b[3] - o.y)
              and m[2] >= b[5] - o.z for m in markers]
    assert sum(inside) == 1
    lights.visible = False  # a hidden layer's selection shows no markers
    assert len(scene.selection_markers()) == 2
    lights.visible = True
    for layer in (lights, buildings, pipes):
        layer.selection = ()
    assert len(scene.selection_markers()) == 0
