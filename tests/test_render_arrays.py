"""Render bridge: numpy → VTK array plumbing (zero copy, lifetimes, precision, validation)."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

from qdt.crs import SceneOrigin
from qdt.render.arrays import (
    cell_array,
    fixed_cells,
    from_vtk,
    image_to_numpy,
    make_polydata,
    points_from_world,
    rgb_image,
    to_vtk,
)


def test_world_points_keep_millimetres_near_gauss_kruger_coordinates():
    origin = SceneOrigin(534000.0, 3992000.0, 0.0)
    world = np.array([[534001.2345, 3992002.3456, 35.678], [533412.001, 3992598.999, -3.25]])
    points, local = points_from_world(world, origin)
    assert local.dtype == np.float32
    back = origin.to_world(from_vtk(points.GetData()))
    np.testing.assert_allclose(back, world, atol=1e-4)
    # without the origin float32 would be off by decimetres at this northing
    assert np.abs(world.astype(np.float32).astype(np.float64) - world).max() > 0.05


def test_zero_copy_arrays_share_the_numpy_buffer():
    values = np.arange(6, dtype=np.uint8).reshape(2, 3)
    array = to_vtk(values, "colours")
    values[1, 2] = 99
    assert array.GetComponent(1, 2) == 99
    assert array.GetName() == "colours" and array.GetNumberOfComponents() == 3
    assert to_vtk(np.array([True, False])).GetDataTypeAsString() == "unsigned char"


def test_buffers_outlive_their_python_names():
    actor = vtkActor()
    mapper = vtkPolyDataMapper()
    actor.SetMapper(mapper)
    poly = make_polydata(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float32),
                         polys=np.array([[0, 1, 2]]), cell_data={"fid": np.array([42], dtype=np.int64)})
    mapper.SetInputData(poly)
    del poly
    for _ in range(3):
        np.empty(1_000_000)  # churn the allocator so a freed buffer would be overwritten
        gc.collect()
    kept = mapper.GetInput()
    assert from_vtk(kept.GetCellData().GetArray("fid")).tolist() == [42]
    np.testing.assert_array_equal(from_vtk(kept.GetPoints().GetData())[1], [1, 0, 0])
    assert from_vtk(kept.GetPolys().GetConnectivityArray()).tolist() == [0, 1, 2]


def test_cell_arrays_from_offsets_and_fixed_sizes():
    cells = cell_array(np.array([0, 3, 7]), np.array([0, 1, 2, 0, 2, 3, 4]))
    assert cells.GetNumberOfCells() == 2 and cells.GetCellSize(1) == 4
    with pytest.raises(ValueError, match="end at 7"):
        cell_array(np.array([0, 3, 6]), np.arange(7))
    tris = fixed_cells(np.array([[0, 1, 2], [2, 1, 3]]))
    assert tris.GetNumberOfCells() == 2 and tris.GetCellSize(0) == 3
    with pytest.raises(ValueError, match="shape"):
        fixed_cells(np.arange(6))


def test_polydata_checks_row_counts():
    pts = np.zeros((3, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="cell array 'fid' has 2 rows, expected 1"):
        make_polydata(pts, polys=np.array([[0, 1, 2]]), cell_data={"fid": np.array([1, 2])})
    poly = make_polydata(pts, verts=np.arange(3).reshape(-1, 1), point_data={"c": np.zeros((3, 3), np.uint8)},
                         scalars="c")
    assert poly.GetPointData().GetScalars().GetName() == "c"


def test_rgb_image_flips_rows_and_round_trips():
    image = np.zeros((2, 3, 3), dtype=np.uint8)
    image[0, :, 0] = 255  # top row red
    data = rgb_image(image)
    assert data.GetDimensions() == (3, 2, 1)
    assert data.GetScalarComponentAsDouble(0, 1, 0, 0) == 255  # VTK row 1 is the top
    np.testing.assert_array_equal(image_to_numpy(data), image)
    with pytest.raises(ValueError, match="uint8"):
        rgb_image(np.zeros((2, 2, 3), dtype=np.float32))
