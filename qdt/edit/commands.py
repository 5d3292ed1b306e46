"""Undoable attribute edits.

Each command is validated when it is *built* (bad input raises
:class:`~qdt.edit.errors.EditError` before anything is pushed), changes the edit buffer in
``redo()`` and restores the previous values in ``undo()``. They have ``QUndoCommand``'s shape
(``redo``, ``undo``, ``text``, ``id``, ``merge_with``), so a Qt adapter wraps one in one::

    class QtEditCommand(QUndoCommand):          # in qdt/ui, not here
        def __init__(self, command):
            super().__init__(command.text())
            self.command = command
        def redo(self):
            try:
                self.command.redo()
            except Exception:
                self.setObsolete(True)          # QUndoStack drops it instead of recording it
                raise
        def undo(self):
            self.command.undo()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from qdt.edit.buffer import EditBuffer
from qdt.edit.errors import EditError
from qdt.edit.undo import BaseCommand

_PER_FEATURE = (list, tuple, np.ndarray, pd.Series, pd.Index)


class SetAttributes(BaseCommand):
    """Set one or more fields of a set of features: ONE undo step (a batch edit).

    Parameters
    ----------
    buffer
        The edit buffer of the layer.
    fids
        Feature ids (e.g. a selection or a query result); duplicates are ignored.
    values
        Field → value. A scalar applies to every feature; a list/array/Series gives one
        value per fid (in ``fids`` order). Values are checked and converted by the buffer's
        validator: code-list labels become codes, date text becomes dates, blank is null.
    text
        History text (a default names the field, the value and the number of features).

    Raises
    ------
    EditError
        Unknown fid or field, geometry field, or a value the schema refuses (nothing changes).
    """

    def __init__(self, buffer: EditBuffer, fids: Sequence[int] | np.ndarray, values: Mapping[str, Any], *,
                 text: str | None = None) -> None:
        self.buffer = buffer
        raw_fids = np.asarray(fids, dtype=np.int64).reshape(-1)
        if len(raw_fids) == 0:
            raise EditError(f"{buffer.layer.name}: no features to edit", rule="feature")
        if not values:
            raise EditError(f"{buffer.layer.name}: no field to set", rule="field")
        _, first = np.unique(raw_fids, return_index=True)
        order = np.sort(first)
        self.fids = raw_fids[order]  # first occurrence order, duplicates dropped
        buffer.positions(self.fids)
        validator = buffer.validator
        self.new: dict[str, list[Any]] = {}
        for field, value in values.items():
            if isinstance(value, _PER_FEATURE):
                per_feature = list(value)
                if len(per_feature) != len(raw_fids):
                    raise EditError(f"{buffer.layer.name}: field '{field}': {len(per_feature)} values for "
                                    f"{len(raw_fids)} features", field=field, rule="feature")
                self.new[field] = validator.coerce_many(field, [per_feature[i] for i in order])
            else:
                self.new[field] = [validator.coerce(field, value)] * len(self.fids)
        self.old: dict[str, pd.Series] | None = None
        self._text = text or self._default_text(values)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.new)

    def _default_text(self, values: Mapping[str, Any]) -> str:
        validator = self.buffer.validator
        parts = []
        for field, value in self.new.items():
            fdef = validator.field_def(field)
            name = f"{fdef.zh} ({field})" if fdef is not None and fdef.zh else field
            shown = validator.label_of(field, value[0]) if not isinstance(values[field], _PER_FEATURE) else "…"
            parts.append(f"{name} = {shown}")
        where = f"要素 {int(self.fids[0])}" if len(self.fids) == 1 else f"{len(self.fids)} 个要素"
        return f"{'；'.join(parts)} · {where}"

    def text(self) -> str:
        return self._text

    def redo(self) -> None:
        if self.old is None:  # first run: remember what the cells showed before
            self.old = {field: self.buffer.values(field, self.fids) for field in self.new}
        for field, values in self.new.items():
            self.buffer.apply(field, self.fids, values)
        self.buffer.notify(self.fids, self.fields)

    def undo(self) -> None:
        if self.old is None:
            return
        for field, values in self.old.items():
            self.buffer.apply(field, self.fids, values)
        self.buffer.notify(self.fids, self.fields)


class SetAttribute(SetAttributes):
    """Set one field of one feature (an edit in the inspector or an attribute-table cell).

    Parameters
    ----------
    buffer, fid, field, value
        As for :class:`SetAttributes` with one fid and one field.
    """

    def __init__(self, buffer: EditBuffer, fid: int, field: str, value: Any, *, text: str | None = None) -> None:
        super().__init__(buffer, [int(fid)], {field: value}, text=text)
        self.fid = int(fid)
        self.field = field
        self.value = self.new[field][0]
