"""What a builder returns: the VTK actors of one layer plus what picking and highlighting need.

A :class:`LayerVisual` owns one or more :class:`VisualPart` (an actor with its polydata and
live colour buffer) and, for glyph layers, analytic pick shapes (vertical cylinders, boxes,
screen-size sprites) in local coordinates, because VTK's cell picker cannot see instanced
glyphs. Highlighting writes the highlight colour into the colour buffers VTK already reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from vtkmodules.vtkCommonDataModel import vtkPolyData
from vtkmodules.vtkRenderingCore import vtkActor, vtkGlyph3DMapper, vtkPolyDataMapper, vtkProp3D

from qdt.crs import SceneOrigin
from qdt.layers import Layer, RasterLayer
from qdt.render.arrays import to_vtk
from qdt.render.colours import HIGHLIGHT


@dataclass
class BuildContext:
    """What a builder may use besides its layer.

    Attributes
    ----------
    origin
        Scene origin; every builder emits local coordinates ``world - origin``.
    dem
        The scene's DEM layer (heights for draping and bases), or None.
    ortho
        The visible orthophoto to texture the DEM with, or None.
    """

    origin: SceneOrigin
    dem: RasterLayer | None = None
    ortho: RasterLayer | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    def ground(self, x: np.ndarray, y: np.ndarray, default: float | np.ndarray = 0.0) -> np.ndarray:
        """Ground height (m) at world x, y: the DEM's bilinear height, ``default`` off the DEM."""
        x = np.asarray(x, dtype=np.float64)
        fallback = np.broadcast_to(np.asarray(default, dtype=np.float64), x.shape)
        if self.dem is None or x.size == 0:
            return np.array(fallback, dtype=np.float64)
        z = self.dem.sample(x, np.asarray(y, dtype=np.float64))
        return np.where(np.isfinite(z), z, fallback)

    def terrain_grid(self):  # noqa: ANN201 - TerrainGrid, imported lazily to avoid a cycle
        """The decimated DEM grid shared by the terrain and the zone drapes (cached), or None."""
        if self.dem is None:
            return None
        key = ("grid", id(self.dem))
        if key not in self._cache:
            from qdt.render.geometry import terrain_grid

            self._cache[key] = terrain_grid(self.dem)
        return self._cache[key]


@dataclass(eq=False)
class VisualPart:
    """One actor of a layer's visual.

    Attributes
    ----------
    actor
        The VTK actor.
    polydata
        Its input (for glyph parts: the glyph centres).
    colours, colour_array, base_colours, colour_fids
        The live (n, 3) uint8 buffer the mapper reads, its VTK array, the un-highlighted
        colours and the feature id of each row: highlighting writes into ``colours``.
    cell_fids
        Feature id per cell for the cell picker (None: the part yields ``fid=None``).
    opacity_factor
        Opacity of the part when its layer is fully opaque (translucent fills < 1).
    pick_cells
        Whether the cell picker considers the actor (False for glyphs, outlines).
    """

    actor: vtkActor
    polydata: vtkPolyData | None
    colours: np.ndarray | None = None
    colour_array: object = None
    base_colours: np.ndarray | None = None
    colour_fids: np.ndarray | None = None
    cell_fids: np.ndarray | None = None
    opacity_factor: float = 1.0
    pick_cells: bool = True
    locator: object = None

    def set_highlight(self, selected: np.ndarray) -> None:
        """Show ``selected`` fids (sorted int64 array) in the highlight colour, others as built."""
        if self.colours is None or self.base_colours is None or self.colour_fids is None:
            return
        self.colours[:] = self.base_colours
        if selected.size:
            mask = np.isin(self.colour_fids, selected)
            self.colours[mask] = HIGHLIGHT
        if self.colour_array is not None:
            self.colour_array.Modified()
        if self.polydata is not None:
            self.polydata.Modified()


@dataclass(eq=False)
class PickCylinders:
    """Vertical cylinders in local coordinates: (n, 2) centres, z0/z1/radius (n,), fids (n,)."""

    centre: np.ndarray
    z0: np.ndarray
    z1: np.ndarray
    radius: np.ndarray
    fids: np.ndarray


@dataclass(eq=False)
class PickBoxes:
    """Axis-aligned boxes in local coordinates: lo/hi (n, 3), fids (n,)."""

    lo: np.ndarray
    hi: np.ndarray
    fids: np.ndarray


@dataclass(eq=False)
class PickSprites:
    """Points drawn at a fixed pixel size: position (n, 3) local, fids (n,), tolerance in pixels."""

    position: np.ndarray
    fids: np.ndarray
    radius_px: float


@dataclass(eq=False)
class LayerVisual:
    """The 3D representation of one layer (possibly empty, e.g. an orthophoto draped on a DEM)."""

    layer: Layer
    parts: list[VisualPart] = field(default_factory=list)
    cylinders: list[PickCylinders] = field(default_factory=list)
    boxes: list[PickBoxes] = field(default_factory=list)
    sprites: list[PickSprites] = field(default_factory=list)

    @property
    def actors(self) -> list[vtkProp3D]:
        return [p.actor for p in self.parts]

    def set_visible(self, visible: bool) -> None:
        for part in self.parts:
            part.actor.SetVisibility(bool(visible))

    def set_opacity(self, opacity: float) -> None:
        for part in self.parts:
            part.actor.GetProperty().SetOpacity(float(opacity) * part.opacity_factor)

    def set_selection(self, fids: frozenset[int] | set[int]) -> None:
        selected = np.array(sorted(int(f) for f in fids), dtype=np.int64)
        for part in self.parts:
            part.set_highlight(selected)

    def apply_layer_state(self) -> None:
        """Visibility, opacity and selection as the layer has them now."""
        self.set_visible(self.layer.visible)
        self.set_opacity(self.layer.opacity)
        if self.layer.selection:
            self.set_selection(self.layer.selection)


# --- actor helpers used by the builders ------------------------------------------------------

def style_surface(actor: vtkActor, *, ambient: float = 0.22, diffuse: float = 0.78, specular: float = 0.04) -> None:
    """Matte material shared by buildings, terrain and facilities."""
    prop = actor.GetProperty()
    prop.SetInterpolationToGouraud()
    prop.SetAmbient(ambient)
    prop.SetDiffuse(diffuse)
    prop.SetSpecular(specular)
    prop.SetSpecularPower(20.0)


def coloured_part(poly: vtkPolyData, colours: np.ndarray | None, colour_fids: np.ndarray | None, *,
                  on_cells: bool, cell_fids: np.ndarray | None = None, opacity_factor: float = 1.0,
                  pick_cells: bool = True, name: str = "colours") -> VisualPart:
    """A mesh actor coloured directly by a uint8 RGB array already attached to ``poly`` as ``name``."""
    mapper = vtkPolyDataMapper()
    mapper.SetInputData(poly)
    actor = vtkActor()
    actor.SetMapper(mapper)
    style_surface(actor)
    colour_array = None
    if colours is not None:
        data = poly.GetCellData() if on_cells else poly.GetPointData()
        colour_array = data.GetArray(name)
        mapper.SetScalarModeToUseCellFieldData() if on_cells else mapper.SetScalarModeToUsePointFieldData()
        mapper.SelectColorArray(name)
        mapper.SetColorModeToDirectScalars()
        mapper.ScalarVisibilityOn()
    else:
        mapper.ScalarVisibilityOff()
    return VisualPart(actor=actor, polydata=poly, colours=colours, colour_array=colour_array,
                      base_colours=None if colours is None else colours.copy(), colour_fids=colour_fids,
                      cell_fids=cell_fids, opacity_factor=opacity_factor, pick_cells=pick_cells)


def glyph_part(centres: vtkPolyData, source: vtkPolyData, colours: np.ndarray, fids: np.ndarray, *,
               scale_array: str | None = None) -> VisualPart:
    """Instanced glyphs of ``source`` at the points of ``centres``.

    ``centres`` carries point arrays ``colours`` (uint8 RGB, used directly), ``fid`` (the
    mapper's selection ids, so hardware selection returns feature ids) and optionally
    ``scale_array`` (3 components: per-axis scale of the template, in metres per unit).
    """
    mapper = vtkGlyph3DMapper()
    mapper.SetInputData(centres)
    mapper.SetSourceData(source)
    mapper.OrientOff()
    if scale_array:
        mapper.SetScaleArray(scale_array)
        mapper.SetScaleModeToScaleByVectorComponents()
        mapper.ScalingOn()
    else:
        mapper.ScalingOff()
    mapper.SetScalarModeToUsePointFieldData()
    mapper.SelectColorArray("colours")
    mapper.SetColorModeToDirectScalars()
    mapper.ScalarVisibilityOn()
    mapper.SetSelectionIdArray("fid")
    mapper.UseSelectionIdsOn()
    actor = vtkActor()
    actor.SetMapper(mapper)
    actor.PickableOff()  # picked analytically (qdt.render.picking), the cell picker cannot see glyphs
    style_surface(actor, specular=0.15)
    return VisualPart(actor=actor, polydata=centres, colours=colours,
                      colour_array=centres.GetPointData().GetArray("colours"), base_colours=colours.copy(),
                      colour_fids=fids, cell_fids=None, pick_cells=False)


def attach(poly: vtkPolyData, name: str, values: np.ndarray, *, on_cells: bool) -> None:
    """Add a named zero-copy array to ``poly``'s cell or point data."""
    data = poly.GetCellData() if on_cells else poly.GetPointData()
    data.AddArray(to_vtk(values, name))
