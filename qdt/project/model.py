"""Project model: what a .qdt file describes, plus the layers opened from it.

Events (``project.events``): ``dirty(bool)``, ``layers_opened()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdt.crs import PROJECT_CRS
from qdt.events import EventGroup
from qdt.layers import Layer, LayerList
from qdt.layers.style import Style, style_from_dict


class ProjectError(Exception):
    """A project file that cannot be read or written; str() is one line naming the file."""


@dataclass
class Camera:
    """A camera in world coordinates (project CRS + heights)."""

    position: tuple[float, float, float]
    focal_point: tuple[float, float, float]
    view_up: tuple[float, float, float] = (0.0, 0.0, 1.0)
    view_angle: float = 30.0

    def to_dict(self) -> dict[str, Any]:
        return {"position": list(self.position), "focal_point": list(self.focal_point),
                "view_up": list(self.view_up), "view_angle": self.view_angle}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Camera:
        def vec(key: str, default: tuple[float, float, float] | None = None) -> tuple[float, float, float]:
            value = d.get(key, default)
            if value is None or len(value) != 3:
                raise ValueError(f"camera '{key}' must be three numbers")
            out = tuple(float(v) for v in value)
            if not all(math.isfinite(v) for v in out):
                raise ValueError(f"camera '{key}' must be finite")
            return out  # type: ignore[return-value]

        return cls(vec("position"), vec("focal_point"), vec("view_up", (0.0, 0.0, 1.0)),
                   float(d.get("view_angle", 30.0)))


@dataclass
class Bookmark:
    name: str
    camera: Camera

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "camera": self.camera.to_dict()}


@dataclass
class LayerEntry:
    """One layer of a project: where its data is and how it is shown.

    ``source`` is an absolute path in memory; the file stores it relative to the project.
    ``error`` is set when the layer could not be opened (a "bad layer" the user can repair);
    it then has no ``layer``.
    """

    name: str
    kind: str
    source: str
    layer_name: str | None = None
    feature_class: str | None = None
    role: str | None = None
    crs: str | None = None
    visible: bool = True
    opacity: float = 1.0
    style: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    layer: Layer | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: for a database table QDT can repair (``qdt db fix``): what it lacks, "primary key" (then
    #: the layer is unavailable) or "spatial index" (the layer opens, but loads slowly)
    needs_fix: str | None = None

    @property
    def available(self) -> bool:
        return self.layer is not None

    def style_object(self) -> Style | None:
        return style_from_dict(self.style) if self.style else None


class Project:
    """A project: entries (sources and settings), the layer list built from them, camera, bookmarks."""

    def __init__(self, name: str = "未命名项目", crs: str = PROJECT_CRS, path: Path | None = None) -> None:
        self.name = name
        self.crs = crs
        self.height_datum = "EPSG:5737"
        self.path = path
        self.entries: list[LayerEntry] = []
        self.layers = LayerList()
        self.camera: Camera | None = None
        self.bookmarks: list[Bookmark] = []
        self.ui: dict[str, Any] = {}
        self._dirty = False
        self.events = EventGroup("dirty", "layers_opened")

    @property
    def dirty(self) -> bool:
        return self._dirty

    def frozen(self) -> Project:
        """A detached copy for background work (exports): frozen layers
        (:meth:`qdt.layers.LayerList.frozen`), copies of entries, camera and bookmarks, no listeners.
        Edits, layer toggles and camera moves in the window after this call do not reach it."""
        import copy

        twin = copy.copy(self)
        twin.layers = self.layers.frozen()
        twin.entries = [copy.copy(e) for e in self.entries]
        by_id = {layer.id: layer for layer in twin.layers}
        for entry in twin.entries:
            if entry.layer is not None:
                entry.layer = by_id.get(entry.layer.id)
        twin.camera = copy.deepcopy(self.camera)
        twin.bookmarks = copy.deepcopy(self.bookmarks)
        twin.ui = copy.deepcopy(self.ui)
        twin.events = EventGroup("dirty", "layers_opened")
        return twin

    @dirty.setter
    def dirty(self, value: bool) -> None:
        if bool(value) != self._dirty:
            self._dirty = bool(value)
            self.events.dirty.emit(self._dirty)

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def entry_for(self, layer: Layer) -> LayerEntry | None:
        return next((e for e in self.entries if e.layer is layer), None)

    @property
    def unavailable(self) -> list[LayerEntry]:
        return [e for e in self.entries if e.error is not None]

    def sync_from_layers(self) -> None:
        """Copy the live layers' visibility, opacity and style back into the entries (before saving)."""
        for entry in self.entries:
            if entry.layer is not None:
                entry.visible = entry.layer.visible
                entry.opacity = entry.layer.opacity
                entry.style = entry.layer.style.to_dict()
                entry.name = entry.layer.name
