"""Render bridge, tier 2: builders make the right polydata from small synthetic layers (no window)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS

from qdt.crs import SceneOrigin
from qdt.layers import CategorisedStyle, CityModelLayer, LayerList, RasterLayer, SingleStyle, VectorLayer
from qdt.render.arrays import from_vtk
from qdt.render.builders.buildings import build_buildings
from qdt.render.builders.pipes import pipe_centre_line
from qdt.render.colours import BUILDING_ROOF, BUILDING_WALL, PIPE_NETWORK_FALLBACK, status_colours
from qdt.render.geometry import MAX_TERRAIN_SIDE, polygon_rings, triangulate_polygons
from qdt.render.registry import BuilderNotFound, builder_for, builder_key, register_builder, unregister_builder
from qdt.render.visual import BuildContext, LayerVisual

CRS_4549 = CRS.from_epsg(4549)
X0, Y0 = 533900.0, 3991900.0  # south-west corner of the test DEM
ORIGIN = SceneOrigin(534000.0, 3992000.0, 0.0)


# --- synthetic layers (also used by the scene, picking and offscreen tests) ------------------------

def plane_height(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The test DEM is this tilted plane, so bilinear sampling is exact."""
    return 10.0 + 0.05 * (np.asarray(x) - X0) + 0.02 * (np.asarray(y) - Y0)


def make_dem(size: int = 200, pixel: float = 1.0, nodata_corner: int = 0) -> RasterLayer:
    """A size × size north-up DEM from (X0, Y0); the north-west ``nodata_corner`` pixels square are nodata."""
    cols = X0 + (np.arange(size) + 0.5) * pixel
    rows = Y0 + size * pixel - (np.arange(size) + 0.5) * pixel
    xx, yy = np.meshgrid(cols, rows)
    z = plane_height(xx, yy).astype(np.float32)
    mask = np.zeros(z.shape, dtype=bool)
    mask[:nodata_corner, :nodata_corner] = True
    z[mask] = np.nan
    return RasterLayer("dem", z[np.newaxis], (pixel, 0.0, X0, 0.0, -pixel, Y0 + size * pixel), CRS_4549, role="dem",
                       mask=mask, nodata=np.nan)


def frame(geometry: list, fids: list[int], **columns: list) -> gpd.GeoDataFrame:
    out = gpd.GeoDataFrame(columns, geometry=geometry, crs=CRS_4549, index=pd.Index(fids, name="fid"))
    return out


L_SHAPE = shapely.Polygon([(533980, 3991950), (534010, 3991950), (534010, 3991960), (533990, 3991960),
                           (533990, 3991980), (533980, 3991980)])
COURTYARD = shapely.box(534020, 3992020, 534060, 3992060).difference(shapely.box(534030, 3992030, 534050, 3992050))
TOWER = shapely.box(533995, 3991995, 534005, 3992005)  # the building at E 534 000 N 3 992 000


def make_buildings() -> VectorLayer:
    geometry = [shapely.box(533950, 3991950, 533970, 3991965), L_SHAPE, COURTYARD,
                shapely.MultiPolygon([shapely.box(533930, 3992030, 533940, 3992040),
                                      shapely.box(533945, 3992030, 533955, 3992040)]), TOWER]
    return VectorLayer("buildings", frame(geometry, [10, 11, 12, 13, 14], height=[20.0, 12.0, 15.0, np.nan, 30.0],
                                          floors=[6, 4, 5, 4, 10]), feature_class="building")


def make_lights() -> VectorLayer:
    pts = [shapely.Point(533960, 3991990), shapely.Point(533975, 3991990), shapely.Point(533990, 3991990),
           shapely.Point(534030, 3991990), shapely.Point(534045, 3991990)]
    return VectorLayer("lights", frame(pts, [100, 101, 102, 103, 104], status=[1, 2, 3, 4, 1],
                                       pole_height=[10.0, 8.0, np.nan, 10.0, 10.0]), feature_class="streetlight")


def make_smart_poles() -> VectorLayer:
    return VectorLayer("smart", frame([shapely.Point(534070, 3991990)], [200], status=[1], pole_height=[12.0]),
                       feature_class="smart_pole")


def make_pipes() -> VectorLayer:
    line = shapely.LineString([(533960, 3992080), (534040, 3992080)])
    other = shapely.LineString([(533960, 3992090), (534000, 3992090), (534000, 3992050)])
    return VectorLayer("pipes", frame([line, other], [300, 301], network=["RQ", "JS"], diameter_mm=[300.0, 500.0],
                                      depth_start=[1.0, 1.5], depth_end=[2.0, np.nan]), feature_class="pipe")


def make_roads() -> VectorLayer:
    return VectorLayer("roads", frame([shapely.LineString([(533920, 3991985), (534080, 3991985)])], [400],
                                      width=[8.0]), feature_class="road")


def make_zones() -> VectorLayer:
    return VectorLayer("zones", frame([shapely.box(533910, 3992040, 533950, 3992090)], [500], grid_code=["1"]),
                       feature_class="zone")


def make_city_model() -> CityModelLayer:
    """A 6 m cube standing at 22 m (the DEM's height there) at (534070, 3992070): roof, walls, ground."""
    x, y = 534070.0, 3992070.0
    v = np.array([[x, y, 22], [x + 6, y, 22], [x + 6, y + 6, 22], [x, y + 6, 22],
                  [x, y, 28], [x + 6, y, 28], [x + 6, y + 6, 28], [x, y + 6, 28]], dtype=np.float64)
    tris = np.array([[4, 5, 6], [4, 6, 7],  # roof
                     [0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7],
                     [0, 2, 1], [0, 3, 2]])
    semantic = np.array([1, 1] + [2] * 8 + [3, 3], dtype=np.uint8)
    objects = pd.DataFrame({"object_id": ["b1"], "type": ["Building"], "lod": ["2"]}, index=pd.Index([7]))
    return CityModelLayer("landmarks", v, tris, np.full(12, 7), semantic, objects, CRS_4549)


def full_scene() -> LayerList:
    layers = LayerList()
    for layer in (make_dem(), make_buildings(), make_lights(), make_smart_poles(), make_pipes(), make_roads(),
                  make_zones(), make_city_model()):
        layers.append(layer)
    return layers


def cell_array(visual: LayerVisual, name: str, part: int = 0) -> np.ndarray:
    return from_vtk(visual.parts[part].polydata.GetCellData().GetArray(name))


def points_of(visual: LayerVisual, part: int = 0) -> np.ndarray:
    return from_vtk(visual.parts[part].polydata.GetPoints().GetData()).astype(np.float64)


def triangles_of(visual: LayerVisual, part: int = 0) -> np.ndarray:
    polys = visual.parts[part].polydata.GetPolys()
    return from_vtk(polys.GetConnectivityArray()).reshape(-1, 3).astype(np.int64)


def ctx(dem: RasterLayer | None = None, ortho: RasterLayer | None = None) -> BuildContext:
    return BuildContext(origin=ORIGIN, dem=dem, ortho=ortho)


# --- registry ----------------------------------------------------------------------------------------

def test_registry_picks_builder_by_kind_class_and_geometry():
    assert builder_key(make_dem()) == ("raster", "dem")
    assert builder_for(make_buildings()) is build_buildings
    plain = VectorLayer("plain", frame([shapely.box(0, 0, 1, 1)], [1], height=[3.0]))  # no class: height → building
    assert builder_for(plain) is build_buildings
    lines = VectorLayer("lines", frame([shapely.LineString([(0, 0), (1, 1)])], [1]), feature_class="no_such_class")
    assert builder_key(lines) == ("vector", "no_such_class")
    assert builder_for(lines).__name__ == "build_lines"


def test_registering_a_duplicate_builder_raises():
    with pytest.raises(ValueError, match="already registered"):
        register_builder("vector", "building")(lambda layer, context: LayerVisual(layer))
    register_builder("vector", "test_only_class")(lambda layer, context: LayerVisual(layer))
    try:
        with pytest.raises(ValueError, match="test_only_class"):
            register_builder("vector", "test_only_class")(lambda layer, context: LayerVisual(layer))
    finally:
        unregister_builder("vector", "test_only_class")


def test_missing_builder_names_the_layer():
    image = RasterLayer("scan", np.zeros((1, 2, 2)), (1, 0, 0, 0, -1, 2), CRS_4549, role="image")
    with pytest.raises(BuilderNotFound, match="'scan'"):
        builder_for(image)


# --- terrain -----------------------------------------------------------------------------------------

def test_terrain_is_decimated_and_leaves_nodata_out():
    dem = make_dem(size=1500, pixel=0.2, nodata_corner=300)
    visual = builder_for(dem)(dem, ctx(dem))
    grid = ctx(dem).terrain_grid()
    rows, cols = grid.shape
    assert max(rows, cols) <= MAX_TERRAIN_SIDE
    poly = visual.parts[0].polydata
    assert poly.GetNumberOfPoints() == rows * cols
    valid = np.isfinite(grid.z)
    full_cells = (valid[:-1, :-1] & valid[1:, 1:] & valid[:-1, 1:] & valid[1:, :-1]).sum()
    assert poly.GetNumberOfCells() == 2 * full_cells < 2 * (rows - 1) * (cols - 1)
    # no triangle touches a nodata vertex, and the kept heights are the DEM's
    used = np.unique(triangles_of(visual))
    assert valid.ravel()[used].all()
    pts = points_of(visual)[used] + [ORIGIN.x, ORIGIN.y, 0]
    np.testing.assert_allclose(pts[:, 2], plane_height(pts[:, 0], pts[:, 1]), atol=1e-3)


def test_terrain_triangles_face_up():
    dem = make_dem(size=20)
    visual = builder_for(dem)(dem, ctx(dem))
    pts = points_of(visual)
    t = triangles_of(visual)
    normal = np.cross(pts[t[:, 1]] - pts[t[:, 0]], pts[t[:, 2]] - pts[t[:, 0]])
    assert (normal[:, 2] > 0).all()


def test_terrain_hypsometric_sea_blue_land_green_and_ortho_texture():
    z = np.array([[-5.0, -5.0, 20.0, 20.0]] * 4, dtype=np.float32)
    dem = RasterLayer("dem", z[np.newaxis], (10, 0, X0, 0, -10, Y0 + 40), CRS_4549, role="dem")
    visual = builder_for(dem)(dem, ctx(dem))
    colours = from_vtk(visual.parts[0].polydata.GetPointData().GetArray("colours"))
    sea, land = colours[0], colours[3]
    assert sea[2] > sea[0] and sea[2] > sea[1]  # blue below 0 m
    assert land[1] > land[0] and land[1] > land[2]  # green above
    assert visual.parts[0].actor.GetTexture() is None

    rgb = np.zeros((3, 8, 8), dtype=np.uint8)
    rgb[0] = 200
    ortho = RasterLayer("ortho", rgb, (5, 0, X0, 0, -5, Y0 + 40), CRS_4549, role="ortho")
    textured = builder_for(dem)(dem, ctx(dem, ortho))
    assert textured.parts[0].actor.GetTexture() is not None
    tcoords = from_vtk(textured.parts[0].polydata.GetPointData().GetTCoords())
    assert tcoords.shape == (16, 2)
    # vertex at the pixel centre (5, 5) m into the DEM lies one texel (of 8 + 2 border) in
    np.testing.assert_allclose(tcoords[0], [(1 + 1) / 10, (8 - 1 + 1) / 10], atol=1e-6)
    assert builder_for(ortho)(ortho, ctx(dem, ortho)).parts == []  # draped, not drawn on its own


# --- buildings ---------------------------------------------------------------------------------------

def test_buildings_prisms_counts_fids_and_heights():
    layer = make_buildings()
    visual = build_buildings(layer, ctx())
    fids = cell_array(visual, "fid")
    pts = points_of(visual)
    tris = triangles_of(visual)
    # walls: two triangles per ring edge (4 + 6 + 4 + 4 + 4 + 4 edges); roofs: n - 2 + 2 * holes per polygon
    n_walls = 2 * (4 + 6 + 8 + 8 + 4)
    n_roofs = 2 + 4 + 8 + 2 * 2 + 2
    assert len(fids) == n_walls + n_roofs
    assert set(np.unique(fids)) == {10, 11, 12, 13, 14}
    roof_z = pts[tris[n_walls:]].max(axis=1)[:, 2]
    expected = pd.Series({10: 20.0, 11: 12.0, 12: 15.0, 13: 4 * 3.0, 14: 30.0})  # no DEM: base 0 m
    np.testing.assert_allclose(roof_z, expected[fids[n_walls:]].to_numpy(), atol=1e-4)
    # roofs are flat and every roof triangle faces up
    assert np.ptp(pts[tris[n_walls:]][:, :, 2], axis=1).max() < 1e-4
    up = np.cross(pts[tris[n_walls:, 1]] - pts[tris[n_walls:, 0]], pts[tris[n_walls:, 2]] - pts[tris[n_walls:, 0]])
    assert (up[:, 2] > 0).all()
    colours = cell_array(visual, "colours")
    assert tuple(colours[0]) == BUILDING_WALL and tuple(colours[-1]) == BUILDING_ROOF


def test_building_base_is_lowest_dem_height_under_the_footprint():
    dem = make_dem()
    visual = build_buildings(make_buildings(), ctx(dem))
    fids = cell_array(visual, "fid")
    pts = points_of(visual)
    tris = triangles_of(visual)
    tower = fids == 14
    z = pts[tris[tower]][:, :, 2]
    base = plane_height(533995, 3991995)  # the plane rises east and north: lowest at the south-west corner
    assert z.min() == pytest.approx(base, abs=1e-3)
    assert z.max() == pytest.approx(base + 30.0, abs=1e-3)


def test_walls_face_outwards():
    visual = build_buildings(make_buildings(), ctx())
    fids = cell_array(visual, "fid")
    pts = points_of(visual)
    tris = triangles_of(visual)
    walls = np.flatnonzero(np.abs(np.cross(pts[tris[:, 1]] - pts[tris[:, 0]],
                                           pts[tris[:, 2]] - pts[tris[:, 0]])[:, 2]) < 1e-6)
    walls = walls[fids[walls] == 12]  # the courtyard: outer walls face away from it, inner walls into the yard
    normal = np.cross(pts[tris[walls, 1]] - pts[tris[walls, 0]], pts[tris[walls, 2]] - pts[tris[walls, 0]])
    centre = pts[tris[walls]].mean(axis=1)
    yard = np.array([534040.0 - ORIGIN.x, 3992040.0 - ORIGIN.y])
    outward = ((centre[:, :2] - yard) * normal[:, :2]).sum(axis=1)
    inner = np.abs(centre[:, :2] - yard).max(axis=1) < 10.5
    assert (outward[~inner] > 0).all() and (outward[inner] < 0).all()


def test_roof_with_hole_leaves_the_hole_open_and_concave_roof_covers_exactly():
    rings = polygon_rings(np.array([COURTYARD, L_SHAPE], dtype=object), (ORIGIN.x, ORIGIN.y))
    tris, poly = triangulate_polygons(rings)
    xy = rings.xy
    centroids = xy[tris].mean(axis=1) + [ORIGIN.x, ORIGIN.y]
    hole = shapely.box(534030, 3992030, 534050, 3992050)
    assert not shapely.contains_xy(hole, centroids[poly == 0, 0], centroids[poly == 0, 1]).any()
    a, b, c = xy[tris[:, 0]], xy[tris[:, 1]], xy[tris[:, 2]]
    area = 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
    assert area.min() > 0
    assert area[poly == 0].sum() == pytest.approx(COURTYARD.area)
    assert area[poly == 1].sum() == pytest.approx(L_SHAPE.area)
    # the concave L's roof stays inside the L
    assert shapely.contains_xy(L_SHAPE.buffer(1e-6), centroids[poly == 1, 0], centroids[poly == 1, 1]).all()


def test_styled_buildings_use_the_style_colours():
    layer = make_buildings()
    layer.style = CategorisedStyle(field="floors", categories={"4": ("four", (200, 30, 30))}, default=(10, 200, 10))
    visual = build_buildings(layer, ctx())
    fids = cell_array(visual, "fid")
    colours = cell_array(visual, "colours")
    assert (colours[fids == 11][0] == (200, 30, 30)).all()
    assert (colours[fids == 10][0] == (10, 200, 10)).all()


# --- city model --------------------------------------------------------------------------------------

def test_city_model_mesh_fids_and_semantic_colours():
    layer = make_city_model()
    visual = builder_for(layer)(layer, ctx())
    assert visual.parts[0].polydata.GetNumberOfCells() == 12
    assert (cell_array(visual, "fid") == 7).all()
    colours = cell_array(visual, "colours")
    assert len({tuple(c) for c in colours}) == 3  # roof, wall, ground
    assert colours[0][0] > colours[0][2]  # red-brown roof
    np.testing.assert_allclose(points_of(visual)[4], [70.0, 70.0, 28.0], atol=1e-4)


# --- point facilities ------------------------------------------------------------------------------

def _glyph_centres(visual: LayerVisual, part: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pd_ = visual.parts[part].polydata
    return (points_of(visual, part), from_vtk(pd_.GetPointData().GetArray("fid")),
            from_vtk(pd_.GetPointData().GetArray("scale")))


def test_streetlights_stand_on_the_dem_sized_by_pole_height_and_coloured_by_status():
    dem = make_dem()
    layer = make_lights()
    visual = builder_for(layer)(layer, ctx(dem))
    shaft, head = visual.parts[0], visual.parts[1]
    assert type(shaft.actor.GetMapper()).__name__.endswith("Glyph3DMapper")
    assert shaft.actor.GetMapper().GetUseSelectionIds()
    centres, fids, scale = _glyph_centres(visual, 0)
    np.testing.assert_array_equal(fids, [100, 101, 102, 103, 104])
    xy = centres[:, :2] + [ORIGIN.x, ORIGIN.y]
    np.testing.assert_allclose(centres[:, 2], plane_height(xy[:, 0], xy[:, 1]), atol=1e-3)
    np.testing.assert_allclose(scale[:, 2], [10.0, 8.0, 10.0, 10.0, 10.0])  # missing height → 10 m
    head_colours = from_vtk(head.polydata.GetPointData().GetArray("colours"))
    for row, status in enumerate([1, 2, 3, 4, 1]):
        assert tuple(head_colours[row]) == status_colours("streetlight")[str(status)]
    # lamp dots sit at the pole tops and have pick shapes
    assert len(visual.sprites) == 1
    np.testing.assert_allclose(visual.sprites[0].position[:, 2], centres[:, 2] + scale[:, 2], atol=1e-3)


def test_smart_poles_look_different_from_streetlights():
    dem = make_dem()
    lights = builder_for(make_lights())(make_lights(), ctx(dem))
    smart = builder_for(make_smart_poles())(make_smart_poles(), ctx(dem))
    assert len(smart.parts) > len(lights.parts)
    assert smart.cylinders[0].radius[0] > lights.cylinders[0].radius[0]
    assert smart.cylinders[0].z1[0] - smart.cylinders[0].z0[0] == pytest.approx(12.0)


def test_manholes_reach_down_to_their_depth_and_cabinets_are_boxes():
    dem = make_dem()
    manholes = VectorLayer("manholes", frame([shapely.Point(534000, 3992080)], [600], network=["PS"], depth=[2.5]),
                           feature_class="manhole")
    visual = builder_for(manholes)(manholes, ctx(dem))
    ground = plane_height(534000, 3992080)
    shaft = visual.cylinders[0]
    assert shaft.z0[0] == pytest.approx(ground - 2.5) and shaft.z1[0] == pytest.approx(ground + 0.05)
    assert shaft.radius[0] == pytest.approx(0.5)
    assert tuple(visual.parts[0].colours[0]) == PIPE_NETWORK_FALLBACK["PS"]
    cabinets = VectorLayer("cabinets", frame([shapely.Point(534000, 3992000)], [700], status=[2]),
                           feature_class="cabinet")
    box = builder_for(cabinets)(cabinets, ctx(dem)).boxes[0]
    np.testing.assert_allclose(box.hi[0] - box.lo[0], [1.0, 0.5, 1.5])
    assert box.lo[0, 2] == pytest.approx(plane_height(534000, 3992000))


# --- pipes -------------------------------------------------------------------------------------------

def test_pipe_centre_line_is_ground_minus_depth_minus_radius():
    dem = make_dem()
    layer = make_pipes()
    axis = pipe_centre_line(layer, ctx(dem))
    world = axis.centre + [ORIGIN.x, ORIGIN.y, ORIGIN.z]
    ground = plane_height(world[:, 0], world[:, 1])
    first = axis.row == 0
    t = (world[first, 0] - 533960.0) / 80.0  # straight line, depth 1 → 2 m from west to east
    np.testing.assert_allclose(world[first, 2], ground[first] - (1.0 + t) - 0.15, atol=1e-6)
    assert first.sum() >= 9  # densified every 10 m so it follows the ground
    second = axis.row == 1
    np.testing.assert_allclose(world[second, 2], ground[second] - 1.5 - 0.25, atol=1e-6)  # one depth for both ends


def test_drainage_invert_depth_puts_the_pipe_bottom_there():
    """Gravity drainage is surveyed by invert depth (pipe_networks.json depth_reference): the bottom sits there."""
    dem = make_dem()
    line = shapely.LineString([(533960, 3992080), (534040, 3992080)])
    layer = VectorLayer("pipes", frame([line, line], [1, 2], network=["PS", "JS"], subtype=["YS", "JP"],
                                       diameter_mm=[800.0, 800.0], depth_start=[3.0, 3.0], depth_end=[3.0, 3.0]),
                        feature_class="pipe")
    axis = pipe_centre_line(layer, ctx(dem))
    world = axis.centre + [ORIGIN.x, ORIGIN.y, ORIGIN.z]
    ground = plane_height(world[:, 0], world[:, 1])
    storm, water = axis.row == 0, axis.row == 1
    np.testing.assert_allclose(world[storm, 2] - 0.4, ground[storm] - 3.0, atol=1e-6)  # bottom at the invert
    np.testing.assert_allclose(world[water, 2] + 0.4, ground[water] - 3.0, atol=1e-6)  # top at the depth


def test_pipe_tubes_have_real_radius_and_network_colours():
    dem = make_dem()
    layer = make_pipes()
    visual = builder_for(layer)(layer, ctx(dem))
    axis = pipe_centre_line(layer, ctx(dem))
    pts = points_of(visual)
    sides = len(pts) // len(axis.centre)
    rings = pts.reshape(len(axis.centre), sides, 3)
    np.testing.assert_allclose(rings.mean(axis=1), axis.centre, atol=1e-3)
    radius = np.linalg.norm(rings - axis.centre[:, None, :], axis=2)
    np.testing.assert_allclose(radius, np.broadcast_to(axis.radius[:, None], radius.shape), atol=1e-3)
    fids = cell_array(visual, "fid")
    colours = cell_array(visual, "colours")
    assert tuple(colours[fids == 300][0]) == PIPE_NETWORK_FALLBACK["RQ"]
    assert tuple(colours[fids == 301][0]) == PIPE_NETWORK_FALLBACK["JS"]


# --- drapes ------------------------------------------------------------------------------------------

def test_road_ribbon_width_and_drape():
    dem = make_dem()
    layer = make_roads()
    visual = builder_for(layer)(layer, ctx(dem))
    pts = points_of(visual) + [ORIGIN.x, ORIGIN.y, 0]
    assert (cell_array(visual, "fid") == 400).all()
    np.testing.assert_allclose(np.abs(pts[:, 1] - 3991985.0), 4.0, atol=1e-3)
    np.testing.assert_allclose(pts[:, 2], plane_height(pts[:, 0], 3991985.0) + 0.3, atol=0.05)


def test_zone_fill_follows_the_terrain_and_outline_closes():
    dem = make_dem()
    layer = make_zones()
    visual = builder_for(layer)(layer, ctx(dem))
    fill, outline = visual.parts
    assert fill.opacity_factor < 1 and not outline.pick_cells
    pts = points_of(visual, 0) + [ORIGIN.x, ORIGIN.y, 0]
    centres = pts.reshape(-1, 4, 3).mean(axis=1)
    assert shapely.contains_xy(shapely.box(533910, 3992040, 533950, 3992090), centres[:, 0], centres[:, 1]).all()
    # 40 × 50 m at 1 m cells, minus the cells straddling the boundary
    assert 1700 <= len(centres) <= 2000
    np.testing.assert_allclose(pts[:, 2], plane_height(pts[:, 0], pts[:, 1]) + 0.6, atol=1e-3)
    assert outline.polydata.GetNumberOfLines() >= 4


def test_single_style_colours_every_part_of_a_point_layer():
    layer = make_lights()
    layer.style = SingleStyle(colour=(1, 2, 3))
    visual = builder_for(layer)(layer, ctx())
    heads = from_vtk(visual.parts[1].polydata.GetPointData().GetArray("colours"))
    assert (heads == (1, 2, 3)).all()


@pytest.mark.parametrize("feature_class", ["building", "streetlight", "smart_pole", "cabinet", "manhole", "pipe",
                                           "road", "zone", "smart_pole_devices", None])
def test_empty_layers_and_tables_build_without_cells(feature_class):
    dem = make_dem(size=20)
    for geometry, fids in (([], []), ([None], [1])):
        layer = VectorLayer("empty", frame(geometry, fids, height=[10.0] * len(fids)), feature_class=feature_class)
        visual = builder_for(layer)(layer, ctx(dem))
        assert sum(p.polydata.GetNumberOfCells() for p in visual.parts if p.polydata is not None) == 0
