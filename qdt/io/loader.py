"""``load_layer``, ``dataset_info`` and ``list_layers``: the entry points of :mod:`qdt.io`."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from pyproj import CRS

from qdt.crs import PROJECT_CRS, CRSProblem, parse_crs
from qdt.io.base import CancelFn, FeatureRequest, LayerSource, LoadResult, ProgressFn, ReadContext, SourceData
from qdt.io.cityjson import prepare_citymodel
from qdt.io.datasource import open_datasource
from qdt.io.errors import ReadError
from qdt.io.raster import prepare_raster
from qdt.io.tiles3d_layer import prepare_tileset
from qdt.io.vector import prepare_vector

Preparer = Callable[[SourceData, LayerSource, CRS, ReadContext], LoadResult]

# What turns a source layer (own CRS) into a project layer, per layer kind.
PREPARERS: dict[str, Preparer] = {"vector": prepare_vector, "raster": prepare_raster, "citymodel": prepare_citymodel,
                                 "tileset": prepare_tileset}


def load_layer(source: LayerSource | str | os.PathLike[str], project_crs: Any = PROJECT_CRS,
               progress: ProgressFn | None = None, is_cancelled: CancelFn | None = None, *,
               request: FeatureRequest | None = None) -> LoadResult:
    """Read a layer into the project CRS.

    Parameters
    ----------
    source
        What to read; a plain path is taken as ``LayerSource(path)``.
    project_crs
        Target CRS (EPSG:4549 by default); XY are transformed, Z is kept.
    progress, is_cancelled
        Task callbacks: ``progress(fraction, message)``; ``is_cancelled()`` → True makes
        the read raise :class:`qdt.tasks.Cancelled` at the next check.
    request
        Subset to read (bbox, fids, columns, no geometry, raster size); all by default.

    Returns
    -------
    LoadResult
        The layer and the warnings met (repairs, guessed encodings, value problems, ...).

    Raises
    ------
    ReadError
        Missing or corrupt file, unknown layer, data without a CRS that is not declared,
        broken city-model indices. ``str()`` is one line naming the file and layer.
    """
    if not isinstance(source, LayerSource):
        source = LayerSource(source)
    try:
        target = parse_crs(project_crs)
    except CRSProblem as exc:
        raise ReadError(f"project CRS {project_crs!r} is not a coordinate reference system") from exc
    context = ReadContext(progress=progress, is_cancelled=is_cancelled, lod=source.lod, role=source.role,
                          anchor=source.anchor)
    datasource = open_datasource(source)
    context.check()
    data = datasource.read(source.layer, request or FeatureRequest(), context)
    context.check()
    result = PREPARERS[datasource.kind](data, source, target, context)
    context.report(1.0, "loaded")
    return result


def dataset_info(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Metadata of every layer in a file, without reading features, pixels or triangulating.

    Each dict has ``name``, ``kind``, ``count`` (vector: the feature count GDAL reports;
    city model: the number of CityObjects) or ``size`` ([cols, rows, bands] for rasters),
    ``crs`` ("EPSG:n" or None), ``bbox`` ([xmin, ymin, xmax, ymax] in the dataset's own
    CRS), ``geometry_type`` and ``fields`` (list of {"name", "type"}), plus format extras
    (CityJSON: ``version``, ``types`` counts, ``lods``, ``zrange``; raster: ``nodata``, ``role``).
    """
    return [info.as_dict() for info in open_datasource(path).layers()]


def list_layers(path: str | os.PathLike[str]) -> list[str]:
    """Layer names in a file (one for single-layer formats) or a ``postgis:`` database."""
    return open_datasource(path).layer_names()


def dataset_metric_crs(path: str | os.PathLike[str], layer: str | None) -> tuple[CRS, str | None]:
    """The CRS to query a dataset opened directly (not through a project) in, and a note.

    Distances are metres only in a projected CRS: a projected layer is measured in its own CRS
    (never forced into the project's, which would scale UK or Dutch metres by the Gauss-Krüger
    zone's distortion); a geographic one in :func:`qdt.crs.metric_crs` (the project CRS inside
    its area, else the local UTM zone), with a note saying so. A layer without a CRS falls back
    to the project CRS (the loader then asks for a declared CRS).
    """
    from qdt.crs import crs_label, metric_crs

    info = next((i for i in dataset_info(path) if layer is None or i["name"] == layer), None)
    if info is None or not info.get("crs"):
        return parse_crs(PROJECT_CRS), None
    try:
        own = parse_crs(info["crs"])
        crs = metric_crs(own, info.get("bbox"))
    except CRSProblem:
        return parse_crs(PROJECT_CRS), None
    note = None
    if own.is_geographic:
        note = (f"layer {info['name']!r} in {os.path.basename(os.fspath(path))!r} is in the geographic CRS "
                f"{crs_label(own)}; distances are measured in {crs_label(crs)} ({crs.name})")
    return crs, note
