"""Ordered list of layers with events, the root of the scene model.

Events: ``inserted(index, layer)``, ``removed(index, layer)``, ``moved(old, new)``,
``selection(layer, fids)`` re-emitted from any layer's selection change.
"""

from __future__ import annotations

from collections.abc import Iterator

from qdt.events import EventGroup
from qdt.layers.base import Layer


class LayerList:
    def __init__(self) -> None:
        self._layers: list[Layer] = []
        self.events = EventGroup("inserted", "removed", "moved", "selection")

    def __iter__(self) -> Iterator[Layer]:
        return iter(list(self._layers))

    def __len__(self) -> int:
        return len(self._layers)

    def __getitem__(self, key: int | str) -> Layer:
        if isinstance(key, int):
            return self._layers[key]
        for layer in self._layers:
            if layer.name == key or layer.id == key:
                return layer
        raise KeyError(f"no layer named {key!r}")

    def __contains__(self, key: object) -> bool:
        return any(layer is key or layer.name == key or layer.id == key for layer in self._layers)

    def names(self) -> list[str]:
        return [layer.name for layer in self._layers]

    def append(self, layer: Layer) -> None:
        self.insert(len(self._layers), layer)

    def insert(self, index: int, layer: Layer) -> None:
        self._layers.insert(index, layer)
        layer.events.selection.connect(self._forward_selection(layer))
        self.events.inserted.emit(index, layer)

    def _forward_selection(self, layer: Layer):  # noqa: ANN202
        def forward(fids: frozenset[int]) -> None:
            self.events.selection.emit(layer, fids)

        layer._qdt_forward = forward  # keep the closure alive as long as the layer
        return forward

    def remove(self, layer: Layer) -> None:
        index = self._layers.index(layer)
        del self._layers[index]
        fwd = getattr(layer, "_qdt_forward", None)
        if fwd is not None:
            layer.events.selection.disconnect(fwd)
        self.events.removed.emit(index, layer)

    def move(self, old: int, new: int) -> None:
        layer = self._layers.pop(old)
        self._layers.insert(new, layer)
        self.events.moved.emit(old, new)

    def frozen(self) -> LayerList:
        """A list of :meth:`Layer.frozen` copies (same order and ids), for work on another thread."""
        twin = LayerList()
        twin._layers = [layer.frozen() for layer in self._layers]
        return twin

    def clear(self) -> None:
        for layer in list(self._layers):
            self.remove(layer)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        import math

        xs0, ys0, xs1, ys1 = [], [], [], []
        for layer in self._layers:
            b = layer.bounds
            if all(math.isfinite(v) for v in b):
                xs0.append(b[0]); ys0.append(b[1]); xs1.append(b[2]); ys1.append(b[3])  # noqa: E702
        if not xs0:
            return (math.nan,) * 4  # type: ignore[return-value]
        return (min(xs0), min(ys0), max(xs1), max(ys1))
