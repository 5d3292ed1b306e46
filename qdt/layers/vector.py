"""Vector layer: a GeoDataFrame indexed by stable feature id (the GeoPackage fid)."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from qdt.layers.base import Layer, LayerKind


class VectorLayer(Layer):
    """Features of one facility class.

    ``frame`` is a GeoDataFrame whose index is the feature id (named ``fid``) and whose
    geometry is in the layer's CRS. ``feature_class`` names the CIM catalogue class its
    columns follow (after alias mapping), or ``None`` for a plain layer.
    """

    kind = LayerKind.VECTOR

    def __init__(self, name: str, frame: gpd.GeoDataFrame, *, feature_class: str | None = None, **kw: Any) -> None:
        geometry_column = getattr(frame, "_geometry_column_name", None)
        crs = frame.crs if geometry_column is not None and geometry_column in frame.columns else None
        super().__init__(name, crs, **kw)
        if frame.index.name != "fid":
            frame = frame.rename_axis("fid")
        self.frame = frame
        self.feature_class = feature_class

    @property
    def feature_count(self) -> int:
        return len(self.frame)

    @property
    def geometry_column(self) -> str | None:
        """Name of the active geometry column; None for an attribute-only table."""
        return getattr(self.frame, "_geometry_column_name", None) if isinstance(self.frame, gpd.GeoDataFrame) else None

    @property
    def has_geometry(self) -> bool:
        return self.geometry_column is not None and self.geometry_column in self.frame.columns

    @property
    def fids(self) -> np.ndarray:
        return self.frame.index.to_numpy(dtype=np.int64)

    @property
    def geometry(self) -> np.ndarray:
        if not self.has_geometry:
            return np.empty(0, dtype=object)
        return self.frame.geometry.to_numpy()

    @property
    def geometry_type(self) -> str:
        types = shapely.get_type_id(self.geometry)
        types = types[types >= 0]
        if types.size == 0:
            return "Unknown"
        names = {0: "Point", 1: "LineString", 2: "LineString", 3: "Polygon", 4: "Point", 5: "LineString", 6: "Polygon"}
        return names.get(int(np.bincount(types).argmax()), "Unknown")

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        if len(self.frame) == 0 or not self.has_geometry:
            return (np.nan, np.nan, np.nan, np.nan)
        b = shapely.total_bounds(self.geometry)
        return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))

    @property
    def columns(self) -> list[str]:
        return [c for c in self.frame.columns if c != self.geometry_column]

    def row(self, fid: int) -> dict[str, Any]:
        """Attribute values of one feature (without geometry)."""
        rec = self.frame.loc[int(fid)]
        return {c: rec[c] for c in self.columns}

    def replace_frame(self, frame: gpd.GeoDataFrame) -> None:
        """Swap in new features; listeners hear ``data(DataChange())`` (everything changed)."""
        self.frame = frame.rename_axis("fid")
        self.notify_data()

    def _freeze_data(self) -> None:
        self.frame = self.frame.copy(deep=False)  # copy-on-write: a snapshot edits do not reach
