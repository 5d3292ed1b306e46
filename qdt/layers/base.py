"""Base layer model.

Events (``layer.events``):

- ``visible(bool)``, ``opacity(float)``, ``name(str)``
- ``style(Style)``: the style was replaced (a style change never comes as ``data``)
- ``data(change)``: the layer's features or pixels changed; ``change`` is a :class:`DataChange`
  saying which features and fields (an edit, a live status update) or everything (a reload)
- ``selection(frozenset[int])``: the selected feature ids changed

Every event is emitted synchronously on the thread that changed the layer. Listeners that touch
Qt or VTK must be reached on the GUI thread: the 3D view connects through Qt queued connections
(:class:`qdt.ui.view3d.GuiRelay`). Work on another thread reads :meth:`Layer.frozen` copies.

Pushing changes (edits, live IoT status)::

    layer.frame.loc[fids, "status"] = values          # on the GUI thread
    layer.notify_data(fids, ["status"])              # the scene recolours just these features

The 3D scene recolours or moves only the features named when the fields are ones the layer's
builder draws with (its colour or its geometry/size fields), does nothing for fields it does not
draw, and rebuilds the layer for ``DataChange()`` (everything) or a geometry/size change.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
from pyproj import CRS

from qdt.events import EventGroup
from qdt.layers.style import SingleStyle, Style

_ids = itertools.count(1)

#: how a missing value is written for people, everywhere (inspector, attribute table, reports):
#: QGIS's convention
NULL_TEXT = "NULL"


@dataclass(frozen=True, eq=False)
class DataChange:
    """Payload of ``layer.events.data``: what changed in a layer's data.

    Attributes
    ----------
    fids
        Sorted unique int64 feature ids that changed, or None: any feature (reload, rows added
        or removed).
    fields
        Names of the attribute fields that changed, or None: any field.
    geometry
        Whether feature geometries changed (a rebuild of their 3D shapes).

    ``DataChange()`` means "everything changed". Build one with :meth:`attributes` for an
    attribute edit of some features.
    """

    fids: np.ndarray | None = None
    fields: frozenset[str] | None = None
    geometry: bool = True

    @classmethod
    def attributes(cls, fids: Iterable[int] | np.ndarray, fields: Iterable[str],
                   geometry_column: str | None = None) -> DataChange:
        """Attribute values of ``fids`` changed in ``fields`` (a field equal to ``geometry_column``
        marks a geometry change)."""
        names = frozenset(str(f) for f in fields)
        ids = np.unique(np.asarray(list(fids) if not isinstance(fids, np.ndarray) else fids, dtype=np.int64))
        geometry = geometry_column is not None and geometry_column in names
        return cls(fids=ids, fields=names - {geometry_column} if geometry else names, geometry=geometry)

    @property
    def everything(self) -> bool:
        """True when any feature and field may have changed (listeners reload)."""
        return self.fids is None or self.fields is None

    def touches(self, fields: Iterable[str]) -> bool:
        """Whether the change may concern any of ``fields``."""
        return self.fields is None or not self.fields.isdisjoint(fields)

    def __repr__(self) -> str:
        fids = "all" if self.fids is None else f"{len(self.fids)} fids"
        fields = "all" if self.fields is None else sorted(self.fields)
        return f"DataChange({fids}, fields={fields}, geometry={self.geometry})"


class LayerKind(str, Enum):
    VECTOR = "vector"
    RASTER = "raster"
    CITYMODEL = "citymodel"
    TILESET = "tileset"


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
        self.events = EventGroup("name", "visible", "opacity", "style", "data", "selection")

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
    def selection(self) -> frozenset[int]:
        return self._selection

    @selection.setter
    def selection(self, fids: Any) -> None:
        new = frozenset(int(f) for f in fids)
        if new != self._selection:
            self._selection = new
            self.events.selection.emit(new)

    def notify_data(self, fids: Iterable[int] | np.ndarray | None = None, fields: Iterable[str] | None = None,
                    *, geometry: bool | None = None) -> DataChange:
        """Emit ``events.data`` for changed features (default: everything); returns the change.

        ``geometry`` defaults to True for "everything" and to False for named fields.
        """
        if fids is None or fields is None:
            change = DataChange(None if fids is None else np.unique(np.asarray(list(fids), dtype=np.int64)),
                                None if fields is None else frozenset(fields),
                                True if geometry is None else bool(geometry))
        else:
            change = DataChange.attributes(fids, fields, getattr(self, "geometry_column", None))
            if geometry:
                change = DataChange(change.fids, change.fields, True)
        self.events.data.emit(change)
        return change

    def frozen(self) -> Layer:
        """A detached copy for work on another thread (exports): same id, name, style, visibility,
        opacity and selection, a snapshot of the data that later edits do not reach (pandas
        copy-on-write: no data is copied until the live layer is edited), and no listeners."""
        twin = copy.copy(self)
        twin.events = EventGroup("name", "visible", "opacity", "style", "data", "selection")
        twin.metadata = dict(self.metadata)
        twin.__dict__.pop("_qdt_forward", None)
        twin._freeze_data()
        return twin

    def _freeze_data(self) -> None:
        """Replace mutable data containers by snapshots (subclasses)."""

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
