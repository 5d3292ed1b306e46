"""The 3D scene: one renderer whose actors follow a LayerList.

``Scene`` is the bridge between the layer models and VTK. It builds a visual per layer
through the builder registry, keeps it in step with the layer's events and never renders by
itself: after a change it calls ``scene.request_render()``, which the Qt view replaces with
a coalesced render request (and the offscreen renderer ignores).

Big layers are cut into tiles and drawn with levels of detail chosen before every frame
(:mod:`qdt.render.lod`); ``Scene(layers, lod=False)`` builds every layer as one full-detail
mesh instead (exports).

The underground view (:meth:`Scene.set_underground`) is a display mode of the scene: it fades
the ground, buildings and drapes without touching the layers' own opacity.

A data change (``layer.events.data(change)``, a :class:`qdt.layers.DataChange`) is applied as
narrowly as the visual allows: fields the layer's builder does not draw change nothing; colour
fields recolour just the named features in the colour arrays VTK already reads (``Modified()``);
geometry, a drawn size or a reload rebuild the layer.

Threads: the scene handles its layers' events on the thread that emits them unless
:attr:`Scene.deliver` routes them elsewhere; the Qt view sets it to a queued Qt connection to
the GUI thread (:class:`qdt.ui.view3d.GuiRelay`). Exports build their own scene over
:meth:`qdt.layers.LayerList.frozen` copies, which never emit.

Events (``scene.events``):

- ``built(layer)``: the layer's visual was (re)built.
- ``recoloured(layer, fids)``: features of the layer were recoloured in place (no rebuild).
- ``build_failed(layer, message)``: building failed; ``message`` is one line. When nothing
  is connected to this event the error propagates to the caller instead.
- ``underground(on)``: the underground view was switched on or off (bool).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from vtkmodules.vtkRenderingCore import vtkLight, vtkRenderer

from qdt.crs import SceneOrigin
from qdt.events import EventGroup
from qdt.layers import Layer, LayerList, RasterLayer
from qdt.render import camera as _camera
from qdt.render import lighting
from qdt.render.arrays import from_vtk
from qdt.render.colours import SKY_HORIZON, SKY_ZENITH, UNDERGROUND_BOTTOM, UNDERGROUND_TOP
from qdt.render.lod import LodManager
from qdt.render.registry import builder_for
from qdt.render.tiles import TileGrid
from qdt.render.visual import BuildContext, LayerVisual

# Opacity of each role in the underground view: the ground stays readable as a veil, buildings
# become ghosts, drapes (roads, zones) a tint; pipes and manholes stay opaque.
UNDERGROUND_OPACITY = {"ground": 0.3, "building": 0.22, "drape": 0.35}
# surface symbols (lights, poles, cabinets) step back in the underground view: faded, dots at 60 % size
UNDERGROUND_SURFACE_OPACITY = 0.6
UNDERGROUND_SURFACE_POINT_SCALE = 0.6
SELECTION_MARKER_PX = 9.0  # selected features get a dot this size on top, so a selection shows at district scale
FEATURE_MIN_VIEW = 40.0  # m: fly_to_feature frames at least this much around a small feature
NEAR_CLIPPING_TOLERANCE = 1e-4  # near plane ≥ far × this: 3 m at 30 km, so street level stays unclipped


def _cell_point_ids(poly: Any, cells: np.ndarray) -> np.ndarray:
    """Point ids of the given cells of a polydata made of one cell kind (triangles or lines)."""
    if poly.GetNumberOfPolys():
        array = poly.GetPolys()
    else:
        array = poly.GetLines() if poly.GetNumberOfLines() else poly.GetVerts()
    offsets = from_vtk(array.GetOffsetsArray())
    connectivity = from_vtk(array.GetConnectivityArray())
    counts = offsets[cells + 1] - offsets[cells]
    first = np.repeat(offsets[cells] - np.cumsum(counts) + counts, counts)
    return connectivity[first + np.arange(counts.sum())]


def _no_render() -> None:
    """Default render request: nothing (offscreen callers render explicitly)."""


def _direct(handler: Callable[..., None], args: tuple) -> None:
    """Default delivery of layer events: call the handler now, on the emitting thread."""
    handler(*args)


def setup_renderer(renderer: vtkRenderer) -> None:
    """Sky gradient; a warm sun from the south-east, a sky fill from the north-west and a soft headlight;
    FXAA; order-independent translucency for translucent ground and buildings."""
    renderer.GradientBackgroundOn()
    renderer.SetBackground(*SKY_HORIZON)
    renderer.SetBackground2(*SKY_ZENITH)
    renderer.AutomaticLightCreationOff()
    renderer.RemoveAllLights()
    sun = vtkLight()
    sun.SetLightTypeToSceneLight()
    sun.SetPositional(False)
    sun.SetFocalPoint(0.0, 0.0, 0.0)
    sun.SetPosition(*lighting.sun_direction())
    sun.SetColor(*lighting.SUN_COLOUR)
    sun.SetIntensity(lighting.SUN_INTENSITY)
    sky = vtkLight()  # bluish bounce from the north-west, so walls facing away from the sun are not black
    sky.SetLightTypeToSceneLight()
    sky.SetPositional(False)
    sky.SetFocalPoint(0.0, 0.0, 0.0)
    sky.SetPosition(*lighting.SKY_DIRECTION)
    sky.SetColor(*lighting.SKY_COLOUR)
    sky.SetIntensity(lighting.SKY_INTENSITY)
    fill = vtkLight()
    fill.SetLightTypeToHeadlight()
    fill.SetColor(*lighting.HEADLIGHT_COLOUR)
    fill.SetIntensity(lighting.HEADLIGHT_INTENSITY)
    for light in (sun, sky, fill):
        renderer.AddLight(light)
    renderer.SetUseFXAA(True)
    # translucency (zone fills, the underground view) by weighted blended order-independent
    # transparency: one pass over the translucent geometry, where depth peeling took up to six
    # (1.6 s against 0.25 s a frame for the underground sample district in software OpenGL)
    renderer.SetUseDepthPeeling(False)
    renderer.SetUseOIT(True)
    renderer.SetNearClippingPlaneTolerance(NEAR_CLIPPING_TOLERANCE)


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
        self.scene.deliver(self.scene._layer_visible, (self.layer, visible))

    def on_opacity(self, opacity: float) -> None:
        self.scene.deliver(self.scene._layer_opacity, (self.layer, opacity))

    def on_style(self, _style: object) -> None:
        self.scene.deliver(self.scene._layer_changed, (self.layer,))

    def on_data(self, change: object = None) -> None:
        self.scene.deliver(self.scene._layer_data, (self.layer, change))

    def on_selection(self, fids: frozenset[int]) -> None:
        self.scene.deliver(self.scene._layer_selection, (self.layer, fids))


class Scene:
    """Actors for every layer of ``layer_list`` in ``renderer`` (a new vtkRenderer when None).

    Coordinates in VTK are local: world minus :attr:`origin`, fixed from the layers' bounds
    when the first layer with finite bounds arrives. The scene never renders; it calls
    :attr:`request_render` (default: nothing) after each change. Call :meth:`close` to
    disconnect and take the actors out of the renderer.
    """

    def __init__(self, layer_list: LayerList, renderer: vtkRenderer | None = None, *, lod: bool = True) -> None:
        self.layer_list = layer_list
        self.renderer = renderer if renderer is not None else vtkRenderer()
        self.origin: SceneOrigin | None = None
        self.request_render: Callable[[], None] = _no_render
        #: how layer and layer-list events reach the scene: ``deliver(handler, args)``; the default
        #: calls at once, the Qt view replaces it by a queued connection to the GUI thread
        self.deliver: Callable[[Callable[..., None], tuple], None] = _direct
        self.events = EventGroup("built", "build_failed", "underground", "recoloured")
        self.lod = bool(lod)
        self.fxaa = True
        self.interactive = False  # set while the user drags (qdt.render.interaction): FXAA off meanwhile
        self.tiles: TileGrid | None = None
        self._underground = False
        self._visuals: dict[str, LayerVisual] = {}
        self.build_times: dict[str, float] = {}  # seconds the last build of each layer took, by layer id
        self._bindings: dict[str, _LayerBinding] = {}
        self._context: BuildContext | None = None
        self._context_key: tuple[str | None, str | None] = (None, None)
        self._closed = False
        self._markers = None  # the selection markers' actor (see _update_markers)
        setup_renderer(self.renderer)
        self._lod_manager = LodManager(self) if self.lod else None
        layer_list.events.inserted.connect(self._inserted_event)
        layer_list.events.removed.connect(self._removed_event)
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
        self.layer_list.events.inserted.disconnect(self._inserted_event)
        self.layer_list.events.removed.disconnect(self._removed_event)
        for binding in self._bindings.values():
            binding.disconnect()
        self._bindings.clear()
        for visual in list(self._visuals.values()):
            self._remove_actors(visual)
        self._visuals.clear()
        if self._markers is not None:
            self.renderer.RemoveActor(self._markers)
            self._markers = None
        self._context = None
        if self._lod_manager is not None:
            self._lod_manager.close()
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

    # --- underground view ------------------------------------------------------------------------
    @property
    def underground(self) -> bool:
        """Whether the underground view is on (see :meth:`set_underground`)."""
        return self._underground

    def set_underground(self, on: bool) -> None:
        """Switch the underground view: ground, buildings and drapes fade so pipes and manholes show.

        A display mode of the scene: the layers' own opacity and visibility are not touched
        (so neither the project file nor the layer tree change); the ground keeps
        :data:`UNDERGROUND_OPACITY` of its opacity, is picked only where no pipe, manhole or
        facility is under the cursor, and the camera may go below it. Emits
        ``events.underground(on)`` when the mode changes.
        """
        on = bool(on)
        if on == self._underground:
            return
        self._underground = on
        for visual in self._visuals.values():
            self._apply_display(visual)
        bottom, top = (UNDERGROUND_BOTTOM, UNDERGROUND_TOP) if on else (SKY_HORIZON, SKY_ZENITH)
        self.renderer.SetBackground(*bottom)
        self.renderer.SetBackground2(*top)
        self.events.underground.emit(on)
        self.request_render()

    def ground_see_through(self, eye_local: np.ndarray | None = None) -> bool:
        """Whether what lies under the DEM can be seen: underground view, no opaque visible DEM, or the
        camera (local ``eye_local``, default the active camera's position) below the ground."""
        if self._underground:
            return True
        dem = self._context.dem if self._context is not None else None
        visual = self._visuals.get(dem.id) if dem is not None else None
        if visual is None or not visual.parts or not visual.shown:
            return True
        if visual.layer_opacity * visual.display_opacity < 0.999:
            return True
        eye = np.asarray(self.renderer.GetActiveCamera().GetPosition() if eye_local is None else eye_local, float)
        o = self.origin or SceneOrigin()
        ground = self._context.ground(np.array([eye[0] + o.x]), np.array([eye[1] + o.y]), default=np.nan)[0]
        return bool(math.isfinite(ground) and eye[2] + o.z < ground)

    def set_interactive(self, on: bool) -> None:
        """While True (the user drags the view) frames skip the FXAA pass, the most costly one in
        software OpenGL; the first frame after ``set_interactive(False)`` is full quality again."""
        self.interactive = bool(on)
        if not on:
            self.request_render()

    # --- features and bookmarks ----------------------------------------------------------------
    def feature_bounds(self, layer: Layer, fid: int) -> tuple[float, float, float, float, float, float]:
        """World (xmin, xmax, ymin, ymax, zmin, zmax) of feature ``fid`` as drawn (pipes at their depth,
        buildings from base to roof). Raises KeyError naming the layer and fid when the scene
        does not draw it."""
        visual = self._visuals.get(layer.id)
        if visual is None:
            raise KeyError(f"layer {layer.name!r} is not in the 3D scene")
        fid = int(fid)
        lows, highs = [], []
        for part in visual.parts:
            if part.cell_fids is None or part.polydata is None or not part.polydata.GetNumberOfCells():
                continue
            cells = np.flatnonzero(part.cell_fids == fid)
            if cells.size:
                ids = _cell_point_ids(part.polydata, cells)
                pts = from_vtk(part.polydata.GetPoints().GetData())[ids]
                lows.append(pts.min(axis=0))
                highs.append(pts.max(axis=0))
        for shape in (*visual.cylinders, *visual.boxes, *visual.tubes, *visual.sprites):
            rows = np.flatnonzero(shape.fids == fid)
            if rows.size:
                lo, hi = shape.extent()
                lows.append(lo[rows].min(axis=0))
                highs.append(hi[rows].max(axis=0))
        if not lows:
            raise KeyError(f"layer {layer.name!r}: no feature with fid {fid} in the 3D scene")
        lo = np.min(lows, axis=0).astype(np.float64)
        hi = np.max(highs, axis=0).astype(np.float64)
        o = self.origin or SceneOrigin()
        return (lo[0] + o.x, hi[0] + o.x, lo[1] + o.y, hi[1] + o.y, lo[2] + o.z, hi[2] + o.z)

    def fly_to_feature(self, layer: Layer, fid: int, min_size: float = FEATURE_MIN_VIEW) -> dict[str, Any]:
        """Frame feature ``fid`` of ``layer`` keeping the view direction; returns the new camera state.

        Small features (a light, a manhole) are framed as a box of at least ``min_size`` metres
        so their surroundings show. The camera jumps there (as QGIS's "zoom to feature").
        Raises KeyError (one line) for a feature the scene does not draw.
        """
        xmin, xmax, ymin, ymax, zmin, zmax = self.feature_bounds(layer, fid)
        centre = np.array([xmin + xmax, ymin + ymax, zmin + zmax]) / 2
        half = np.maximum(np.array([xmax - xmin, ymax - ymin, zmax - zmin]) / 2, min_size / 2)
        self.fly_to_extent((centre[0] - half[0], centre[1] - half[1], centre[0] + half[0], centre[1] + half[1]),
                           zmin=centre[2] - half[2], zmax=centre[2] + half[2])
        return self.camera_state()

    def bookmark(self, name: str) -> dict[str, Any]:
        """The current view as a named bookmark ``{"name", "camera"}`` (the project file's shape:
        ``qdt.project.Bookmark(name, Camera.from_dict(b["camera"]))``)."""
        return {"name": str(name), "camera": self.camera_state()}

    def go_to_bookmark(self, bookmark: Any) -> None:
        """Apply a bookmark: a :meth:`bookmark` dict, a ``qdt.project.Bookmark`` (``.camera``) or a
        camera state. Raises ValueError naming what is wrong."""
        camera = bookmark.camera if hasattr(bookmark, "camera") else bookmark
        if isinstance(camera, dict) and "camera" in camera:
            camera = camera["camera"]
        self.set_camera_state(camera)

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
    def _inserted_event(self, index: int, layer: Layer) -> None:
        self.deliver(self._on_inserted, (index, layer))

    def _removed_event(self, index: int, layer: Layer) -> None:
        self.deliver(self._on_removed, (index, layer))

    def _on_inserted(self, _index: int, layer: Layer) -> None:
        if self._closed:
            return
        self._bindings[layer.id] = _LayerBinding(self, layer)
        first = self.origin is None
        self._ensure_origin()
        if self._refresh_context() or first or self._update_tiles():
            self._rebuild_all()
        else:
            self._build(layer)
        self.request_render()

    def _on_removed(self, _index: int, layer: Layer) -> None:
        if self._closed:
            return
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
        if self._closed:
            return
        if isinstance(layer, RasterLayer) and layer.role == "ortho" and self._refresh_context():
            self._rebuild_terrain()
        visual = self._visuals.get(layer.id)
        if visual is not None:
            visual.set_visible(visible)
        if layer.selection:
            self._update_markers()
        self.request_render()

    def _layer_opacity(self, layer: Layer, opacity: float) -> None:
        if self._closed:
            return
        visual = self._visuals.get(layer.id)
        if visual is not None:
            visual.set_opacity(opacity)
        self.request_render()

    def _layer_data(self, layer: Layer, change: object = None) -> None:
        """A data change: nothing, a recolour of the named features, or a rebuild (module docstring)."""
        if self._closed:
            return
        visual = self._visuals.get(layer.id)
        decision = True if visual is None else visual.needs_rebuild(change)
        if decision is None:
            return
        if decision is False and visual is not None and visual.recolour(change.fids):  # type: ignore[union-attr]
            self.events.recoloured.emit(layer, change.fids)  # type: ignore[union-attr]
            self.request_render()
            return
        self._layer_changed(layer, data=True)

    def _layer_changed(self, layer: Layer, data: bool = False) -> None:
        if self._closed:
            return
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
        if self._closed:
            return
        visual = self._visuals.get(layer.id)
        if visual is not None:
            visual.set_selection(fids)
        self._update_markers()
        self.request_render()

    def selection_markers(self) -> np.ndarray:
        """(k, 3) local positions of the selection markers drawn now."""
        if self._markers is None:
            return np.empty((0, 3), dtype=np.float32)
        return from_vtk(self._markers.GetMapper().GetInput().GetPoints().GetData())

    def _update_markers(self) -> None:
        """A dot of SELECTION_MARKER_PX pixels in the highlight colour on top of every selected feature
        of a shown layer: a selected lamp or pipe is a fraction of a pixel at district scale."""
        from qdt.render.arrays import make_polydata
        from qdt.render.colours import HIGHLIGHT

        points = [visual.anchors(np.fromiter(visual.layer.selection, dtype=np.int64))
                  for visual in self._visuals.values() if visual.layer.selection and visual.shown]
        points = [p for p in points if len(p)]
        if self._markers is not None:
            self.renderer.RemoveActor(self._markers)
            self._markers = None
        if not points:
            return
        from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

        xyz = np.concatenate(points).astype(np.float32)
        xyz[:, 2] += 0.5  # just above the top, so the dot is not buried in the roof or the lamp
        poly = make_polydata(xyz, verts=np.arange(len(xyz)).reshape(-1, 1))
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(poly)
        mapper.ScalarVisibilityOff()
        actor = vtkActor()
        actor.SetMapper(mapper)
        prop = actor.GetProperty()
        prop.SetColor(*(c / 255 for c in HIGHLIGHT))
        prop.SetPointSize(SELECTION_MARKER_PX)
        prop.SetRenderPointsAsSpheres(True)
        prop.LightingOff()
        actor.PickableOff()
        self._markers = actor
        self.renderer.AddActor(actor)

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
            self._update_tiles()
            self._context = BuildContext(origin=self.origin, dem=dem, ortho=ortho, tiles=self.tiles)
        else:
            self._context.ortho = ortho
        self._context_key = key
        return key != previous

    def _update_tiles(self) -> bool:
        """Make the tile grid cover the layers; True when an existing grid had to change (rebuild all)."""
        if not self.lod or self.origin is None:
            return False
        xmin, ymin, xmax, ymax = self.layer_list.bounds
        if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
            return False
        o = self.origin
        wanted = TileGrid.for_bounds(xmin - o.x, xmax - o.x, ymin - o.y, ymax - o.y)
        old = self.tiles
        if old is not None:
            slack = old.size / 2
            if (xmin - o.x >= old.x0 - slack and ymin - o.y >= old.y0 - slack
                    and xmax - o.x <= old.x0 + old.nx * old.size + slack
                    and ymax - o.y <= old.y0 + old.ny * old.size + slack):
                return False
        self.tiles = wanted
        if self._context is not None:
            self._context.tiles = wanted
        return old is not None

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
        start = time.perf_counter()
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
        self._apply_display(visual)
        for actor in visual.actors:
            self.renderer.AddActor(actor)
        self._visuals[layer.id] = visual
        self.build_times[layer.id] = time.perf_counter() - start
        if layer.selection or self._markers is not None:
            self._update_markers()
        self.events.built.emit(layer)

    def _remove_actors(self, visual: LayerVisual) -> None:
        if self._lod_manager is not None:
            self._lod_manager.forget(visual)
        for actor in visual.actors:
            self.renderer.RemoveActor(actor)

    def _apply_display(self, visual: LayerVisual) -> None:
        opacity = UNDERGROUND_OPACITY.get(visual.role, 1.0) if self._underground else 1.0
        point_scale = 1.0
        if self._underground and visual.surface_symbol:
            opacity = UNDERGROUND_SURFACE_OPACITY
            point_scale = UNDERGROUND_SURFACE_POINT_SCALE
        visual.set_display(True, opacity)
        visual.set_symbol_scale(point_scale)
