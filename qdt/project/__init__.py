"""Projects: a versioned JSON file (.qdt) of layer sources, styles, CRS, camera and bookmarks.

Project files are data only; nothing in them is ever executed.
"""

from qdt.project.model import Bookmark, Camera, LayerEntry, Project, ProjectError
from qdt.project.store import (
    FORMAT,
    FORMAT_VERSION,
    attach_layers,
    load_project,
    open_layers,
    open_project,
    save_project,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Bookmark",
    "Camera",
    "LayerEntry",
    "Project",
    "ProjectError",
    "attach_layers",
    "load_project",
    "open_layers",
    "open_project",
    "save_project",
]
