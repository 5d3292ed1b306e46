"""The DataSource seam: where layers come from (files now, PostGIS later).

A :class:`DataSource` lists its layers with metadata and reads one layer for a
:class:`~qdt.io.base.FeatureRequest`, returning it in the data's *own* CRS. Everything
that does not depend on where the data lives (CRS checks and transformation, geometry
repair, catalogue mapping) happens afterwards in :func:`qdt.io.load_layer`, so a
database-backed source gets it for free.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod

from qdt.io.base import FeatureRequest, LayerInfo, ReadContext, SourceData
from qdt.io.errors import ReadError, display_name
from qdt.io.registry import ReaderSpec, reader_for


class DataSource(ABC):
    """A store of layers.

    Implementations: :class:`FileDataSource` (one file, format chosen by the reader
    registry); a PostGIS source would list tables and turn the request into SQL.
    """

    @property
    @abstractmethod
    def uri(self) -> str:
        """Identifies the source in messages and project files (a path, a connection name)."""

    @property
    @abstractmethod
    def kind(self) -> str:
        """``"vector"``, ``"raster"`` or ``"citymodel"``."""

    @abstractmethod
    def layers(self) -> list[LayerInfo]:
        """Metadata of every layer (fast: no features are read)."""

    def layer_names(self) -> list[str]:
        return [info.name for info in self.layers()]

    @abstractmethod
    def read(self, layer: str | None = None, request: FeatureRequest | None = None,
             context: ReadContext | None = None) -> SourceData:
        """Read one layer as asked by ``request``, in the data's own CRS.

        Raises
        ------
        ReadError
            Unknown layer, unreadable or corrupt data (one-line message naming source and layer).
        """


class FileDataSource(DataSource):
    """A file read through the reader registered for its name (and content, for ``*.json``).

    Parameters
    ----------
    path
        File path.
    kind
        Restrict the reader to one kind; ``None`` guesses from the file name.
    """

    def __init__(self, path: str | os.PathLike[str], kind: str | None = None) -> None:
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise ReadError(f"cannot read {display_name(self.path)!r}: file not found")
        if os.path.isdir(self.path):
            raise ReadError(f"cannot read {display_name(self.path)!r}: it is a folder, not a file")
        self._spec: ReaderSpec = reader_for(self.path, kind)

    @property
    def uri(self) -> str:
        return self.path

    @property
    def kind(self) -> str:
        return self._spec.kind

    @property
    def reader_name(self) -> str:
        return self._spec.name

    def layers(self) -> list[LayerInfo]:
        return self._spec.reader.info(self.path)

    def layer_names(self) -> list[str]:
        return self._spec.reader.layer_names(self.path)

    def read(self, layer: str | None = None, request: FeatureRequest | None = None,
             context: ReadContext | None = None) -> SourceData:
        return self._spec.reader.read(self.path, layer, request or FeatureRequest(), context or ReadContext())

    def __repr__(self) -> str:
        return f"<FileDataSource {self.path!r} reader={self._spec.name}>"
