"""Write the projects behind the 3D Tiles / CityGML / IFC figures in the README.

    .venv/bin/python tools/demo_projects.py --data ../shared/data --out /tmp/qdt-demo

``qingdao_3d.qdt``: the sample district with an IFC building made by ``tests/ifc_building.py``
(IfcMapConversion to EPSG:4549) and the CesiumGS MetadataGranularities tileset anchored at 五四广场;
``plateau.qdt``: PLATEAU's LOD2 building in EPSG:6677; ``request_volume.qdt``: the CesiumGS
TilesetWithRequestVolume in EPSG:32618.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the shared test data folder (3dtiles/, citygml/)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    from tests.ifc_building import make_building

    data, out = Path(args.data).resolve(), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    make_building(out / "building.ifc", millimetres=True, map_conversion=(534547.0, 3992512.0, 19.1), rotation_deg=15)
    sample = json.loads((ROOT / "sample_data" / "qingdao_shinan.qdt").read_text(encoding="utf-8"))
    for layer in sample["layers"]:
        layer["source"] = str(ROOT / "sample_data" / layer["source"])
    sample["layers"] += [
        {"name": "BIM 建筑 (IFC)", "kind": "citymodel", "source": str(out / "building.ifc")},
        {"name": "倾斜摄影样例 (3D Tiles)", "kind": "tileset",
         "source": str(data / "3dtiles" / "1.1" / "MetadataGranularities" / "tileset.json"),
         "anchor": [534600.0, 3992530.0, 19.85, 0.0]}]
    sample["name"] = "五四广场片区 · 3D Tiles 与 BIM"
    camera = {"position": [534545.0, 3992375.0, 95.0], "focal_point": [534585.0, 3992525.0, 22.0],
              "view_up": [0, 0, 1], "view_angle": 30.0}
    sample["camera"] = camera
    sample["bookmarks"] = [{"name": "3D Tiles 与 BIM", "camera": camera}]
    (out / "qingdao_3d.qdt").write_text(json.dumps(sample, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "plateau.qdt").write_text(json.dumps({
        "format": "qdt-project", "version": 1, "name": "PLATEAU CityGML (東京)", "crs": "EPSG:6677",
        "layers": [{"name": "第一生命館 LOD2", "kind": "citymodel",
                    "source": str(data / "citygml" / "Issue32_13101-bldg-365.gml")}]}, ensure_ascii=False),
        encoding="utf-8")
    (out / "request_volume.qdt").write_text(json.dumps({
        "format": "qdt-project", "version": 1, "name": "TilesetWithRequestVolume (CesiumGS sample)",
        "crs": "EPSG:32618", "layers": [{"name": "3D Tiles 样例", "kind": "tileset", "source": str(
            data / "3dtiles" / "1.0" / "TilesetWithRequestVolume" / "tileset.json")}]}, ensure_ascii=False),
        encoding="utf-8")
    print(f"wrote {out}/qingdao_3d.qdt, plateau.qdt, request_volume.qdt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
