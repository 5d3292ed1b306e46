"""The attribute table of a streamed layer: rows paged from the file, sorted and filtered there.

A streamed GeoPackage layer (:mod:`qdt.io.window`) holds only the tiles around the camera; its
table still lists every row of the file::

    table = StreamedTable(layer)
    order = table.order(sort="depth", descending=True, where="status = 2")   # fids, display order
    rows = table.page(order, offset=0, limit=200)                             # one page, mapped as a load

Sorting runs in SQLite (``ORDER BY`` the column, then the fid: a stable order), filtering
evaluates the QDT expression (parsed, never run as SQL) over the file in chunks, so neither
loads the layer; only the fids (8 bytes a row) and one page are held.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import geopandas as gpd
import numpy as np

from qdt.io import FeatureRequest, LayerSource, ReadError, load_layer
from qdt.query.expression import evaluate


class StreamedTable:
    """Pages of a streamed file layer's rows (see the module docstring)."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.path = str(layer.source)
        self.table = layer.source_layer or layer.name
        self.crs = getattr(layer, "crs", None) or "EPSG:4549"

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)

    def _columns(self, con: sqlite3.Connection) -> tuple[list[str], str]:
        info = con.execute(f'PRAGMA table_info("{self.table}")').fetchall()
        pk = next((row[1] for row in info if row[5]), "fid")
        return [row[1] for row in info], pk

    def count(self) -> int:
        """Rows in the file."""
        con = self._connect()
        try:
            return int(con.execute(f'SELECT COUNT(*) FROM "{self.table}"').fetchone()[0])
        except sqlite3.Error as exc:
            raise ReadError(f"layer '{self.table}' of '{os.path.basename(self.path)}': {exc}") from exc
        finally:
            con.close()

    def order(self, sort: str | None = None, descending: bool = False, where: str | None = None,
              is_cancelled: Any = None) -> np.ndarray:
        """Fids of the rows to show, in display order: sorted by the file column ``sort`` (then by
        fid), only those meeting the QDT expression ``where``.

        Raises
        ------
        ReadError
            ``sort`` is not a column of the file; the file cannot be read.
        ExpressionError
            A malformed ``where`` or an unknown field.
        """
        con = self._connect()
        try:
            columns, pk = self._columns(con)
            if sort is not None and sort not in columns:
                raise ReadError(f"field {sort!r} not found in layer {self.table!r} (fields: {', '.join(columns)})")
            direction = "DESC" if descending else "ASC"
            key = f'"{sort}" {direction}, "{pk}"' if sort is not None else f'"{pk}"'
            fids = np.fromiter((row[0] for row in con.execute(f'SELECT "{pk}" FROM "{self.table}" ORDER BY {key}')),
                               dtype=np.int64)
        except sqlite3.Error as exc:
            raise ReadError(f"layer '{self.table}' of '{os.path.basename(self.path)}': {exc}") from exc
        finally:
            con.close()
        if where is None:
            return fids
        from qdt.io.window import iter_chunks
        from qdt.query.model import feature_class_of

        cls = feature_class_of(self.layer)
        kept = [chunk.index.to_numpy(dtype=np.int64)[evaluate(where, chunk, cls)]
                for chunk in iter_chunks(self.layer, is_cancelled=is_cancelled)]
        matching = np.concatenate(kept) if kept else np.array([], dtype=np.int64)
        return fids[np.isin(fids, matching)]

    def page(self, order: np.ndarray, offset: int, limit: int) -> gpd.GeoDataFrame:
        """Rows ``order[offset:offset + limit]`` read from the file (by fid), mapped and coerced as
        a normal load, in that order."""
        fids = np.asarray(order[max(0, offset): max(0, offset) + max(0, limit)], dtype=np.int64)
        src = LayerSource(self.path, layer=self.table, kind="vector", name=self.layer.name,
                          feature_class=self.layer.feature_class)
        if len(fids) == 0:
            return load_layer(src, self.crs, request=FeatureRequest(limit=0)).layer.frame
        frame = load_layer(src, self.crs, request=FeatureRequest(fids=tuple(fids.tolist()))).layer.frame
        return frame.loc[fids]
