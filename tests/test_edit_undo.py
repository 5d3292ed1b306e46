"""The pure undo stack: push runs first, failures are not recorded, clean index, merging, events."""

from __future__ import annotations

import pytest

from qdt.edit import BaseCommand, UndoStack


class Append(BaseCommand):
    """Appends a value to a list; merges with the next Append of the same list when ``mergeable``."""

    def __init__(self, target: list, value: object, mergeable: bool = False) -> None:
        self.target, self.values, self.mergeable = target, [value], mergeable

    def redo(self) -> None:
        self.target.extend(self.values)

    def undo(self) -> None:
        del self.target[len(self.target) - len(self.values):]

    def text(self) -> str:
        return f"append {self.values}"

    def id(self) -> int:
        return 7 if self.mergeable else -1

    def merge_with(self, other: object) -> bool:
        if isinstance(other, Append) and other.target is self.target:
            self.values += other.values
            return True
        return False


class Failing(BaseCommand):
    def __init__(self, target: list) -> None:
        self.target = target

    def redo(self) -> None:
        raise ValueError("refused")

    def undo(self) -> None:  # pragma: no cover - never recorded, so never undone
        self.target.append("undo of a failed command")


def test_push_runs_redo_then_records_and_undo_redo_walk_the_history():
    data: list = []
    stack = UndoStack()
    for v in (1, 2, 3):
        stack.push(Append(data, v))
    assert data == [1, 2, 3] and stack.index == 3 and stack.count == 3
    stack.undo()
    stack.undo()
    assert data == [1] and stack.can_undo and stack.can_redo
    assert stack.undo_text == "append [1]" and stack.redo_text == "append [2]"
    stack.redo()
    assert data == [1, 2]
    stack.set_index(0)
    assert data == [] and not stack.can_undo
    stack.set_index(3)
    assert data == [1, 2, 3] and not stack.can_redo
    stack.undo()
    stack.push(Append(data, 9))  # drops the redo tail
    assert data == [1, 2, 9] and stack.count == 3 and not stack.can_redo


def test_failed_command_is_not_recorded_and_changes_nothing():
    data: list = [0]
    stack = UndoStack()
    stack.push(Append(data, 1))
    with pytest.raises(ValueError, match="refused"):
        stack.push(Failing(data))
    assert stack.count == 1 and stack.index == 1 and data == [0, 1]
    stack.undo()
    assert data == [0]


def test_clean_index_follows_save_and_becomes_unreachable_when_its_tail_is_dropped():
    data: list = []
    stack = UndoStack()
    seen: list[bool] = []
    stack.events.clean_changed.connect(lambda clean: seen.append(clean))
    assert stack.is_clean
    stack.push(Append(data, 1))
    assert not stack.is_clean
    stack.set_clean()
    assert stack.is_clean and stack.clean_index == 1
    stack.undo()
    assert not stack.is_clean
    stack.redo()
    assert stack.is_clean
    stack.undo()
    stack.push(Append(data, 2))  # the saved state was in the dropped tail
    assert stack.clean_index == -1 and not stack.is_clean
    assert seen == [False, True, False, True, False]


def test_merge_by_id_and_never_into_the_clean_state():
    data: list = []
    stack = UndoStack()
    stack.push(Append(data, "a", mergeable=True))
    stack.push(Append(data, "b", mergeable=True))
    assert stack.count == 1 and data == ["a", "b"]
    stack.set_clean()
    stack.push(Append(data, "c", mergeable=True))  # top is the saved state: no merge
    assert stack.count == 2
    stack.undo()
    assert data == ["a", "b"]
    stack.undo()
    assert data == []


def test_events_and_undo_limit():
    data: list = []
    stack = UndoStack(undo_limit=2)
    indexes: list[int] = []
    can_undo: list[bool] = []
    stack.events.index_changed.connect(lambda i: indexes.append(i))
    stack.events.can_undo_changed.connect(lambda v: can_undo.append(v))
    for v in range(4):
        stack.push(Append(data, v))
    assert stack.count == 2 and stack.index == 2 and stack.clean_index == -1
    stack.undo()
    stack.undo()
    assert data == [0, 1] and not stack.can_undo
    assert indexes == [1, 2, 2, 2, 1, 0]
    assert can_undo == [True, False]
    stack.clear()
    assert stack.count == 0 and stack.is_clean and data == [0, 1]
