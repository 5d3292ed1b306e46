"""Model-tier tests of the core: CRS, scene origin, events, styles, layer list."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from qdt.crs import CRSProblem, SceneOrigin, crs_label, parse_crs, to_lonlat, transformer
from qdt.events import Signal
from qdt.layers import CategorisedStyle, GraduatedStyle, LayerList, SingleStyle, VectorLayer, style_from_dict


def test_qingdao_check_point_in_epsg_4549():
    # CIM.md: 120.38°E 36.07°N → E 534 231.97, N 3 993 376.68 (verified with pyproj)
    x, y = transformer("EPSG:4326", "EPSG:4549").transform(120.38, 36.07)
    assert x == pytest.approx(534231.97, abs=0.01)
    assert y == pytest.approx(3993376.68, abs=0.01)
    lon, lat = to_lonlat(np.array([x]), np.array([y]))
    assert float(lon[0]) == pytest.approx(120.38, abs=1e-9) and float(lat[0]) == pytest.approx(36.07, abs=1e-9)


def test_zone_prefixed_gauss_kruger_differs_by_false_easting():
    x, y = transformer("EPSG:4528", "EPSG:4549").transform(40_534_231.97, 3_993_376.68)
    assert x == pytest.approx(534231.97, abs=1e-6) and y == pytest.approx(3993376.68, abs=1e-6)


@pytest.mark.parametrize("text", ["https://www.opengis.net/def/crs/EPSG/0/7415", "urn:ogc:def:crs:EPSG::7415",
                                  "EPSG:7415", 7415])
def test_parse_crs_accepts_cityjson_forms(text):
    assert parse_crs(text).to_epsg() == 7415


def test_crs_label_of_compound_uses_horizontal():
    assert crs_label(parse_crs("EPSG:4549")) == "EPSG:4549"
    assert crs_label(parse_crs("EPSG:4549+5737")) == "EPSG:4549"
    with pytest.raises(CRSProblem):
        parse_crs("not a crs at all")


def test_scene_origin_keeps_centimetres_in_float32():
    world = np.array([[534231.97, 3993376.68, 12.34], [535999.99, 3991000.01, -3.21]])
    origin = SceneOrigin.from_bounds((533000, 3990000, 537000, 3994000))
    local = origin.to_local(world)
    assert local.dtype == np.float32
    assert np.abs(origin.to_world(local) - world).max() < 0.005
    # without an origin float32 loses far more than a centimetre at these northings
    assert np.abs(world.astype(np.float32).astype(np.float64) - world).max() > 0.05


def test_signal_weak_methods_and_blocking():
    calls = []

    class Listener:
        def on(self, value):
            calls.append(value)

    sig = Signal()
    listener = Listener()
    sig.connect(listener.on)
    sig.emit(1)
    with sig.blocked():
        sig.emit(2)
    del listener
    sig.emit(3)
    assert calls == [1]
    assert len(sig) == 0


def _points_layer():
    frame = gpd.GeoDataFrame({"status": [1, 2, 3, 1], "height": [5.0, 10.0, 15.0, np.nan]},
                             geometry=shapely.points([0, 1, 2, 3], [0, 1, 2, 3]), crs="EPSG:4549",
                             index=pd_index([10, 11, 12, 13]))
    return VectorLayer("lights", frame, feature_class="streetlight")


def pd_index(values):
    import pandas as pd

    return pd.Index(values, name="fid")


def test_styles_colour_features_and_round_trip():
    layer = _points_layer()
    cat = CategorisedStyle(field="status", categories={"1": ("正常", (0, 200, 0)), "2": ("故障", (220, 0, 0))})
    cols = cat.colours(layer.frame, len(layer.frame))
    assert cols.tolist() == [[0, 200, 0], [220, 0, 0], list(cat.default), [0, 200, 0]]
    grad = GraduatedStyle.equal_interval("height", layer.frame["height"], classes=2, ramp="Blues")
    g = grad.colours(layer.frame, 4)
    assert (g[0] != g[2]).any() and g[3].tolist() == list(grad.default)
    for style in (cat, grad, SingleStyle((1, 2, 3))):
        assert style_from_dict(style.to_dict()) == style


def test_layer_events_and_layer_list():
    layer = _points_layer()
    seen = []
    layers = LayerList()
    layers.events.selection.connect(lambda lyr, fids: seen.append((lyr.name, sorted(fids))))
    layers.append(layer)
    layer.selection = [11, 12]
    layer.selection = [11, 12]  # unchanged: no event
    assert seen == [("lights", [11, 12])]
    assert layers["lights"] is layer and layer.fids.tolist() == [10, 11, 12, 13]
    assert layers.bounds == (0.0, 0.0, 3.0, 3.0)
    layers.remove(layer)
    layer.selection = []
    assert len(seen) == 1
