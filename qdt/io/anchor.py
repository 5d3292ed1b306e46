"""Moving a model placed by an anchor (an IFC without georeference, a local 3D Tiles set) to a new anchor.

An anchor is ``(x, y, z[, rotation°])`` in the project CRS: the model's local origin goes to
(x, y, z) and its local x axis is turned ``rotation`` degrees anticlockwise from east.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from qdt.io.errors import ReadError


def anchor_tuple(value: Sequence[float] | None) -> tuple[float, float, float, float]:
    """``(x, y, z, rotation)`` of an anchor given with 3 or 4 numbers (None: the origin)."""
    if value is None:
        return (0.0, 0.0, 0.0, 0.0)
    numbers = [float(v) for v in value]
    if len(numbers) not in (3, 4) or not all(math.isfinite(v) for v in numbers):
        raise ReadError(f"anchor {list(value)!r} needs 3 or 4 finite numbers [x, y, z(, rotation)]")
    return (numbers[0], numbers[1], numbers[2], numbers[3] if len(numbers) == 4 else 0.0)


def is_anchored(layer: Any) -> bool:
    """True for a layer placed by an anchor (not by a CRS): a local tileset or an IFC without map conversion."""
    streamer = getattr(layer, "streamer", None)
    if streamer is not None:
        return bool(streamer.placement.local)
    return str(getattr(layer, "metadata", {}).get("placement", "")).startswith("anchor")


def _move(xyz: np.ndarray, old: tuple[float, ...], new: tuple[float, ...]) -> np.ndarray:
    if len(xyz) == 0:
        return xyz
    local = xyz - np.array(old[:3])
    back = -math.radians(old[3])
    c, s = math.cos(back), math.sin(back)
    x, y = c * local[:, 0] - s * local[:, 1], s * local[:, 0] + c * local[:, 1]
    turn = math.radians(new[3])
    c, s = math.cos(turn), math.sin(turn)
    out = np.empty_like(xyz)
    out[:, 0] = new[0] + c * x - s * y
    out[:, 1] = new[1] + s * x + c * y
    out[:, 2] = new[2] + local[:, 2]
    return out


def reanchor(layer: Any, old: Sequence[float] | None, new: Sequence[float]) -> None:
    """Move an anchored ``layer`` from anchor ``old`` to ``new`` in place (emits the layer's ``data``).

    Raises
    ------
    ReadError
        The layer is placed by its CRS, not by an anchor; or an anchor is not 3–4 finite numbers.
    """
    if not is_anchored(layer):
        raise ReadError(f"layer '{layer.name}' is placed by its coordinate reference system, not by an anchor")
    before, after = anchor_tuple(old), anchor_tuple(new)
    streamer = getattr(layer, "streamer", None)
    if streamer is not None:
        from qdt.io.tiles3d_layer import Placement

        streamer.placement = Placement(streamer.placement.project_crs, local=True, anchor=after)
        streamer.cache.clear()
        streamer._centres.clear()
        streamer._published = None
        corners = streamer.placement(streamer.tileset.root.corners)
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        layer.extent = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
        streamer.load_view(None)
        return
    layer.vertices = _move(layer.vertices, before, after)
    layer.metadata["placement"] = f"anchor {after} (project CRS)"
    layer.events.data.emit()
