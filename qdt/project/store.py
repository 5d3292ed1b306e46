"""Reading and writing .qdt project files (versioned JSON), and opening their layers.

The loader is a pure parser: JSON → model, with migrations from older versions. Writing
is atomic (temporary file + rename), so a crash never leaves half a project file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qdt.crs import CRSProblem, parse_crs
from qdt.io.postgis.connection import URI_PREFIX, DatabaseError, check_conninfo, is_database_source
from qdt.project.model import Bookmark, Camera, LayerEntry, Project, ProjectError
from qdt.safe_output import atomic_output, input_files, read_small_text
from qdt.tasks import CancelFn, ProgressFn

FORMAT = "qdt-project"
FORMAT_VERSION = 1
KINDS = ("vector", "raster", "citymodel", "tileset")
#: A project file holds settings and paths, never data: anything larger is not one (e.g. /dev/zero).
MAX_PROJECT_BYTES = 64 * 1024 * 1024

# version → function upgrading a dict of that version to version + 1
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def migration(from_version: int) -> Callable[[Callable[[dict[str, Any]], dict[str, Any]]], Any]:
    def register(fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
        if from_version in MIGRATIONS:
            raise ValueError(f"a migration from version {from_version} is already registered")
        MIGRATIONS[from_version] = fn
        return fn

    return register


@migration(0)
def _from_v0(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 0 (pre-release) kept layers under "sources" with "path" instead of "source"."""
    doc = dict(doc)
    layers = doc.pop("sources", doc.get("layers", []))
    doc["layers"] = [{**{k: v for k, v in lyr.items() if k != "path"}, "source": lyr.get("source", lyr.get("path"))}
                     for lyr in layers]
    doc["version"] = 1
    return doc


def _migrate(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    version = doc.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:  # JSON true is not 1
        raise ProjectError(f"project '{path}': 'version' must be a whole number, not {version!r}")
    if version > FORMAT_VERSION:
        raise ProjectError(f"project '{path}' was written by a newer QDT (format version {version}; "
                           f"this QDT reads up to {FORMAT_VERSION})")
    while version < FORMAT_VERSION:
        doc = MIGRATIONS[version](doc)
        version = doc["version"]
    return doc


def _entry_from_dict(d: Any, index: int, base: Path, path: Path) -> LayerEntry:
    where = f"project '{path}', layer {index + 1}"
    if not isinstance(d, dict):
        raise ProjectError(f"{where}: expected an object, got {type(d).__name__}")
    source = d.get("source")
    if not isinstance(source, str) or not source:
        raise ProjectError(f"{where}: 'source' (a file path) is missing")
    kind = d.get("kind")
    if kind is None:
        kind = "raster" if source.lower().endswith((".tif", ".tiff")) else (
            "citymodel" if source.lower().endswith(".json") and "city" in source.lower() else "vector")
    if kind not in KINDS:
        raise ProjectError(f"{where}: unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    if is_database_source(source):
        # a database table: "postgis:<libpq conninfo without password>", layer "schema.table"
        try:
            check_conninfo(source[len(URI_PREFIX):])
        except DatabaseError as exc:
            raise ProjectError(f"{where}: {exc}") from exc
        if not d.get("layer"):
            raise ProjectError(f"{where}: a database layer needs 'layer' (the table, 'schema.table')")
    src = Path(source)
    abs_source = src if src.is_absolute() or is_database_source(source) else (base / src)
    opacity = d.get("opacity", 1.0)
    if not isinstance(opacity, (int, float)):
        raise ProjectError(f"{where}: 'opacity' must be a number, not {opacity!r}")
    check_style(d.get("style"), where)
    known = {"name", "kind", "source", "layer", "feature_class", "role", "crs", "visible", "opacity", "style"}
    return LayerEntry(
        name=str(d.get("name") or d.get("layer") or src.stem),
        kind=kind,
        source=source if is_database_source(source) else os.path.normpath(str(abs_source)),
        layer_name=d.get("layer"),
        feature_class=d.get("feature_class"),
        role=d.get("role"),
        crs=d.get("crs"),
        visible=bool(d.get("visible", True)),
        opacity=float(opacity),
        style=d.get("style"),
        extra={k: v for k, v in d.items() if k not in known},
    )


def _check_colour(value: Any, where: str) -> None:
    ok = (isinstance(value, (list, tuple)) and len(value) in (3, 4)
          and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value))
    if not ok:
        raise ProjectError(f"{where}: colour {value!r} is not [red, green, blue] with whole numbers 0–255")


def check_style(style: Any, where: str) -> None:
    """ProjectError (one line naming the layer and the bad value) for a style the renderer cannot use.

    Checked when the project is read, so a hand-edited or damaged file is refused with a
    message instead of failing later, deep in a render, with a traceback.
    """
    from qdt.layers.style import RAMPS

    if style is None:
        return
    if not isinstance(style, dict):
        raise ProjectError(f"{where}: 'style' must be an object, not {style!r:.60}")
    kind = style.get("kind", "single")
    where = f"{where}: style"
    if kind not in ("single", "categorised", "graduated"):
        raise ProjectError(f"{where}: unknown kind {kind!r} (single, categorised or graduated)")
    if "field" in style and not isinstance(style["field"], str):
        raise ProjectError(f"{where}: 'field' must be a field name, not {style['field']!r:.60}")
    for key in ("colour", "default"):
        if key in style:
            _check_colour(style[key], f"{where} '{key}'")
    if kind == "categorised":
        categories = style.get("categories", {})
        if not isinstance(categories, dict):
            raise ProjectError(f"{where}: 'categories' must map values to [label, colour], not {categories!r:.60}")
        for value, entry in categories.items():
            if not (isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str)):
                raise ProjectError(f"{where}: category {value!r} must be [label, colour], not {entry!r:.60}")
            _check_colour(entry[1], f"{where} category {value!r}")
    elif kind == "graduated":
        breaks = style.get("breaks", [])
        if not (isinstance(breaks, list) and all(isinstance(b, (int, float)) and not isinstance(b, bool)
                                                 and math.isfinite(b) for b in breaks)):
            raise ProjectError(f"{where}: 'breaks' must be a list of numbers, not {breaks!r:.60}")
        if any(a > b for a, b in zip(breaks[:-1], breaks[1:], strict=True)):
            raise ProjectError(f"{where}: 'breaks' must be in ascending order, not {breaks!r:.60}")
        if style.get("ramp", "Viridis") not in RAMPS:
            raise ProjectError(f"{where}: unknown colour ramp {style.get('ramp')!r:.60} (known: {', '.join(RAMPS)})")


def default_height_datum(crs: Any) -> str | None:
    """The height datum a project means when its file names none: the 1985 national datum
    (EPSG:5737) only for the base map's CGCS2000 Gauss-Krüger CRS; a compound CRS (RD New + NAP,
    EPSG:7415) carries its own; any other CRS: unknown (None) rather than a wrong 1985 label."""
    from qdt.crs import PROJECT_CRS, same_crs

    try:
        parsed = parse_crs(crs)
    except CRSProblem:
        return None
    if parsed.is_compound:
        return None
    return "EPSG:5737" if same_crs(parsed, parse_crs(PROJECT_CRS)) else None


def load_project(path: str | os.PathLike[str]) -> Project:
    """Parse a .qdt file into a :class:`Project` (layers not opened yet; see :func:`open_layers`)."""
    p = Path(path).resolve()
    if not p.exists():
        raise ProjectError(f"project file '{path}' does not exist")
    text = read_small_text(p, MAX_PROJECT_BYTES, "project file", ProjectError)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProjectError(f"project file '{path}' is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                           f"{exc.msg})") from exc
    except RecursionError:
        raise ProjectError(f"project file '{path}' is not a QDT project: its JSON is nested too deeply") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ProjectError(f"'{path}' is not a QDT project file (missing \"format\": \"{FORMAT}\")")
    doc = _migrate(doc, p)
    project = Project(name=str(doc.get("name") or p.stem), path=p)
    crs = doc.get("crs", project.crs)
    try:
        parse_crs(crs)
    except CRSProblem as exc:
        raise ProjectError(f"project '{path}': {exc}") from exc
    project.crs = str(crs)
    if "height_datum" in doc:
        project.height_datum = str(doc["height_datum"]) if doc["height_datum"] else None  # type: ignore[assignment]
    else:
        project.height_datum = default_height_datum(crs)  # type: ignore[assignment]
    layers = doc.get("layers", [])
    if not isinstance(layers, list):
        raise ProjectError(f"project '{path}': 'layers' must be a list")
    project.entries = [_entry_from_dict(d, i, p.parent, p) for i, d in enumerate(layers)]
    try:
        if doc.get("camera"):
            project.camera = Camera.from_dict(doc["camera"])
        project.bookmarks = [Bookmark(str(b["name"]), Camera.from_dict(b["camera"])) for b in doc.get("bookmarks", [])]
    except (KeyError, TypeError, ValueError) as exc:
        raise ProjectError(f"project '{path}': bad camera or bookmark ({exc})") from exc
    project.ui = dict(doc.get("ui", {}))
    return project


def _relative(source: str, base: Path) -> str:
    if is_database_source(source):
        return source
    try:
        return Path(os.path.relpath(source, base)).as_posix()
    except ValueError:  # another drive on Windows
        return Path(source).as_posix()


def project_to_dict(project: Project, base: Path) -> dict[str, Any]:
    project.sync_from_layers()
    layers = []
    for e in project.entries:
        d: dict[str, Any] = {"name": e.name, "kind": e.kind, "source": _relative(e.source, base)}
        for key, value in (("layer", e.layer_name), ("feature_class", e.feature_class), ("role", e.role),
                           ("crs", e.crs)):
            if value is not None:
                d[key] = value
        d["visible"] = e.visible
        d["opacity"] = e.opacity
        if e.style:
            d["style"] = e.style
        d.update(e.extra)
        layers.append(d)
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "name": project.name,
        "crs": project.crs,
        "height_datum": project.height_datum,
        "layers": layers,
        "camera": project.camera.to_dict() if project.camera else None,
        "bookmarks": [b.to_dict() for b in project.bookmarks],
        "ui": project.ui,
    }


def save_project(project: Project, path: str | os.PathLike[str] | None = None) -> Path:
    """Write the project atomically; paths become relative to the new location."""
    target = Path(path or project.path or "").resolve()
    if not str(path or project.path or ""):
        raise ProjectError("the project has no file name yet")
    doc = project_to_dict(project, target.parent)
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    layers = [e.layer for e in project.entries if getattr(e, "layer", None) is not None]
    sources = [e.source for e in project.entries if getattr(e, "source", None)]
    with atomic_output(target, inputs=input_files(layers, *sources), error=ProjectError) as temp:
        temp.write_text(text, encoding="utf-8")
    project.path = target
    project.dirty = False
    return target


def open_layers(project: Project, progress: ProgressFn | None = None, is_cancelled: CancelFn | None = None,
                *, window_budget: int | None = None) -> Project:
    """Open every layer of the project; a layer that fails is kept as an unavailable entry.

    Runs without Qt so it can be a background task: the layers are created here but only
    added to ``project.layers`` by :func:`attach_layers` (on the GUI thread in the app).
    Layers of sources with windowed reads (a database) load only a view window of at most
    ``window_budget`` features (:data:`qdt.io.postgis.DEFAULT_BUDGET` by default) around the
    saved camera; the app then follows the camera. See :mod:`qdt.project.loading`.
    """
    from qdt.project.loading import open_entries

    open_entries(project.entries, project.crs, progress, is_cancelled, camera=project.camera,
                 window_budget=window_budget)
    return project


def attach_layers(project: Project) -> None:
    """Put the opened layers into ``project.layers`` (in entry order)."""
    project.layers.clear()
    for entry in project.entries:
        if entry.layer is not None:
            project.layers.append(entry.layer)
    project.events.layers_opened.emit()


def open_project(path: str | os.PathLike[str], progress: ProgressFn | None = None,
                 is_cancelled: CancelFn | None = None) -> Project:
    """Load a project file and open all its layers (headless convenience)."""
    project = load_project(path)
    open_layers(project, progress, is_cancelled)
    attach_layers(project)
    return project
