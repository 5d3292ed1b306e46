"""GeoTIFF reader (rasterio) for DEMs and orthophotos, and the raster load pipeline.

Big rasters are read decimated (GDAL picks an overview when the file has one) so the
longest side is at most ``FeatureRequest.max_raster_size`` pixels; ``full_shape`` keeps
the size on disk. Nodata (and NaN) become ``mask``; DEM heights become float32 with NaN
where there is no data, so arithmetic downstream cannot pick up a sentinel like -9999.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import rasterio
import rasterio.errors
from affine import Affine
from pyproj import CRS
from rasterio.crs import CRS as RioCRS
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject
from rasterio.windows import Window

from qdt.crs import crs_label, horizontal_crs, parse_crs, same_crs, transformer
from qdt.io.base import FeatureRequest, LayerInfo, LayerSource, LoadResult, ReadContext, Reader, SourceData
from qdt.io.errors import ReadError, display_name, short_reason
from qdt.io.registry import register_reader
from qdt.io.vector import note_outside_area, resolve_crs
from qdt.layers.raster import RasterLayer

ROLES = ("dem", "ortho", "image")


def guess_role(count: int, dtype: str) -> str:
    """1 band of floats or signed integers → "dem"; 3/4 bands of uint8 → "ortho"; else "image"."""
    kind = np.dtype(dtype).kind
    if count == 1 and kind in "fi":
        return "dem"
    if count in (3, 4) and np.dtype(dtype) == np.uint8:
        return "ortho"
    return "image"


def _open(path: str) -> rasterio.DatasetReader:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            return rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        if not os.path.exists(path):
            raise ReadError(f"cannot read {display_name(path)!r}: file not found") from exc
        raise ReadError(f"cannot read {display_name(path)!r}: file is not a GeoTIFF or is corrupt "
                        f"({short_reason(exc)})") from exc


def _pyproj(crs: RioCRS | None) -> CRS | None:
    if crs is None:
        return None
    return CRS.from_wkt(crs.to_wkt())


def _rio(crs: CRS) -> RioCRS:
    return RioCRS.from_wkt(horizontal_crs(crs).to_wkt())


def _window_for(bbox: tuple[float, ...], transform: Affine) -> Window:
    """Whole pixels covering ``bbox`` (may reach outside the raster; intersect afterwards)."""
    xmin, ymin, xmax, ymax = bbox
    inverse = ~transform
    cols, rows = [], []
    for x, y in ((xmin, ymin), (xmin, ymax), (xmax, ymin), (xmax, ymax)):
        col, row = inverse @ (x, y)
        cols.append(col)
        rows.append(row)
    col0, row0 = math.floor(min(cols) + 1e-9), math.floor(min(rows) + 1e-9)
    col1, row1 = math.ceil(max(cols) - 1e-9), math.ceil(max(rows) - 1e-9)
    return Window(col0, row0, max(0, col1 - col0), max(0, row1 - row0))


@register_reader("raster", ("*.tif", "*.tiff", "*.gtif"), name="GeoTIFF")
class GeoTIFFReader(Reader):
    def layer_names(self, path: str) -> list[str]:
        return [os.path.splitext(os.path.basename(path))[0]]

    def info(self, path: str) -> list[LayerInfo]:
        with _open(path) as src:
            b = src.bounds
            fields = [{"name": f"band{i + 1}", "type": str(t)} for i, t in enumerate(src.dtypes)]
            # without a geotransform rasterio reports pixel bounds top-down (bottom > top): order them
            bbox = [float(min(b.left, b.right)), float(min(b.bottom, b.top)), float(max(b.left, b.right)),
                    float(max(b.bottom, b.top))]
            georeferenced = not (src.transform.is_identity and not src.gcps[0])
            return [LayerInfo(name=self.layer_names(path)[0], kind="raster", crs=_pyproj(src.crs),
                              bbox=bbox, count=src.count, size=[src.width, src.height, src.count], fields=fields,
                              extra={"nodata": src.nodata, "role": guess_role(src.count, src.dtypes[0]),
                                     "overviews": src.overviews(1), "georeferenced": georeferenced})]

    def read(self, path: str, layer: str | None, request: FeatureRequest, context: ReadContext) -> SourceData:
        name = self.layer_names(path)[0]
        if layer is not None and layer != name:
            raise ReadError(f"layer {layer!r} not found in {display_name(path)!r} (available: {name})")
        if context.role is not None and context.role not in ROLES:
            raise ReadError(f"{display_name(path)!r}: unknown raster role {context.role!r} "
                            f"(expected one of {', '.join(ROLES)})")
        with _open(path) as src:
            file_crs = _pyproj(src.crs)
            window = Window(0, 0, src.width, src.height)
            if request.bbox is not None:
                bbox = request.bbox
                if request.bbox_crs is not None and file_crs is not None and not same_crs(parse_crs(request.bbox_crs),
                                                                                           file_crs):
                    bbox = transformer(request.bbox_crs, file_crs).transform_bounds(*bbox)
                wanted = _window_for(bbox, src.transform)
                try:
                    window = wanted.intersection(window)
                except rasterio.errors.WindowError as exc:
                    raise ReadError(f"{display_name(path)!r}: the requested area does not overlap the raster") from exc
            scale = max(1.0, max(window.width, window.height) / max(1, request.max_raster_size))
            out_rows = max(1, int(round(window.height / scale)))
            out_cols = max(1, int(round(window.width / scale)))
            context.report(0.2, f"reading {name}")
            try:
                data = src.read(window=window, out_shape=(src.count, out_rows, out_cols), resampling=Resampling.nearest)
                valid = src.dataset_mask(window=window, out_shape=(out_rows, out_cols)) > 0
            except rasterio.errors.RasterioIOError as exc:
                raise ReadError(f"cannot read {display_name(path)!r}: file is not a GeoTIFF or is corrupt "
                                f"({short_reason(exc)})") from exc
            transform = (src.transform @ Affine.translation(window.col_off, window.row_off)
                         @ Affine.scale(window.width / out_cols, window.height / out_rows))
            role = context.role or guess_role(src.count, src.dtypes[0])
            nodata = src.nodata
            full_shape = (src.height, src.width)
        context.check()
        mask = ~valid
        if data.dtype.kind == "f":
            mask |= np.isnan(data).any(axis=0)
        if role == "dem":
            data = data[:1].astype(np.float32)
            data[0][mask] = np.nan
        layer = RasterLayer(name, data, tuple(transform)[:6], file_crs, role=role, mask=mask,
                            nodata=np.nan if role == "dem" else nodata, full_shape=full_shape,
                            source=path, source_layer=name,
                            metadata={"source_nodata": nodata, "decimation": round(scale, 3)})
        notes = []
        if scale > 1:
            notes.append(f"{display_name(path)}: read at 1/{scale:.3g} resolution "
                         f"({out_cols}×{out_rows} of {full_shape[1]}×{full_shape[0]} pixels)")
        return SourceData(layer, notes)


def reproject_raster(layer: RasterLayer, src_crs: CRS, dst_crs: CRS) -> tuple[np.ndarray, np.ndarray, Affine]:
    """Warp data and mask to ``dst_crs`` at about the same resolution; returns (data, mask, transform)."""
    bands, rows, cols = layer.data.shape
    left, bottom, right, top = layer.bounds
    src_transform = Affine(*layer.transform)
    s, d = _rio(src_crs), _rio(dst_crs)
    with warnings.catch_warnings():
        # rasterio 1.4 multiplies Affines with "*" inside this call; affine 3 flags that as pending deprecation
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        dst_transform, width, height = calculate_default_transform(s, d, cols, rows, left, bottom, right, top)
    if layer.role == "dem":
        out = np.full((1, height, width), np.nan, dtype=np.float32)
        reproject(layer.data[0], out[0], src_transform=src_transform, src_crs=s, src_nodata=np.nan,
                  dst_transform=dst_transform, dst_crs=d, dst_nodata=np.nan, resampling=Resampling.bilinear)
        return out, np.isnan(out[0]), dst_transform
    fill = layer.nodata if layer.nodata is not None else 0
    out = np.full((bands, height, width), fill, dtype=layer.data.dtype)
    for band in range(bands):
        reproject(layer.data[band], out[band], src_transform=src_transform, src_crs=s,
                  src_nodata=layer.nodata, dst_transform=dst_transform, dst_crs=d, dst_nodata=fill,
                  resampling=Resampling.nearest)
    valid = np.zeros((height, width), dtype=np.uint8)
    reproject(np.where(layer.mask, 0, 255).astype(np.uint8), valid, src_transform=src_transform, src_crs=s,
              src_nodata=0, dst_transform=dst_transform, dst_crs=d, dst_nodata=0, resampling=Resampling.nearest)
    return out, valid == 0, dst_transform


def prepare_raster(data: SourceData, source: LayerSource, project_crs: CRS, context: ReadContext) -> LoadResult:
    """Declared/own CRS (refused if none), warp to the project CRS, CIM metadata."""
    layer = data.layer
    assert isinstance(layer, RasterLayer)
    path = os.fspath(source.path)
    where = f"raster {display_name(path)!r}"
    notes = list(data.warnings)
    crs = resolve_crs(layer.crs, source.crs, where, notes)
    if Affine(*layer.transform).is_identity:
        rows, cols = layer.full_shape if getattr(layer, "full_shape", None) else layer.data.shape[-2:]
        notes.append(f"{where} has no geotransform: placed at pixel coordinates (0, 0)–({cols}, {rows}) of "
                     f"{crs_label(crs)}; georeference it (e.g. gdal_translate -a_ullr) to place it on the map")
    source_label = crs_label(crs)
    note_outside_area(crs, layer.bounds, project_crs, where, notes)
    if not same_crs(crs, project_crs):
        context.report(0.6, f"reprojecting {layer.name}")
        values, mask, transform = reproject_raster(layer, crs, project_crs)
        notes.append(f"{display_name(path)}: reprojected from {source_label} to {crs_label(project_crs)}")
    else:
        values, mask, transform = layer.data, layer.mask, Affine(*layer.transform)
    context.check()
    metadata = dict(layer.metadata)
    metadata["source_crs"] = source_label
    if layer.role in ("dem", "ortho"):
        # CIM.md: DEM and DOM are the spatio-temporal base, level CIM1 (ground model)
        metadata.setdefault("category", "时空基础")
        metadata.setdefault("level", "CIM1")
    out = RasterLayer(source.name or layer.name, values, tuple(transform)[:6], project_crs, role=layer.role,
                      mask=mask, nodata=layer.nodata, full_shape=layer.full_shape, source=path,
                      source_layer=layer.source_layer, metadata=metadata)
    if not math.isfinite(out.bounds[0]):
        raise ReadError(f"{where}: could not be transformed to {crs_label(project_crs)}")
    return LoadResult(out, notes)
