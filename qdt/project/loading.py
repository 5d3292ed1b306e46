"""From a project layer entry to a loaded layer: the ONE loading path.

The window (opening a project, adding files or database tables), every ``qdt`` command and
:func:`qdt.project.open_project` go through here::

    entry (LayerEntry) ──layer_source──▶ LayerSource ──open_datasource──▶ DataSource
          ──open_entry──▶ layer (project CRS, named and styled as the entry says)

A path or URI the user adds becomes entries first (:func:`entries_for_path`,
:func:`entries_for_tables`), so it loads exactly as a saved project would. How much is read
depends on what the source can do (:class:`qdt.io.Capability`), not on what kind it is: a
source with ``WINDOWED_READS`` loads a view window around the camera (or its first window)
and the app follows the camera; the others load whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qdt.io import FeatureRequest, LayerSource, LoadResult, ReadError, load_layer, open_datasource
from qdt.io.postgis.connection import is_database_source  # a URI, not a file path
from qdt.layers.style import label_style_from_dict
from qdt.project.model import Camera, LayerEntry
from qdt.tasks import CancelFn, ProgressFn, check_cancel


def layer_source(entry: LayerEntry) -> LayerSource:
    """What to read for ``entry``: its source, layer (a database table with the entry's
    ``"schema"`` when the name has none), kind, name, declared CRS, class and role."""
    table = entry.layer_name
    schema = entry.extra.get("schema")
    if table and "." not in table and schema and is_database_source(entry.source):
        table = f"{schema}.{table}"
    return LayerSource(path=entry.source, layer=table, kind=entry.kind, name=entry.name, crs=entry.crs,
                       feature_class=entry.feature_class, role=entry.role, anchor=_anchor(entry.extra.get("anchor")))


def _anchor(value: Any) -> tuple[float, ...] | None:
    """A layer's ``anchor`` ([x, y, z] or [x, y, z, rotation°] in the project CRS) for local models."""
    if value is None:
        return None
    try:
        anchor = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ReadError(f"anchor {value!r} is not a list of numbers [x, y, z(, rotation)]") from None
    if len(anchor) not in (3, 4):
        raise ReadError(f"anchor {value!r} needs 3 or 4 numbers [x, y, z(, rotation)]")
    return anchor


def guess_feature_class(name: str) -> str | None:
    """The CIM class a layer named ``name`` ('streetlights', '路灯') follows, if the catalogue knows it."""
    try:
        from qdt.cim import catalogue

        cls = catalogue().class_for_layer(name)
    except (ImportError, KeyError, ValueError):
        return None
    return cls.name if cls is not None else None


def entries_for_path(path: str | os.PathLike[str], *, choose: Callable[[str, list[str]], list[str]] | None = None,
                     guess_class: bool = True) -> list[LayerEntry]:
    """Entries for the layers of a file the user adds (not opened yet).

    A multi-layer file (GeoPackage) gives one entry per layer; ``choose(path, names)`` picks
    which (the window's sub-layer dialog; all when None). ``guess_class``: take the CIM class
    the layer's name suggests.

    Raises
    ------
    ReadError
        Missing or unreadable file, no reader for it.
    """
    path = os.fspath(path)
    source = open_datasource(path)
    names = source.layer_names() if source.kind == "vector" else []
    several = len(names) > 1  # then each entry names its layer; a single-layer file needs none
    if several and choose is not None:
        names = choose(path, names)
        if not names:
            return []
    absolute = os.path.normpath(os.path.abspath(path))
    entries = []
    for name in names if several else [None]:
        display = name or Path(path).name.split(".")[0]
        entries.append(LayerEntry(name=display, kind=source.kind, source=absolute, layer_name=name,
                                  feature_class=guess_feature_class(display) if guess_class else None))
    return entries


def entries_for_tables(uri: str, tables: Sequence[str]) -> list[LayerEntry]:
    """Entries for tables (``schema.table``) of a database the user adds (not opened yet)."""
    entries = []
    for table in tables:
        name = table.rsplit(".", 1)[-1]
        entries.append(LayerEntry(name=name, kind="vector", source=uri, layer_name=table,
                                  feature_class=guess_feature_class(name)))
    return entries


def _open_window(datasource: Any, src: LayerSource, project_crs: Any, camera: Camera | None,
                 budget: int | None, is_cancelled: CancelFn | None) -> tuple[LoadResult, list[str]]:
    """A windowed source's layer: the ground the camera looks at, else the source's first
    window, at most ``budget`` features (never the whole layer)."""
    from qdt.io.window import DEFAULT_BUDGET, camera_ground_bbox

    loader = datasource.window_loader(src, budget=budget or DEFAULT_BUDGET, project_crs=project_crs)
    if camera is not None:
        view = camera_ground_bbox(camera.position, camera.focal_point, camera.view_angle)
        window = loader.load(view, is_cancelled=is_cancelled)
    else:
        view = datasource.first_window(src.layer, project_crs)  # None: no geometry or no rows
        window = loader.load(view, is_cancelled=is_cancelled, exact=True)
    warnings = list(window.warnings)
    if window.truncated:
        warnings.append(f"layer '{src.name}': more than {window.count} features in the first view window; only the "
                        f"first {window.count} are loaded (zoom in to see all)")
    return LoadResult(window.layer, warnings), warnings


def open_entry(entry: LayerEntry, project_crs: Any, *, camera: Camera | None = None,
               window_budget: int | None = None, request: FeatureRequest | None = None,
               is_cancelled: CancelFn | None = None) -> LoadResult:
    """Read the layer of ``entry`` into ``project_crs``, named, shown and styled as the entry says.

    Parameters
    ----------
    camera
        Sources with ``WINDOWED_READS``: load the ground this camera looks at (else the
        source's first window).
    window_budget
        Sources with ``WINDOWED_READS``: most features loaded (``qdt.io.postgis.DEFAULT_BUDGET``
        by default).
    request
        Read exactly this (fids, columns, ...) instead, from any source; ``FeatureRequest()``
        reads the whole layer, ``FeatureRequest(limit=0)`` its structure only (a caller that
        pushes its queries down to a ``QUERY_PUSHDOWN`` source, as the CLI does).

    Raises
    ------
    ReadError
        Missing or unreadable data (one line naming the source and layer).
    """
    src = layer_source(entry)
    if not is_database_source(entry.source) and not Path(entry.source).exists():
        raise ReadError(f"data file '{entry.source}' is missing")
    datasource = open_datasource(src)
    if request is None and datasource.streams(src.layer):
        result, _ = _open_window(datasource, src, project_crs, camera, window_budget, is_cancelled)
    else:
        result = load_layer(src, project_crs=project_crs, is_cancelled=is_cancelled, request=request)
    layer = result.layer
    layer.name = entry.name
    layer.visible = entry.visible
    layer.opacity = entry.opacity
    style = entry.style_object()
    if style is not None:
        layer.style = style
    try:  # labels (qdt.layers.style.LabelStyle) live in the entry's "labels" object
        layer.labels = label_style_from_dict(entry.extra.get("labels"))
    except ValueError as exc:
        result.warnings.append(f"layer '{entry.name}': labels ignored: {exc}")
    return result


def open_entries(entries: Sequence[LayerEntry], project_crs: Any, progress: ProgressFn | None = None,
                 is_cancelled: CancelFn | None = None, *, camera: Camera | None = None,
                 window_budget: int | None = None) -> None:
    """Open each entry (see :func:`open_entry`); one that fails keeps its error and stays
    unavailable (a "bad layer"). Sets ``layer``, ``error``, ``warnings`` and ``needs_fix`` of
    every entry. Qt-free, so it runs as a background task."""
    progress = progress or (lambda f, m: None)
    is_cancelled = is_cancelled or (lambda: False)
    n = max(len(entries), 1)
    unreachable: dict[str, str] = {}
    for i, entry in enumerate(entries):
        check_cancel(is_cancelled)
        progress(i / n, entry.name)
        entry.layer, entry.error, entry.warnings, entry.needs_fix = None, None, [], None
        if entry.source in unreachable:  # one connect timeout per server, not per layer
            entry.error = f"layer '{entry.name}': {unreachable[entry.source]}"
            continue
        try:
            result = open_entry(entry, project_crs, camera=camera, window_budget=window_budget,
                                is_cancelled=is_cancelled)
        except ReadError as exc:
            entry.error = f"layer '{entry.name}': {exc}"
            entry.needs_fix = getattr(exc, "missing", None)  # a table the source can repair
            if str(exc).startswith("cannot connect"):
                unreachable[entry.source] = str(exc)
            continue
        entry.needs_fix = result.layer.metadata.get("needs_fix")
        entry.layer = result.layer
        entry.warnings = list(result.warnings)
    progress(1.0, "")
