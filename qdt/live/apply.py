"""Live states into the layers the window shows: the ``status`` value of each reported feature.

Call on the GUI thread (layer events reach Qt and VTK listeners). The layer's ``status`` column is
overwritten in memory only (the GeoPackage's feature table keeps the surveyed value; the live
value is in ``qdt_live_status``), and the layer announces exactly the features and the field
that changed, so the 3D scene recolours those features in place instead of rebuilding the layer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from qdt.live.messages import StatusUpdate


def apply_updates(layers: Mapping[str, Any], updates: Iterable[StatusUpdate]) -> dict[str, np.ndarray]:
    """Set ``status`` of the updated features of ``layers`` (by layer name); returns the fids changed per layer.

    Features whose status already has the reported value are left alone (no event for them).
    """
    by_layer: dict[str, dict[int, int]] = defaultdict(dict)
    for u in updates:
        by_layer[u.layer][u.fid] = u.status  # the last one of a layer and fid wins
    changed: dict[str, np.ndarray] = {}
    for name, values in by_layer.items():
        layer = layers.get(name)
        frame = getattr(layer, "frame", None)
        if frame is None or "status" not in frame.columns:
            continue
        fids = np.fromiter(values.keys(), dtype=np.int64, count=len(values))
        new = np.fromiter(values.values(), dtype=np.int64, count=len(values))
        pos = frame.index.get_indexer(fids)
        known = pos >= 0
        fids, new, pos = fids[known], new[known], pos[known]
        column = frame.columns.get_loc("status")
        old = pd.to_numeric(frame.iloc[pos, column], errors="coerce").to_numpy(dtype=float)
        differs = ~(old == new)
        if not differs.any():
            continue
        fids, new, pos = fids[differs], new[differs], pos[differs]
        dtype = frame["status"].dtype
        frame.iloc[pos, column] = pd.array(new, dtype=dtype) if not pd.api.types.is_object_dtype(dtype) else new
        layer.notify_data(fids, ["status"])  # the scene recolours just these features
        changed[name] = np.sort(fids)
    return changed
