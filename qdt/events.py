"""A small pure-Python signal, so models can announce changes without Qt.

Usage::

    class Layer:
        def __init__(self):
            self.events = EventGroup("visible", "opacity")

    layer.events.visible.connect(callback)   # callback(value)
    layer.events.visible.emit(True)
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any


class Signal:
    """A list of callbacks called in connection order.

    Bound methods are held weakly so a bridge that forgets to disconnect does not keep a
    closed window alive; plain functions and lambdas are held strongly.
    """

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._slots: list[Any] = []
        self._blocked = False

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        ref = weakref.WeakMethod(callback) if hasattr(callback, "__self__") else callback
        self._slots.append(ref)
        return callback

    def disconnect(self, callback: Callable[..., Any] | None = None) -> None:
        if callback is None:
            self._slots.clear()
            return
        self._slots = [s for s in self._slots if self._resolve(s) not in (None, callback)]

    @staticmethod
    def _resolve(slot: Any) -> Callable[..., Any] | None:
        return slot() if isinstance(slot, weakref.WeakMethod) else slot

    def emit(self, *args: Any) -> None:
        if self._blocked:
            return
        dead = False
        for slot in list(self._slots):
            fn = self._resolve(slot)
            if fn is None:
                dead = True
                continue
            fn(*args)
        if dead:
            self._slots = [s for s in self._slots if self._resolve(s) is not None]

    def blocked(self) -> _Blocker:
        """Context manager that suppresses emission."""
        return _Blocker(self)

    def __len__(self) -> int:
        return sum(1 for s in self._slots if self._resolve(s) is not None)


class _Blocker:
    def __init__(self, signal: Signal) -> None:
        self._signal = signal
        self._was = signal._blocked

    def __enter__(self) -> Signal:
        self._signal._blocked = True
        return self._signal

    def __exit__(self, *exc: object) -> None:
        self._signal._blocked = self._was


class EventGroup:
    """Named signals as attributes: ``group.visible.emit(...)``."""

    def __init__(self, *names: str) -> None:
        self._names = names
        for name in names:
            setattr(self, name, Signal(name))

    def disconnect_all(self) -> None:
        for name in self._names:
            getattr(self, name).disconnect()
