"""Render bridge, tier 2: tiles, levels of detail and near sets keep geometry, fids and picking right."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from qdt.layers import LayerList, RasterLayer, VectorLayer
from qdt.render import Scene
from qdt.render.arrays import from_vtk
from qdt.render.heightfield import Heightfield, ray_heightfield
from qdt.render.picking import ray_tubes
from qdt.render.tiles import TileGrid, split_mesh
from qdt.render.visual import PickTubes
from tests.test_render_builders import CRS_4549, frame
from tests.test_render_picking import framed_scene

# a 3 km square town: several tiles of the scene grid
TX0, TY0 = 532000.0, 3990000.0
SIZE = 3000.0
SPACING = 250.0  # m between building centres


def town_height(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 5.0 + 0.01 * (np.asarray(x) - TX0) + 0.004 * (np.asarray(y) - TY0)


def make_town() -> LayerList:
    pixel = 10.0
    n = int(SIZE / pixel)
    cols = TX0 + (np.arange(n) + 0.5) * pixel
    rows = TY0 + SIZE - (np.arange(n) + 0.5) * pixel
    xx, yy = np.meshgrid(cols, rows)
    dem = RasterLayer("dem", town_height(xx, yy).astype(np.float32)[np.newaxis],
                      (pixel, 0.0, TX0, 0.0, -pixel, TY0 + SIZE), CRS_4549, role="dem")
    centres = [(TX0 + 125 + i * SPACING, TY0 + 125 + j * SPACING) for j in range(12) for i in range(12)]
    fids = [1000 + k for k in range(len(centres))]
    boxes = [shapely.box(x - 10, y - 8, x + 10, y + 8) for x, y in centres]
    buildings = VectorLayer("buildings", frame(boxes, fids, height=[20.0 + k % 7 for k in range(len(fids))]),
                            feature_class="building")
    lights = VectorLayer("lights", frame([shapely.Point(x + 20, y) for x, y in centres], [5000 + k for k in range(144)],
                                         status=[1] * 144, pole_height=[10.0] * 144), feature_class="streetlight")
    pipes = VectorLayer("pipes", frame([shapely.LineString([(x - 100, y - 20), (x + 100, y - 20)]) for x, y in centres],
                                       [8000 + k for k in range(144)], network=["RQ"] * 144,
                                       diameter_mm=[400.0] * 144, depth_start=[1.2] * 144, depth_end=[1.2] * 144),
                        feature_class="pipe")
    layers = LayerList()
    for layer in (dem, buildings, lights, pipes):
        layers.append(layer)
    return layers


@pytest.fixture
def town():
    yield from framed_scene(make_town())


def look_down_at(scene: Scene, x: float, y: float, height: float, pitch: float = 60.0) -> None:
    ground = float(town_height(x, y))
    back = height / np.tan(np.radians(pitch))
    scene.set_camera_state({"position": [x, y - back, ground + height], "focal_point": [x, y, ground],
                            "view_up": [0, 0, 1]})
    scene.renderer.GetRenderWindow().Render()


def pick_world(scene: Scene, xyz: tuple[float, float, float]):
    x, y, _ = scene.to_display(np.array([xyz], dtype=np.float64))[0]
    return scene.pick(x, y)


# --- splitting --------------------------------------------------------------------------------------

def test_split_mesh_keeps_every_cell_and_its_rows():
    rng = np.random.default_rng(3)
    features = 50
    points = rng.uniform(0, 1000, (features * 4, 3)).astype(np.float32)
    cells = np.concatenate([np.arange(features * 4).reshape(-1, 4)[:, [0, 1, 2]],
                            np.arange(features * 4).reshape(-1, 4)[:, [0, 2, 3]]])
    row = np.concatenate([np.arange(features), np.arange(features)])
    tile_of_row = rng.integers(0, 7, features)
    pieces = split_mesh(points, cells, tile_of_row[row])
    assert sorted(p.tile for p in pieces) == sorted(set(tile_of_row.tolist()))
    seen = np.concatenate([p.cell_index for p in pieces])
    assert sorted(seen.tolist()) == list(range(len(cells)))
    for piece in pieces:
        assert (tile_of_row[row[piece.cell_index]] == piece.tile).all()
        # the same triangles, in the tile's own compact point numbering
        np.testing.assert_array_equal(piece.points[piece.cells], points[cells[piece.cell_index]])
        assert piece.cells.max() < len(piece.points)


def test_tile_grid_covers_the_bounds_and_clips_outside_points():
    grid = TileGrid.for_bounds(-1500, 1500, -1500, 1500)
    assert grid.nx == grid.ny and grid.nx * grid.size >= 3000 and grid.size >= 400
    tiles = grid.tile_of(np.array([-1500.0, 1499.0, 99999.0]), np.array([-1500.0, 1499.0, -99999.0]))
    assert tiles[0] == 0 and tiles[1] == grid.count - 1 and 0 <= tiles[2] < grid.count


# --- the scene ---------------------------------------------------------------------------------------

def test_big_layers_are_tiled_with_the_right_fids(town):
    visual = town.visual(town.layer_list["buildings"])
    tiled = [p for p in visual.parts if p.tile >= 0]
    assert len(tiled) > 4
    layer = town.layer_list["buildings"]
    for part in tiled:
        fids = from_vtk(part.polydata.GetCellData().GetArray("fid"))
        np.testing.assert_array_equal(fids, part.cell_fids)
        # every building of a tile lies in that tile
        centres = shapely.get_coordinates(shapely.centroid(layer.frame.loc[np.unique(fids)].geometry))
        local = centres - [town.origin.x, town.origin.y]
        assert (town.tiles.tile_of(local[:, 0], local[:, 1]) == part.tile).all()
    all_fids = np.unique(np.concatenate([p.cell_fids for p in tiled]))
    np.testing.assert_array_equal(all_fids, layer.fids)


@pytest.mark.parametrize("index", [0, 13, 77, 143])
def test_pick_buildings_in_different_tiles(town, index):
    x, y = TX0 + 125 + (index % 12) * SPACING, TY0 + 125 + (index // 12) * SPACING
    look_down_at(town, x, y, 150.0)
    top = float(town_height(x - 10, y - 8)) + 20.0 + index % 7  # base: the lowest corner
    hit = pick_world(town, (x + 3.0, y + 2.0, top))
    assert (hit.layer.name, hit.fid) == ("buildings", 1000 + index)
    np.testing.assert_allclose(hit.world_xyz, (x + 3.0, y + 2.0, top), atol=0.01)


def test_terrain_levels_follow_the_distance_and_picking_stays_exact(town):
    dem = town.visual(town.layer_list["dem"])
    levels_far = sorted({p.lod_lo for p in dem.parts if p.lod_shown and not p.skirt})
    look_down_at(town, TX0 + 1500, TY0 + 1500, 30.0, pitch=30.0)
    near_lo = min(p.lod_lo for p in dem.parts if p.lod_shown and p.actor.GetVisibility())
    assert near_lo == 0.0 and max(levels_far) > 0.0  # full detail near the camera, coarser from afar
    # the ground picks exactly whatever level is drawn (the heightfield is the full grid)
    target = (TX0 + 1510.0, TY0 + 1530.0, float(town_height(TX0 + 1510.0, TY0 + 1530.0)))
    hit = pick_world(town, target)
    assert hit.layer.name == "dem" and hit.fid is None
    np.testing.assert_allclose(hit.world_xyz, target, atol=0.01)
    town.frame_all()
    town.renderer.GetRenderWindow().Render()
    far = pick_world(town, target)
    assert far.layer.name == "dem"
    np.testing.assert_allclose(far.world_xyz, target, atol=0.05)


def test_lights_are_glyphs_near_and_dots_far_and_always_pickable(town):
    lights = town.visual(town.layer_list["lights"])
    near = lights.near[0]
    town.frame_all()
    town.renderer.GetRenderWindow().Render()
    assert near.rows.size == 0  # from afar no glyph is drawn
    x, y = TX0 + 125 + 5 * SPACING + 20, TY0 + 125 + 6 * SPACING  # light 5000 + 6 * 12 + 5
    look_down_at(town, x, y, 60.0, pitch=40.0)
    fid = 5000 + 6 * 12 + 5
    assert fid in near.fids[near.rows]
    assert len(near.rows) < 144  # only the near ones
    glyph = near.parts[0].polydata
    assert glyph.GetNumberOfPoints() == len(near.rows)
    pole = pick_world(town, (x, y - 0.12, float(town_height(x, y)) + 4.0))
    assert (pole.layer.name, pole.fid) == ("lights", fid)
    # selection reaches the glyphs being drawn
    town.layer_list["lights"].selection = {fid}
    colours = from_vtk(near.parts[1].polydata.GetPointData().GetArray("colours"))
    rows = near.fids[near.rows]
    assert (colours[rows == fid] == (255, 255, 0)).all()
    assert not (colours[rows != fid] == (255, 255, 0)).all(axis=1).any()


def test_pipes_under_opaque_ground_are_not_drawn_until_the_ground_lets_them_show(town):
    pipes = town.visual(town.layer_list["pipes"])
    x, y = TX0 + 125 + 4 * SPACING, TY0 + 125 + 4 * SPACING - 20
    look_down_at(town, x, y, 40.0)
    assert not any(p.actor.GetVisibility() for p in pipes.parts if p.tile >= 0)
    assert town.layer_list["dem"].opacity == 1.0
    town.set_underground(True)
    town.renderer.GetRenderWindow().Render()
    assert any(p.actor.GetVisibility() for p in pipes.parts if p.tile >= 0)
    assert pipes.near[0].rows.size > 0  # tubes near the camera
    assert town.layer_list["dem"].opacity == 1.0  # the display mode leaves the layer alone
    town.set_underground(False)
    town.layer_list["dem"].opacity = 0.4
    town.renderer.GetRenderWindow().Render()
    assert any(p.actor.GetVisibility() for p in pipes.parts if p.tile >= 0)


def test_pick_pipe_segment_far_from_the_camera_in_underground_view(town):
    town.set_underground(True)
    index = 100
    x, y = TX0 + 125 + (index % 12) * SPACING, TY0 + 125 + (index // 12) * SPACING - 20
    look_down_at(town, x + 900, y - 900, 700.0, pitch=35.0)  # drawn as a line, picked as a tube
    top = (x + 30.0, y, float(town_height(x + 30.0, y)) - 1.2)
    hit = pick_world(town, top)
    assert (hit.layer.name, hit.fid) == ("pipes", 8000 + index)
    np.testing.assert_allclose(hit.world_xyz, top, atol=0.05)


# --- analytic shapes ------------------------------------------------------------------------------------

def test_ray_tube_hits_the_cylinder_of_the_segment():
    tubes = PickTubes(vertices=np.array([[0, 0, 0], [10, 0, 0], [20, 5, 0]], dtype=np.float32),
                      start=np.array([0, 1], dtype=np.int32), radius=np.full(3, 0.5, dtype=np.float32),
                      fids=np.array([7, 8]))
    t, row = ray_tubes(np.array([5.0, 0.0, 10.0]), np.array([0.0, 0.0, -1.0]), tubes)
    assert row == 0 and t == pytest.approx(9.5)
    t, row = ray_tubes(np.array([15.0, 2.5, 10.0]), np.array([0.0, 0.0, -1.0]), tubes)
    assert row == 1 and t == pytest.approx(9.5, abs=1e-6)
    assert ray_tubes(np.array([-5.0, 0.0, 10.0]), np.array([0.0, 0.0, -1.0]), tubes)[1] == -1  # past the end


def test_heightfield_ray_from_above_and_below_and_holes():
    xs = np.array([0.0, 10.0, 20.0, 25.0])
    ys = np.array([30.0, 20.0, 10.0, 0.0])
    z = np.add.outer(0.1 * ys, 0.2 * xs).astype(np.float32)  # a plane: z = 0.2 x + 0.1 y
    hf = Heightfield(xs=xs, ys=ys, z=z, anti_diagonal=True)
    down = np.array([0.0, 0.0, -1.0])
    t, i, j = ray_heightfield(hf, np.array([12.0, 14.0, 50.0]), down)
    assert 50.0 - t == pytest.approx(0.2 * 12 + 0.1 * 14, abs=1e-5) and (i, j) == (1, 1)
    t, _, _ = ray_heightfield(hf, np.array([22.0, 3.0, -40.0]), -down)  # from underneath
    assert -40.0 + t == pytest.approx(0.2 * 22 + 0.1 * 3, abs=1e-5)
    slanted = np.array([1.0, 0.5, -2.0])
    t, _, _ = ray_heightfield(hf, np.array([0.5, 1.0, 20.0]), slanted)
    p = np.array([0.5, 1.0, 20.0]) + t * slanted
    assert p[2] == pytest.approx(0.2 * p[0] + 0.1 * p[1], abs=1e-5)
    holes = Heightfield(xs=xs, ys=ys, z=z, anti_diagonal=True, cell_row=np.full((3, 3), -1, dtype=np.int32))
    assert ray_heightfield(holes, np.array([12.0, 14.0, 50.0]), down)[1] == -1
