"""The edit buffer of one vector layer: buffered values in the layer, originals kept aside.

Design (QGIS's edit buffer, applied to a working copy): while a layer is edited, its own
``frame`` holds the *buffered* values, so everything that reads the layer (3D view and its
styles, queries, the attribute table, the inspector) shows the edits without knowing about
editing. The buffer keeps, per modified cell ``(fid, field)``, the *original* value — the
value the layer had when the cell was first changed, i.e. what was loaded from (or last
committed to) the file. That gives, cheaply:

- modified-cell marks for the attribute table (:meth:`EditBuffer.is_modified`,
  :meth:`EditBuffer.modified_mask`);
- rollback (write the originals back);
- the commit's change set (:meth:`EditBuffer.pending`) and the baseline against which a
  commit detects that another program changed a cell.

A cell set back to its original value is no longer modified. All operations work on whole
arrays of fids (pandas/numpy), never one Python iteration per feature.

Events (``buffer.events``):

- ``changed(fids: numpy.ndarray, fields: tuple[str, ...])``: values shown for these cells
  changed (edit, undo, redo, rollback, conflict resolution).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from qdt.edit.errors import EditError
from qdt.edit.validation import FieldValidator, same_values
from qdt.events import EventGroup
from qdt.layers.vector import VectorLayer


class EditBuffer:
    """Buffered attribute changes of one :class:`~qdt.layers.VectorLayer`.

    Parameters
    ----------
    layer
        The layer; its ``frame`` is modified in place (see the module docstring).
    validator
        Checks and converts values (built from the layer when omitted).
    notify_layer
        Emit ``layer.events.data`` (a :class:`~qdt.layers.DataChange` naming the fids and fields)
        after each change so views redraw just those features (default True).
    """

    def __init__(self, layer: VectorLayer, validator: FieldValidator | None = None, *,
                 notify_layer: bool = True) -> None:
        self.layer = layer
        self.validator = validator or FieldValidator(layer)
        self.notify_layer = notify_layer
        self._originals: dict[str, pd.Series] = {}
        self.events = EventGroup("changed")

    # --- reading ------------------------------------------------------------------------
    def positions(self, fids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Row positions of ``fids`` in the layer frame; EditError naming unknown fids."""
        fids = np.asarray(fids, dtype=np.int64).reshape(-1)
        pos = self.layer.frame.index.get_indexer(fids)
        if (pos < 0).any():
            bad = fids[pos < 0]
            shown = ", ".join(str(int(f)) for f in bad[:5]) + (" …" if len(bad) > 5 else "")
            raise EditError(f"{self.layer.name}: no feature with fid {shown}", rule="feature", value=int(bad[0]))
        return pos

    def values(self, field: str, fids: Sequence[int] | np.ndarray) -> pd.Series:
        """Current (buffered) values of ``field`` for ``fids``, indexed by fid."""
        pos = self.positions(fids)
        return self.layer.frame[field].iloc[pos].copy()

    def value(self, fid: int, field: str) -> Any:
        """The value shown for one cell (buffered if modified)."""
        return self.layer.frame[field].iloc[self.positions([fid])[0]]

    def original(self, fid: int, field: str) -> Any:
        """The value before editing (the file's value as loaded or last committed)."""
        originals = self._originals.get(field)
        if originals is not None and int(fid) in originals.index:
            return originals.loc[int(fid)]
        return self.value(fid, field)

    def is_modified(self, fid: int, field: str | None = None) -> bool:
        """Whether a cell (or, with ``field=None``, any cell of the feature) is modified."""
        fields = [field] if field is not None else list(self._originals)
        return any(f in self._originals and int(fid) in self._originals[f].index for f in fields)

    def modified_mask(self, field: str) -> np.ndarray:
        """Boolean per row of the layer frame: True where ``field`` is modified (for the table model)."""
        originals = self._originals.get(field)
        if originals is None:
            return np.zeros(len(self.layer.frame), dtype=bool)
        return self.layer.frame.index.isin(originals.index)

    @property
    def modified_fields(self) -> list[str]:
        """Fields with at least one modified cell."""
        return [f for f, s in self._originals.items() if len(s)]

    def modified_fids(self, field: str | None = None) -> np.ndarray:
        """Sorted fids with a modified cell (in ``field``, or in any field)."""
        series = [self._originals[field]] if field is not None and field in self._originals else (
            [] if field is not None else list(self._originals.values()))
        if not series:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate([s.index.to_numpy(dtype=np.int64) for s in series]))

    @property
    def cell_count(self) -> int:
        """Number of modified cells."""
        return sum(len(s) for s in self._originals.values())

    @property
    def has_changes(self) -> bool:
        return self.cell_count > 0

    def modified_cells(self) -> pd.DataFrame:
        """One row per modified cell: ``fid``, ``field``, ``original``, ``value`` (for review lists)."""
        parts = []
        for field, originals in self._originals.items():
            if not len(originals):
                continue
            current = self.values(field, originals.index)
            parts.append(pd.DataFrame({"fid": originals.index.to_numpy(dtype=np.int64), "field": field,
                                       "original": originals.astype(object).to_numpy(),
                                       "value": current.astype(object).to_numpy()}))
        if not parts:
            return pd.DataFrame(columns=["fid", "field", "original", "value"])
        return pd.concat(parts, ignore_index=True)

    def pending(self) -> dict[str, tuple[np.ndarray, pd.Series, pd.Series]]:
        """Field → (fids, buffered values, original values) of every modified cell, for a commit."""
        out = {}
        for field, originals in self._originals.items():
            if len(originals):
                fids = originals.index.to_numpy(dtype=np.int64)
                out[field] = (fids, self.values(field, fids), originals)
        return out

    # --- writing ------------------------------------------------------------------------
    def apply(self, field: str, fids: Sequence[int] | np.ndarray, values: Sequence[Any] | pd.Series) -> None:
        """Show ``values`` for ``field`` of ``fids`` (already validated); track originals.

        Cells whose new value equals their original are no longer modified. Does not emit;
        callers call :meth:`notify` once per user action.
        """
        fids = np.asarray(fids, dtype=np.int64).reshape(-1)
        if len(fids) == 0:
            return
        values = list(values) if not isinstance(values, pd.Series) else values.tolist()
        frame = self.layer.frame
        pos = self.positions(fids)
        column = frame[field]
        originals = self._originals.get(field)
        new_cells = fids if originals is None else fids[~np.isin(fids, originals.index.to_numpy())]
        if len(new_cells):
            first = column.iloc[frame.index.get_indexer(new_cells)].copy()
            originals = first if originals is None else pd.concat([originals, first])
        self._write(field, pos, values)
        assert originals is not None
        current = frame[field].iloc[frame.index.get_indexer(originals.index)]
        back = same_values(current.reset_index(drop=True), originals.reset_index(drop=True))
        self._originals[field] = originals[~back]

    def _write(self, field: str, pos: np.ndarray, values: list[Any]) -> None:
        frame = self.layer.frame
        dtype = frame[field].dtype
        has_null = bool(pd.Series(values, dtype=object).isna().any())
        if has_null and (pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)) \
                and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
            # numpy int/bool columns cannot hold a null: switch to the nullable dtype (Int64/boolean)
            frame[field] = frame[field].astype("boolean" if pd.api.types.is_bool_dtype(dtype) else "Int64")
            dtype = frame[field].dtype
        try:
            if pd.api.types.is_object_dtype(dtype):
                array = np.empty(len(values), dtype=object)
                array[:] = values
            else:
                array = pd.array(values, dtype=dtype)
        except (TypeError, ValueError) as exc:
            raise EditError(f"{self.layer.name}: field '{field}': cannot hold {values[0]!r} ({exc})",
                            field=field, value=values[0], rule="type") from exc
        frame.iloc[pos, frame.columns.get_loc(field)] = array

    def notify(self, fids: Sequence[int] | np.ndarray, fields: Sequence[str]) -> None:
        """Announce changed cells (``events.changed``) and, if enabled, ``layer.events.data``
        with a :class:`~qdt.layers.DataChange` of these fids and fields."""
        self.events.changed.emit(np.asarray(fids, dtype=np.int64), tuple(fields))
        if self.notify_layer:
            self.layer.notify_data(fids, fields)

    def rollback(self) -> None:
        """Write every original value back; nothing is modified afterwards."""
        changed_fids, fields = self.modified_fids(), self.modified_fields
        for field, originals in list(self._originals.items()):
            if len(originals):
                self._write(field, self.positions(originals.index), originals.tolist())
        self._originals.clear()
        if fields:
            self.notify(changed_fids, fields)

    def forget(self, field: str, fids: Sequence[int] | np.ndarray) -> None:
        """Make the shown values of these cells the new originals (after they were committed)."""
        originals = self._originals.get(field)
        if originals is not None:
            self._originals[field] = originals[~originals.index.isin(np.asarray(fids, dtype=np.int64))]

    def rebase(self, field: str, fids: Sequence[int] | np.ndarray, originals: Sequence[Any]) -> None:
        """Replace the originals of modified cells (conflict resolved as "keep mine": the
        other program's values become the baseline, so the next commit overwrites them)."""
        current = self._originals.get(field)
        fids = np.asarray(fids, dtype=np.int64)
        if current is None:
            return
        keep = current.index.isin(fids)
        update = pd.Series(list(originals), index=pd.Index(fids, name=current.index.name), dtype=object)
        replaced = current.astype(object).copy()
        replaced.loc[current.index[keep]] = update.loc[current.index[keep]].to_numpy()
        self._originals[field] = replaced
