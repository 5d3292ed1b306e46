"""Exports: print-quality snapshots with overlays, PDF reports, data (CSV/GeoJSON/GPKG) and glTF scenes.

No Qt here (an import-linter contract keeps it so): snapshots render through VTK offscreen and
draw overlays with Pillow, reports are written with reportlab. Every long export is also a
:class:`qdt.tasks.Task` (progress, cancel) for the UI and the CLI.

Public API::

    from qdt.export import SnapshotOptions, snapshot_project, write_report, export_selection, export_gltf
"""

from qdt.export.errors import ExportError, cjk_font_path
from qdt.export.snapshot import (
    IMAGE_SUFFIXES,
    MAX_SIDE,
    OVERLAYS,
    Snapshot,
    SnapshotOptions,
    ViewInfo,
    render_view,
    save_image,
    snapshot_layers,
    snapshot_project,
    snapshot_task,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_SIDE",
    "OVERLAYS",
    "ExportError",
    "Snapshot",
    "SnapshotOptions",
    "ViewInfo",
    "cjk_font_path",
    "render_view",
    "save_image",
    "snapshot_layers",
    "snapshot_project",
    "snapshot_task",
]
