"""A synthetic district near Qingdao (EPSG:4549, around E 534 000 N 3 992 000) for render tests:
DEM, buildings, roads, streetlights, smart poles, pipes and a zone made with numpy and shapely in bulk
(kept from the former ``qdt.render.synthetic``)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from qdt.crs import PROJECT_CRS
from qdt.layers import LayerList, RasterLayer, VectorLayer

CENTRE = (534000.0, 3992000.0)


def synthetic_dem(extent: float, pixel: float = 2.0, centre: tuple[float, float] = CENTRE) -> RasterLayer:
    """A hill rising north-east out of the sea (heights below 0 m along the south edge)."""
    n = int(round(extent / pixel))
    x0, y1 = centre[0] - extent / 2, centre[1] + extent / 2
    cols = np.arange(n) + 0.5
    rows = np.arange(n) + 0.5
    xx, yy = np.meshgrid(cols / n, 1 - rows / n)  # 0..1 west→east, south→north
    z = -6.0 + 40.0 * yy ** 1.5 + 25.0 * np.exp(-((xx - 0.75) ** 2 + (yy - 0.7) ** 2) / 0.03)
    return RasterLayer("DEM", z[np.newaxis].astype(np.float32), (pixel, 0.0, x0, 0.0, -pixel, y1),
                       CRS.from_user_input(PROJECT_CRS), role="dem", nodata=np.nan)


def _frame(geometry: np.ndarray, **columns: np.ndarray) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(columns, geometry=geometry, crs=PROJECT_CRS)
    frame.index = np.arange(1, len(frame) + 1)
    return frame.rename_axis("fid")


def synthetic_layers(n_buildings: int = 200, n_lights: int = 300, n_pipes: int = 40, seed: int = 7,
                     extent: float | None = None) -> LayerList:
    """DEM, buildings (rectangles, L shapes, courtyards), roads, streetlights, smart poles, pipes, zones."""
    rng = np.random.default_rng(seed)
    block = 40.0  # m between building centres
    side = int(np.ceil(np.sqrt(n_buildings)))
    extent = extent or max(600.0, side * block + 200.0)
    layers = LayerList()
    layers.append(synthetic_dem(extent, pixel=max(2.0, extent / 1000)))

    # buildings on a grid, a third L-shaped, a tenth with a courtyard
    k = np.arange(n_buildings)
    cx = CENTRE[0] + (k % side - side / 2) * block + rng.uniform(-3, 3, n_buildings)
    cy = CENTRE[1] + (k // side - side / 2) * block + rng.uniform(-3, 3, n_buildings)
    w = rng.uniform(12, 24, n_buildings)
    d = rng.uniform(10, 20, n_buildings)
    boxes = shapely.box(cx - w / 2, cy - d / 2, cx + w / 2, cy + d / 2)
    notch = shapely.box(cx, cy, cx + w / 2, cy + d / 2)
    court = shapely.box(cx - w / 5, cy - d / 5, cx + w / 5, cy + d / 5)
    kind = k % 10
    geometry = np.where(kind % 3 == 1, shapely.difference(boxes, notch), boxes)
    geometry = np.where(kind == 9, shapely.difference(boxes, court), geometry)
    floors = rng.integers(2, 30, n_buildings)
    layers.append(VectorLayer("buildings", _frame(geometry, height=floors * 3.0 + rng.uniform(0, 2, n_buildings),
                                                  floors=floors), feature_class="building"))

    # roads between the building rows
    half = side * block / 2
    offsets = (np.arange(side + 1) - side / 2 - 0.5) * block
    ew = shapely.linestrings([[[CENTRE[0] - half, CENTRE[1] + o], [CENTRE[0] + half, CENTRE[1] + o]] for o in offsets])
    ns = shapely.linestrings([[[CENTRE[0] + o, CENTRE[1] - half], [CENTRE[0] + o, CENTRE[1] + half]] for o in offsets])
    roads = np.concatenate([ew, ns])
    layers.append(VectorLayer("roads", _frame(roads, width=np.full(len(roads), 9.0)), feature_class="road"))

    # streetlights every 30 m along the roads, 5 m off the centre line; every fifth a smart pole
    along = shapely.line_interpolate_point(np.repeat(roads, 200), np.tile(np.arange(200) * 30.0, len(roads)))
    along = along[~shapely.is_empty(along)]
    along = along[rng.permutation(len(along))[: n_lights]] if len(along) > n_lights else along
    pts = shapely.get_coordinates(along) + [5.0, 5.0]
    while len(pts) < n_lights:  # large requests: more rows of lights
        pts = np.concatenate([pts, pts + rng.uniform(-8, 8, pts.shape)])[:n_lights]
    lights = shapely.points(pts)
    smart = np.arange(len(lights)) % 5 == 0
    status = rng.choice([1, 1, 1, 1, 2, 3, 4], len(lights))
    layers.append(VectorLayer("streetlights", _frame(lights[~smart], status=status[~smart],
                                                     pole_height=np.full((~smart).sum(), 10.0)),
                              feature_class="streetlight"))
    layers.append(VectorLayer("smart_poles", _frame(lights[smart], status=status[smart],
                                                    pole_height=np.full(smart.sum(), 12.0)),
                              feature_class="smart_pole"))

    # pipes under the east-west roads, one network per road
    networks = np.array(["JS", "PS", "RQ", "RL", "DL", "TX"])
    take = np.arange(n_pipes) % len(ew)
    shift = (np.arange(n_pipes) // len(ew)) * 1.5 - 3.0
    y = CENTRE[1] + offsets[take] + shift
    x0 = CENTRE[0] + rng.uniform(-half, max(half - 150.0, -half + 1.0), n_pipes)  # 60–150 m runs, as surveyed
    x1 = np.minimum(x0 + rng.uniform(60.0, 150.0, n_pipes), CENTRE[0] + half)
    pipes = shapely.linestrings(np.stack([np.stack([x0, y], 1), np.stack([x1, y], 1)], axis=1))
    layers.append(VectorLayer("pipes", _frame(pipes, network=networks[np.arange(n_pipes) % 6],
                                              diameter_mm=rng.choice([150, 300, 600, 1000], n_pipes).astype(float),
                                              depth_start=rng.uniform(0.8, 2.5, n_pipes),
                                              depth_end=rng.uniform(0.8, 2.5, n_pipes)), feature_class="pipe"))

    zone = shapely.box(CENTRE[0] - half / 2, CENTRE[1] - half / 2, CENTRE[0] + half / 3, CENTRE[1] + half / 3)
    layers.append(VectorLayer("zones", _frame(np.array([zone], dtype=object), grid_code=np.array(["370202001"])),
                              feature_class="zone"))
    return layers
