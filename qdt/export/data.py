"""Export of a selection or a query result to CSV, GeoJSON (WGS 84) or GeoPackage (project CRS).

The writing itself is :func:`qdt.query.export_frame` (one writer for the query panel, the
CLI and this); here the rows are chosen (a layer's selection, a query result) and the work
is wrapped as a :class:`qdt.tasks.Task` for the UI.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from qdt.export.errors import ExportError
from qdt.query.export import EXPORT_SUFFIXES, export_frame
from qdt.safe_output import input_files
from qdt.tasks import CancelFn, ProgressFn, Task, check_cancel

__all__ = ["DATA_SUFFIXES", "export_selection", "export_selection_task", "selection_frame"]

DATA_SUFFIXES = EXPORT_SUFFIXES


def selection_frame(layer: Any, fids: Iterable[int] | None = None) -> Any:
    """The rows of vector ``layer`` with ``fids`` (default: its selection), in fid order.

    ExportError naming the layer when it is not a vector layer, nothing is selected or a
    fid is not in it.
    """
    from qdt.layers import VectorLayer

    if not isinstance(layer, VectorLayer):
        raise ExportError(f"layer '{layer.name}' is not a vector layer: only features can be exported as data")
    chosen = np.array(sorted(int(f) for f in (layer.selection if fids is None else fids)), dtype=np.int64)
    if chosen.size == 0:
        raise ExportError(f"layer '{layer.name}': nothing selected to export")
    missing = np.setdiff1d(chosen, layer.fids)
    if missing.size:
        raise ExportError(f"layer '{layer.name}' has no feature with fid {int(missing[0])}")
    return layer.frame.loc[chosen]


def export_selection(layer: Any, path: str | os.PathLike[str], fids: Iterable[int] | None = None, *,
                     bom: bool = False) -> Path:
    """Write the selected features of ``layer`` (or ``fids``) to ``path`` (.csv, .geojson, .gpkg).

    CSV is UTF-8 (``bom=True`` adds the byte-order mark Excel needs for Chinese) with the
    geometry as WKT in the project CRS; GeoJSON is WGS 84 longitude/latitude (RFC 7946) with
    the fid as feature id; GeoPackage keeps the project CRS and the fids.
    """
    frame = selection_frame(layer, fids)
    return export_frame(frame, path, layer_name=str(layer.source_layer or layer.name), bom=bom,
                        inputs=input_files([layer]))


def export_selection_task(layer: Any, path: str | os.PathLike[str], fids: Iterable[int] | None = None, *,
                          bom: bool = False) -> Task:
    """:func:`export_selection` as a task (its result: the Path written)."""
    chosen = None if fids is None else list(fids)
    selection_frame(layer, chosen)  # fail now, before a worker starts

    def run(progress: ProgressFn, is_cancelled: CancelFn) -> Path:
        progress(0.1, "正在导出所选要素…")
        check_cancel(is_cancelled)
        out = export_selection(layer, path, chosen, bom=bom)
        progress(1.0, "导出完成")
        return out

    return Task("正在导出所选要素…", run, cancellable=False)
