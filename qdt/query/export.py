"""Write a result set to CSV, GeoJSON or GeoPackage (chosen by the file's suffix).

- **CSV** (``.csv``): UTF-8 (with a byte-order mark if ``bom=True``, which Excel needs to
  show Chinese), one row per feature: ``fid``, the attributes, and the geometry as WKT in
  the project CRS (column ``wkt``).
- **GeoJSON** (``.geojson``): RFC 7946 — longitude/latitude on WGS 84 (EPSG:4326), 7
  decimals; the fid is the feature ``id`` when fids are unique, else a ``fid`` property.
- **GeoPackage** (``.gpkg``): the project CRS; the fid is kept as the GeoPackage fid when
  unique, else written as a ``source_fid`` column. An existing file is replaced, atomically
  (:func:`qdt.safe_output.atomic_output`), and never when it is one of the inputs.

The export issue reuses :func:`export_frame` for other result tables.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from qdt.safe_output import atomic_output, input_files

__all__ = ["EXPORT_SUFFIXES", "ExportError", "export_frame", "export_result"]

EXPORT_SUFFIXES = (".csv", ".geojson", ".gpkg")


class ExportError(ValueError):
    """An export that cannot be written; ``str()`` is one line naming the file."""


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise ExportError(f"cannot export to '{path}': use a file ending in {', '.join(EXPORT_SUFFIXES)}")
    return suffix


def _with_fid(frame: pd.DataFrame) -> pd.DataFrame:
    """The index as a first column ``fid`` when it is one (named), else dropped (a plain result table)."""
    if frame.index.name is None:
        return frame.reset_index(drop=True)
    out = frame.reset_index()
    first = out.columns[0]
    if first != "fid":
        out = out.rename(columns={first: "fid"})
    return out


def export_frame(frame: pd.DataFrame, path: str | os.PathLike[str], *, layer_name: str = "result",
                 bom: bool = False, inputs: Any = ()) -> Path:
    """Write ``frame`` (indexed by fid; a GeoDataFrame in the project CRS, or a plain table) to ``path``.

    Parameters
    ----------
    frame
        Rows to write, indexed by ``fid`` (an unnamed index is left out: a plain result
        table). A frame without geometry but with ``x`` and ``y`` columns gets point
        geometry (in ``frame.attrs["crs"]``, default EPSG:4549) for GeoJSON and GeoPackage.
    path
        Target file; the suffix chooses the format (:data:`EXPORT_SUFFIXES`).
    layer_name
        GeoPackage layer name.
    bom
        CSV only: start the file with a UTF-8 byte-order mark.
    inputs
        Files the rows were read from: writing onto one of them is refused.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ExportError
        Unknown suffix, a missing folder, an output that is one of ``inputs`` or a write
        error (one line naming the file); the target is then as it was.
    """
    import pyogrio

    target = Path(path)
    suffix = _suffix(target)
    if not target.parent.exists():
        raise ExportError(f"cannot export to '{target}': folder '{target.parent}' does not exist")
    table = _with_fid(frame)
    geometry = getattr(frame, "_geometry_column_name", None) if isinstance(frame, gpd.GeoDataFrame) else None
    with atomic_output(target, inputs=inputs, error=ExportError) as temp:
        try:
            _write_table(table, frame, geometry, suffix, temp, layer_name, bom)
        except (OSError, ValueError, RuntimeError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                pyogrio.errors.FieldError, pyogrio.errors.GeometryError) as exc:
            if isinstance(exc, ExportError):
                raise
            reason = " ".join(str(exc).replace(str(temp), str(target)).split())
            raise ExportError(f"cannot export to '{target}': {reason}") from exc
    return target


def _write_table(table: pd.DataFrame, frame: pd.DataFrame, geometry: str | None, suffix: str, temp: Path,
                 layer_name: str, bom: bool) -> None:
    import pyogrio

    from qdt.crs import PROJECT_CRS

    if suffix == ".csv":
        out = pd.DataFrame(table.drop(columns=[geometry]) if geometry else table)
        if geometry:
            out["wkt"] = shapely.to_wkt(table[geometry].to_numpy(), rounding_precision=-1)
        out.to_csv(temp, index=False, encoding="utf-8-sig" if bom else "utf-8", lineterminator="\n",
                   date_format="%Y-%m-%dT%H:%M:%S")
        return
    if geometry is None:
        if {"x", "y"} <= set(table.columns):
            crs = frame.attrs.get("crs", PROJECT_CRS)
            table = gpd.GeoDataFrame(table, geometry=shapely.points(table["x"], table["y"]), crs=crs)
        else:
            table = gpd.GeoDataFrame(table, geometry=[None] * len(table), crs=PROJECT_CRS)
    else:
        table = gpd.GeoDataFrame(table, geometry=geometry, crs=frame.crs)
    unique = "fid" in table.columns and bool(table["fid"].is_unique)
    if suffix == ".geojson":
        wgs84 = table.to_crs("EPSG:4326") if table.crs is not None else table
        options: dict[str, Any] = {"RFC7946": "YES", "COORDINATE_PRECISION": 7}
        if unique:
            options["ID_FIELD"] = "fid"
        pyogrio.write_dataframe(wgs84, temp, driver="GeoJSON", layer_options=options)
    else:
        if not unique and "fid" in table.columns:
            table = table.rename(columns={"fid": "source_fid"})
        pyogrio.write_dataframe(table, temp, layer=layer_name, driver="GPKG")


def export_result(result: Any, path: str | os.PathLike[str], *, bom: bool = False, inputs: Any = ()) -> Path:
    """Write a :class:`qdt.query.QueryResult`'s features (and, for nearest, the neighbour columns).

    Refuses a ``path`` that is a file its layers were read from, or one of ``inputs`` (a project file).
    """
    name = result.layer.source_layer or result.layer.name
    inputs = input_files([result.layer] + ([result.other] if result.other is not None else []), *inputs)
    return export_frame(result.frame(), path, layer_name=str(name), bom=bom, inputs=inputs)
