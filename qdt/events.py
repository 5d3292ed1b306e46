"""A small pure-Python signal, so models can announce changes without Qt.

Usage::

    class Layer:
        def __init__(self):
            self.events = EventGroup("visible", "opacity")

    layer.events.visible.connect(callback)   # callback(value)
    layer.events.visible.emit(True)

Like psygnal (napari's signals), a slot may take fewer arguments than the signal carries: it
gets the first ones. So a payload can grow (``data()`` became ``data(change)``) without
breaking listeners that ignore it.

Threads: :meth:`Signal.emit` calls every slot synchronously on the emitting thread; this module
has no threading rules of its own. A listener that must run on another thread (the Qt view,
which touches VTK and widgets) connects through Qt's queued connections
(:class:`qdt.ui.view3d.GuiRelay`), and background work reads frozen copies of the layers
(:meth:`qdt.layers.Layer.frozen`), never the live ones.
"""

from __future__ import annotations

import inspect
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
        self._nargs: dict[int, int | None] = {}  # id(slot entry) -> positional arguments it takes (None: any)
        self._blocked = False

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        ref = weakref.WeakMethod(callback) if hasattr(callback, "__self__") else callback
        self._slots.append(ref)
        self._nargs[id(ref)] = _max_positional(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any] | None = None) -> None:
        if callback is None:
            self._slots.clear()
            return
        self._slots = [s for s in self._slots if self._resolve(s) not in (None, callback)]
        self._nargs = {id(s): self._nargs.get(id(s)) for s in self._slots}

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
            n = self._nargs.get(id(slot))
            fn(*(args if n is None else args[:n]))
        if dead:
            self._slots = [s for s in self._slots if self._resolve(s) is not None]
            self._nargs = {id(s): self._nargs.get(id(s)) for s in self._slots}

    def blocked(self) -> _Blocker:
        """Context manager that suppresses emission."""
        return _Blocker(self)

    def __len__(self) -> int:
        return sum(1 for s in self._slots if self._resolve(s) is not None)


def _max_positional(callback: Callable[..., Any]) -> int | None:
    """How many positional arguments ``callback`` accepts (None: any number, or unknown)."""
    try:
        params = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):  # builtins and C slots without a signature get everything
        return None
    count = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


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
