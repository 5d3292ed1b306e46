"""Project coordinate reference system and the local scene origin.

The base map is CGCS2000 / 3-degree Gauss-Krüger CM 120°E (EPSG:4549) with heights in the
1985 national height datum (EPSG:5737). EPSG:4549's declared axis order is northing,
easting, so every transformer here is built with ``always_xy=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

PROJECT_EPSG = 4549
PROJECT_CRS = f"EPSG:{PROJECT_EPSG}"
HEIGHT_EPSG = 5737  # 1985 national height datum
WGS84 = "EPSG:4326"


class CRSProblem(ValueError):
    """A CRS that cannot be understood or used."""


def parse_crs(value: object) -> CRS:
    """Return a pyproj CRS from an EPSG int, "EPSG:n", WKT, URN or CRS; raise CRSProblem."""
    if isinstance(value, CRS):
        return value
    try:
        if isinstance(value, (int, np.integer)):
            return CRS.from_epsg(int(value))
        # PROJ parses every form itself: OGC URLs (.../EPSG/0/7415), URNs (urn:ogc:def:crs:EPSG::7415),
        # compound URNs (urn:ogc:def:crs,crs:EPSG::4549,crs:EPSG::5737), "EPSG:4549+5737", WKT, PROJJSON
        text = str(value).strip().rstrip("/")
        if not text:
            raise ValueError("empty")
        return CRS.from_user_input(text)
    except (CRSError, ValueError, TypeError) as exc:
        raise CRSProblem(f"unrecognised coordinate reference system {value!r}") from exc


def metric_crs(crs: CRS | str | int, bbox: tuple[float, float, float, float] | None) -> CRS:
    """The CRS to measure data in metres: its own when projected; for geographic data (degrees)
    the project CRS when the data lies in its area of use, else the WGS 84 UTM zone of the
    data's centre (scale error under 0.04 % within the zone), chosen from PROJ's database.

    ``bbox`` is (xmin, ymin, xmax, ymax) in ``crs``. CRSProblem when no zone fits (no bbox).
    """
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    crs = horizontal_crs(parse_crs(crs))
    if crs.is_projected:
        return crs
    if bbox is None or not np.all(np.isfinite(bbox)):
        raise CRSProblem(f"data in the geographic CRS {crs_label(crs)} has no extent to choose a metric CRS from")
    west, south, east, north = transformer(crs, WGS84).transform_bounds(*bbox)
    project = parse_crs(PROJECT_CRS)
    area = project.area_of_use
    if area is not None and area.west <= west and east <= area.east and area.south <= south and north <= area.north:
        return project
    lon, lat = (west + east) / 2, (south + north) / 2
    zones = query_utm_crs_info(datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat))
    if not zones:
        raise CRSProblem(f"no UTM zone covers {lon:.3f}, {lat:.3f}")
    return CRS.from_authority(zones[0].auth_name, zones[0].code)


def crs_label(crs: CRS | None) -> str:
    """"EPSG:4549" when the CRS has an EPSG code, otherwise its name; "未知" (unknown) for None."""
    if crs is None:
        return "unknown"
    code = crs.to_epsg(min_confidence=70)
    if code is not None:
        return f"EPSG:{code}"
    horizontal = crs.sub_crs_list[0] if crs.is_compound and crs.sub_crs_list else None
    if horizontal is not None and horizontal.to_epsg() is not None:
        return f"EPSG:{horizontal.to_epsg()}"
    return crs.name


def horizontal_crs(crs: CRS) -> CRS:
    """The 2D part of a compound CRS (EPSG:4549+5737 → EPSG:4549)."""
    if crs.is_compound and crs.sub_crs_list:
        return crs.sub_crs_list[0]
    return crs


@lru_cache(maxsize=64)
def _transformer(src_wkt: str, dst_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(src_wkt), CRS.from_wkt(dst_wkt), always_xy=True)


def transformer(src: CRS | str | int, dst: CRS | str | int = PROJECT_CRS) -> Transformer:
    """A cached x/y-ordered transformer between the horizontal parts of two CRSs."""
    s = horizontal_crs(parse_crs(src))
    d = horizontal_crs(parse_crs(dst))
    return _transformer(s.to_wkt(), d.to_wkt())


def same_crs(a: CRS | None, b: CRS | None) -> bool:
    if a is None or b is None:
        return a is b
    return horizontal_crs(a).equals(horizontal_crs(b), ignore_axis_order=True)


def to_lonlat(x: np.ndarray, y: np.ndarray, src: CRS | str | int = PROJECT_CRS) -> tuple[np.ndarray, np.ndarray]:
    return transformer(src, WGS84).transform(x, y)


@dataclass(frozen=True)
class SceneOrigin:
    """Float64 world origin subtracted before coordinates go to float32 on the GPU.

    Gauss-Krüger northings near 4 000 000 m keep only ~0.25 m resolution in float32;
    relative to an origin inside the district they keep well under a millimetre.
    """

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0

    @classmethod
    def from_bounds(cls, bounds: tuple[float, float, float, float], z: float = 0.0) -> SceneOrigin:
        xmin, ymin, xmax, ymax = bounds
        # round to whole metres so the origin is readable in logs and project files
        return cls(float(round((xmin + xmax) / 2)), float(round((ymin + ymax) / 2)), float(z))

    def to_local(self, xyz: np.ndarray) -> np.ndarray:
        """World (n, 3) float64 → local (n, 3) float32."""
        xyz = np.asarray(xyz, dtype=np.float64)
        out = np.empty(xyz.shape, dtype=np.float32)
        out[..., 0] = xyz[..., 0] - self.x
        out[..., 1] = xyz[..., 1] - self.y
        out[..., 2] = xyz[..., 2] - self.z
        return out

    def to_world(self, local: np.ndarray) -> np.ndarray:
        """Local (n, 3) → world (n, 3) float64."""
        local = np.asarray(local, dtype=np.float64)
        return local + np.array([self.x, self.y, self.z])
