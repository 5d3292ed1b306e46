"""The DataSource seam: where layers come from, and what each store can do.

A :class:`DataSource` lists its layers with metadata and reads one layer for a
:class:`~qdt.io.base.FeatureRequest`, returning it in the data's *own* CRS. Everything
that does not depend on where the data lives (CRS checks and transformation, geometry
repair, catalogue mapping) happens afterwards in :func:`qdt.io.load_layer`, so every
source gets it for free.

Implementations: :class:`FileDataSource` (one file, format chosen by the reader registry)
and :class:`qdt.io.postgis.PostGISDataSource` (tables of a database). :func:`open_datasource`
is the ONE place that turns a path or URI into a source; everything else (the project's
layer entries, the CLI, the window's "add layer") goes through it.

Capabilities. As QGIS's ``QgsVectorDataProvider::capabilities()``, each source declares what it
can do (:class:`Capability`), and the query, edit, project and UI code ask instead of testing
which kind of store it is:

- ``WINDOWED_READS``: a read with a ``bbox`` and a ``limit`` is served by an index, so a
  project layer holds only a view window (:mod:`qdt.io.window`) and follows the camera;
- ``QUERY_PUSHDOWN``: filters run in the store (``where`` of a request), so queries ask the
  whole layer there, not the window loaded;
- ``TRANSACTIONAL_COMMIT``: :meth:`DataSource.edit_store` writes attribute edits in one
  transaction with a change log and optimistic conflict checks (:class:`EditStore`);
- ``CHANGE_NOTIFICATION``: :meth:`DataSource.listener` tells of other writers' commits;
- ``STREAMED_TILES``: a hierarchy of tiles (3D Tiles) whose layer loads in the background by
  screen-space error under a memory budget and follows the camera (``layer.streamer``).

A GeoPackage says ``TRANSACTIONAL_COMMIT`` and ``WINDOWED_READS`` (its R-tree serves bbox reads);
a PostGIS table the first four; a 3D Tiles tileset ``STREAMED_TILES``; other files none. A file
reader declares its own in ``capabilities``. Whether a layer is actually loaded by view window is
:meth:`DataSource.streams`: always for a database table, for a GeoPackage layer only above the
size threshold of :data:`qdt.io.window.settings` (smaller layers load whole, as they always did).
"""

from __future__ import annotations

import enum
import os
from abc import ABC, abstractmethod
from typing import Any, Protocol

from qdt.io.base import FeatureRequest, LayerInfo, ReadContext, SourceData
from qdt.io.errors import ReadError, display_name
from qdt.io.registry import ReaderSpec, reader_for


class Capability(enum.Flag):
    """What a data source can do (see the module docstring); combine with ``|``, test with ``in``."""

    NONE = 0
    WINDOWED_READS = enum.auto()
    QUERY_PUSHDOWN = enum.auto()
    TRANSACTIONAL_COMMIT = enum.auto()
    CHANGE_NOTIFICATION = enum.auto()
    STREAMED_TILES = enum.auto()


class EditStore(Protocol):
    """Where an edit session's commits go (:meth:`DataSource.edit_store`).

    ``uri`` and ``table`` name it in messages; ``columns()`` → (editable column → ColumnInfo,
    datetime column → stored with a zone); ``update(updates, user=, conflict_check=)`` writes
    :class:`~qdt.io.gpkg_write.ColumnUpdate` s in ONE transaction and returns a
    :class:`~qdt.io.gpkg_write.WriteOutcome`, raising :class:`~qdt.io.gpkg_write.WriteError`
    (nothing written) on failure. ``columns()`` raises WriteError or ReadError.
    """

    uri: str
    table: str

    def columns(self) -> tuple[dict[str, Any], dict[str, bool]]: ...

    def update(self, updates: Any, *, user: str | None, conflict_check: Any = None) -> Any: ...


class DataSource(ABC):
    """A store of layers (see the module docstring)."""

    #: What this source can do; subclasses override (a property when it depends on the format).
    capabilities: Capability = Capability.NONE

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

    def has(self, capability: Capability) -> bool:
        """True when the source declares ``capability``."""
        return capability in self.capabilities

    def streams(self, layer: str | None) -> bool:
        """True when ``layer`` should load by view window (:mod:`qdt.io.window`) rather than whole."""
        return self.has(Capability.WINDOWED_READS)

    # --- optional, by capability --------------------------------------------------------------
    def window_loader(self, source: Any, **kwargs: Any) -> Any:
        """``WINDOWED_READS``: a :class:`qdt.io.window.ViewWindowLoader` for ``source`` (a
        :class:`~qdt.io.base.LayerSource` of this source; its name, class, CRS and role are
        kept); ``kwargs``: ``budget``, ``margin``, ``project_crs``, ``where``."""
        if not self.has(Capability.WINDOWED_READS):
            raise ReadError(f"{display_name(self.uri)!r} cannot be read by view window")
        from qdt.io.window import ViewWindowLoader

        loader = ViewWindowLoader(self.uri, source.layer, **kwargs)
        loader.source = source
        return loader

    def first_window(self, layer: str, project_crs: Any) -> tuple[float, float, float, float] | None:
        """``WINDOWED_READS``: the rectangle (project CRS) a layer opened without a camera shows
        first (None: anywhere, e.g. no geometry)."""
        raise ReadError(f"{display_name(self.uri)!r} cannot be read by view window")

    def edit_store(self, layer: Any, *, lock_timeout_s: float) -> EditStore:
        """``TRANSACTIONAL_COMMIT``: where the commits of an edit session on ``layer`` (a layer
        read from this source) go. Raises WriteError or ReadError (one line) when it cannot be
        opened for writing."""
        from qdt.io.gpkg_write import WriteError

        raise WriteError(f"{display_name(self.uri)!r} cannot be edited")

    def listener(self) -> Any:
        """``CHANGE_NOTIFICATION``: an object with ``poll(timeout_s)`` → notices of other writers'
        commits, and ``close()``."""
        raise ReadError(f"{display_name(self.uri)!r} does not announce changes")


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

    @property
    def capabilities(self) -> Capability:  # type: ignore[override]
        # a GeoPackage is SQLite: one transaction per commit, change log inside the file; its R-tree
        # serves bbox reads (whether a layer streams is streams())
        declared = getattr(self._spec.reader, "capabilities", Capability.NONE)  # e.g. 3D Tiles: STREAMED_TILES
        if _is_sqlite(self.path):
            return declared | Capability.TRANSACTIONAL_COMMIT | Capability.WINDOWED_READS
        return declared

    def streams(self, layer: str | None) -> bool:
        """A GeoPackage layer with at least ``qdt.io.window.settings.threshold_features`` features."""
        if not self.has(Capability.WINDOWED_READS) or self.kind != "vector" or layer is None:
            return False
        from qdt.io.window import layer_count, settings

        try:
            return layer_count(self.path, layer) >= settings.threshold_features
        except Exception:  # noqa: BLE001 - an unreadable layer loads whole and reports its own error
            return False

    def first_window(self, layer: str, project_crs: Any) -> tuple[float, float, float, float] | None:
        """The layer's extent (GeoPackage metadata, no scan), capped around its centre."""
        import pyogrio

        from qdt.io.window import capped

        info = pyogrio.read_info(self.path, layer=layer)
        bounds = info.get("total_bounds")
        if bounds is None or not all(v == v for v in bounds):
            return None
        crs = info.get("crs")
        if crs:
            from pyproj import CRS, Transformer

            from qdt.crs import parse_crs

            src, dst = CRS.from_user_input(crs), parse_crs(project_crs)
            if src != dst:
                bounds = Transformer.from_crs(src, dst, always_xy=True).transform_bounds(*bounds)
        return capped(tuple(float(v) for v in bounds))

    def layers(self) -> list[LayerInfo]:
        return self._spec.reader.info(self.path)

    def layer_names(self) -> list[str]:
        return self._spec.reader.layer_names(self.path)

    def read(self, layer: str | None = None, request: FeatureRequest | None = None,
             context: ReadContext | None = None) -> SourceData:
        request = request or FeatureRequest()
        data = self._spec.reader.read(self.path, layer, request, context or ReadContext())
        frame = getattr(data.layer, "frame", None)
        if request.limit is not None and frame is not None and len(frame) > request.limit:
            data.layer.frame = frame.sort_index().iloc[: request.limit]  # files have no index to stop early
        return data

    def edit_store(self, layer: Any, *, lock_timeout_s: float) -> EditStore:
        from qdt.io.gpkg_write import WriteError

        if not _is_sqlite(self.path):
            raise WriteError(f"'{os.path.basename(self.path)}' is not a GeoPackage; only GeoPackage layers can be "
                             "edited (convert it first)")
        from qdt.io.gpkg_store import GeoPackageStore

        return GeoPackageStore(self.path, getattr(layer, "source_layer", None) or layer.name,
                               busy_timeout_s=lock_timeout_s)

    def __repr__(self) -> str:
        return f"<FileDataSource {self.path!r} reader={self._spec.name}>"


def _is_sqlite(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def open_datasource(uri: Any, kind: str | None = None, *, schema: str | None = None) -> DataSource:
    """The data source behind a path or URI: THE one place QDT builds data sources.

    Parameters
    ----------
    uri
        A file path, or ``postgis:`` + libpq connection string (see :mod:`qdt.io.postgis`);
        a :class:`~qdt.io.base.LayerSource` is taken by its ``path`` and ``kind``.
    kind
        Files: restrict the reader to one kind (``None`` guesses from the name).
    schema
        Databases: list only this schema's tables; the schema of table names given without one.

    Raises
    ------
    ReadError
        Missing file, a folder, no reader for the name, a malformed database URI.
    """
    from qdt.io.base import LayerSource

    if isinstance(uri, LayerSource):
        uri, kind = uri.path, kind or uri.kind
    from qdt.io.postgis.connection import is_database_source

    if is_database_source(uri):
        from qdt.io.postgis.source import PostGISDataSource

        return PostGISDataSource(str(uri), schema=schema)
    return FileDataSource(uri, kind)


def datasource_of(layer: Any) -> DataSource | None:
    """The source a loaded layer was read from (by its ``source``), or None for a layer built in
    memory or whose file is gone. Opening it reads no data and connects to nothing."""
    uri = getattr(layer, "source", None)
    if not uri:
        return None
    try:
        return open_datasource(uri, getattr(getattr(layer, "kind", None), "value", None))
    except (ReadError, ValueError, OSError):
        return None


def capabilities_of(layer: Any) -> Capability:
    """What the source of a loaded layer can do (:attr:`Capability.NONE` without one).

    ``WINDOWED_READS`` only for a layer that was loaded by view window (a GeoPackage layer
    under the streaming threshold is loaded whole and stays whole)."""
    source = datasource_of(layer)
    if source is None:
        return Capability.NONE
    caps = source.capabilities
    if Capability.WINDOWED_READS in caps and not getattr(layer, "metadata", {}).get("windowed"):
        caps &= ~Capability.WINDOWED_READS
    return caps
