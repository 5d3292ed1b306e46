"""Labels in the 3D view: the placement of :mod:`qdt.render.label_placement` drawn as a 2D overlay.

:class:`SceneLabels` keeps one RGBA image the size of the view on top of the scene (a
``vtkActor2D`` drawn after the 3D geometry). Just before a frame is rendered it checks whether
the camera, the view size or a labelled layer changed; only then it places the labels again
and redraws the image — so however many changes arrive, it works once per frame, and a frame
whose camera did not move costs nothing. Candidates (texts and anchors) are computed once per
layer and kept until the layer's data, labels or the DEM change.

Events it follows: the layer list's ``inserted``/``removed``, each layer's ``labels``,
``data`` and ``visible``. A label text that cannot be evaluated is reported once through
``scene.events.build_failed(layer, message)`` (or raised when nothing listens) and the layer
is left unlabelled.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from vtkmodules.vtkCommonCore import vtkFloatArray
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkRenderingCore import vtkPolyDataMapper2D, vtkTexture, vtkTexturedActor2D

from qdt.crs import SceneOrigin
from qdt.layers import Layer
from qdt.render.arrays import from_vtk, keep_alive, make_polydata, to_vtk
from qdt.render.label_placement import (
    DepthMap,
    LabelCandidates,
    LabelError,
    Placement,
    ViewCamera,
    draw_labels,
    label_candidates,
    labelled_layers,
    place_labels,
)

__all__ = ["SceneLabels", "read_depth", "view_camera"]

DEPTH_ROWS = 300  # the depth map labels are tested against is sampled down to about this many rows


def read_depth(renderer: Any) -> DepthMap | None:
    """The depth of what ``renderer`` drew in its last frame (sampled down to about :data:`DEPTH_ROWS`
    rows), or None when it has no window."""
    window = renderer.GetRenderWindow()
    width, height = renderer.GetSize()
    if window is None or width < 2 or height < 2:
        return None
    x0, y0 = renderer.GetOrigin()
    values = vtkFloatArray()
    window.GetZbufferData(x0, y0, x0 + width - 1, y0 + height - 1, values)
    # every k-th pixel (a view, no copy: pooling the whole buffer cost 60 ms a frame in numpy);
    # DepthMap.nearest_around then looks one sample (k pixels) around each place
    k = max(1, round(height / DEPTH_ROWS))
    z = from_vtk(values).reshape(height, width)[::k, ::k]
    # the labels overlay (a 2D actor) writes depth 0 where it drew: nothing of the scene lies exactly
    # on the near plane, so 0 reads as "nothing here" (labels never hide other labels' anchors)
    z = np.where(z <= 0.0, np.float32(1.0), z)
    camera = renderer.GetActiveCamera()
    near, far = camera.GetClippingRange()
    return DepthMap.from_zbuffer(z, near, far, not camera.GetParallelProjection())


def view_camera(renderer: Any, origin: SceneOrigin | None, width: int, height: int, unit: float = 1.0) -> ViewCamera:
    """The renderer's active camera for a ``width`` × ``height`` pixel image whose pixels are
    ``unit`` layout units (1 on screen; :func:`~qdt.render.label_placement.label_unit` for snapshots)."""
    camera = renderer.GetActiveCamera()
    m = camera.GetCompositeProjectionTransformMatrix(width / max(height, 1), -1.0, 1.0)
    matrix = np.array([[m.GetElement(r, c) for c in range(4)] for r in range(4)])
    o = origin or SceneOrigin()
    return ViewCamera(matrix=matrix, eye=np.array(camera.GetPosition(), dtype=float),
                      origin=np.array([o.x, o.y, o.z], dtype=float), width=width / unit, height=height / unit)


class SceneLabels:
    """The labels of a :class:`qdt.render.Scene`'s layers, drawn over its renderer.

    Attributes
    ----------
    enabled
        False hides every label (the benchmark's "without labels").
    placement
        The last :class:`~qdt.render.label_placement.Placement` drawn (None before the first frame).
    place_count
        How many times labels were placed (tests check coalescing with it).
    place_seconds
        Seconds the last placement and drawing took (the benchmark reports them).
    """

    def __init__(self, scene: Any) -> None:
        self.scene = scene
        self.renderer = scene.renderer
        self._enabled = True
        self.placement: Placement | None = None
        self.place_count = 0
        self.place_seconds = 0.0
        self._cache: dict[str, LabelCandidates | None] = {}
        self._failed: set[str] = set()
        self._key: Any = None
        self._version = 0
        # one textured quad in display coordinates: the texture is uploaded when the labels change and
        # drawn by the GPU (a vtkImageMapper re-processed every pixel on the CPU each frame: +100 ms)
        self.quad = make_polydata(np.zeros((4, 3), dtype=np.float32), polys=np.array([[0, 1, 2, 3]]),
                                  tcoords=np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float32))
        self.mapper = vtkPolyDataMapper2D()
        self.mapper.SetInputData(self.quad)
        self.texture = vtkTexture()
        self.texture.InterpolateOff()  # one texel per pixel
        self.actor = vtkTexturedActor2D()
        self.actor.SetMapper(self.mapper)
        self.actor.SetTexture(self.texture)
        self.actor.SetVisibility(False)
        self.actor.PickableOff()
        self.renderer.AddViewProp(self.actor)
        self._observer = self.renderer.AddObserver("StartEvent", self._before_frame)
        self._end_observer = self.renderer.AddObserver("EndEvent", self._after_frame)
        self.occlusion = True  # hide labels whose anchor is behind what the last frame drew there
        self._depth: DepthMap | None = None
        self._depth_camera: Any = None  # the camera (MTime, size) the depth map was read for
        self._placed_with: Any = None  # the depth camera of the placement drawn
        self._bindings: dict[str, _LabelBinding] = {}
        scene.layer_list.events.inserted.connect(self._on_inserted)
        scene.layer_list.events.removed.connect(self._on_removed)
        for layer in scene.layer_list:
            self._connect(layer)
        self._closed = False

    # --- state -------------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self._enabled

    @enabled.setter
    def enabled(self, on: bool) -> None:
        self._enabled = bool(on)
        self._changed()

    def invalidate(self, layer: Layer | None = None) -> None:
        """Forget the candidates of ``layer`` (all layers when None) and redraw at the next frame."""
        if layer is None:
            self._cache.clear()
            self._failed.clear()
        else:
            self._cache.pop(layer.id, None)
            self._failed.discard(layer.id)
        self._changed()

    def close(self) -> None:
        """Disconnect and take the overlay out of the renderer. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.renderer.RemoveObserver(self._observer)
        self.renderer.RemoveObserver(self._end_observer)
        self.renderer.RemoveViewProp(self.actor)
        self.scene.layer_list.events.inserted.disconnect(self._on_inserted)
        self.scene.layer_list.events.removed.disconnect(self._on_removed)
        for binding in list(self._bindings.values()):
            binding.disconnect()
        self._bindings.clear()
        self._cache.clear()

    # --- events --------------------------------------------------------------------------------
    def _connect(self, layer: Layer) -> None:
        self._bindings[layer.id] = _LabelBinding(self, layer)

    def _disconnect(self, layer: Layer) -> None:
        binding = self._bindings.pop(layer.id, None)
        if binding is not None:
            binding.disconnect()

    def _on_inserted(self, _index: int, layer: Layer) -> None:
        self.scene.deliver(self._inserted, (layer,))

    def _on_removed(self, _index: int, layer: Layer) -> None:
        self.scene.deliver(self._removed, (layer,))

    def _inserted(self, layer: Layer) -> None:
        if not self._closed:
            self._connect(layer)
            self.invalidate()  # a new DEM moves every anchor

    def _removed(self, layer: Layer) -> None:
        if not self._closed:
            self._disconnect(layer)
            self.invalidate()

    def _changed(self) -> None:
        self._version += 1
        self.scene.request_render()

    # --- frames ---------------------------------------------------------------------------------
    def candidates(self) -> list[LabelCandidates]:
        """The candidates of the visible labelled layers (computed once per layer and kept)."""
        out = []
        for layer in labelled_layers(self.scene.layer_list):
            if layer.id in self._failed:
                continue
            if layer.id not in self._cache:
                try:
                    self._cache[layer.id] = label_candidates(layer, list(self.scene.layer_list))
                except LabelError as exc:
                    self._failed.add(layer.id)
                    if len(self.scene.events.build_failed) == 0:
                        raise
                    self.scene.events.build_failed.emit(layer, str(exc))
                    continue
            cand = self._cache[layer.id]
            if cand is not None:
                out.append(cand)
        return out

    def _before_frame(self, *_: object) -> None:
        width, height = self.renderer.GetSize()
        camera = self.renderer.GetActiveCamera()
        key = (self._enabled, self._version, width, height, camera.GetMTime())
        if key == self._key or width < 2 or height < 2:
            return
        self._key = key
        sets = self.candidates() if self._enabled else []
        if not sets:
            self.placement = None
            self.actor.SetVisibility(False)
            return
        start = time.perf_counter()
        self.place_count += 1
        depth = self._depth if self.occlusion and self._depth_camera is not None \
            and self._depth_camera[1:] == (width, height) else None
        self._placed_with = self._depth_camera if depth is not None else None
        self.placement = place_labels(sets, view_camera(self.renderer, self.scene.origin, width, height), depth)
        self._draw(self.placement, width, height)
        self.place_seconds = time.perf_counter() - start

    def _after_frame(self, *_: object) -> None:
        """Keep the frame's depth for the next placement; when this frame's labels were placed with
        the depth of an earlier camera, ask for one more frame (coalesced) to place them right."""
        if not (self.occlusion and self._enabled and self.placement is not None):
            return
        width, height = self.renderer.GetSize()
        camera = (self.renderer.GetActiveCamera().GetMTime(), width, height)
        if camera == self._depth_camera:
            return
        self._depth = read_depth(self.renderer)
        self._depth_camera = camera if self._depth is not None else None
        if self._depth is not None and self._placed_with != camera:
            self._version += 1
            self.scene.request_render()

    def _draw(self, placement: Placement, width: int, height: int) -> None:
        from PIL import Image

        if not placement.labels:
            self.actor.SetVisibility(False)
            return
        # draw only the band the labels span (less to composite and upload)
        corners = np.array([label.bounds() for label in placement.labels]).reshape(-1, 2)
        pad = 8
        x0 = int(max(0, np.floor(corners[:, 0].min()) - pad))
        y0 = int(max(0, np.floor(corners[:, 1].min()) - pad))
        x1 = int(min(width, np.ceil(corners[:, 0].max()) + pad))
        y1 = int(min(height, np.ceil(corners[:, 1].max()) + pad))
        canvas = Image.new("RGBA", (max(1, x1 - x0), max(1, y1 - y0)), (0, 0, 0, 0))
        shifted = Placement(placement.width, placement.height, [label.moved(-x0, -y0) for label in placement.labels])
        draw_labels(canvas, shifted, 1.0)
        self.texture.SetInputData(_vtk_image(canvas))
        w, h = canvas.size
        points = from_vtk(self.quad.GetPoints().GetData())
        points[:] = [[0, 0, 0], [w, 0, 0], [w, h, 0], [0, h, 0]]
        self.quad.GetPoints().Modified()
        self.actor.SetPosition(x0, height - y1)  # display coordinates from the bottom-left
        self.actor.SetVisibility(True)


class _LabelBinding:
    """The labels' connections to one layer (through ``scene.deliver``: on the GUI thread in the app)."""

    def __init__(self, labels: SceneLabels, layer: Layer) -> None:
        self.labels = labels
        self.layer = layer
        layer.events.labels.connect(self.on_labels)
        layer.events.data.connect(self.on_data)
        layer.events.visible.connect(self.on_visible)

    def disconnect(self) -> None:
        self.layer.events.labels.disconnect(self.on_labels)
        self.layer.events.data.disconnect(self.on_data)
        self.layer.events.visible.disconnect(self.on_visible)

    def on_labels(self, _style: object) -> None:
        self.labels.scene.deliver(self._forget, ())

    def on_data(self, _change: object = None) -> None:
        self.labels.scene.deliver(self._forget, ())  # texts or anchors may have changed

    def on_visible(self, _visible: bool) -> None:
        self.labels.scene.deliver(self._redraw, ())

    def _forget(self) -> None:
        if not self.labels._closed:
            self.labels.invalidate(self.layer)

    def _redraw(self) -> None:
        if not self.labels._closed:
            self.labels._changed()


def _vtk_image(canvas: Any) -> Any:
    """vtkImageData of a PIL RGBA image (VTK's rows run bottom-up: PIL flips it, one copy to numpy)."""
    from PIL import Image

    flipped = np.asarray(canvas.transpose(Image.Transpose.FLIP_TOP_BOTTOM))
    rows, cols, bands = flipped.shape
    data = vtkImageData()
    data.SetDimensions(cols, rows, 1)
    flat = flipped.reshape(-1, bands)
    data.GetPointData().SetScalars(to_vtk(flat, "rgba"))
    keep_alive(data, flat)
    return data


