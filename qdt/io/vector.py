"""Vector readers (GeoPackage, Shapefile, GeoJSON through pyogrio) and the vector load pipeline.

The reader returns features in the file's own CRS, indexed by the stable feature id
(``fid_as_index=True``: the GeoPackage fid; for Shapefile/GeoJSON the id GDAL gives).
:func:`prepare_vector` then applies what every vector source needs: a CRS (declared or
refused), transformation to the project CRS, geometry repair, catalogue column mapping
and type coercion.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from qdt.crs import CRSProblem, crs_label, parse_crs, same_crs, transformer
from qdt.io.base import FeatureRequest, LayerInfo, LayerSource, LoadResult, ReadContext, Reader, SourceData
from qdt.io.errors import ReadError, cap_list, display_name, one_line, short_reason
from qdt.io.registry import register_reader
from qdt.layers.vector import VectorLayer

T = TypeVar("T")

# Bytes of a DBF checked when guessing its encoding; enough to meet non-ASCII text in practice.
DBF_SNIFF_BYTES = 8 * 1024 * 1024
# At most this many catalogue value problems are listed one per line; the rest are summed up.
MAX_VALUE_WARNINGS = 50


# --------------------------------------------------------------------------------------
# helpers: GDAL calls with one-line errors, CRS text, DBF encoding
# --------------------------------------------------------------------------------------

def _call(fn: Callable[[], T], path: str, what: str, sink: list[str] | None = None, layer: str | None = None) -> T:
    """Run a pyogrio call, turning its errors into ReadError and its warnings into ``sink`` lines.

    The message names the real cause where it is known: a missing file, a file another program
    holds locked, a layer (``layer``) the file holds but GDAL cannot read; else "not ``what``
    or corrupt".
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn()
        except ReadError:
            raise
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.GeometryError,
                pyogrio.errors.FieldError, pyogrio.errors.CRSError, RuntimeError, ValueError) as exc:
            reason = short_reason(exc)
            name = display_name(path)
            if "No such file" in reason:
                raise ReadError(f"cannot read {name!r}: file not found") from exc
            if "locked" in reason.lower() or "busy" in reason.lower():
                raise ReadError(f"cannot read {name!r}: another program is writing it and holds it locked "
                                f"({reason}); try again when it has finished") from exc
            if layer is not None and isinstance(exc, pyogrio.errors.GeometryError | pyogrio.errors.DataLayerError
                                                | pyogrio.errors.FieldError):
                raise ReadError(f"layer {layer!r} in {name!r} cannot be read ({reason}); "
                                "the file's other layers are not affected") from exc
            raise ReadError(f"cannot read {name!r}: file is not {what} or is corrupt ({reason})") from exc
    if sink is not None:
        for w in caught:
            line = f"{display_name(path)}: {one_line(str(w.message))}"
            if line not in sink:
                sink.append(line)
    return result


def _crs_from_info(text: str | None) -> CRS | None:
    if not text:
        return None
    try:
        return parse_crs(text)
    except CRSProblem:
        return None


def _sibling(path: str, ext: str) -> str | None:
    """``roads.shp`` → ``roads.cpg`` (any letter case), or None."""
    folder, base = os.path.split(path)
    stem = os.path.splitext(base)[0]
    want = (stem + ext).lower()
    try:
        for entry in os.listdir(folder or "."):
            if entry.lower() == want:
                return os.path.join(folder, entry)
    except OSError:
        return None
    return None


def _dbf_text_sample(dbf: str) -> bytes | None:
    """Field names and the first records of a DBF (enough to meet non-ASCII text), or None."""
    with open(dbf, "rb") as fh:
        head = fh.read(32)
        if len(head) < 32:
            return None
        n_records = int.from_bytes(head[4:8], "little")
        header_len = int.from_bytes(head[8:10], "little")
        record_len = int.from_bytes(head[10:12], "little")
        descriptors = fh.read(max(0, header_len - 32))
        names = b"".join(descriptors[i:i + 11].split(b"\0", 1)[0]
                         for i in range(0, len(descriptors) - 31, 32) if descriptors[i] != 0x0D)
        n_read = min(n_records, DBF_SNIFF_BYTES // max(record_len, 1)) * max(record_len, 0)
        fh.seek(header_len)
        return names + fh.read(n_read)


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def detect_dbf_encoding(shp_path: str) -> tuple[str | None, str | None]:
    """Encoding to read a Shapefile's DBF with, and a warning when it had to be guessed.

    A ``.cpg`` file or a language-driver id in the DBF header is honoured by GDAL, so
    ``(None, None)`` is returned — unless the ``.cpg`` says UTF-8 and the text is not UTF-8
    but GBK (a common mistake of converters): then GB18030 with a warning naming the ``.cpg``.
    Without either, GDAL would assume ISO-8859-1 and garble Chinese text; the raw bytes
    decide: valid UTF-8 → "UTF-8", else valid GB18030 (a superset of GBK, what Chinese
    desktop GIS writes) → "GB18030" with a warning.
    """
    dbf = _sibling(shp_path, ".dbf")
    cpg = _sibling(shp_path, ".cpg")
    if cpg is not None:
        try:
            with open(cpg, "rb") as fh:
                declared = fh.read(64).decode("ascii", "replace").strip().upper().replace("-", "").replace("_", "")
        except OSError:
            return None, None
        if declared not in ("UTF8", "65001") or dbf is None:
            return None, None
        body = _dbf_text_sample(dbf)
        if body is None or body.isascii() or _decodes(body, "utf-8") or not _decodes(body, "gb18030"):
            return None, None
        return "GB18030", (f"{display_name(cpg)} says UTF-8 but the text of {display_name(dbf)} is not UTF-8; "
                           "read it as GBK (GB18030): correct the .cpg (write GBK in it)")
    if dbf is None:
        return None, None
    with open(dbf, "rb") as fh:
        head = fh.read(32)
    if len(head) < 32 or head[29] != 0:  # dBASE language driver id, mapped to a code page by GDAL
        return None, None
    body = _dbf_text_sample(dbf)
    if body is None or body.isascii():
        return None, None
    if _decodes(body, "utf-8"):
        return "UTF-8", None
    if not _decodes(body, "gb18030"):
        return None, (f"{display_name(dbf)}: no .cpg file and the text is neither UTF-8 nor GBK; "
                      "read as ISO-8859-1, text may be garbled")
    return "GB18030", f"{display_name(dbf)}: no .cpg file and the text is not UTF-8; read it as GBK (GB18030)"


_GEOJSON_TYPE = re.compile(rb'"type"\s*:\s*"(FeatureCollection|Feature|Point|MultiPoint|LineString|'
                           rb'MultiLineString|Polygon|MultiPolygon|GeometryCollection)"')


def sniff_geojson(path: str) -> bool:
    """True when the start of the file looks like GeoJSON (and not CityJSON)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError:
        return False
    return b'"CityObjects"' not in head and _GEOJSON_TYPE.search(head) is not None


# --------------------------------------------------------------------------------------
# readers
# --------------------------------------------------------------------------------------

class OGRReader(Reader):
    """Vector formats read with pyogrio (GDAL/OGR). Subclasses name the format for messages."""

    format_label = "a vector file"

    def encoding(self, path: str) -> tuple[str | None, str | None]:
        return None, None

    def layer_names(self, path: str) -> list[str]:
        listing = _call(lambda: pyogrio.list_layers(path), path, self.format_label)
        return [str(row[0]) for row in listing]

    def info(self, path: str) -> list[LayerInfo]:
        """Per-layer metadata; a layer GDAL cannot describe is listed as unavailable with the
        reason (``extra["available"] = False``, ``extra["error"]``) and the others still open."""
        encoding, _ = self.encoding(path)
        out = []
        for name in self.layer_names(path):
            try:
                meta = _call(lambda n=name: pyogrio.read_info(path, layer=n, encoding=encoding,
                                                              force_feature_count=True, force_total_bounds=True),
                             path, self.format_label, layer=name)
            except ReadError as exc:
                if not str(exc).startswith(f"layer {name!r}"):
                    raise  # the file itself, not this layer
                out.append(LayerInfo(name=name, kind="vector", crs=None, bbox=None,
                                     extra={"available": False, "error": str(exc)}))
                continue
            bounds = meta.get("total_bounds")
            bbox = [float(v) for v in bounds] if bounds is not None and np.all(np.isfinite(bounds)) else None
            fields = [{"name": str(f), "type": str(t)} for f, t in zip(meta["fields"], meta["dtypes"], strict=True)]
            out.append(LayerInfo(name=name, kind="vector", crs=_crs_from_info(meta.get("crs")), bbox=bbox,
                                 count=int(meta["features"]), geometry_type=meta.get("geometry_type"), fields=fields,
                                 extra={"driver": meta.get("driver"), "encoding": encoding or meta.get("encoding")}))
        return out

    def resolve_layer(self, path: str, layer: str | None) -> str:
        names = self.layer_names(path)
        if layer is None:
            if len(names) == 1:
                return names[0]
            if not names:
                raise ReadError(f"cannot read {display_name(path)!r}: it has no vector layers")
            raise ReadError(f"{display_name(path)!r} has {len(names)} layers ({', '.join(names)}); "
                            "name the one to read")
        if layer not in names:
            raise ReadError(f"layer {layer!r} not found in {display_name(path)!r} (available: {', '.join(names)})")
        return layer

    def read(self, path: str, layer: str | None, request: FeatureRequest, context: ReadContext) -> SourceData:
        notes: list[str] = []
        name = self.resolve_layer(path, layer)
        encoding, note = self.encoding(path)
        if note:
            notes.append(note)
        meta = _call(lambda: pyogrio.read_info(path, layer=name, encoding=encoding), path, self.format_label,
                     layer=name)
        file_crs = _crs_from_info(meta.get("crs"))
        has_geometry = meta.get("geometry_type") is not None
        if request.columns is not None:
            missing = [c for c in request.columns if c not in set(meta["fields"])]
            if missing:
                raise ReadError(f"field {missing[0]!r} not found in layer {name!r} of {display_name(path)!r} "
                                f"(fields: {', '.join(map(str, meta['fields']))})")
        bbox = None
        if request.bbox is not None and has_geometry:
            bbox = request.bbox
            if request.bbox_crs is not None and file_crs is not None and not same_crs(parse_crs(request.bbox_crs),
                                                                                       file_crs):
                bbox = transformer(request.bbox_crs, file_crs).transform_bounds(*bbox)
        context.report(0.1, f"reading {name}")
        kwargs: dict[str, Any] = {"layer": name, "encoding": encoding, "fid_as_index": True,
                                  "columns": list(request.columns) if request.columns is not None else None,
                                  "read_geometry": has_geometry and not request.no_geometry}
        if request.fids is not None:
            kwargs["fids"] = np.asarray(request.fids, dtype=np.int64)
        elif bbox is not None:
            kwargs["bbox"] = tuple(bbox)
        fid_range = getattr(request, "fid_range", None)  # a chunk of a streamed layer (qdt.io.window)
        if fid_range is not None and request.fids is None:
            column = meta.get("fid_column") or "fid"
            kwargs["where"] = f'"{column}" BETWEEN {int(fid_range[0])} AND {int(fid_range[1])}'
        if request.limit is not None and request.fids is None:
            kwargs["max_features"] = max(int(request.limit), 1)  # the caller keeps the first `limit`
        try:
            frame = _call(lambda: pyogrio.read_dataframe(path, **kwargs), path, self.format_label, notes, layer=name)
        except ReadError as exc:
            cause = exc.__cause__
            if isinstance(cause, pyogrio.errors.FeatureError) and "fid" in str(cause):
                fid = str(cause).rsplit(" ", 1)[-1]
                raise ReadError(f"layer {name!r} in {display_name(path)!r} has no feature with fid {fid}") from cause
            raise
        context.check()
        if not isinstance(frame, gpd.GeoDataFrame):
            frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([None] * len(frame), index=frame.index),
                                     crs=file_crs)
        elif request.fids is not None and bbox is not None:
            frame = frame[shapely.intersects(frame.geometry.to_numpy(), shapely.box(*bbox))]
        frame.index = frame.index.astype(np.int64)
        frame = frame.rename_axis("fid")
        if file_crs is not None and frame.crs is None:
            frame = frame.set_crs(file_crs)
        vector = VectorLayer(name, frame, source=path, source_layer=name)
        vector.crs = file_crs
        vector.metadata["geometry_type"] = meta.get("geometry_type")
        return SourceData(vector, notes, has_geometry=has_geometry)


def gpkg_table_names(path: str) -> list[str] | None:
    """Feature then attribute tables of a GeoPackage, from its ``gpkg_contents`` (read-only), the
    order GDAL lists them in; None when the file is not a readable SQLite GeoPackage."""
    import sqlite3
    from urllib.parse import quote

    try:
        con = sqlite3.connect("file:" + quote(os.path.abspath(path)) + "?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        rows = con.execute("SELECT table_name, data_type FROM gpkg_contents "
                           "WHERE data_type IN ('features', 'attributes') ORDER BY rowid").fetchall()
    except sqlite3.Error:
        return None
    finally:
        con.close()
    return [str(n) for n, t in rows if t == "features"] + [str(n) for n, t in rows if t == "attributes"]


@register_reader("vector", ("*.gpkg",), name="GeoPackage")
class GeoPackageReader(OGRReader):
    format_label = "a GeoPackage"

    def layer_names(self, path: str) -> list[str]:
        """GDAL lists all layers at once and fails as a whole on one layer it cannot describe (a
        "3D Unknown" geometry type); then the names come from ``gpkg_contents`` so every other
        layer still opens."""
        try:
            return super().layer_names(path)
        except ReadError as exc:
            if not isinstance(exc.__cause__, pyogrio.errors.GeometryError | pyogrio.errors.DataLayerError):
                raise
            names = gpkg_table_names(path)
            if not names:
                raise
            return names


@register_reader("vector", ("*.shp",), name="Shapefile")
class ShapefileReader(OGRReader):
    format_label = "a Shapefile"

    def encoding(self, path: str) -> tuple[str | None, str | None]:
        return detect_dbf_encoding(path)

    def read(self, path: str, layer: str | None, request: FeatureRequest, context: ReadContext) -> SourceData:
        data = super().read(path, layer, request, context)
        if data.layer.crs is None and _sibling(path, ".prj") is None:
            data.layer.metadata["crs_problem"] = "no .prj file"
        if _sibling(path, ".dbf") is None:
            stem = os.path.splitext(display_name(path))[0]
            data.warnings.append(f"{display_name(path)}: no {stem}.dbf file beside it, so the features have no "
                                 "attributes; copy the .dbf (and .shx, .prj, .cpg) next to the .shp")
        return data


@register_reader("vector", ("*.geojson", "*.geojsonl", "*.geojsons", "*.json"), name="GeoJSON", sniff=sniff_geojson)
class GeoJSONReader(OGRReader):
    format_label = "GeoJSON"


# --------------------------------------------------------------------------------------
# the load pipeline shared by every vector source
# --------------------------------------------------------------------------------------

def _where(layer_name: str, path: str) -> str:
    return f"layer {layer_name!r} in {display_name(path)!r}"


def resolve_crs(data_crs: CRS | None, declared: Any, where: str, notes: list[str], problem: str | None = None) -> CRS:
    """The CRS to use: the declared one (overriding the data's, with a note) or the data's; refuse if neither."""
    if declared is not None:
        try:
            declared_crs = parse_crs(declared)
        except CRSProblem as exc:
            raise ReadError(f"{where}: declared CRS {declared!r} is not a coordinate reference system") from exc
        if data_crs is not None and not same_crs(declared_crs, data_crs):
            notes.append(f"{where}: the declared CRS {crs_label(declared_crs)} replaces the data's "
                         f"{crs_label(data_crs)}")
        return declared_crs
    if data_crs is None:
        why = f" ({problem})" if problem else ""
        raise ReadError(f"{where} has no coordinate reference system{why}; declare the layer's CRS to load it")
    return data_crs


def note_outside_area(src_crs: CRS, bbox: Any, project_crs: CRS, where: str, notes: list[str]) -> None:
    """Warn when data lies wholly outside the project CRS's area of use: a wrong or missing CRS, usually."""
    area = project_crs.area_of_use
    if area is None or bbox is None or not np.all(np.isfinite(bbox)):
        return
    try:
        west, south, east, north = transformer(src_crs, "EPSG:4326").transform_bounds(*bbox)
    except Exception:  # noqa: BLE001 - a bbox pyproj cannot transform is reported below anyway
        return
    if not np.all(np.isfinite([west, south, east, north])):
        return
    if east < area.west or west > area.east or north < area.south or south > area.north:
        notes.append(f"{where}: lies outside the area of use of {crs_label(project_crs)} "
                     f"({_lon(area.west)}–{_lon(area.east)}, {_lat(area.south)}–{_lat(area.north)}), "
                     f"at {_lon((west + east) / 2)} {_lat((south + north) / 2)}; check its CRS")


def _lon(value: float) -> str:
    return f"{abs(value):.2f}°{'E' if value >= 0 else 'W'}"


def _lat(value: float) -> str:
    return f"{abs(value):.2f}°{'N' if value >= 0 else 'S'}"


def _fids(frame: pd.DataFrame, mask: np.ndarray) -> list[int]:
    return [int(v) for v in frame.index.to_numpy()[mask]]


def repair_geometries(frame: gpd.GeoDataFrame, where: str, notes: list[str]) -> gpd.GeoDataFrame:
    """Report null/empty geometries and repair invalid ones with ``shapely.make_valid`` (vectorised).

    Nothing is dropped: features keep their fid; a repaired polygon may become a MultiPolygon.
    """
    geoms = frame.geometry.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        notes.append(f"{where}: {int(missing.sum())} feature(s) without geometry "
                     f"(fid {cap_list(_fids(frame, missing))})")
    finite = np.zeros(len(geoms), dtype=bool)
    finite[~missing] = np.all(np.isfinite(shapely.bounds(geoms[~missing])), axis=1)
    invalid = np.zeros(len(geoms), dtype=bool)
    invalid[finite] = ~shapely.is_valid(geoms[finite])  # GEOS refuses to check infinite coordinates
    if invalid.any():
        bad = geoms[invalid]
        reason = shapely.is_valid_reason(bad[0])
        polygonal = np.isin(shapely.get_type_id(bad), [3, 6])
        fixed = np.empty(len(bad), dtype=object)
        if polygonal.any():
            # "structure" keeps polygons polygonal (a bow-tie becomes two triangles, not lines too)
            fixed[polygonal] = shapely.make_valid(bad[polygonal], method="structure", keep_collapsed=False)
        if (~polygonal).any():
            fixed[~polygonal] = shapely.make_valid(bad[~polygonal])
        geoms = geoms.copy()
        geoms[invalid] = fixed
        frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs))
        notes.append(f"{where}: {int(invalid.sum())} invalid geometr{'y' if invalid.sum() == 1 else 'ies'} "
                     f"repaired with make_valid (fid {cap_list(_fids(frame, invalid))}; first problem: {reason})")
    return frame


def transform_frame(frame: gpd.GeoDataFrame, project_crs: CRS, where: str, notes: list[str]) -> gpd.GeoDataFrame:
    """Reproject to the project CRS (pyproj, x/y order); report features that did not transform."""
    if frame.crs is not None and same_crs(frame.crs, project_crs):
        return frame.set_crs(project_crs, allow_override=True)
    out = frame.to_crs(project_crs)
    geoms = out.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    bounds = shapely.bounds(geoms)
    broken = present & ~np.all(np.isfinite(bounds), axis=1)
    if broken.any():
        notes.append(f"{where}: {int(broken.sum())} feature(s) could not be transformed to {crs_label(project_crs)} "
                     f"(fid {cap_list(_fids(out, broken))})")
    return out


def apply_feature_class(frame: gpd.GeoDataFrame, feature_class: str, layer_name: str, where: str,
                        notes: list[str]) -> tuple[gpd.GeoDataFrame, Any]:
    """Rename columns to the catalogue's names (by alias) and coerce values to the schema types."""
    from qdt.cim import catalogue, coerce_table

    try:
        cls = catalogue().feature_class(feature_class)
    except KeyError as exc:
        raise ReadError(f"{where}: unknown feature class {feature_class!r}") from exc
    geometry_name = frame.geometry.name
    columns = [c for c in frame.columns if c != geometry_name]
    mapping = cls.map_columns(columns)
    renames: dict[str, str] = {}
    taken = set(columns) - set(mapping)
    for source_col, canonical in mapping.items():
        if source_col == canonical:
            taken.add(canonical)
    for source_col, canonical in mapping.items():
        if source_col == canonical:
            continue
        if canonical in taken:
            notes.append(f"{where}: column {source_col!r} also maps to {canonical!r}; kept under its own name")
            continue
        renames[source_col] = canonical
        taken.add(canonical)
    if renames:
        frame = frame.rename(columns=renames)
    coerced, issues = coerce_table(cls, frame, layer_name)
    if not isinstance(coerced, gpd.GeoDataFrame):
        coerced = gpd.GeoDataFrame(coerced, geometry=frame.geometry, crs=frame.crs)
    for issue in issues[:MAX_VALUE_WARNINGS]:
        notes.append(one_line(issue.message))
    if len(issues) > MAX_VALUE_WARNINGS:
        notes.append(f"{where}: … and {len(issues) - MAX_VALUE_WARNINGS} more value problems")
    return coerced, cls


def prepare_vector(data: SourceData, source: LayerSource, project_crs: CRS, context: ReadContext) -> LoadResult:
    """Turn a source layer into a project layer: CRS, transformation, repair, catalogue mapping."""
    layer = data.layer
    assert isinstance(layer, VectorLayer)
    path = os.fspath(source.path)
    layer_name = layer.source_layer or layer.name
    where = _where(layer_name, path)
    notes = list(data.warnings)
    frame = layer.frame
    if data.has_geometry:
        crs = resolve_crs(layer.crs, source.crs, where, notes, layer.metadata.get("crs_problem"))
        frame = frame.set_crs(crs, allow_override=True)
        context.report(0.6, f"transforming {layer_name}")
        if len(frame) and not frame.geometry.isna().all():
            note_outside_area(crs, frame.total_bounds, project_crs, where, notes)
        frame = transform_frame(frame, project_crs, where, notes)
        frame = repair_geometries(frame, where, notes)
    else:
        frame = frame.set_crs(project_crs, allow_override=True)
    context.check()
    metadata = {k: v for k, v in layer.metadata.items() if k != "crs_problem"}
    metadata["source_crs"] = crs_label(layer.crs) if layer.crs is not None else None
    cls = None
    if source.feature_class:
        context.report(0.8, f"checking {layer_name} against the catalogue")
        frame, cls = apply_feature_class(frame, source.feature_class, layer_name, where, notes)
        metadata["category"] = cls.category
        metadata["level"] = cls.level
    out = VectorLayer(source.name or layer_name, frame, feature_class=source.feature_class, source=path,
                      source_layer=layer_name, metadata=metadata)
    return LoadResult(out, notes)
