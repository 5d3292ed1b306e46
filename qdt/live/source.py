"""The facilities of a project or GeoPackage that report live status, and the GeoPackage that keeps it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdt.live.messages import FacilityIndex


class LiveSourceError(ValueError):
    """A source without reporting facilities or without a GeoPackage to keep states in; one line."""


def reporting_classes() -> frozenset[str]:
    """Catalogue classes of point facilities with a ``code`` and a ``status`` field (lights, poles, manholes …)."""
    from qdt.cim.schema import catalogue

    out = set()
    for name, cls in catalogue().classes.items():
        names = {f.name for f in cls.fields}
        if cls.geometry == "Point" and {"code", "status"} <= names:
            out.add(name)
    return frozenset(out)


@dataclass
class LiveSource:
    """Facility layers (opened), their index, and the GeoPackage for ``qdt_live_*``."""

    path: Path
    gpkg: Path
    layers: list[Any]
    index: FacilityIndex = field(init=False)

    def __post_init__(self) -> None:
        self.index = FacilityIndex.from_layers(self.layers)
        if len(self.index) == 0:
            raise LiveSourceError(f"'{self.path}' has no facilities with codes that report status "
                                  f"(classes: {', '.join(sorted(reporting_classes()))})")

    def initial_status(self) -> dict[tuple[str, str], int]:
        """(feature_class, code) → the layer's status before live reports."""
        import pandas as pd

        out: dict[tuple[str, str], int] = {}
        for layer in self.layers:
            frame = layer.frame
            if "status" not in frame.columns:
                continue
            status = pd.to_numeric(frame["status"], errors="coerce")
            ok = status.notna().to_numpy()
            out.update(zip(((layer.feature_class, c) for c in frame["code"].astype(str).to_numpy()[ok]),
                           status.to_numpy()[ok].astype(int).tolist(), strict=True))
        return out


def open_live_source(path: str | os.PathLike[str]) -> LiveSource:
    """Open the reporting facility layers of a ``.qdt`` project or a GeoPackage (other layers are not read)."""
    from qdt.crs import PROJECT_CRS
    from qdt.project.loading import entries_for_path, open_entry

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(2, "No such file or directory", str(p))
    classes = reporting_classes()
    crs: Any = PROJECT_CRS
    if p.suffix.lower() == ".qdt":
        from qdt.project import load_project

        project = load_project(p)
        crs = project.crs
        entries = list(project.entries)
        gpkgs = [Path(e.source) for e in entries if e.kind == "vector" and e.source
                 and str(e.source).lower().endswith(".gpkg")]
        if not gpkgs:
            raise LiveSourceError(f"project '{p}' has no GeoPackage layer to keep live states in")
        gpkg = gpkgs[0]
    else:
        entries = entries_for_path(p)
        gpkg = p
    layers = [open_entry(e, crs).layer for e in entries if e.kind == "vector" and e.feature_class in classes]
    for layer, entry in zip(layers, [e for e in entries if e.kind == "vector" and e.feature_class in classes],
                            strict=True):
        layer.feature_class = entry.feature_class
    return LiveSource(p, gpkg, layers)
