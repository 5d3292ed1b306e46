"""A small glTF 2.0 reader for 3D Tiles content (no Qt, no VTK): meshes, feature ids, metadata.

What it returns is plain numpy: triangles and points in the glTF's *scene* frame (node
transforms applied, still y-up), per-vertex feature ids from ``_BATCHID`` (3D Tiles 1.0) or
``EXT_mesh_features`` (1.1), vertex colours, and the property tables of
``EXT_structural_metadata`` as columns. Compressed geometry (Draco, meshopt) and textures are
not decoded: a required compression extension raises :class:`GltfError` with its name.

References: glTF 2.0 §3.6 (accessors, byteStride), §5.24 (primitive modes);
EXT_mesh_features and EXT_structural_metadata (CesiumGS/glTF, 3D Tiles 1.1).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

COMPONENT_DTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32,
                    5126: np.float32}
TYPE_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
DECODED_EXTENSIONS = {"EXT_mesh_features", "EXT_structural_metadata", "KHR_mesh_quantization", "CESIUM_RTC",
                      "KHR_materials_unlit", "KHR_texture_transform", "EXT_instance_features",
                      "KHR_materials_pbrSpecularGlossiness", "KHR_materials_emissive_strength"}
SCALAR_DTYPES = {"INT8": np.int8, "UINT8": np.uint8, "INT16": np.int16, "UINT16": np.uint16, "INT32": np.int32,
                 "UINT32": np.uint32, "INT64": np.int64, "UINT64": np.uint64, "FLOAT32": np.float32,
                 "FLOAT64": np.float64}
# 3D Tiles: glTF is y-up, tiles are z-up; this turns (x, y, z) into (x, -z, y) (3D Tiles 1.1 §"y-up to z-up").
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])


class GltfError(ValueError):
    """The glTF is malformed or uses something this reader does not decode; the text says which."""


@dataclass
class GltfMesh:
    """Geometry of one glTF, in its scene frame (node transforms applied, glTF axes).

    ``triangle_feature`` / ``point_feature`` are feature ids (-1: none) indexing ``properties``
    rows when the glTF has a property table (or a 3D Tiles batch table supplies them).
    """

    positions: np.ndarray  # (n, 3) float64, triangle vertices
    triangles: np.ndarray  # (m, 3) int64
    triangle_feature: np.ndarray  # (m,) int64
    triangle_colour: np.ndarray | None  # (m, 3) uint8 or None
    points: np.ndarray  # (k, 3) float64
    point_colour: np.ndarray | None  # (k, 3) uint8
    point_feature: np.ndarray  # (k,) int64
    properties: dict[str, list[Any]] = field(default_factory=dict)
    feature_count: int = 0
    rtc_center: np.ndarray | None = None


def parse_glb(data: bytes | memoryview) -> tuple[dict[str, Any], bytes]:
    """The JSON document and the BIN chunk of a .glb (glTF 2.0 §4.4)."""
    data = bytes(data)
    if len(data) < 20 or data[:4] != b"glTF":
        raise GltfError("not a binary glTF (magic 'glTF' missing)")
    version, length = struct.unpack_from("<II", data, 4)
    if version != 2:
        raise GltfError(f"glTF version {version} is not supported (only 2.0)")
    if length > len(data):
        raise GltfError(f"truncated binary glTF: header says {length} bytes, {len(data)} present")
    chunk_length, chunk_type = struct.unpack_from("<I4s", data, 12)
    if chunk_type != b"JSON" or 20 + chunk_length > length:
        raise GltfError("binary glTF has no valid JSON chunk")
    try:
        doc = json.loads(data[20:20 + chunk_length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise GltfError(f"binary glTF JSON chunk is not valid JSON ({exc})") from None
    binary = b""
    offset = 20 + chunk_length
    if offset + 8 <= length:
        bin_length, bin_type = struct.unpack_from("<I4s", data, offset)
        if bin_type == b"BIN\0":
            if offset + 8 + bin_length > length:
                raise GltfError("truncated binary glTF: BIN chunk runs past the end")
            binary = data[offset + 8:offset + 8 + bin_length]
    return doc, binary


class _Buffers:
    def __init__(self, doc: dict[str, Any], binary: bytes, external: Any) -> None:
        self.doc = doc
        self.buffers: list[bytes] = []
        for index, buffer in enumerate(doc.get("buffers", [])):
            uri = buffer.get("uri")
            if uri is None:
                self.buffers.append(binary)
            elif uri.startswith("data:"):
                import base64

                self.buffers.append(base64.b64decode(uri.split(",", 1)[1]))
            elif external is not None:
                self.buffers.append(external(uri))
            else:
                raise GltfError(f"buffer {index} refers to external file {uri!r}, which cannot be resolved here")

    def view(self, index: int) -> tuple[bytes, int, int, int | None]:
        try:
            view = self.doc["bufferViews"][index]
            buffer = self.buffers[view["buffer"]]
        except (IndexError, KeyError, TypeError):
            raise GltfError(f"bufferView {index} is missing or invalid") from None
        start = int(view.get("byteOffset", 0))
        length = int(view["byteLength"])
        if start + length > len(buffer):
            raise GltfError(f"bufferView {index} runs past the end of its buffer ({start + length} > {len(buffer)})")
        return buffer, start, length, view.get("byteStride")

    def view_bytes(self, index: int) -> bytes:
        buffer, start, length, _ = self.view(index)
        return buffer[start:start + length]

    def accessor(self, index: int) -> np.ndarray:
        """Accessor values as float64 or ints, shape (count, width); normalized ints scaled (§3.11)."""
        try:
            acc = self.doc["accessors"][index]
            dtype = np.dtype(COMPONENT_DTYPES[acc["componentType"]])
            width = TYPE_WIDTH[acc["type"]]
            count = int(acc["count"])
        except (IndexError, KeyError, TypeError):
            raise GltfError(f"accessor {index} is missing or invalid") from None
        if "bufferView" in acc:
            buffer, start, length, stride = self.view(acc["bufferView"])
            start += int(acc.get("byteOffset", 0))
            element = dtype.itemsize * width
            stride = int(stride or element)
            need = stride * (count - 1) + element if count else 0
            if start + need > len(buffer):
                raise GltfError(f"accessor {index} runs past the end of its buffer")
            raw = np.frombuffer(buffer, dtype=np.uint8, count=need, offset=start)
            if stride == element:
                values = raw.view(dtype).reshape(count, width).copy()
            else:
                rows = np.lib.stride_tricks.as_strided(raw, shape=(count, element), strides=(stride, 1))
                values = np.ascontiguousarray(rows).view(dtype).reshape(count, width)
        else:
            values = np.zeros((count, width), dtype=dtype)
        if "sparse" in acc:
            sparse = acc["sparse"]
            n = int(sparse["count"])
            idx_dtype = np.dtype(COMPONENT_DTYPES[sparse["indices"]["componentType"]])
            idx_bytes = self.view_bytes(sparse["indices"]["bufferView"])
            ids = np.frombuffer(idx_bytes, dtype=idx_dtype, count=n, offset=int(sparse["indices"].get("byteOffset", 0)))
            val_bytes = self.view_bytes(sparse["values"]["bufferView"])
            vals = np.frombuffer(val_bytes, dtype=dtype, count=n * width,
                                 offset=int(sparse["values"].get("byteOffset", 0))).reshape(n, width)
            values = values.copy()
            values[ids.astype(np.int64)] = vals
        if acc.get("normalized") and dtype.kind in "iu":
            info = np.iinfo(dtype)
            values = np.maximum(values.astype(np.float64) / info.max, -1.0)
        return values


def _node_matrix(node: dict[str, Any]) -> np.ndarray:
    if "matrix" in node:
        return np.array(node["matrix"], dtype=np.float64).reshape(4, 4).T  # column-major
    t = np.array(node.get("translation", [0, 0, 0]), dtype=np.float64)
    x, y, z, w = node.get("rotation", [0, 0, 0, 1])
    s = np.array(node.get("scale", [1, 1, 1]), dtype=np.float64)
    rotation = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                         [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                         [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    m = np.eye(4)
    m[:3, :3] = rotation * s[None, :]
    m[:3, 3] = t
    return m


def _apply(matrix: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    return xyz @ matrix[:3, :3].T + matrix[:3, 3]


def _triangle_indices(mode: int, indices: np.ndarray) -> np.ndarray:
    if mode == 4:
        return indices[: len(indices) // 3 * 3].reshape(-1, 3)
    if mode == 5:  # strip: alternate winding (glTF §5.24.2)
        if len(indices) < 3:
            return np.zeros((0, 3), dtype=np.int64)
        k = np.arange(len(indices) - 2)
        even = k % 2 == 0
        a = np.where(even, indices[k], indices[k + 1])
        b = np.where(even, indices[k + 1], indices[k])
        return np.stack([a, b, indices[k + 2]], axis=1)
    if mode == 6:  # fan
        if len(indices) < 3:
            return np.zeros((0, 3), dtype=np.int64)
        k = np.arange(1, len(indices) - 1)
        return np.stack([np.full(len(k), indices[0]), indices[k], indices[k + 1]], axis=1)
    return np.zeros((0, 3), dtype=np.int64)


def _colours(values: np.ndarray | None) -> np.ndarray | None:
    if values is None:
        return None
    if values.dtype.kind == "f":
        values = np.clip(values[:, :3] * 255.0 + 0.5, 0, 255)
    return values[:, :3].astype(np.uint8)


def property_tables(doc: dict[str, Any], buffers: _Buffers) -> tuple[list[dict[str, list[Any]]], list[int]]:
    """EXT_structural_metadata property tables as column dicts, with their row counts."""
    ext = doc.get("extensions", {}).get("EXT_structural_metadata")
    if not ext:
        return [], []
    schema = ext.get("schema") or {}
    if "schemaUri" in ext and not schema:
        raise GltfError("EXT_structural_metadata schemaUri (external schema) is not supported")
    classes = schema.get("classes", {})
    enums = schema.get("enums", {})
    tables, counts = [], []
    for table in ext.get("propertyTables", []):
        count = int(table.get("count", 0))
        cls = classes.get(table.get("class"), {}).get("properties", {})
        columns: dict[str, list[Any]] = {}
        for name, prop in table.get("properties", {}).items():
            definition = cls.get(name, {})
            columns[name] = _table_column(definition, prop, count, buffers, enums)
        tables.append(columns)
        counts.append(count)
    return tables, counts


def _table_column(definition: dict[str, Any], prop: dict[str, Any], count: int, buffers: _Buffers,
                  enums: dict[str, Any]) -> list[Any]:
    kind = definition.get("type", "SCALAR")
    is_array = bool(definition.get("array"))
    values = buffers.view_bytes(prop["values"])
    if kind == "STRING":
        offset_dtype = SCALAR_DTYPES[prop.get("stringOffsetType", "UINT32")]
        if is_array:
            raise GltfError("string array properties are not supported")
        offsets = np.frombuffer(buffers.view_bytes(prop["stringOffsets"]), dtype=offset_dtype, count=count + 1)
        return [values[offsets[i]:offsets[i + 1]].decode("utf-8", "replace") for i in range(count)]
    if kind == "BOOLEAN":
        bits = np.unpackbits(np.frombuffer(values, dtype=np.uint8), bitorder="little")
        return [bool(b) for b in bits[:count]]
    if kind == "ENUM":
        enum = enums.get(definition.get("enumType"), {})
        dtype = SCALAR_DTYPES[enum.get("valueType", "UINT16")]
        names = {v["value"]: v["name"] for v in enum.get("values", [])}
        raw = np.frombuffer(values, dtype=dtype, count=count)
        return [names.get(int(v), int(v)) for v in raw]
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}.get(kind)
    if width is None or "componentType" not in definition:
        raise GltfError(f"property type {kind} is not supported")
    dtype = SCALAR_DTYPES[definition["componentType"]]
    flat = np.frombuffer(values, dtype=dtype)
    if definition.get("normalized") and np.dtype(dtype).kind in "iu":
        flat = flat.astype(np.float64) / np.iinfo(dtype).max
    scale, offset = prop.get("scale", definition.get("scale")), prop.get("offset", definition.get("offset"))
    if scale is not None or offset is not None:
        flat = flat.astype(np.float64) * (1.0 if scale is None else np.asarray(scale)) + \
            (0.0 if offset is None else np.asarray(offset))
    if is_array and "count" not in definition:
        offset_dtype = SCALAR_DTYPES[prop.get("arrayOffsetType", "UINT32")]
        offsets = np.frombuffer(buffers.view_bytes(prop["arrayOffsets"]), dtype=offset_dtype, count=count + 1)
        return [flat[offsets[i] * width:offsets[i + 1] * width].tolist() for i in range(count)]
    per_row = width * int(definition.get("count", 1))
    rows = flat[:count * per_row].reshape(count, per_row)
    if per_row == 1:
        return rows[:, 0].tolist()
    return rows.tolist()


def read_gltf(data: bytes | memoryview, *, external: Any = None, feature_attribute: str = "_BATCHID") -> GltfMesh:
    """Triangles and points of a .glb (or JSON .gltf bytes), node transforms applied (glTF y-up frame).

    Parameters
    ----------
    external
        ``external(uri) -> bytes`` for buffers stored in other files; ``None`` refuses them.
    feature_attribute
        The 3D Tiles 1.0 batch id attribute (``_BATCHID``, or ``BATCHID`` in old files).
    """
    data = bytes(data)
    if data[:4] == b"glTF":
        doc, binary = parse_glb(data)
    else:
        try:
            doc, binary = json.loads(data.decode("utf-8")), b""
        except (UnicodeDecodeError, ValueError):
            raise GltfError("neither a binary glTF nor glTF JSON") from None
    if not str(doc.get("asset", {}).get("version", "")).startswith("2"):
        raise GltfError(f"glTF version {doc.get('asset', {}).get('version')!r} is not supported (only 2.0)")
    unsupported = sorted(set(doc.get("extensionsRequired", [])) - DECODED_EXTENSIONS)
    if unsupported:
        raise GltfError(f"glTF requires extension(s) {', '.join(unsupported)} that QDT does not decode")
    buffers = _Buffers(doc, binary, external)
    tables, table_counts = property_tables(doc, buffers)
    properties: dict[str, list[Any]] = {}
    feature_count = 0
    table_offset: list[int] = []
    for columns, count in zip(tables, table_counts, strict=True):  # several tables: one id space, appended
        table_offset.append(feature_count)
        for name in columns:
            properties.setdefault(name, [None] * feature_count)
        for name in properties:
            properties[name].extend(columns.get(name, [None] * count))
        feature_count += count

    tri_pos: list[np.ndarray] = []
    tri_idx: list[np.ndarray] = []
    tri_feat: list[np.ndarray] = []
    tri_col: list[np.ndarray | None] = []
    pt_pos: list[np.ndarray] = []
    pt_feat: list[np.ndarray] = []
    pt_col: list[np.ndarray | None] = []
    vertex_base = 0
    nodes = doc.get("nodes", [])
    meshes = doc.get("meshes", [])
    scenes = doc.get("scenes", [])
    if scenes:
        roots = scenes[int(doc.get("scene", 0))].get("nodes", [])
    else:
        children = {c for n in nodes for c in n.get("children", [])}
        roots = [i for i in range(len(nodes)) if i not in children]
    stack = [(int(i), np.eye(4), 0) for i in roots]
    while stack:
        index, parent, depth = stack.pop()
        if depth > 64 or index >= len(nodes):
            raise GltfError("node hierarchy is cyclic or refers to a missing node")
        node = nodes[index]
        matrix = parent @ _node_matrix(node)
        stack.extend((int(c), matrix, depth + 1) for c in node.get("children", []))
        if "mesh" not in node:
            continue
        try:
            mesh = meshes[node["mesh"]]
        except (IndexError, TypeError):
            raise GltfError(f"node {index} refers to missing mesh {node['mesh']}") from None
        for primitive in mesh.get("primitives", []):
            if "KHR_draco_mesh_compression" in primitive.get("extensions", {}):
                raise GltfError("Draco-compressed meshes (KHR_draco_mesh_compression) are not decoded by QDT")
            attributes = primitive.get("attributes", {})
            if "POSITION" not in attributes:
                continue
            positions = _apply(matrix, buffers.accessor(attributes["POSITION"])[:, :3].astype(np.float64))
            n = len(positions)
            feature = np.full(n, -1, dtype=np.int64)
            ext = primitive.get("extensions", {}).get("EXT_mesh_features")
            if ext and ext.get("featureIds"):
                fid = ext["featureIds"][0]
                offset = table_offset[fid["propertyTable"]] if "propertyTable" in fid and table_offset else 0
                if "attribute" in fid:
                    name = f"_FEATURE_ID_{fid['attribute']}"
                    if name in attributes:
                        feature = np.rint(buffers.accessor(attributes[name])[:, 0]).astype(np.int64)
                elif "texture" not in fid:
                    feature = np.arange(n, dtype=np.int64)  # implicit: the vertex index
                null = fid.get("nullFeatureId")
                if null is not None:
                    feature = np.where(feature == int(null), -1, feature + offset)
                else:
                    feature = feature + offset
                feature_count = max(feature_count, int(fid.get("featureCount", 0)) + offset)
            elif feature_attribute in attributes:
                feature = np.rint(buffers.accessor(attributes[feature_attribute])[:, 0]).astype(np.int64)
            colour = _colours(buffers.accessor(attributes["COLOR_0"])) if "COLOR_0" in attributes else None
            if colour is None and "material" in primitive:  # else the material's base colour, as a viewer shows it
                factor = (doc.get("materials", [{}])[primitive["material"]].get("pbrMetallicRoughness", {})
                          .get("baseColorFactor"))
                if factor is not None:
                    colour = np.tile(_colours(np.asarray([factor[:3]], dtype=np.float64)), (n, 1))
            mode = int(primitive.get("mode", 4))
            if mode == 0:
                pt_pos.append(positions)
                pt_feat.append(feature)
                pt_col.append(colour)
                continue
            if mode not in (4, 5, 6):
                continue  # lines and loops are not drawn as surfaces
            if "indices" in primitive:
                indices = buffers.accessor(primitive["indices"])[:, 0].astype(np.int64)
                if len(indices) and (indices.max() >= n or indices.min() < 0):
                    raise GltfError(f"mesh {node['mesh']} has indices beyond its {n} vertices")
            else:
                indices = np.arange(n, dtype=np.int64)
            tris = _triangle_indices(mode, indices)
            tri_pos.append(positions)
            tri_idx.append(tris + vertex_base)
            tri_feat.append(feature[tris[:, 0]] if len(tris) else np.zeros(0, dtype=np.int64))
            tri_col.append(None if colour is None else colour[tris[:, 0]])
            vertex_base += n

    rtc = doc.get("extensions", {}).get("CESIUM_RTC", {}).get("center")
    triangle_count = sum(len(t) for t in tri_idx)
    triangle_colour = None
    if any(c is not None for c in tri_col):
        triangle_colour = np.concatenate([c if c is not None else np.full((len(t), 3), 200, np.uint8)
                                          for c, t in zip(tri_col, tri_idx, strict=True)])
    point_colour = None
    if any(c is not None for c in pt_col):
        point_colour = np.concatenate([c if c is not None else np.full((len(p), 3), 200, np.uint8)
                                       for c, p in zip(pt_col, pt_pos, strict=True)])
    return GltfMesh(
        positions=np.concatenate(tri_pos) if tri_pos else np.zeros((0, 3)),
        triangles=np.concatenate(tri_idx) if triangle_count else np.zeros((0, 3), dtype=np.int64),
        triangle_feature=np.concatenate(tri_feat) if triangle_count else np.zeros(0, dtype=np.int64),
        triangle_colour=triangle_colour,
        points=np.concatenate(pt_pos) if pt_pos else np.zeros((0, 3)),
        point_colour=point_colour,
        point_feature=np.concatenate(pt_feat) if pt_feat else np.zeros(0, dtype=np.int64),
        properties=properties, feature_count=feature_count,
        rtc_center=None if rtc is None else np.asarray(rtc, dtype=np.float64),
    )
