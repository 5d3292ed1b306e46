"""Base layer model.

Events (``layer.events``):

- ``visible(bool)``, ``opacity(float)``, ``style(Style)``, ``name(str)``
- ``data()``: the layer's features or pixels changed (reload, edit commit)
- ``selection(frozenset[int])``: the selected feature ids changed
- ``labels(LabelStyle | None)``: the label style changed (or labels were switched on or off)
"""

from __future__ import annotations

import itertools
from enum import Enum
from typing import Any

from pyproj import CRS

from qdt.events import EventGroup
from qdt.layers.style import LabelStyle, SingleStyle, Style

_ids = itertools.count(1)


class LayerKind(str, Enum):
    VECTOR = "vector"
    RASTER = "raster"
    CITYMODEL = "citymodel"


class Layer:
    """Common state of every layer: identity, CRS, visibility, opacity, style, selection."""

    kind: LayerKind

    def __init__(
        self,
        name: str,
        crs: CRS | None,
        *,
        source: str | None = None,
        source_layer: str | None = None,
        metadata: dict[str, Any] | None = None,
        style: Style | None = None,
    ) -> None:
        self.id = f"L{next(_ids)}"
        self._name = name
        self.crs = crs
        self.source = source
        self.source_layer = source_layer
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._visible = True
        self._opacity = 1.0
        self._style: Style = style or SingleStyle()
        self._selection: frozenset[int] = frozenset()
        self._labels: LabelStyle | None = None
        self.events = EventGroup("name", "visible", "opacity", "style", "data", "selection", "labels")

    # --- simple evented properties -------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        if value != self._name:
            self._name = value
            self.events.name.emit(value)

    @property
    def visible(self) -> bool:
        return self._visible

    @visible.setter
    def visible(self, value: bool) -> None:
        value = bool(value)
        if value != self._visible:
            self._visible = value
            self.events.visible.emit(value)

    @property
    def opacity(self) -> float:
        return self._opacity

    @opacity.setter
    def opacity(self, value: float) -> None:
        value = min(1.0, max(0.0, float(value)))
        if value != self._opacity:
            self._opacity = value
            self.events.opacity.emit(value)

    @property
    def style(self) -> Style:
        return self._style

    @style.setter
    def style(self, value: Style) -> None:
        self._style = value
        self.events.style.emit(value)

    @property
    def labels(self) -> LabelStyle | None:
        """The label style (None: the layer is not labelled); see :class:`qdt.layers.style.LabelStyle`."""
        return self._labels

    @labels.setter
    def labels(self, value: LabelStyle | None) -> None:
        self._labels = value
        self.events.labels.emit(value)

    @property
    def selection(self) -> frozenset[int]:
        return self._selection

    @selection.setter
    def selection(self, fids: Any) -> None:
        new = frozenset(int(f) for f in fids)
        if new != self._selection:
            self._selection = new
            self.events.selection.emit(new)

    # --- geometry summary ----------------------------------------------------------
    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) in the layer's CRS."""
        raise NotImplementedError

    @property
    def feature_count(self) -> int:
        raise NotImplementedError

    @property
    def category(self) -> str:
        """CIM data category used to group the layer tree (时空基础, 资源调查 ...)."""
        return str(self.metadata.get("category", "其他"))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} id={self.id}>"
