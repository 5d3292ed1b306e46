"""Value objects shared by readers and data sources, and the :class:`Reader` plug-in interface."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyproj import CRS

from qdt.crs import crs_label
from qdt.layers.base import Layer
from qdt.tasks import check_cancel

ProgressFn = Callable[[float, str], None]
CancelFn = Callable[[], bool]

# Longest side, in pixels, of a raster read into memory (an overview or decimated read).
DEFAULT_MAX_RASTER_SIZE = 2048


@dataclass(frozen=True)
class LayerSource:
    """Where a layer comes from and how to interpret it.

    Parameters
    ----------
    path
        File path.
    layer
        Layer name inside a multi-layer file (GeoPackage); ``None`` for single-layer files.
    kind
        ``"vector"``, ``"raster"`` or ``"citymodel"``; guessed from the file name when ``None``.
    name
        Display name; defaults to the layer name or the file stem.
    crs
        Declared CRS ("EPSG:4549", EPSG int, WKT, URN) for data that has none, or to
        override a wrong one (a warning says so).
    feature_class
        CIM catalogue class the columns follow (aliases are mapped, values coerced).
    role
        Rasters: ``"dem"``, ``"ortho"`` or ``"image"``; guessed from bands and dtype if ``None``.
    lod
        City models: level of detail to take ("1.2", "2", "2.2"); ``None`` takes each
        object's highest. "2" also matches "2.x" when an object has no plain "2".
    anchor
        Models in local coordinates (a local 3D Tiles set, an IFC without map conversion):
        (x, y, z[, rotation°]) in the project CRS where their origin goes.
    """

    path: str | os.PathLike[str]
    layer: str | None = None
    kind: str | None = None
    name: str | None = None
    crs: Any = None
    feature_class: str | None = None
    role: str | None = None
    lod: str | None = None
    anchor: tuple[float, ...] | None = None


@dataclass(frozen=True)
class FeatureRequest:
    """What to read from a layer (the QGIS QgsFeatureRequest idea, as a value object).

    Parameters
    ----------
    bbox
        (xmin, ymin, xmax, ymax): only features (city objects, raster window) intersecting it.
    bbox_crs
        CRS of ``bbox``; ``None`` means the layer's own CRS.
    fids
        Only these feature ids.
    columns
        Only these attribute columns (``None`` = all).
    no_geometry
        Attributes only (vector and city model objects).
    max_raster_size
        Rasters: the longest side read; bigger rasters are read at an overview or decimated.
    limit
        Vectors: at most this many features, lowest fids first (a view window's budget; 0 reads
        the layer's structure only). Sources with ``WINDOWED_READS`` apply it in the store.
    """

    bbox: tuple[float, float, float, float] | None = None
    bbox_crs: Any = None
    fids: tuple[int, ...] | None = None
    columns: tuple[str, ...] | None = None
    no_geometry: bool = False
    max_raster_size: int = DEFAULT_MAX_RASTER_SIZE
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.fids is not None:
            object.__setattr__(self, "fids", tuple(int(f) for f in self.fids))
        if self.columns is not None:
            object.__setattr__(self, "columns", tuple(str(c) for c in self.columns))
        if self.bbox is not None:
            object.__setattr__(self, "bbox", tuple(float(v) for v in self.bbox))


@dataclass
class LayerInfo:
    """Metadata of one layer, read without loading features or pixels."""

    name: str
    kind: str
    crs: CRS | None
    bbox: list[float] | None
    count: int | None = None
    size: list[int] | None = None
    geometry_type: str | None = None
    fields: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The ``dataset_info`` dict: name, kind, count or size, crs ("EPSG:n" or None), bbox, geometry_type, fields."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "raster":
            out["size"] = self.size  # [columns, rows, bands]
        out["count"] = self.count  # features; for a raster its band count
        out["crs"] = crs_label(self.crs) if self.crs is not None else None
        out["bbox"] = self.bbox
        out["geometry_type"] = self.geometry_type
        out["fields"] = self.fields
        out.update(self.extra)
        return out


@dataclass
class LoadResult:
    """A layer ready for the project (in the project CRS) and the warnings met on the way."""

    layer: Layer
    warnings: list[str] = field(default_factory=list)


@dataclass
class SourceData:
    """What a data source hands back: a layer in the data's own CRS (``crs`` None if the data has none)."""

    layer: Layer
    warnings: list[str] = field(default_factory=list)
    has_geometry: bool = True


@dataclass
class ReadContext:
    """Progress/cancel callbacks and format options passed down to a reader."""

    progress: ProgressFn | None = None
    is_cancelled: CancelFn | None = None
    lod: str | None = None
    role: str | None = None
    anchor: tuple[float, ...] | None = None

    def report(self, fraction: float, message: str) -> None:
        if self.progress is not None:
            self.progress(min(1.0, max(0.0, fraction)), message)

    def check(self) -> None:
        """Raise :class:`qdt.tasks.Cancelled` if the user cancelled."""
        if self.is_cancelled is not None:
            check_cancel(self.is_cancelled)


class Reader(ABC):
    """A file-format plug-in. Instances are stateless; register subclasses with ``register_reader``."""

    @abstractmethod
    def layer_names(self, path: str) -> list[str]:
        """Names of the layers in the file."""

    @abstractmethod
    def info(self, path: str) -> list[LayerInfo]:
        """Metadata of every layer, fast (no features, no pixels, no triangulation)."""

    @abstractmethod
    def read(self, path: str, layer: str | None, request: FeatureRequest, context: ReadContext) -> SourceData:
        """Read one layer in the data's own CRS; raise :class:`qdt.io.ReadError` on bad input."""
