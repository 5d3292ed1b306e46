"""3D Tiles 1.0 / 1.1 reader (no Qt, no VTK): the tile tree, its contents, and placement in the project CRS.

* ``tileset.json`` (1.0 and 1.1) with external tilesets (a content that is itself a tileset),
  ``region`` / ``box`` / ``sphere`` volumes, tile ``transform`` s (accumulated down the tree),
  ``refine`` ADD / REPLACE (inherited), one ``content`` or several ``contents``, and implicit
  tiling (QUADTREE / OCTREE with ``.subtree`` availability files, 3D Tiles 1.1 §Implicit Tiling).
* Content: ``b3dm``, ``i3dm``, ``pnts``, ``cmpt`` and glTF/glb, with batch tables and
  ``EXT_mesh_features`` / ``EXT_structural_metadata`` properties (see :mod:`qdt.io.gltf_read`).
* Coordinates are Earth-centred (ECEF, EPSG:4978). Each vertex goes glTF node transforms →
  y-up to z-up → ``RTC_CENTER`` → tile transform (3D Tiles 1.1 §glTF transforms), then with
  pyproj ECEF → geographic 3D (EPSG:4979, ellipsoidal height) → the project CRS; both steps
  are exact projections, far finer than a centimetre.
* A tileset whose coordinates sit near the Earth's centre is *local* (not georeferenced; many
  samples are): it is placed by an anchor (x, y, z in the project CRS) the user gives.
* A URI leaving the tileset's folder (``../``, absolute paths, ``http:``) is refused: a tileset
  only reads files under its own folder.

Tile selection by screen-space error (:func:`select_tiles`) follows Cesium: a tile is refined
when ``geometricError * viewport_height / (distance * 2 tan(fov/2))`` exceeds the allowed
error; REPLACE children replace their parent only once all of them have content loaded,
so nothing disappears while loading.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyproj import Transformer

from qdt.io.errors import ReadError, display_name
from qdt.io.gltf_read import Y_UP_TO_Z_UP, GltfError, GltfMesh, read_gltf

ECEF = "EPSG:4978"
GEOGRAPHIC_3D = "EPSG:4979"
LOCAL_RADIUS = 1.0e6  # metres from the Earth's centre: closer than this, a tileset is local, not ECEF
MAX_TILES = 2_000_000
CONTENT_MAGICS = (b"b3dm", b"i3dm", b"pnts", b"cmpt", b"glTF")


class TilesetError(ReadError):
    """A tileset or tile content that cannot be read; the text names the file."""


@dataclass
class Tile:
    """One tile: its volume, error, refinement, contents (absolute paths) and children.

    ``transform`` is the accumulated 4×4 matrix (column vectors) from tile to ECEF;
    ``sphere`` the bounding sphere (centre in ECEF/world, radius) used for screen-space error.
    """

    key: str
    geometric_error: float
    refine: str
    transform: np.ndarray
    volume: dict[str, list[float]]
    contents: list[str]
    depth: int
    children: list[Tile] = field(default_factory=list)
    sphere: tuple[np.ndarray, float] = (np.zeros(3), 0.0)
    corners: np.ndarray | None = None  # (8, 3) world corners of the volume (ECEF or local)
    parent: Tile | None = None
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)  # content path → tile/content/group metadata

    def walk(self) -> Iterator[Tile]:
        stack = [self]
        while stack:
            tile = stack.pop()
            yield tile
            stack.extend(reversed(tile.children))


@dataclass
class Tileset:
    """A tileset.json and everything reachable from it (external tilesets merged in)."""

    path: Path
    version: str
    geometric_error: float
    root: Tile
    schema: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    external_tilesets: int = 0

    @property
    def tiles(self) -> list[Tile]:
        return list(self.root.walk())

    @property
    def content_count(self) -> int:
        return sum(len(t.contents) for t in self.root.walk())

    @property
    def is_local(self) -> bool:
        """True when the coordinates are not Earth-centred (a unit box at the origin, say)."""
        centre, _ = self.root.sphere
        return float(np.linalg.norm(centre)) < LOCAL_RADIUS

    def world_corners(self) -> np.ndarray:
        return np.concatenate([t.corners for t in self.root.walk() if t.corners is not None])


# ---------------------------------------------------------------- bounding volumes


def _region_corners(region: list[float]) -> np.ndarray:
    west, south, east, north, low, high = region
    lon = np.degrees([west, east, west, east, west, east, west, east, (west + east) / 2])
    lat = np.degrees([south, south, north, north, south, south, north, north, (south + north) / 2])
    h = np.array([low] * 4 + [high] * 4 + [(low + high) / 2], dtype=np.float64)
    x, y, z = _to_ecef().transform(lon, lat, h)
    return np.stack([x, y, z], axis=1)


def _box_corners(box: list[float], transform: np.ndarray) -> np.ndarray:
    values = np.asarray(box, dtype=np.float64)
    centre, axes = values[:3], values[3:12].reshape(3, 3)
    signs = np.array([[sx, sy, sz] for sz in (-1, 1) for sy in (-1, 1) for sx in (-1, 1)], dtype=np.float64)
    local = centre + signs @ axes
    return _transform_points(transform, np.vstack([local, centre]))


def _sphere_corners(sphere: list[float], transform: np.ndarray) -> np.ndarray:
    cx, cy, cz, r = (float(v) for v in sphere)
    signs = np.array([[sx, sy, sz] for sz in (-1, 1) for sy in (-1, 1) for sx in (-1, 1)], dtype=np.float64)
    local = np.array([cx, cy, cz]) + signs * r
    return _transform_points(transform, np.vstack([local, [cx, cy, cz]]))


def _transform_points(matrix: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    return xyz @ matrix[:3, :3].T + matrix[:3, 3]


def _volume_corners(volume: dict[str, Any], transform: np.ndarray) -> np.ndarray:
    """Nine points (8 corners and the centre, last) of a volume, in world coordinates."""
    if "region" in volume:  # regions are geographic: the tile transform does not apply (spec)
        return _region_corners(volume["region"])
    if "box" in volume:
        return _box_corners(volume["box"], transform)
    if "sphere" in volume:
        return _sphere_corners(volume["sphere"], transform)
    raise ValueError("bounding volume has no region, box or sphere")


_TRANSFORMERS: dict[str, Transformer] = {}


def _to_ecef() -> Transformer:
    if "to_ecef" not in _TRANSFORMERS:
        _TRANSFORMERS["to_ecef"] = Transformer.from_crs(GEOGRAPHIC_3D, ECEF, always_xy=True)
    return _TRANSFORMERS["to_ecef"]


def ecef_to_geographic(xyz: np.ndarray) -> np.ndarray:
    """ECEF (n, 3) → lon°, lat°, ellipsoidal height (n, 3) on WGS 84 (pyproj, exact inverse)."""
    if "from_ecef" not in _TRANSFORMERS:
        _TRANSFORMERS["from_ecef"] = Transformer.from_crs(ECEF, GEOGRAPHIC_3D, always_xy=True)
    if len(xyz) == 0:
        return np.zeros((0, 3))
    lon, lat, h = _TRANSFORMERS["from_ecef"].transform(xyz[:, 0], xyz[:, 1], xyz[:, 2])
    return np.stack([lon, lat, h], axis=1)


def geographic_to_ecef(lonlath: np.ndarray) -> np.ndarray:
    if len(lonlath) == 0:
        return np.zeros((0, 3))
    x, y, z = _to_ecef().transform(lonlath[:, 0], lonlath[:, 1], lonlath[:, 2])
    return np.stack([x, y, z], axis=1)


def enu_frame(lon: float, lat: float, h: float) -> np.ndarray:
    """4×4 east-north-up → ECEF matrix at a point (the frame Cesium's eastNorthUpToFixedFrame gives)."""
    lam, phi = math.radians(lon), math.radians(lat)
    east = np.array([-math.sin(lam), math.cos(lam), 0.0])
    north = np.array([-math.sin(phi) * math.cos(lam), -math.sin(phi) * math.sin(lam), math.cos(phi)])
    up = np.array([math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)])
    matrix = np.eye(4)
    matrix[:3, 0], matrix[:3, 1], matrix[:3, 2] = east, north, up
    matrix[:3, 3] = geographic_to_ecef(np.array([[lon, lat, h]]))[0]
    return matrix


# ---------------------------------------------------------------- tileset.json


def _resolve(base: Path, uri: str, root: Path, where: str) -> Path:
    """A content URI as a path under the tileset's folder; anything outside is refused."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(uri)
    if parts.scheme and len(parts.scheme) > 1:
        raise TilesetError(f"{where}: content URI {uri!r} is not a file inside the tileset's folder "
                           f"(remote or absolute URIs are not read)")
    relative = unquote(parts.path)
    if os.path.isabs(relative):
        raise TilesetError(f"{where}: content URI {uri!r} is an absolute path; only files inside the tileset's "
                           f"folder are read")
    target = (base / relative).resolve()
    if not target.is_relative_to(root):
        raise TilesetError(f"{where}: content URI {uri!r} points outside the tileset's folder "
                           f"{display_name(str(root))!r}; refused")
    return target


def _load_json(path: Path, what: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            doc = json.loads(fh.read().decode("utf-8"))
    except FileNotFoundError:
        raise TilesetError(f"cannot read {what} {display_name(str(path))!r}: file not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise TilesetError(f"cannot read {what} {display_name(str(path))!r}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise TilesetError(f"cannot read {what} {display_name(str(path))!r}: not a JSON object")
    return doc


def is_tileset(path: str) -> bool:
    """Sniff: a JSON object with ``asset`` and ``root`` (and ``geometricError``)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError:
        return False
    return b'"asset"' in head and b'"root"' in head and b'"geometricError"' in head and b'"CityObjects"' not in head


def open_tileset(path: str | os.PathLike[str], *, max_tiles: int = MAX_TILES) -> Tileset:
    """Read a tileset.json and its external tilesets and implicit subtrees (not the tile contents).

    Raises
    ------
    TilesetError
        Missing or invalid tileset.json, an unsupported version, a root without volume, a URI
        leaving the folder. Problems below the root (a missing external tileset or subtree) are
        collected in ``problems`` and the rest of the tree is kept.
    """
    path = Path(path).resolve()
    root_dir = path.parent
    doc = _load_json(path, "tileset")
    version = str(doc.get("asset", {}).get("version", ""))
    where = f"tileset {display_name(str(path))!r}"
    if version not in ("0.0", "1.0", "1.1"):
        raise TilesetError(f"{where}: 3D Tiles version {version!r} is not supported (1.0 or 1.1)")
    if "root" not in doc or not isinstance(doc["root"], dict):
        raise TilesetError(f"{where}: no root tile")
    builder = _TreeBuilder(root_dir, max_tiles)
    builder.groups = list(doc.get("groups", []))
    root = builder.tile(doc["root"], path.parent, np.eye(4), "REPLACE", 0, "r", path, None)
    if root is None:
        raise TilesetError(builder.problems[0] if builder.problems else f"{where}: root tile is invalid")
    return Tileset(path, version, float(doc.get("geometricError", root.geometric_error)), root,
                   doc.get("schema"), doc.get("metadata"), builder.problems, builder.external)


class _TreeBuilder:
    def __init__(self, root_dir: Path, max_tiles: int) -> None:
        self.root_dir = root_dir
        self.max_tiles = max_tiles
        self.count = 0
        self.problems: list[str] = []
        self.external = 0
        self.seen: set[Path] = set()
        self.groups: list[dict[str, Any]] = []

    def tile(self, node: dict[str, Any], base: Path, parent_transform: np.ndarray, parent_refine: str,
             depth: int, key: str, file: Path, parent: Tile | None) -> Tile | None:
        where = f"tileset {display_name(str(file))!r} tile {key}"
        self.count += 1
        if self.count > self.max_tiles:
            raise TilesetError(f"tileset {display_name(str(file))!r} has more than {self.max_tiles} tiles")
        transform = parent_transform
        if "transform" in node:
            try:
                local = np.array(node["transform"], dtype=np.float64).reshape(4, 4).T  # column-major
            except (TypeError, ValueError):
                self.problems.append(f"{where}: invalid transform; tile skipped")
                return None
            transform = parent_transform @ local
        volume = node.get("boundingVolume")
        try:
            corners = _volume_corners(volume or {}, transform)
        except (TypeError, ValueError) as exc:
            self.problems.append(f"{where}: invalid bounding volume ({exc}); tile skipped")
            return None
        refine = str(node.get("refine", parent_refine)).upper()
        centre = corners[-1]
        radius = float(np.max(np.linalg.norm(corners[:-1] - centre, axis=1)))
        content_nodes = ([node["content"]] if "content" in node else []) + list(node.get("contents", []))
        uris = [c.get("uri") or c.get("url") for c in content_nodes]
        tile = Tile(key, float(node.get("geometricError", 0.0)), refine, transform, volume, [], depth,
                    sphere=(centre, radius), corners=corners[:-1], parent=parent)
        if "implicitTiling" in node:
            self._implicit(tile, node, base, file)
            return tile
        for i, uri in enumerate(uris):
            if not uri:
                continue
            target = _resolve(base, uri, self.root_dir, where)
            if target.suffix.lower() == ".json":
                child = self._external(target, transform, refine, depth + 1, f"{key}.{i}", tile)
                if child is not None:
                    tile.children.append(child)
            else:
                tile.contents.append(str(target))
                tile.metadata[str(target)] = self._metadata(node, content_nodes[i])
        for i, child_node in enumerate(node.get("children", [])):
            child = self.tile(child_node, base, transform, refine, depth + 1, f"{key}/{i}", file, tile)
            if child is not None:
                tile.children.append(child)
        return tile

    def _metadata(self, node: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
        """3D Tiles 1.1 metadata of a content: its tile's, its own and its group's properties."""
        out: dict[str, Any] = {}
        for prefix, meta in (("tile", node.get("metadata")), ("content", content.get("metadata"))):
            for key, value in (meta or {}).get("properties", {}).items():
                out[f"{prefix}.{key}"] = value if not isinstance(value, (list, dict)) else json.dumps(value)
        group = content.get("group")
        if isinstance(group, int) and 0 <= group < len(self.groups):
            for key, value in self.groups[group].get("properties", {}).items():
                out[f"group.{key}"] = value if not isinstance(value, (list, dict)) else json.dumps(value)
        return out

    def _external(self, target: Path, transform: np.ndarray, refine: str, depth: int, key: str,
                  parent: Tile) -> Tile | None:
        if target in self.seen:
            self.problems.append(f"external tileset {display_name(str(target))!r} is referenced twice (a cycle?); "
                                 f"skipped")
            return None
        self.seen.add(target)
        try:
            doc = _load_json(target, "external tileset")
        except TilesetError as exc:
            self.problems.append(str(exc))
            return None
        if "root" not in doc:
            self.problems.append(f"external tileset {display_name(str(target))!r} has no root tile; skipped")
            return None
        self.external += 1
        return self.tile(doc["root"], target.parent, transform, refine, depth, key, target, parent)

    # -- implicit tiling (3D Tiles 1.1 §Implicit Tiling)
    def _implicit(self, root: Tile, node: dict[str, Any], base: Path, file: Path) -> None:
        spec = node["implicitTiling"]
        where = f"tileset {display_name(str(file))!r} implicit root"
        scheme = spec.get("subdivisionScheme")
        if scheme not in ("QUADTREE", "OCTREE"):
            self.problems.append(f"{where}: subdivision scheme {scheme!r} is not QUADTREE or OCTREE")
            return
        dims = 2 if scheme == "QUADTREE" else 3
        subtree_levels = int(spec["subtreeLevels"])
        available = int(spec.get("availableLevels", spec.get("maximumLevel", 0) + 1))
        subtree_template = spec["subtrees"]["uri"]
        content_templates = [c["uri"] for c in ([node["content"]] if "content" in node else [])
                             + list(node.get("contents", []))]
        volume = node.get("boundingVolume", {})

        def fill(template: str, level: int, x: int, y: int, z: int) -> str:
            return (template.replace("{level}", str(level)).replace("{x}", str(x)).replace("{y}", str(y))
                    .replace("{z}", str(z)))

        def subtree(level: int, x: int, y: int, z: int) -> _Subtree | None:
            uri = fill(subtree_template, level, x, y, z)
            try:
                target = _resolve(base, uri, self.root_dir, where)
                return _Subtree.read(target, subtree_levels, dims, len(content_templates))
            except TilesetError as exc:
                self.problems.append(str(exc))
                return None

        # breadth over subtrees; within a subtree, tiles by level and Morton index
        queue: list[tuple[Tile, int, int, int, int]] = [(root, 0, 0, 0, 0)]
        tiles_at: dict[tuple[int, int, int, int], Tile] = {(0, 0, 0, 0): root}
        while queue:
            subtree_root, L0, X0, Y0, Z0 = queue.pop(0)
            st = subtree(L0, X0, Y0, Z0)
            if st is None:
                continue
            for rel_level in range(subtree_levels):
                level = L0 + rel_level
                if level >= available:
                    break
                n = 1 << rel_level
                for morton in range(n ** dims):
                    if not st.tile_available(rel_level, morton):
                        continue
                    rx, ry, rz = _demorton(morton, dims)
                    x, y, z = (X0 << rel_level) + rx, (Y0 << rel_level) + ry, (Z0 << rel_level) + rz
                    tile = tiles_at.get((level, x, y, z))
                    if tile is None:
                        parent = tiles_at.get((level - 1, x >> 1, y >> 1, z >> 1))
                        if parent is None:
                            continue
                        tile = self._implicit_tile(root, volume, level, x, y, z, dims, parent)
                        parent.children.append(tile)
                        tiles_at[(level, x, y, z)] = tile
                    for c, template in enumerate(content_templates):
                        if st.content_available(c, rel_level, morton):
                            tile.contents.append(str(_resolve(base, fill(template, level, x, y, z), self.root_dir,
                                                              where)))
            child_level = L0 + subtree_levels
            if child_level >= available:
                continue
            n = 1 << subtree_levels
            for morton in range(n ** dims):
                if st.child_subtree_available(morton):
                    rx, ry, rz = _demorton(morton, dims)
                    x, y, z = (X0 << subtree_levels) + rx, (Y0 << subtree_levels) + ry, (Z0 << subtree_levels) + rz
                    parent = tiles_at.get((child_level - 1, x >> 1, y >> 1, z >> 1))
                    if parent is None:
                        continue
                    tile = self._implicit_tile(root, volume, child_level, x, y, z, dims, parent)
                    parent.children.append(tile)
                    tiles_at[(child_level, x, y, z)] = tile
                    queue.append((tile, child_level, x, y, z))

    def _implicit_tile(self, root: Tile, volume: dict[str, Any], level: int, x: int, y: int, z: int, dims: int,
                       parent: Tile) -> Tile:
        self.count += 1
        if self.count > self.max_tiles:
            raise TilesetError(f"implicit tileset has more than {self.max_tiles} tiles")
        n = 1 << level
        if "region" in volume:
            w, s, e, nn, lo, hi = volume["region"]
            dx, dy = (e - w) / n, (nn - s) / n
            if dims == 3:
                dz = (hi - lo) / n
                lo, hi = lo + z * dz, lo + (z + 1) * dz
            child_volume = {"region": [w + x * dx, s + y * dy, w + (x + 1) * dx, s + (y + 1) * dy, lo, hi]}
        else:
            values = np.asarray(volume["box"], dtype=np.float64)
            centre, axes = values[:3], values[3:12].reshape(3, 3)
            frac = [(2 * (x + 0.5) / n - 1), (2 * (y + 0.5) / n - 1), (2 * (z + 0.5) / n - 1) if dims == 3 else 0.0]
            scale = [1 / n, 1 / n, 1 / n if dims == 3 else 1.0]
            child_centre = centre + sum(f * a for f, a in zip(frac, axes, strict=True))
            child_axes = axes * np.array(scale)[:, None]
            child_volume = {"box": [*child_centre.tolist(), *child_axes.ravel().tolist()]}
        corners = _volume_corners(child_volume, root.transform)
        centre = corners[-1]
        radius = float(np.max(np.linalg.norm(corners[:-1] - centre, axis=1)))
        return Tile(f"{level}/{x}/{y}" + (f"/{z}" if dims == 3 else ""), root.geometric_error / n, root.refine,
                    root.transform, child_volume, [], parent.depth + 1, sphere=(centre, radius),
                    corners=corners[:-1], parent=parent)


def _demorton(index: int, dims: int) -> tuple[int, int, int]:
    coords = [0, 0, 0]
    bit = 0
    while index:
        for d in range(dims):
            coords[d] |= (index & 1) << bit
            index >>= 1
        bit += 1
    return coords[0], coords[1], coords[2]


@dataclass
class _Availability:
    constant: int | None
    bits: np.ndarray | None

    def get(self, i: int) -> bool:
        if self.bits is None:
            return bool(self.constant)
        return bool(i < len(self.bits) and self.bits[i])


@dataclass
class _Subtree:
    levels: int
    dims: int
    tiles: _Availability
    contents: list[_Availability]
    children: _Availability

    @classmethod
    def read(cls, path: Path, levels: int, dims: int, content_count: int) -> _Subtree:
        name = display_name(str(path))
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise TilesetError(f"subtree {name!r}: file not found; its tiles are skipped") from None
        except OSError as exc:
            raise TilesetError(f"subtree {name!r}: {exc.strerror}") from None
        binary = b""
        try:
            if data[:4] == b"subt":
                _, json_length, bin_length = struct.unpack_from("<IQQ", data, 4)
                doc = json.loads(data[24:24 + json_length].decode("utf-8"))
                binary = data[24 + json_length:24 + json_length + bin_length]
                if len(binary) < bin_length:
                    raise TilesetError(f"subtree {name!r} is truncated")
            else:
                doc = json.loads(data.decode("utf-8"))
        except (struct.error, UnicodeDecodeError, ValueError) as exc:
            raise TilesetError(f"subtree {name!r} is corrupt ({exc})") from None
        buffers = []
        for buffer in doc.get("buffers", []):
            if "uri" in buffer:
                buffers.append(_resolve(path.parent, buffer["uri"], path.parent, f"subtree {name!r}").read_bytes())
            else:
                buffers.append(binary)
        views = doc.get("bufferViews", [])

        def availability(spec: dict[str, Any] | None, default: int = 0) -> _Availability:
            if spec is None:
                return _Availability(default, None)
            if "constant" in spec:
                return _Availability(int(spec["constant"]), None)
            index = spec.get("bitstream", spec.get("bufferView"))
            view = views[index]
            raw = buffers[view["buffer"]][view.get("byteOffset", 0):view.get("byteOffset", 0) + view["byteLength"]]
            return _Availability(None, np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little"))

        contents = doc.get("contentAvailability", [])
        if isinstance(contents, dict):
            contents = [contents]
        return cls(levels, dims, availability(doc.get("tileAvailability"), 1),
                   [availability(c) for c in contents] + [_Availability(0, None)] * (content_count - len(contents)),
                   availability(doc.get("childSubtreeAvailability")))

    def _index(self, level: int, morton: int) -> int:
        per = 1 << self.dims
        return (per ** level - 1) // (per - 1) + morton

    def tile_available(self, level: int, morton: int) -> bool:
        return self.tiles.get(self._index(level, morton))

    def content_available(self, content: int, level: int, morton: int) -> bool:
        return self.contents[content].get(self._index(level, morton)) if content < len(self.contents) else False

    def child_subtree_available(self, morton: int) -> bool:
        return self.children.get(morton)


# ---------------------------------------------------------------- tile content


@dataclass
class ContentGeometry:
    """One content's geometry in world coordinates (ECEF, or local metres for a local tileset)."""

    path: str
    positions: np.ndarray
    triangles: np.ndarray
    triangle_feature: np.ndarray
    triangle_colour: np.ndarray | None
    points: np.ndarray
    point_colour: np.ndarray | None
    point_feature: np.ndarray
    properties: pd.DataFrame

    @property
    def nbytes(self) -> int:
        return int(self.positions.nbytes + self.triangles.nbytes + self.points.nbytes + self.triangle_feature.nbytes)


def _feature_batch_tables(data: bytes, offset: int, ft_json: int, ft_bin: int, bt_json: int, bt_bin: int,
                          where: str) -> tuple[dict[str, Any], bytes, dict[str, Any], bytes, int]:
    end = offset + ft_json + ft_bin + bt_json + bt_bin
    if end > len(data):
        raise TilesetError(f"{where}: truncated (header promises {end} bytes, file has {len(data)})")
    try:
        feature_table = json.loads(data[offset:offset + ft_json].decode("utf-8").strip() or "{}") if ft_json else {}
        bt_start = offset + ft_json + ft_bin
        batch_table = json.loads(data[bt_start:bt_start + bt_json].decode("utf-8").strip() or "{}") if bt_json else {}
    except (UnicodeDecodeError, ValueError) as exc:
        raise TilesetError(f"{where}: feature or batch table is not valid JSON ({exc})") from None
    return (feature_table, data[offset + ft_json:offset + ft_json + ft_bin], batch_table,
            data[offset + ft_json + ft_bin + bt_json:end], end)


_TABLE_COMPONENTS = {"BYTE": np.int8, "UNSIGNED_BYTE": np.uint8, "SHORT": np.int16, "UNSIGNED_SHORT": np.uint16,
                     "INT": np.int32, "UNSIGNED_INT": np.uint32, "FLOAT": np.float32, "DOUBLE": np.float64}
_TABLE_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


def _table_array(table: dict[str, Any], binary: bytes, name: str, count: int, component: str, width: int,
                 where: str) -> np.ndarray | None:
    """A feature-table property: inline JSON values or a binary body reference (3D Tiles 1.0 §Feature Table)."""
    value = table.get(name)
    if value is None:
        return None
    if isinstance(value, dict) and "byteOffset" in value:
        dtype = np.dtype(_TABLE_COMPONENTS[value.get("componentType", component)])
        start = int(value["byteOffset"])
        if start + dtype.itemsize * width * count > len(binary):
            raise TilesetError(f"{where}: feature table property {name} runs past the binary body")
        return np.frombuffer(binary, dtype=dtype, count=width * count, offset=start).reshape(count, width)
    return np.asarray(value, dtype=np.float64).reshape(-1, width) if width > 1 else np.asarray(value)


def _batch_properties(batch_table: dict[str, Any], binary: bytes, count: int, where: str) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for name, value in batch_table.items():
        if name in ("extensions", "extras"):
            continue
        if isinstance(value, dict) and "byteOffset" in value:
            width = _TABLE_WIDTH.get(value.get("type", "SCALAR"), 1)
            arr = _table_array(batch_table, binary, name, count, value.get("componentType", "FLOAT"), width, where)
            columns[name] = arr[:, 0] if width == 1 else [tuple(r) for r in arr]
        elif isinstance(value, list) and len(value) == count:
            columns[name] = [json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v for v in value]
    return pd.DataFrame(columns, index=pd.RangeIndex(count))


def read_content(path: str, transform: np.ndarray, *, local: bool = False) -> ContentGeometry:
    """Read one tile content file into world coordinates (``transform``: the tile's).

    Raises
    ------
    TilesetError
        Missing, truncated or corrupt content, naming the file and what is wrong.
    """
    where = f"tile content {display_name(path)!r}"
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise TilesetError(f"{where}: file not found") from None
    except OSError as exc:
        raise TilesetError(f"{where}: {exc.strerror or exc}") from None
    try:
        parts = _content_parts(data, where, Path(path).parent)
    except GltfError as exc:
        raise TilesetError(f"{where}: {exc}") from None
    except (struct.error, KeyError, IndexError, TypeError, ValueError) as exc:
        raise TilesetError(f"{where}: corrupt ({type(exc).__name__}: {exc})") from None
    positions, triangles, tri_feat, tri_col, points, pt_col, pt_feat, frames = [], [], [], [], [], [], [], []
    base = 0
    feature_base = 0
    for part_matrix, mesh, props, point_world in parts:
        matrix = transform @ part_matrix
        if len(mesh.triangles):
            positions.append(_transform_points(matrix, mesh.positions))
            triangles.append(mesh.triangles + base)
            base += len(mesh.positions)
            tri_feat.append(np.where(mesh.triangle_feature >= 0, mesh.triangle_feature + feature_base, -1))
            tri_col.append(mesh.triangle_colour if mesh.triangle_colour is not None
                           else np.full((len(mesh.triangles), 3), 210, np.uint8))
        if len(mesh.points):
            pts = mesh.points if point_world else _transform_points(matrix, mesh.points)
            if point_world:
                pts = _transform_points(transform, pts)
            points.append(pts)
            pt_col.append(mesh.point_colour if mesh.point_colour is not None
                          else np.full((len(mesh.points), 3), 230, np.uint8))
            pt_feat.append(np.where(mesh.point_feature >= 0, mesh.point_feature + feature_base, -1))
        frames.append(props)
        feature_base += len(props)
    properties = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return ContentGeometry(
        path, np.concatenate(positions) if positions else np.zeros((0, 3)),
        np.concatenate(triangles) if triangles else np.zeros((0, 3), np.int64),
        np.concatenate(tri_feat) if tri_feat else np.zeros(0, np.int64),
        np.concatenate(tri_col) if tri_col else None,
        np.concatenate(points) if points else np.zeros((0, 3)),
        np.concatenate(pt_col) if pt_col else None,
        np.concatenate(pt_feat) if pt_feat else np.zeros(0, np.int64), properties)


_Part = tuple[np.ndarray, GltfMesh, pd.DataFrame, bool]


def _gltf_part(glb: bytes, rtc: Any, folder: Path, where: str) -> tuple[np.ndarray, GltfMesh]:
    def external(uri: str) -> bytes:
        return _resolve(folder, uri, folder, where).read_bytes()

    mesh = read_gltf(glb, external=external)
    matrix = np.eye(4)
    centre = rtc if rtc is not None else mesh.rtc_center
    if centre is not None:
        matrix[:3, 3] = np.asarray(centre, dtype=np.float64)
    return matrix @ Y_UP_TO_Z_UP, mesh


def _gltf_properties(mesh: GltfMesh) -> pd.DataFrame:
    count = max(mesh.feature_count, int(max(mesh.triangle_feature.max(initial=-1), mesh.point_feature.max(initial=-1)))
                + 1)
    frame = pd.DataFrame(index=pd.RangeIndex(count))
    for name, values in mesh.properties.items():
        frame[name] = (list(values) + [None] * count)[:count]
    return frame


def _content_parts(data: bytes, where: str, folder: Path) -> list[_Part]:
    magic = data[:4]
    if magic == b"glTF" or data[:1] == b"{":
        matrix, mesh = _gltf_part(data, None, folder, where)
        return [(matrix, mesh, _gltf_properties(mesh), False)]
    if magic not in CONTENT_MAGICS:
        raise TilesetError(f"{where}: unknown content (magic {magic!r})")
    if len(data) < 12:
        raise TilesetError(f"{where}: truncated header")
    declared = struct.unpack_from("<I", data, 8)[0]
    if declared > len(data):
        raise TilesetError(f"{where}: truncated (header says {declared} bytes, file has {len(data)})")
    data = data[:declared]
    if magic == b"cmpt":
        count = struct.unpack_from("<I", data, 12)[0]
        parts: list[_Part] = []
        offset = 16
        for _ in range(count):
            length = struct.unpack_from("<I", data, offset + 8)[0]
            parts.extend(_content_parts(data[offset:offset + length], where, folder))
            offset += length
        return parts
    if magic == b"b3dm":
        ft_json, ft_bin, bt_json, bt_bin = struct.unpack_from("<4I", data, 12)
        offset = 28
        if bt_json >= 570425344:  # legacy b3dm header (batchLength, batchTableByteLength): 3D Tiles 1.0 §b3dm
            ft_json, ft_bin, bt_json, bt_bin, offset = 0, 0, ft_bin, 0, 20
        ft, _, bt, bt_body, end = _feature_batch_tables(data, offset, ft_json, ft_bin, bt_json, bt_bin, where)
        matrix, mesh = _gltf_part(data[end:], ft.get("RTC_CENTER"), folder, where)
        count = int(ft.get("BATCH_LENGTH", 0))
        props = _batch_properties(bt, bt_body, count, where) if count else _gltf_properties(mesh)
        return [(matrix, mesh, props, False)]
    if magic == b"pnts":
        ft_json, ft_bin, bt_json, bt_bin = struct.unpack_from("<4I", data, 12)
        ft, ft_body, bt, bt_body, _ = _feature_batch_tables(data, 28, ft_json, ft_bin, bt_json, bt_bin, where)
        n = int(ft["POINTS_LENGTH"])
        xyz = _table_array(ft, ft_body, "POSITION", n, "FLOAT", 3, where)
        if xyz is None:
            quantized = _table_array(ft, ft_body, "POSITION_QUANTIZED", n, "UNSIGNED_SHORT", 3, where)
            if quantized is None:
                raise TilesetError(f"{where}: point cloud has neither POSITION nor POSITION_QUANTIZED")
            xyz = (quantized.astype(np.float64) / 65535.0 * np.asarray(ft["QUANTIZED_VOLUME_SCALE"])
                   + np.asarray(ft["QUANTIZED_VOLUME_OFFSET"]))
        xyz = xyz.astype(np.float64) + np.asarray(ft.get("RTC_CENTER", [0, 0, 0]), dtype=np.float64)
        colour = None
        for name, width in (("RGBA", 4), ("RGB", 3)):
            values = _table_array(ft, ft_body, name, n, "UNSIGNED_BYTE", width, where)
            if values is not None:
                colour = values[:, :3].astype(np.uint8)
                break
        if colour is None and "RGB565" in ft:
            v = _table_array(ft, ft_body, "RGB565", n, "UNSIGNED_SHORT", 1, where)[:, 0].astype(np.uint32)
            colour = np.stack([(v >> 11 & 31) * 255 // 31, (v >> 5 & 63) * 255 // 63, (v & 31) * 255 // 31],
                              axis=1).astype(np.uint8)
        batch_length = int(ft.get("BATCH_LENGTH", 0))
        ids = _table_array(ft, ft_body, "BATCH_ID", n, "UNSIGNED_SHORT", 1, where)
        feature = ids[:, 0].astype(np.int64) if ids is not None and batch_length else np.full(n, -1, np.int64)
        props = _batch_properties(bt, bt_body, batch_length, where) if batch_length else pd.DataFrame()
        mesh = GltfMesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros(0, np.int64), None, xyz, colour, feature)
        return [(np.eye(4), mesh, props, True)]
    # i3dm
    ft_json, ft_bin, bt_json, bt_bin, gltf_format = struct.unpack_from("<5I", data, 12)
    ft, ft_body, bt, bt_body, end = _feature_batch_tables(data, 32, ft_json, ft_bin, bt_json, bt_bin, where)
    glb = data[end:] if gltf_format == 1 else _resolve(folder, data[end:].decode("utf-8").strip("\0 "), folder,
                                                       where).read_bytes()
    model_matrix, model = _gltf_part(glb, None, folder, where)
    n = int(ft["INSTANCES_LENGTH"])
    xyz = _table_array(ft, ft_body, "POSITION", n, "FLOAT", 3, where)
    if xyz is None:
        quantized = _table_array(ft, ft_body, "POSITION_QUANTIZED", n, "UNSIGNED_SHORT", 3, where)
        xyz = (quantized.astype(np.float64) / 65535.0 * np.asarray(ft["QUANTIZED_VOLUME_SCALE"])
               + np.asarray(ft["QUANTIZED_VOLUME_OFFSET"]))
    xyz = xyz.astype(np.float64) + np.asarray(ft.get("RTC_CENTER", [0, 0, 0]), dtype=np.float64)
    up = _table_array(ft, ft_body, "NORMAL_UP", n, "FLOAT", 3, where)
    right = _table_array(ft, ft_body, "NORMAL_RIGHT", n, "FLOAT", 3, where)
    scale = _table_array(ft, ft_body, "SCALE", n, "FLOAT", 1, where)
    scale3 = _table_array(ft, ft_body, "SCALE_NON_UNIFORM", n, "FLOAT", 3, where)
    props = _batch_properties(bt, bt_body, n, where) if bt else pd.DataFrame(index=pd.RangeIndex(n))
    positions, triangles, tri_feature, colours = [], [], [], []
    for i in range(n):
        matrix = np.eye(4)
        if up is not None and right is not None:
            u, r = np.asarray(up[i], np.float64), np.asarray(right[i], np.float64)
            matrix[:3, 0], matrix[:3, 1], matrix[:3, 2] = r, u, np.cross(r, u)
        elif ft.get("EAST_NORTH_UP"):
            lon, lat, h = ecef_to_geographic(xyz[i:i + 1])[0]
            matrix[:3, :3] = enu_frame(lon, lat, h)[:3, :3]
        s = np.ones(3)
        if scale is not None:
            s *= float(np.asarray(scale).ravel()[i])
        if scale3 is not None:
            s *= np.asarray(scale3[i], np.float64)
        matrix[:3, :3] = matrix[:3, :3] * s[None, :]
        matrix[:3, 3] = xyz[i]
        positions.append(_transform_points(matrix @ model_matrix, model.positions))
        triangles.append(model.triangles + i * len(model.positions))
        tri_feature.append(np.full(len(model.triangles), i, np.int64))
        if model.triangle_colour is not None:
            colours.append(model.triangle_colour)
    # all instances in one part (already in the tile's frame): one feature id per instance
    instances = GltfMesh(np.concatenate(positions) if positions else np.zeros((0, 3)),
                         np.concatenate(triangles) if triangles else np.zeros((0, 3), np.int64),
                         np.concatenate(tri_feature) if tri_feature else np.zeros(0, np.int64),
                         np.concatenate(colours) if colours else None,
                         np.zeros((0, 3)), None, np.zeros(0, np.int64))
    return [(np.eye(4), instances, props, False)]


# ---------------------------------------------------------------- selection by screen-space error


@dataclass(frozen=True)
class ViewParams:
    """What the selection needs of the camera: position (world, same frame as the tiles), screen, fov."""

    position: tuple[float, float, float]
    viewport_height: int = 1000
    fov_degrees: float = 30.0
    max_screen_error: float = 16.0  # pixels (Cesium's default maximumScreenSpaceError)


def screen_space_error(tile: Tile, view: ViewParams) -> float:
    centre, radius = tile.sphere
    distance = max(float(np.linalg.norm(np.asarray(view.position) - centre)) - radius, 1e-3)
    return tile.geometric_error * view.viewport_height / (distance * 2.0 * math.tan(math.radians(view.fov_degrees)
                                                                                     / 2.0))


def select_tiles(root: Tile, view: ViewParams | None, *, loaded: Callable[[Tile], bool] | None = None,
                 max_error: float | None = None,
                 error_of: Callable[[Tile, ViewParams], float] | None = None) -> tuple[list[Tile], list[Tile]]:
    """Tiles to draw now and tiles to load next (nearest first).

    A tile is refined when its screen-space error exceeds ``view.max_screen_error`` (or, with no
    view, when its geometric error exceeds ``max_error``); ``error_of`` replaces
    :func:`screen_space_error` (e.g. distances measured in the project CRS). ADD draws the tile and its refined
    children; REPLACE draws the children instead of the parent only when every child with content
    is loaded (``loaded(tile)``), so nothing vanishes while children stream in.
    """
    loaded = loaded or (lambda t: True)
    error_of = error_of or screen_space_error
    draw: list[Tile] = []
    wanted: list[Tile] = []

    def needs_refine(tile: Tile) -> bool:
        if not tile.children:
            return False
        if view is not None:
            return error_of(tile, view) > view.max_screen_error
        return max_error is None or tile.geometric_error > max_error

    def ready(tile: Tile) -> bool:
        """Its content is loaded, or it has none and every child it would show is ready."""
        if tile.contents:
            return loaded(tile)
        return all(ready(c) for c in tile.children) if tile.children else True

    def visit(tile: Tile) -> None:
        if tile.contents and not loaded(tile):
            wanted.append(tile)
        if not needs_refine(tile):
            if tile.contents:
                draw.append(tile)
            return
        if tile.refine == "ADD":
            if tile.contents:
                draw.append(tile)
            for child in tile.children:
                visit(child)
            return
        if all(ready(c) for c in tile.children) or not tile.contents:
            for child in tile.children:
                visit(child)
        else:
            draw.append(tile)
            for child in tile.children:  # ask for what the refinement needs
                for t in child.walk():
                    if t.contents and not loaded(t):
                        wanted.append(t)
                        break

    visit(root)
    draw = [t for t in draw if loaded(t)]
    if view is not None:
        position = np.asarray(view.position)
        wanted.sort(key=lambda t: float(np.linalg.norm(position - t.sphere[0])))
    seen: set[int] = set()
    wanted = [t for t in wanted if not (id(t) in seen or seen.add(id(t)))]  # type: ignore[func-returns-value]
    return draw, wanted
