"""City model layer: triangulated 3D buildings (LOD1/LOD2), e.g. from CityJSON.

Geometry is a single triangle mesh in the layer's CRS, with per-triangle ids so picking a
triangle returns the city object it belongs to and the semantic surface it lies on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pyproj import CRS

from qdt.layers.base import Layer, LayerKind

# Semantic surface codes kept per triangle.
SEMANTIC_CODES = {"unknown": 0, "RoofSurface": 1, "WallSurface": 2, "GroundSurface": 3, "ClosureSurface": 4,
                  "OuterCeilingSurface": 5, "OuterFloorSurface": 6, "Window": 7, "Door": 8}


class CityModelLayer(Layer):
    """Buildings as one mesh.

    Parameters
    ----------
    vertices
        (n, 3) float64 world coordinates in ``crs``.
    triangles
        (m, 3) int64 vertex indices.
    triangle_object
        (m,) int64: row of ``objects`` each triangle belongs to (the feature id).
    triangle_semantic
        (m,) uint8 codes from :data:`SEMANTIC_CODES`.
    objects
        One row per city object (index = feature id), parents without geometry
        included (their ``lod`` is None, e.g. a Building made of BuildingParts):
        ``object_id``, ``type``, ``lod``, ``parent`` and the object's attributes.
    """

    kind = LayerKind.CITYMODEL

    def __init__(self, name: str, vertices: np.ndarray, triangles: np.ndarray, triangle_object: np.ndarray,
                 triangle_semantic: np.ndarray, objects: pd.DataFrame, crs: CRS | None, **kw: Any) -> None:
        super().__init__(name, crs, **kw)
        self.vertices = np.asarray(vertices, dtype=np.float64)
        self.triangles = np.asarray(triangles, dtype=np.int64)
        self.triangle_object = np.asarray(triangle_object, dtype=np.int64)
        self.triangle_semantic = np.asarray(triangle_semantic, dtype=np.uint8)
        self.objects = objects.rename_axis("fid")

    def _freeze_data(self) -> None:
        self.objects = self.objects.copy(deep=False)  # copy-on-write snapshot

    @property
    def feature_count(self) -> int:
        return len(self.objects)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        if len(self.vertices) == 0:
            return (np.nan, np.nan, np.nan, np.nan)
        used = self.vertices[np.unique(self.triangles)] if len(self.triangles) else self.vertices
        mn, mx = used.min(axis=0), used.max(axis=0)
        return (float(mn[0]), float(mn[1]), float(mx[0]), float(mx[1]))

    @property
    def z_range(self) -> tuple[float, float]:
        if len(self.vertices) == 0:
            return (np.nan, np.nan)
        return float(self.vertices[:, 2].min()), float(self.vertices[:, 2].max())

    @property
    def columns(self) -> list[str]:
        return list(self.objects.columns)

    def row(self, fid: int) -> dict[str, Any]:
        rec = self.objects.loc[int(fid)]
        return {c: rec[c] for c in self.objects.columns}
