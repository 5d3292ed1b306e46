"""Level of detail and culling, decided before every frame.

:class:`LodManager` listens to the renderer's ``StartEvent`` (so it runs for every render,
whoever asks for it: the Qt view, offscreen snapshots, benchmarks) and

- shows each tiled part whose level-of-detail range contains the size of a pixel (in metres) at
  the part's nearest point to the camera, and hides the others (VTK then frustum-culls what
  is left, per actor);
- refills the :mod:`near sets <qdt.render.near>` (glyphs, pipe tubes) for the camera;
- hides layers of the ``underground`` role (pipes) where an opaque DEM covers them and the
  camera is above it: they could not be seen, and a city's pipes cost more than its buildings;
- turns FXAA off while the user drags (``scene.interactive``): it costs ~60 ms a frame at
  1600×1000 in software OpenGL, and the still frame after the drag gets it back.

All decisions are numpy over arrays of part boxes; nothing here loops over features.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from qdt.layers import RasterLayer
from qdt.render.tiles import point_box_distance
from qdt.render.visual import LayerVisual, VisualPart

if TYPE_CHECKING:
    from qdt.render.scene import Scene


class LodManager:
    """Per-frame level-of-detail and culling decisions for ``scene`` (see the module docstring)."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self._observer = scene.renderer.AddObserver("StartEvent", self._on_start)
        self._covered: dict[int, bool] = {}
        self.last_mpp_per_metre = 0.0

    def close(self) -> None:
        self.scene.renderer.RemoveObserver(self._observer)
        self._covered.clear()

    def forget(self, visual: LayerVisual) -> None:
        for part in visual.parts:
            self._covered.pop(id(part), None)

    def _on_start(self, *_: object) -> None:
        self.update()

    # --- the camera -------------------------------------------------------------------------------
    def camera(self) -> tuple[np.ndarray, float, np.ndarray | None] | None:
        """(eye, metres per pixel per metre of distance, frustum planes (6, 4)) or None without a viewport."""
        renderer = self.scene.renderer
        width, height = renderer.GetSize()
        if width <= 0 or height <= 0:
            return None
        camera = renderer.GetActiveCamera()
        eye = np.array(camera.GetPosition(), dtype=np.float64)
        if camera.GetParallelProjection():
            # constant pixel size: express it "per metre" at the focal distance
            mpp = 2.0 * camera.GetParallelScale() / height
            per_metre = mpp / max(camera.GetDistance(), 1e-9)
        else:
            per_metre = 2.0 * math.tan(math.radians(camera.GetViewAngle()) / 2.0) / height
        planes = [0.0] * 24
        camera.GetFrustumPlanes(width / height, planes)
        return eye, per_metre, np.array(planes).reshape(6, 4)

    # --- the frame --------------------------------------------------------------------------------
    def update(self) -> None:
        scene = self.scene
        view = self.camera()
        renderer = scene.renderer
        renderer.SetUseFXAA(bool(scene.fxaa and not scene.interactive))
        if view is None:
            return
        eye, per_metre, planes = view
        self.last_mpp_per_metre = per_metre
        see_through = scene.ground_see_through(eye)
        changed = False
        for visual in scene.visuals.values():
            if visual.role == "underground":
                visual.set_display(True, 1.0)  # whether a tile shows is decided per part below
            changed |= self._update_parts(visual, eye, per_metre, see_through)
            if visual.shown:
                for near in visual.near:
                    changed |= near.update(eye, per_metre, planes)
        if changed:
            renderer.ResetCameraClippingRange()

    def _update_parts(self, visual: LayerVisual, eye: np.ndarray, per_metre: float, see_through: bool) -> bool:
        tiled, lo, hi, lod_lo, lod_hi = visual.lod_arrays()
        if not tiled:
            return False
        mpp = point_box_distance(eye, lo, hi) * per_metre
        show = (mpp >= lod_lo) & (mpp < lod_hi)
        if visual.role == "ground" and visual.layer_opacity * visual.display_opacity < 0.999:
            show &= ~np.array([p.skirt for p in tiled])
        if visual.role == "underground" and not see_through:
            show &= ~self._covered_mask(tiled)
        current = np.fromiter((p.lod_shown for p in tiled), dtype=bool, count=len(tiled))
        flips = np.flatnonzero(show != current)
        if flips.size == 0:
            return False
        for i in flips.tolist():
            tiled[i].lod_shown = bool(show[i])
        visual.apply_visibility([tiled[i] for i in flips.tolist()])
        return True

    def _covered_mask(self, parts: list[VisualPart]) -> np.ndarray:
        """True for parts lying entirely under the (opaque, visible) DEM's valid cells."""
        out = np.zeros(len(parts), dtype=bool)
        grid = self.scene.context.terrain_grid() if self.scene.context is not None else None
        if grid is None:
            return out
        for i, part in enumerate(parts):
            key = id(part)
            if key not in self._covered:
                self._covered[key] = _covered_by(grid, part.bounds(), self.scene.origin)
            out[i] = self._covered[key]
        return out


def _covered_by(grid, bounds: np.ndarray, origin) -> bool:  # noqa: ANN001 - TerrainGrid, SceneOrigin
    """Whether the grid has valid cells over all of the local xy ``bounds`` (axis-aligned grids only)."""
    if not np.isfinite(bounds).all() or grid.valid.size == 0:
        return False
    xs, ys = grid.x[0], grid.y[:, 0]
    if not (np.allclose(grid.x, xs[None, :]) and np.allclose(grid.y, ys[:, None])):
        return False
    x0, x1 = bounds[0] + origin.x, bounds[1] + origin.x
    y0, y1 = bounds[2] + origin.y, bounds[3] + origin.y
    if x0 < xs.min() or x1 > xs.max() or y0 < ys.min() or y1 > ys.max():
        return False
    c = np.flatnonzero((xs[1:] >= x0) & (xs[:-1] <= x1)) if xs[1] > xs[0] else np.flatnonzero(
        (xs[:-1] >= x0) & (xs[1:] <= x1))
    r = np.flatnonzero((np.maximum(ys[1:], ys[:-1]) >= y0) & (np.minimum(ys[1:], ys[:-1]) <= y1))
    if c.size == 0 or r.size == 0:
        return False
    return bool(grid.valid[np.ix_(r, c)].all())


def dem_layer(scene: Scene) -> RasterLayer | None:
    return scene.context.dem if scene.context is not None else None
