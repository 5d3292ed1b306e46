"""Commands and a pure-Python undo stack (the model behind the UI's Ctrl+Z / Ctrl+Y).

The stack follows ``QUndoStack``'s contract (index, clean index, merge by ``id()``), so the
UI can mirror it 1:1, with one difference that avoids glue's flaw: :meth:`UndoStack.push`
runs the command's ``redo()`` first and records it only if that succeeded — a command that
fails leaves the stack (and the data) as they were.

A command is any object with ``redo()``, ``undo()`` and ``text()``; ``id()`` (an int, -1 =
never merge) and ``merge_with(other) -> bool`` are optional, as in ``QUndoCommand``.

Events (``stack.events``): ``index_changed(int)`` (also on every push, even when a merge or
the undo limit keeps the index), ``clean_changed(bool)``, ``can_undo_changed(bool)``,
``can_redo_changed(bool)``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from qdt.events import EventGroup


@runtime_checkable
class Command(Protocol):
    """What the stack needs from a command (``QUndoCommand``'s shape)."""

    def redo(self) -> None: ...

    def undo(self) -> None: ...

    def text(self) -> str: ...


class BaseCommand:
    """Convenience base: no merging; subclasses implement ``redo``/``undo``/``text``."""

    def redo(self) -> None:
        raise NotImplementedError

    def undo(self) -> None:
        raise NotImplementedError

    def text(self) -> str:
        return type(self).__name__

    def id(self) -> int:
        """Commands with the same non-negative id may merge (see ``merge_with``); -1 never merges."""
        return -1

    def merge_with(self, other: Any) -> bool:
        """Absorb ``other`` (already redone) into this command; True if it did."""
        return False


class UndoStack:
    """A linear history of executed commands with an undo position and a clean index.

    ``index`` is the number of commands currently applied: ``commands[:index]`` are done,
    ``commands[index:]`` can be redone. ``clean_index`` is the index at which the data
    matched the file (-1 when that state cannot be reached any more).

    Parameters
    ----------
    undo_limit
        Keep at most this many commands (0 = unlimited); the oldest are dropped.
    """

    def __init__(self, undo_limit: int = 0) -> None:
        self.undo_limit = int(undo_limit)
        self._commands: list[Any] = []
        self._index = 0
        self._clean_index = 0
        self.events = EventGroup("index_changed", "clean_changed", "can_undo_changed", "can_redo_changed")

    # --- state --------------------------------------------------------------------------
    @property
    def index(self) -> int:
        return self._index

    @property
    def count(self) -> int:
        return len(self._commands)

    @property
    def clean_index(self) -> int:
        return self._clean_index

    @property
    def is_clean(self) -> bool:
        return self._index == self._clean_index

    @property
    def can_undo(self) -> bool:
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        return self._index < len(self._commands)

    @property
    def undo_text(self) -> str:
        return self._commands[self._index - 1].text() if self.can_undo else ""

    @property
    def redo_text(self) -> str:
        return self._commands[self._index].text() if self.can_redo else ""

    def command(self, i: int) -> Any:
        return self._commands[i]

    @property
    def commands(self) -> list[Any]:
        """All commands, oldest first (a copy; for an undo-history view)."""
        return list(self._commands)

    # --- changes ------------------------------------------------------------------------
    def push(self, command: Any) -> Any:
        """Run ``command.redo()``; if it returns, record the command (dropping the redo tail).

        If ``redo()`` raises, the exception propagates and nothing is recorded. A command
        whose ``id()`` equals the top command's (and is not -1) is offered to the top
        command's ``merge_with``; merged commands do not get their own entry.
        """
        before = self._snapshot()
        command.redo()
        del self._commands[self._index:]
        if self._clean_index > self._index:
            self._clean_index = -1  # the saved state was in the dropped redo tail
        top = self._commands[-1] if self._commands and self._index > 0 else None
        if top is not None and self._index != self._clean_index and _cid(command) != -1 \
                and _cid(command) == _cid(top) and top.merge_with(command):
            self._announce(before, pushed=True)
            return top
        self._commands.append(command)
        self._index += 1
        self._trim()
        self._announce(before, pushed=True)
        return command

    def undo(self) -> None:
        """Undo the command before the index (nothing if there is none)."""
        if not self.can_undo:
            return
        before = self._snapshot()
        self._commands[self._index - 1].undo()
        self._index -= 1
        self._announce(before)

    def redo(self) -> None:
        """Redo the command at the index (nothing if there is none)."""
        if not self.can_redo:
            return
        before = self._snapshot()
        self._commands[self._index].redo()
        self._index += 1
        self._announce(before)

    def set_index(self, index: int) -> None:
        """Undo or redo until ``index`` commands are applied (the history view's click)."""
        index = max(0, min(int(index), len(self._commands)))
        while self._index > index:
            self.undo()
        while self._index < index:
            self.redo()

    def set_clean(self) -> None:
        """Mark the current state as saved."""
        before = self._snapshot()
        self._clean_index = self._index
        self._announce(before)

    def clear(self) -> None:
        """Forget all commands (the data stays as it is); the current state becomes clean."""
        before = self._snapshot()
        self._commands.clear()
        self._index = 0
        self._clean_index = 0
        self._announce(before)

    # --- helpers ------------------------------------------------------------------------
    def _trim(self) -> None:
        if self.undo_limit and len(self._commands) > self.undo_limit:
            drop = len(self._commands) - self.undo_limit
            del self._commands[:drop]
            self._index -= drop
            self._clean_index = self._clean_index - drop if self._clean_index >= drop else -1

    def _snapshot(self) -> tuple[int, bool, bool, bool]:
        return self._index, self.is_clean, self.can_undo, self.can_redo

    def _announce(self, before: tuple[int, bool, bool, bool], pushed: bool = False) -> None:
        index, clean, can_undo, can_redo = before
        if self._index != index or pushed:  # a push always changes the history (as QUndoStack)
            self.events.index_changed.emit(self._index)
        if self.is_clean != clean:
            self.events.clean_changed.emit(self.is_clean)
        if self.can_undo != can_undo:
            self.events.can_undo_changed.emit(self.can_undo)
        if self.can_redo != can_redo:
            self.events.can_redo_changed.emit(self.can_redo)


def _cid(command: Any) -> int:
    get = getattr(command, "id", None)
    return int(get()) if callable(get) else -1
