"""Attribute editing (no Qt, no VTK): commands, undo stack, edit buffer, sessions, validation.

Public API::

    from qdt.edit import start_editing, EditError
    session = start_editing(layer, user="张工")        # a VectorLayer loaded from a GeoPackage
    session.set_value(12, "status", "维修中")          # validated, one undo step
    session.set_values(fids, {"status": 3})           # batch: one undo step
    session.undo(); session.redo()
    result = session.commit()                         # one SQLite transaction + change log
    result.conflicts                                  # features another program changed meanwhile
    session.rollback(); session.close()

See :mod:`qdt.edit.session` for the design (buffered values in the layer, originals kept,
conflict detection) and :mod:`qdt.io.gpkg_write` for the atomic GeoPackage write.
"""

from qdt.edit.buffer import EditBuffer
from qdt.edit.commands import SetAttribute, SetAttributes
from qdt.edit.errors import EditError
from qdt.edit.session import CommitResult, Conflict, EditSession, default_user, editing_session, start_editing
from qdt.edit.undo import BaseCommand, Command, UndoStack
from qdt.edit.validation import FieldValidator, same_values

__all__ = [
    "BaseCommand",
    "Command",
    "CommitResult",
    "Conflict",
    "EditBuffer",
    "EditError",
    "EditSession",
    "FieldValidator",
    "SetAttribute",
    "SetAttributes",
    "UndoStack",
    "default_user",
    "editing_session",
    "same_values",
    "start_editing",
]
