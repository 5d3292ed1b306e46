"""numpy ⇄ VTK array plumbing: the only module that uses ``vtkmodules.util.numpy_support``.

Arrays go to VTK whole and, where possible, without a copy. A zero-copy VTK array reads
the numpy buffer directly, so the buffer must outlive VTK's use of it: every helper here
records the numpy arrays it hands over on the returned VTK object (``_qdt_buffers``).
VTK's Python wrapper keeps such attributes for as long as the C++ object lives, even when
the Python wrapper itself is dropped, so the buffer lives exactly as long as its user.

World coordinates (float64, EPSG:4549, ~500 000 / ~4 000 000 m) never reach VTK directly:
they are moved to the scene's local origin in float64 and only then cast to float32.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonCore import vtkDataArray, vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkImageData, vtkPolyData

from qdt.crs import SceneOrigin

__all__ = [
    "cell_array",
    "fixed_cells",
    "from_vtk",
    "image_to_numpy",
    "keep_alive",
    "make_polydata",
    "points_from_local",
    "points_from_world",
    "rgb_image",
    "to_vtk",
]


def keep_alive(vtk_object: object, *arrays: np.ndarray) -> None:
    """Record numpy buffers on ``vtk_object`` so they live as long as it does."""
    held = getattr(vtk_object, "_qdt_buffers", None)
    if held is None:
        held = []
        vtk_object._qdt_buffers = held  # type: ignore[attr-defined]
    held.extend(arrays)


def to_vtk(values: np.ndarray, name: str | None = None, *, deep: bool = False) -> vtkDataArray:
    """A VTK data array over ``values`` ((n,) or (n, k)); zero-copy unless ``deep``.

    Booleans go as uint8 (VTK has no bool array). Non-contiguous input is copied once.
    """
    values = np.asarray(values)
    if values.dtype == np.bool_:
        values = values.astype(np.uint8)
    values = np.ascontiguousarray(values)
    array = numpy_support.numpy_to_vtk(values, deep=deep)
    if not deep:
        keep_alive(array, values)
    if name:
        array.SetName(name)
    return array


def from_vtk(array: vtkDataArray) -> np.ndarray:
    """A numpy view of a VTK data array (no copy; valid while the VTK array lives)."""
    return numpy_support.vtk_to_numpy(array)


def points_from_local(local: np.ndarray) -> vtkPoints:
    """vtkPoints over local (n, 3) coordinates, stored as float32 without a copy."""
    local = np.ascontiguousarray(local, dtype=np.float32).reshape(-1, 3)
    points = vtkPoints()
    points.SetData(to_vtk(local))
    keep_alive(points, local)
    return points


def points_from_world(xyz: np.ndarray, origin: SceneOrigin) -> tuple[vtkPoints, np.ndarray]:
    """vtkPoints for world (n, 3) float64 coordinates relative to ``origin``.

    Returns the points and the local float32 (n, 3) array they read (subtraction in float64
    first, so precision is that of the local offset, not of the 4 000 000 m northing).
    """
    local = origin.to_local(np.asarray(xyz, dtype=np.float64).reshape(-1, 3))
    return points_from_local(local), local


def _connectivity(connectivity: np.ndarray) -> np.ndarray:
    """Connectivity as int32 when it fits (half the memory), else int64."""
    connectivity = np.asarray(connectivity).ravel()
    if connectivity.size == 0 or int(connectivity.max()) < np.iinfo(np.int32).max:
        return np.ascontiguousarray(connectivity, dtype=np.int32)
    return np.ascontiguousarray(connectivity, dtype=np.int64)


def cell_array(offsets: np.ndarray, connectivity: np.ndarray) -> vtkCellArray:
    """vtkCellArray from ``offsets`` (n_cells + 1, starting at 0) and flat ``connectivity``.

    Raises ValueError when the offsets do not describe the connectivity.
    """
    conn = _connectivity(connectivity)
    offs = np.ascontiguousarray(offsets, dtype=conn.dtype).ravel()
    if offs.size == 0 or offs[0] != 0 or offs[-1] != conn.size:
        raise ValueError(f"cell offsets must start at 0 and end at {conn.size}, got {offs[:1]}…{offs[-1:]}")
    cells = vtkCellArray()
    if not cells.SetData(to_vtk(offs), to_vtk(conn)):
        raise ValueError("VTK refused the cell offsets/connectivity arrays")
    keep_alive(cells, offs, conn)
    return cells


def fixed_cells(connectivity: np.ndarray) -> vtkCellArray:
    """vtkCellArray of equal-sized cells from an (n_cells, k) index array (k = 1 verts, 2 lines, 3 triangles)."""
    connectivity = np.asarray(connectivity)
    if connectivity.ndim != 2:
        raise ValueError(f"fixed-size cells need an (n, k) index array, got shape {connectivity.shape}")
    size = connectivity.shape[1]
    conn = _connectivity(connectivity)
    cells = vtkCellArray()
    if not cells.SetData(size, to_vtk(conn)):
        raise ValueError("VTK refused the cell connectivity array")
    keep_alive(cells, conn)
    return cells


def make_polydata(
    local_points: np.ndarray,
    *,
    polys: vtkCellArray | np.ndarray | None = None,
    lines: vtkCellArray | np.ndarray | None = None,
    verts: vtkCellArray | np.ndarray | None = None,
    cell_data: Mapping[str, np.ndarray] | None = None,
    point_data: Mapping[str, np.ndarray] | None = None,
    scalars: str | None = None,
    normals: np.ndarray | None = None,
    tcoords: np.ndarray | None = None,
) -> vtkPolyData:
    """One vtkPolyData from whole arrays.

    Parameters
    ----------
    local_points
        (n, 3) local coordinates (float32 after :meth:`SceneOrigin.to_local`).
    polys, lines, verts
        A vtkCellArray, or an (n_cells, k) index array of equal-sized cells.
    cell_data, point_data
        Named arrays, one row per cell / point; zero-copy.
    scalars
        Name of the cell-data (or, failing that, point-data) array to make the active scalars
        (the colours: uint8 RGB are shown directly).
    normals
        (n, 3) float32 point normals.
    tcoords
        (n, 2) float32 texture coordinates.
    """
    poly = vtkPolyData()
    points = points_from_local(local_points)
    poly.SetPoints(points)
    n_points = points.GetNumberOfPoints()
    for setter, cells in ((poly.SetPolys, polys), (poly.SetLines, lines), (poly.SetVerts, verts)):
        if cells is None:
            continue
        setter(cells if isinstance(cells, vtkCellArray) else fixed_cells(cells))
    n_cells = poly.GetNumberOfCells()
    for data, attrs, expected, kind in ((cell_data, poly.GetCellData(), n_cells, "cell"),
                                       (point_data, poly.GetPointData(), n_points, "point")):
        for name, values in (data or {}).items():
            if len(values) != expected:
                raise ValueError(f"{kind} array {name!r} has {len(values)} rows, expected {expected}")
            attrs.AddArray(to_vtk(values, name))
    if scalars:
        if poly.GetCellData().HasArray(scalars):
            poly.GetCellData().SetActiveScalars(scalars)
        else:
            poly.GetPointData().SetActiveScalars(scalars)
    if normals is not None:
        poly.GetPointData().SetNormals(to_vtk(np.asarray(normals, dtype=np.float32), "Normals"))
    if tcoords is not None:
        poly.GetPointData().SetTCoords(to_vtk(np.asarray(tcoords, dtype=np.float32), "TCoords"))
    return poly


def rgb_image(image: np.ndarray) -> vtkImageData:
    """vtkImageData from a top-down (rows, cols, 3|4) uint8 image, e.g. for a vtkTexture.

    VTK's image origin is the bottom-left corner, so rows are flipped (one copy).
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise ValueError(f"an RGB image must be (rows, cols, 3|4) uint8, got {image.shape} {image.dtype}")
    rows, cols, bands = image.shape
    flipped = np.ascontiguousarray(image[::-1]).reshape(-1, bands)
    data = vtkImageData()
    data.SetDimensions(cols, rows, 1)
    data.GetPointData().SetScalars(to_vtk(flipped, "rgb"))
    keep_alive(data, flipped)
    return data


def image_to_numpy(data: vtkImageData) -> np.ndarray:
    """A top-down (rows, cols, k) uint8 copy of a 2D vtkImageData's scalars."""
    cols, rows, _ = data.GetDimensions()
    scalars = data.GetPointData().GetScalars()
    flat = from_vtk(scalars)
    bands = scalars.GetNumberOfComponents()
    return np.ascontiguousarray(flat.reshape(rows, cols, bands)[::-1])
