"""Issue 17: file layers stream by view window (tiles, LRU under a memory budget, overview for far
views), and what planners ask of the whole layer is still answered exactly (equal to a fully
loaded layer and to GDAL's SQL on the GeoPackage)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyogrio
import pytest
import shapely

from qdt.io import Capability, capabilities_of, open_datasource
from qdt.io import window as streaming
from qdt.io.window import StreamingSettings, ViewWindowLoader, apply_window, is_streamed, loader_for
from qdt.project import open_project
from qdt.query import Query, run_query

STREAMED = ("buildings", "pipes", "pipe_points", "manholes", "streetlights")


@pytest.fixture
def small_threshold():
    """Stream every layer of 500 features or more (the sample's pipes, manholes and lights)."""
    saved = dataclasses.replace(streaming.settings)
    streaming.settings.threshold_features = 500
    streaming.tile_cache.clear()
    yield streaming.settings
    for f in dataclasses.fields(saved):
        setattr(streaming.settings, f.name, getattr(saved, f.name))
    streaming.tile_cache.clear()


def _by_source(project):
    return {layer.source_layer: layer for layer in project.layers if getattr(layer, "source_layer", None)}


@pytest.fixture(scope="module")
def opened(tmp_path_factory):
    """The sample opened twice (once per module: opening is the slow part): streamed (threshold
    500 features) and whole (default threshold)."""
    import shutil

    from tests.conftest import SAMPLE_DIR

    folder = tmp_path_factory.mktemp("streamed") / "sample"
    shutil.copytree(SAMPLE_DIR, folder)
    saved = streaming.settings.threshold_features
    try:
        streaming.settings.threshold_features = 500
        streamed = _by_source(open_project(folder / "qingdao_shinan.qdt"))
        streaming.settings.threshold_features = 10**9
        whole = _by_source(open_project(folder / "qingdao_shinan.qdt"))
    finally:
        streaming.settings.threshold_features = saved
    return folder, streamed, whole


@pytest.fixture
def both(opened, small_threshold):
    return opened


def test_small_layers_load_whole_and_big_ones_stream(both):
    folder, streamed, whole = both
    for name, layer in streamed.items():
        assert is_streamed(layer) == (name in STREAMED), name
        assert not is_streamed(whole[name])
        assert (Capability.WINDOWED_READS in capabilities_of(layer)) == (name in STREAMED)
    # the default threshold keeps the whole sample loading as it always did
    assert StreamingSettings().threshold_features > 2549
    streaming.settings.threshold_features = StreamingSettings().threshold_features
    assert not open_datasource(folder / "qingdao_shinan.gpkg").streams("manholes")


def test_a_window_holds_the_features_of_its_tiles(both, small_threshold):
    _, streamed, whole = both
    small_threshold.tile_size_m = 250.0
    loader = loader_for(streamed["manholes"])
    view = (534300.0, 3992300.0, 534700.0, 3992600.0)
    window = loader.load(view)
    assert window.tiles > 4 and window.tiles_read == window.tiles and not window.truncated
    frame = whole["manholes"].frame
    b = shapely.bounds(frame.geometry.to_numpy())
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    x0, y0, x1, y1 = window.bbox
    size = small_threshold.tile_size_m
    inside = ((cx >= np.floor(x0 / size) * size) & (cx < (np.floor(x1 / size) + 1) * size)
              & (cy >= np.floor(y0 / size) * size) & (cy < (np.floor(y1 / size) + 1) * size))
    assert window.layer.fids.tolist() == frame.index[inside].tolist()
    # equal attributes and geometry to the fully loaded layer, feature for feature
    ours = window.layer.frame
    theirs = frame.loc[ours.index]
    assert ours.drop(columns=ours.geometry.name).equals(theirs.drop(columns=theirs.geometry.name))
    assert shapely.equals_exact(ours.geometry.to_numpy(), theirs.geometry.to_numpy(), 1e-9).all()
    # a second load of the same view comes from the cache; a small pan reuses most tiles
    again = loader.load(view)
    assert again.tiles_read == 0 and again.layer.fids.tolist() == window.layer.fids.tolist()
    moved = loader.load((view[0] + 260, view[1], view[2] + 260, view[3]))
    assert 0 < moved.tiles_read < moved.tiles


def test_the_cache_stays_under_its_memory_budget(both, small_threshold):
    _, streamed, _ = both
    small_threshold.tile_size_m = 200.0
    small_threshold.memory_budget_mb = 0.03
    loader = loader_for(streamed["manholes"])
    seen = 0
    for x in range(533700, 535500, 300):
        window = loader.load((x, 3992000.0, x + 200, 3992200.0))
        assert window.count > 0
        seen += streaming.frame_bytes(window.layer.frame)
    assert streaming.tile_cache.evicted > 0 and seen > 2 * streaming.tile_cache.budget
    # over the budget only by the tiles the last window shows (never evicted while in view)
    assert streaming.tile_cache.bytes <= streaming.tile_cache.budget + 1.5 * streaming.frame_bytes(window.layer.frame)


def test_prefetch_reads_the_tiles_ahead(both, small_threshold):
    _, streamed, _ = both
    small_threshold.tile_size_m = 200.0
    loader = loader_for(streamed["streetlights"])
    view = (533800.0, 3992200.0, 534200.0, 3992500.0)
    loader.load(view)
    assert loader.prefetch(view, (600.0, 0.0)) > 0
    ahead = loader.load((view[0] + 600, view[1], view[2] + 600, view[3]))
    assert ahead.tiles_read == 0  # all there already


def test_far_view_shows_the_cached_overview(both, small_threshold):
    folder, streamed, whole = both
    small_threshold.overview_features = 300
    small_threshold.far_view_m = 1000.0
    loader = loader_for(streamed["manholes"])
    window = loader.load((533000.0, 3991000.0, 536500.0, 3993500.0))
    assert window.overview and 0 < window.count <= 300
    assert set(window.layer.fids) <= set(whole["manholes"].fids)
    cached = list((folder / "qingdao_shinan.gpkg.qdt-overview").glob("manholes.*.gpkg"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    assert loader.load((533000.0, 3991000.0, 536500.0, 3993500.0)).overview
    assert cached[0].stat().st_mtime_ns == stamp  # made once
    # zooming back in leaves the overview for the detailed tiles
    assert loader.needs_reload((534000.0, 3992000.0, 534400.0, 3992300.0))
    assert not loader.load((534000.0, 3992000.0, 534400.0, 3992300.0)).overview
    apply_window(streamed["manholes"], window)
    assert streamed["manholes"].metadata["overview"]


QUERIES = [
    Query("streetlights", predicate="dwithin", distance=25, other="smart_poles"),
    Query("smart_poles", predicate="dwithin", distance=25, other="streetlights"),
    Query("manholes", where="status = 2"),
    Query("manholes", predicate="within", other="zones", where="network = 'PS'"),
    Query("pipes", predicate="intersects", other="zones"),
    Query("cabinets", predicate="dwithin", distance=2.5, other="streetlights", where="cabinet_type = 'PD'"),
    Query("streetlights", k=1, other="smart_poles", distance=100),
]


def test_whole_layer_queries_equal_a_fully_loaded_layer(both, small_threshold):
    _, streamed, whole = both
    small_threshold.chunk_rows = 400  # several chunks per layer
    # the streamed layers hold only a small window
    loader = loader_for(streamed["streetlights"])
    apply_window(streamed["streetlights"], loader.load((534000.0, 3992000.0, 534300.0, 3992200.0)))
    assert streamed["streetlights"].feature_count < whole["streetlights"].feature_count / 4
    for query in QUERIES:
        ours, theirs = run_query(query, streamed), run_query(query, whole)
        assert ours.fids.tolist() == theirs.fids.tolist(), query
        assert ours.count > 0, query
        if theirs.nearest is not None:
            assert ours.nearest[["fid", "nearest_fid", "rank"]].equals(theirs.nearest[["fid", "nearest_fid", "rank"]])
        frame = ours.frame()
        assert frame.index.tolist() == theirs.frame().index.tolist()


def test_a_city_bigger_than_the_memory_budget_answers_whole_layer_queries_exactly(tmp_path, small_threshold):
    """A generated city opened with a memory budget smaller than the layer: the query over the whole
    layer (streetlights within 25 m of a smart pole) equals GDAL's SQL on the file."""
    from qdt.cim.sample import generate

    generate(tmp_path, scale=2000, seed=5)
    gpkg = tmp_path / "qingdao_shinan.gpkg"
    small_threshold.threshold_features = 1000
    small_threshold.memory_budget_mb = 0.2
    small_threshold.chunk_rows = 700
    lights_bytes = streaming.frame_bytes(pyogrio.read_dataframe(gpkg, layer="streetlights"))
    assert lights_bytes > streaming.tile_cache.budget
    from qdt.project.model import Camera
    from qdt.project.store import attach_layers, load_project, open_layers

    project = load_project(tmp_path / "qingdao_shinan.qdt")  # opened at street level in the first district
    project.camera = Camera((534600.0, 3991900.0, 300.0), (534600.0, 3992200.0, 0.0))
    open_layers(project)
    attach_layers(project)
    layers = _by_source(project)
    assert is_streamed(layers["streetlights"]) and is_streamed(layers["pipes"])
    result = run_query(Query("streetlights", predicate="dwithin", distance=25, other="smart_poles"), layers)
    sql = ("SELECT a.fid AS qfid, 0 AS pad FROM streetlights a WHERE EXISTS (SELECT 1 FROM rtree_smart_poles_geom r "
           "JOIN smart_poles b ON b.fid = r.id WHERE r.minx <= ST_MaxX(a.geom) + 25 AND r.maxx >= ST_MinX(a.geom) - 25 "
           "AND r.miny <= ST_MaxY(a.geom) + 25 AND r.maxy >= ST_MinY(a.geom) - 25 "
           "AND ST_Distance(a.geom, b.geom) <= 25)")
    gdal = pyogrio.read_dataframe(gpkg, sql=sql, sql_dialect="SQLITE", read_geometry=False, fid_as_index=True)
    theirs = gdal["qfid"].to_numpy() if "qfid" in gdal.columns else gdal.index.to_numpy()
    assert result.count > 100 and result.fids.tolist() == sorted(set(theirs.astype(int).tolist()))
    # memory held the first window's tiles, never the whole layer
    assert layers["streetlights"].feature_count < pyogrio.read_info(gpkg, layer="streetlights")["features"]
    assert streaming.tile_cache.bytes < lights_bytes + streaming.frame_bytes(layers["pipes"].frame) * 2


def test_a_tile_that_fails_is_reported_not_fatal(both, small_threshold, monkeypatch):
    from qdt.io import ReadError

    _, streamed, _ = both
    small_threshold.tile_size_m = 250.0
    loader = loader_for(streamed["manholes"])
    view = (534200.0, 3992200.0, 534600.0, 3992500.0)
    first = loader.load(view)

    def broken(self, tiles, is_cancelled):
        raise ReadError("disk I/O error")

    monkeypatch.setattr(ViewWindowLoader, "_read_tiles", broken)
    window = loader.load((view[0] + 300, view[1], view[2] + 300, view[3]))  # some tiles cached, the new ones fail
    assert window.failed_tiles and "disk I/O error" in window.failed_tiles[0]
    assert 0 < window.count < first.count + 10**6 and not window.overview
    with pytest.raises(ReadError, match="disk I/O error"):  # nothing cached there: the error itself
        loader.load((view[0] + 5000, view[1], view[2] + 5000, view[3]))


def test_picks_on_streamed_layers_equal_fully_loaded_ones(both, small_threshold):
    """The 3D view picks the same features at the same exact positions on streamed windows."""
    from qdt.layers import LayerList
    from tests.test_render_picking import framed_scene

    _, streamed, whole = both
    view = (534150.0, 3992250.0, 534550.0, 3992550.0)
    for name in ("buildings", "streetlights"):
        apply_window(streamed[name], loader_for(streamed[name]).load(view))
        assert streamed[name].feature_count < whole[name].feature_count
    answers = []
    for layers in (streamed, whole):
        shown = LayerList()
        for name in ("buildings", "streetlights"):
            shown.append(layers[name])
        frames = framed_scene(shown)
        scene = next(frames)
        scene.set_camera_state({"position": [534350.0, 3992150.0, 250.0], "focal_point": [534350.0, 3992400.0, 0.0],
                                "view_up": [0.0, 0.0, 1.0], "view_angle": 30.0})
        scene.renderer.GetRenderWindow().Render()
        picks = [scene.pick(float(x), float(y)) for x in range(40, 800, 60) for y in range(40, 600, 60)]
        answers.append([None if p is None else (p.layer.source_layer, p.fid, tuple(np.round(p.world_xyz, 2)))
                        for p in picks])
        frames.close()
    assert answers[0] == answers[1]
    assert sum(a is not None for a in answers[0]) > 20
    assert {a[0] for a in answers[0] if a is not None} >= {"buildings"}


def test_the_table_of_a_streamed_layer_pages_sorts_and_filters_from_the_file(both):
    from qdt.query.paging import StreamedTable

    _, streamed, whole = both
    layer = streamed["manholes"]
    apply_window(layer, loader_for(layer).load((534000.0, 3992000.0, 534300.0, 3992200.0)))
    table = StreamedTable(layer)
    frame = whole["manholes"].frame
    assert table.count() == len(frame) > layer.feature_count
    # every row, in fid order, in pages
    order = table.order()
    rows = [table.page(order, offset, 700) for offset in range(0, len(order), 700)]
    import pandas as pd

    pages = pd.concat(rows)
    assert pages.index.tolist() == frame.index.tolist()
    assert pages.drop(columns="geometry").equals(frame.drop(columns="geometry"))
    # sorted by depth (descending, ties by fid) and filtered by an expression, without loading the layer
    order = table.order(sort="depth", descending=True, where="network = 'PS' AND status = 2")
    want = frame[(frame.network == "PS") & (frame.status == 2)]
    want = want.assign(_fid=want.index).sort_values(["depth", "_fid"], ascending=[False, True])
    assert order.tolist() == want.index.tolist() and len(order) > 0
    assert table.page(order, 5, 10).index.tolist() == want.index[5:15].tolist()
    with pytest.raises(Exception, match="not found"):
        table.order(sort="no_such_field")


def test_a_snapshot_waits_for_the_tiles_of_its_view(both, small_threshold):
    from qdt.export.snapshot import render_view
    from qdt.layers import LayerList

    _, streamed, _ = both
    layer = streamed["buildings"]
    apply_window(layer, loader_for(layer).load((533700.0, 3992000.0, 533900.0, 3992150.0)))  # the west end
    focal = (535300.0, 3992600.0)  # the east end: nothing of it loaded
    assert not in_window(layer, focal)
    shown = LayerList()
    shown.append(layer)
    camera = {"position": [focal[0], focal[1] - 300.0, 300.0], "focal_point": [focal[0], focal[1], 0.0],
              "view_up": [0.0, 0.0, 1.0], "view_angle": 30.0}
    image, _ = render_view(shown, 160, 100, camera=camera)
    assert in_window(layer, focal) and image.std() > 5


def in_window(layer, point):
    x0, y0, x1, y1 = layer.bounds
    return x0 <= point[0] <= x1 and y0 <= point[1] <= y1


def test_the_window_follows_the_camera_over_a_streamed_file_layer(sample_copy, small_threshold, qtbot):
    """In the main window a streamed GeoPackage layer reloads around the camera in the background,
    prefetches ahead of the move and shows its overview when the view takes in the whole city."""
    from qdt.ui.app import create_application
    from qdt.ui.mainwindow import MainWindow

    small_threshold.tile_size_m = 250.0
    create_application()
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1000, 700)
    with qtbot.waitExposed(win, timeout=30_000):
        win.show()
    try:
        with qtbot.waitSignal(win.project_loaded, timeout=120_000):
            win.open_project(sample_copy / "qingdao_shinan.qdt")
        refresher = win.db_refresher
        refresher.timer.setInterval(10)
        layer = next(lyr for lyr in win.project.layers if getattr(lyr, "source_layer", None) == "manholes")
        assert is_streamed(layer) and Capability.WINDOWED_READS in capabilities_of(layer)
        full = pyogrio.read_info(sample_copy / "qingdao_shinan.gpkg", layer="manholes")["features"]
        streaming.tile_cache.clear()  # opening without a camera read the whole (small) district
        seen: list[int] = []
        layer.events.data.connect(lambda *a: seen.append(layer.feature_count))
        for cx in (534000.0, 534300.0):  # two rests: the second knows the camera's motion
            win.scene.fly_to_extent((cx - 60, 3992300 - 40, cx + 60, 3992300 + 40))
            before = len(seen)
            win.view.camera_changed.emit()
            qtbot.waitUntil(lambda before=before: len(seen) > before, timeout=30_000)
            assert 0 < seen[-1] < full and not layer.metadata["overview"]
        qtbot.waitUntil(lambda: refresher.prefetched > 0 or bool(refresher.prefetch_errors), timeout=30_000)
        assert refresher.prefetched > 0  # the tiles further east
        # the whole district from far above: the overview
        small_threshold.far_view_m = 500.0
        win.scene.fly_to_extent((533600.0, 3991500.0, 535600.0, 3993000.0))
        before = len(seen)
        win.view.camera_changed.emit()
        qtbot.waitUntil(lambda: len(seen) > before, timeout=60_000)
        assert layer.metadata["overview"] and 0 < layer.feature_count <= small_threshold.overview_features
    finally:
        win.project.dirty = False
        win.close()


def test_the_query_command_reads_a_streamed_layer_in_chunks(both, small_threshold):
    from qdt.cli.query import SourceLayers

    folder, _, whole = both
    source = SourceLayers(folder / "qingdao_shinan.qdt")
    layers = {name: source.layer(name, pushdown=True) for name in ("manholes", "zones")}
    assert is_streamed(layers["manholes"]) and layers["manholes"].feature_count == 0  # nothing loaded
    assert not is_streamed(layers["zones"]) and layers["zones"].feature_count > 0  # small: whole
    query = Query("manholes", predicate="within", other="zones", where="network = 'PS'")
    assert run_query(query, layers).fids.tolist() == run_query(query, whole).fids.tolist()
