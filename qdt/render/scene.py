"""The 3D scene: one renderer whose actors follow a LayerList.

``Scene`` is the bridge between the layer models and VTK. It builds a visual per layer
through the builder registry, keeps it in step with the layer's events and never renders by
itself: after a change it calls ``scene.request_render()``, which the Qt view replaces with
a coalesced render request (and the offscreen renderer ignores).

Events (``scene.events``):

- ``built(layer)``: the layer's visual was (re)built.
- ``build_failed(layer, message)``: building failed; ``message`` is one line. When nothing
  is connected to this event the error propagates to the caller instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from vtkmodules.vtkRenderingCore import vtkLight, vtkRenderer

from qdt.crs import SceneOrigin
from qdt.events import EventGroup
from qdt.layers import Layer, LayerList, RasterLayer
from qdt.render import camera as _camera
from qdt.render.colours import SKY_HORIZON, SKY_ZENITH
from qdt.render.registry import builder_for
from qdt.render.visual import BuildContext, LayerVisual

SUN_AZIMUTH = 135.0  # degrees from north, clockwise: the sun stands in the south-east
SUN_ELEVATION = 50.0


def _no_render() -> None:
    """Default render request: nothing (offscreen callers render explicitly)."""


def setup_renderer(renderer: vtkRenderer) -> None:
    """Sky gradient; a warm sun from the south-east, a sky fill from the north-west and a soft headlight;
    FXAA; depth peeling for translucent ground and buildings."""
    renderer.GradientBackgroundOn()
    renderer.SetBackground(*SKY_HORIZON)
    renderer.SetBackground2(*SKY_ZENITH)
    renderer.AutomaticLightCreationOff()
    renderer.RemoveAllLights()
    az, el = math.radians(SUN_AZIMUTH), math.radians(SUN_ELEVATION)
    sun = vtkLight()
    sun.SetLightTypeToSceneLight()
    sun.SetPositional(False)
    sun.SetFocalPoint(0.0, 0.0, 0.0)
    sun.SetPosition(math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el))
    sun.SetColor(1.0, 0.97, 0.91)
    sun.SetIntensity(0.85)
    sky = vtkLight()  # bluish bounce from the north-west, so walls facing away from the sun are not black
    sky.SetLightTypeToSceneLight()
    sky.SetPositional(False)
    sky.SetFocalPoint(0.0, 0.0, 0.0)
    sky.SetPosition(-0.6, 0.5, 0.6)
    sky.SetColor(0.85, 0.9, 1.0)
    sky.SetIntensity(0.3)
    fill = vtkLight()
    fill.SetLightTypeToHeadlight()
    fill.SetColor(0.9, 0.94, 1.0)
    fill.SetIntensity(0.3)
    for light in (sun, sky, fill):
        renderer.AddLight(light)
    renderer.SetUseFXAA(True)
    renderer.SetUseDepthPeeling(True)
    renderer.SetMaximumNumberOfPeels(6)
    renderer.SetOcclusionRatio(0.0)


class _LayerBinding:
    """The scene's connections to one layer's events (bound methods, so the Signal holds them weakly)."""

    def __init__(self, scene: Scene, layer: Layer) -> None:
        self.scene = scene
        self.layer = layer
        events = layer.events
        events.visible.connect(self.on_visible)
        events.opacity.connect(self.on_opacity)
        events.style.connect(self.on_style)
        events.data.connect(self.on_data)
        events.selection.connect(self.on_selection)

    def disconnect(self) -> None:
        events = self.layer.events
        events.visible.disconnect(self.on_visible)
        events.opacity.disconnect(self.on_opacity)
        events.style.disconnect(self.on_style)
        events.data.disconnect(self.on_data)
        events.selection.disconnect(self.on_selection)

    def on_visible(self, visible: bool) -> None:
        self.scene._layer_visible(self.layer, visible)

    def on_opacity(self, opacity: float) -> None:
        self.scene._layer_opacity(self.layer, opacity)

    def on_style(self, _style: object) -> None:
        self.scene._layer_changed(self.layer)

    def on_data(self) -> None:
        self.scene._layer_changed(self.layer, data=True)

    def on_selection(self, fids: frozenset[int]) -> None:
        self.scene._layer_selection(self.layer, fids)


class Scene:
    """Actors for every layer of ``layer_list`` in ``renderer`` (a new vtkRenderer when None).

    Coordinates in VTK are local: world minus :attr:`origin`, fixed from the layers' bounds
    when the first layer with finite bounds arrives. The scene never renders; it calls
    :attr:`request_render` (default: nothing) after each change. Call :meth:`close` to
    disconnect and take the actors out of the renderer.
    """

    def __init__(self, layer_list: LayerList, renderer: vtkRenderer | None = None) -> None:
        self.layer_list = layer_list
        self.renderer = renderer if renderer is not None else vtkRenderer()
        self.origin: SceneOrigin | None = None
        self.request_render: Callable[[], None] = _no_render
        self.events = EventGroup("built", "build_failed")
        self._visuals: dict[str, LayerVisual] = {}
        self._bindings: dict[str, _LayerBinding] = {}
        self._context: BuildContext | None = None
        self._context_key: tuple[str | None, str | None] = (None, None)
        self._closed = False
        setup_renderer(self.renderer)
        layer_list.events.inserted.connect(self._on_inserted)
        layer_list.events.removed.connect(self._on_removed)
        for layer in layer_list:
            self._bindings[layer.id] = _LayerBinding(self, layer)
        self._ensure_origin()
        self._refresh_context()
        for layer in layer_list:
            self._build(layer)

    # --- public API ------------------------------------------------------------------------------
    @property
    def visuals(self) -> dict[str, LayerVisual]:
        """Visuals by layer id (read-only view for the UI and tests)."""
        return dict(self._visuals)

    def visual(self, layer: Layer) -> LayerVisual | None:
        return self._visuals.get(layer.id)

    @property
    def context(self) -> BuildContext | None:
        """What builders get: origin, DEM, orthophoto (None before the origin is known)."""
        return self._context

    def close(self) -> None:
        """Disconnect from the layer list and layers and remove every actor. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.layer_list.events.inserted.disconnect(self._on_inserted)
        self.layer_list.events.removed.disconnect(self._on_removed)
        for binding in self._bindings.values():
            binding.disconnect()
        self._bindings.clear()
        for visual in list(self._visuals.values()):
            self._remove_actors(visual)
        self._visuals.clear()
        self._context = None
        self.request_render = _no_render

    def frame_all(self, azimuth: float = 0.0, pitch: float = _camera.DEFAULT_PITCH) -> None:
        """Frame every visible actor, seen from ``azimuth`` (0: from the south, north up) at ``pitch``."""
        _camera.look_at_bounds(self.renderer, self.renderer.ComputeVisiblePropBounds(), azimuth, pitch)
        self.request_render()

    def fly_to_extent(self, extent: Sequence[float], zmin: float | None = None, zmax: float | None = None) -> None:
        """Fit a world extent ``(xmin, ymin, xmax, ymax)`` (EPSG:4549, as ``Layer.bounds``) in view.

        The view direction is kept; heights default to the visible scene's. Non-finite
        extents (an empty layer) leave the camera alone.
        """
        xmin, ymin, xmax, ymax = (float(v) for v in extent)
        origin = self.origin or SceneOrigin()
        if zmin is None or zmax is None:
            scene = self.renderer.ComputeVisiblePropBounds()
            zlo, zhi = (scene[4], scene[5]) if math.isfinite(scene[4]) and scene[4] <= scene[5] else (0.0, 0.0)
            zmin = zlo + origin.z if zmin is None else zmin
            zmax = zhi + origin.z if zmax is None else zmax
        bounds = (xmin - origin.x, xmax - origin.x, ymin - origin.y, ymax - origin.y, zmin - origin.z, zmax - origin.z)
        if _camera.look_at_bounds(self.renderer, bounds, None, None):
            self.request_render()

    def reset_north_up(self) -> None:
        _camera.reset_north_up(self.renderer)
        self.request_render()

    def camera_state(self) -> dict[str, Any]:
        """The camera in world coordinates, for the project file."""
        return _camera.camera_state(self.renderer, self.origin or SceneOrigin())

    def set_camera_state(self, state: Any) -> None:
        """Apply a camera: a :meth:`camera_state` dict or an object with ``to_dict()`` giving one
        (``qdt.project.Camera``). Raises ValueError naming a bad key."""
        _camera.set_camera_state(self.renderer, self.origin or SceneOrigin(), state)
        self.request_render()

    set_camera = set_camera_state

    def world_bounds(self) -> tuple[float, float, float, float, float, float]:
        """(xmin, xmax, ymin, ymax, zmin, zmax) of the visible actors in world coordinates."""
        b = self.renderer.ComputeVisiblePropBounds()
        o = self.origin or SceneOrigin()
        return (b[0] + o.x, b[1] + o.x, b[2] + o.y, b[3] + o.y, b[4] + o.z, b[5] + o.z)

    def pick(self, x: float, y: float):  # noqa: ANN201 - PickResult | None
        """The feature under display point (x, y); see :func:`qdt.render.picking.pick`."""
        from qdt.render.picking import pick

        return pick(self, x, y)

    def to_display(self, world_xyz: np.ndarray) -> np.ndarray:
        """World (n, 3) points → (n, 3) display coordinates (x, y from the bottom-left, depth)."""
        from qdt.render.picking import world_to_display

        return world_to_display(self, world_xyz)

    # --- layer list events -------------------------------------------------------------------
    def _on_inserted(self, _index: int, layer: Layer) -> None:
        self._bindings[layer.id] = _LayerBinding(self, layer)
        first = self.origin is None
        self._ensure_origin()
        if self._refresh_context() or first:
            self._rebuild_all()
        else:
            self._build(layer)
        self.request_render()

    def _on_removed(self, _index: int, layer: Layer) -> None:
        binding = self._bindings.pop(layer.id, None)
        if binding is not None:
            binding.disconnect()
        visual = self._visuals.pop(layer.id, None)
        if visual is not None:
            self._remove_actors(visual)
        if self._refresh_context():
            self._rebuild_all()
        self.request_render()

    # --- layer events ----------------------------------------------------------------------------
    def _layer_visible(self, layer: Layer, visible: bool) -> None:
        if isinstance(layer, RasterLayer) and layer.role == "ortho" and self._refresh_context():
            self._rebuild_terrain()
        visual = self._visuals.get(layer.id)
        if visual is not None:
            visual.set_visible(visible)
        self.request_render()

    def _layer_opacity(self, layer: Layer, opacity: float) -> None:
        visual = self._visuals.get(layer.id)
        if visual is not None:
            visual.set_opacity(opacity)
        self.request_render()

    def _layer_changed(self, layer: Layer, data: bool = False) -> None:
        if data and self._context is not None and layer is self._context.dem:
            self._context = None  # drop the cached terrain grid
            self._refresh_context()
            self._rebuild_all()
        elif self._context is not None and layer is self._context.ortho:
            self._rebuild_terrain()
            self._build(layer)
        else:
            self._ensure_origin()
            self._build(layer)
        self.request_render()

    def _layer_selection(self, layer: Layer, fids: frozenset[int]) -> None:
        visual = self._visuals.get(layer.id)
        if visual is not None:
            visual.set_selection(fids)
        self.request_render()

    # --- building --------------------------------------------------------------------------------
    def _ensure_origin(self) -> None:
        if self.origin is not None:
            return
        bounds = self.layer_list.bounds
        if all(math.isfinite(v) for v in bounds):
            self.origin = SceneOrigin.from_bounds(bounds)

    def _refresh_context(self) -> bool:
        """Update DEM / orthophoto choice; True when it changed (dependent visuals must be rebuilt)."""
        if self.origin is None:
            return False
        dem = next((lyr for lyr in self.layer_list if isinstance(lyr, RasterLayer) and lyr.role == "dem"), None)
        ortho = next((lyr for lyr in self.layer_list
                      if isinstance(lyr, RasterLayer) and lyr.role == "ortho" and lyr.visible), None)
        key = (dem.id if dem else None, ortho.id if ortho else None)
        if self._context is not None and key == self._context_key:
            return False
        previous = self._context_key
        if self._context is None or self._context.dem is not dem:
            self._context = BuildContext(origin=self.origin, dem=dem, ortho=ortho)
        else:
            self._context.ortho = ortho
        self._context_key = key
        return key != previous

    def _rebuild_all(self) -> None:
        for layer in self.layer_list:
            self._build(layer)

    def _rebuild_terrain(self) -> None:
        if self._context is not None and self._context.dem is not None:
            self._build(self._context.dem)

    def _build(self, layer: Layer) -> None:
        if self._closed or self._context is None:
            return
        old = self._visuals.pop(layer.id, None)
        if old is not None:
            self._remove_actors(old)
        try:
            visual = builder_for(layer)(layer, self._context)
        except Exception as exc:
            if len(self.events.build_failed) == 0:
                raise
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if layer.name not in message:
                message = f"layer {layer.name!r}: {message}"
            self.events.build_failed.emit(layer, message)
            return
        visual.apply_layer_state()
        for actor in visual.actors:
            self.renderer.AddActor(actor)
        self._visuals[layer.id] = visual
        self.events.built.emit(layer)

    def _remove_actors(self, visual: LayerVisual) -> None:
        for actor in visual.actors:
            self.renderer.RemoveActor(actor)
