"""Raster layer: a DEM (one band of heights) or an orthophoto (RGB), read into memory.

The reader (``qdt.io.raster``) decides the resolution read (an overview or decimated
window for big files); the model keeps the array, its affine transform and nodata mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyproj import CRS

from qdt.layers.base import Layer, LayerKind


class RasterLayer(Layer):
    """Pixels in the layer's CRS.

    Parameters
    ----------
    data
        ``(bands, rows, cols)`` array; DEM heights are float32/float64 with ``mask`` True
        where there is no data.
    transform
        GDAL-style affine as a 6-tuple ``(a, b, c, d, e, f)``: x = a*col + b*row + c,
        y = d*col + e*row + f, for pixel corners.
    role
        ``"dem"`` or ``"ortho"`` (or ``"image"`` for anything else).
    full_shape
        (rows, cols) of the file on disk, when ``data`` was read decimated.
    """

    kind = LayerKind.RASTER

    def __init__(self, name: str, data: np.ndarray, transform: tuple[float, ...], crs: CRS | None, *,
                 role: str = "image", mask: np.ndarray | None = None, nodata: float | None = None,
                 full_shape: tuple[int, int] | None = None, **kw: Any) -> None:
        super().__init__(name, crs, **kw)
        if data.ndim == 2:
            data = data[np.newaxis]
        self.data = data
        self.transform = tuple(float(v) for v in transform)
        self.role = role
        self.mask = mask if mask is not None else np.zeros(data.shape[1:], dtype=bool)
        self.nodata = nodata
        self.full_shape = full_shape or data.shape[1:]

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.data.shape[1]), int(self.data.shape[2])

    @property
    def feature_count(self) -> int:
        return 0

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        a, b, c, d, e, f = self.transform
        rows, cols = self.shape
        xs = [c, c + a * cols, c + b * rows, c + a * cols + b * rows]
        ys = [f, f + d * cols, f + e * rows, f + d * cols + e * rows]
        return (min(xs), min(ys), max(xs), max(ys))

    def pixel_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """x (cols,) and y (rows,) of pixel centres, for a north-up raster."""
        a, _, c, _, e, f = self.transform
        rows, cols = self.shape
        return c + a * (np.arange(cols) + 0.5), f + e * (np.arange(rows) + 0.5)

    def sample(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bilinear height of band 1 at world points; NaN outside or on nodata."""
        a, _, c, _, e, f = self.transform
        band = self.data[0].astype(np.float64)
        band = np.where(self.mask, np.nan, band)
        rows, cols = self.shape
        fc = (np.asarray(x, dtype=float) - c) / a - 0.5
        fr = (np.asarray(y, dtype=float) - f) / e - 0.5
        c0 = np.floor(fc).astype(np.int64)
        r0 = np.floor(fr).astype(np.int64)
        tc = fc - c0
        tr = fr - r0
        c0c = np.clip(c0, 0, cols - 1)
        c1c = np.clip(c0 + 1, 0, cols - 1)
        r0c = np.clip(r0, 0, rows - 1)
        r1c = np.clip(r0 + 1, 0, rows - 1)
        v = (band[r0c, c0c] * (1 - tc) * (1 - tr) + band[r0c, c1c] * tc * (1 - tr)
             + band[r1c, c0c] * (1 - tc) * tr + band[r1c, c1c] * tc * tr)
        outside = (fc < -0.5) | (fr < -0.5) | (fc > cols - 0.5) | (fr > rows - 0.5)
        return np.where(outside, np.nan, v)

    @property
    def value_range(self) -> tuple[float, float]:
        valid = self.data[0][~self.mask]
        if valid.size == 0:
            return (float("nan"), float("nan"))
        return float(valid.min()), float(valid.max())
