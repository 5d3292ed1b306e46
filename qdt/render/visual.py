"""What a builder returns: the VTK actors of one layer plus what picking and highlighting need.

A :class:`LayerVisual` owns one or more :class:`VisualPart` (an actor with its polydata and
live colour buffer) and, for glyph layers, analytic pick shapes (vertical cylinders, boxes,
screen-size sprites) in local coordinates, because VTK's cell picker cannot see instanced
glyphs. Highlighting writes the highlight colour into the colour buffers VTK already reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from vtkmodules.vtkCommonDataModel import vtkPolyData
from vtkmodules.vtkRenderingCore import vtkActor, vtkGlyph3DMapper, vtkPolyDataMapper, vtkProp3D

from qdt.crs import SceneOrigin
from qdt.layers import Layer, RasterLayer
from qdt.render.arrays import make_polydata, to_vtk
from qdt.render.colours import HIGHLIGHT
from qdt.render.tiles import TileGrid, feature_tiles, first_vertex_of_rows, split_mesh


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
    tiles
        The scene's tile grid: builders then cut big layers into one part per tile and add
        level-of-detail parts (see :mod:`qdt.render.lod`). None (the default, and what export
        and the builder tests use) gives one full-detail part per piece, as a single mesh.
    """

    origin: SceneOrigin
    dem: RasterLayer | None = None
    ortho: RasterLayer | None = None
    tiles: TileGrid | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    def ground(self, x: np.ndarray, y: np.ndarray, default: float | np.ndarray = 0.0) -> np.ndarray:
        """Ground height (m) at world x, y: the DEM's bilinear height, ``default`` off the DEM."""
        x = np.asarray(x, dtype=np.float64)
        fallback = np.broadcast_to(np.asarray(default, dtype=np.float64), x.shape)
        if self.dem is None or x.size == 0:
            return np.array(fallback, dtype=np.float64)
        z = self._sample_dem(x, np.asarray(y, dtype=np.float64))
        return np.where(np.isfinite(z), z, fallback)

    def _sample_dem(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``RasterLayer.sample`` with the float64 band prepared once per context (builders sample often)."""
        dem = self.dem
        key = ("band", id(dem))
        if key not in self._cache:
            self._cache[key] = np.where(dem.mask, np.float32(np.nan), dem.data[0].astype(np.float32))
        band = self._cache[key]
        a, _, c, _, e, f = dem.transform
        rows, cols = band.shape
        flat = band.ravel()
        fc = (x - c) / a - 0.5
        fr = (y - f) / e - 0.5
        outside = ~((fc >= -0.5) & (fr >= -0.5) & (fc <= cols - 0.5) & (fr <= rows - 0.5))  # NaN too
        fc = np.clip(np.where(outside, 0.0, fc), 0.0, cols - 1)
        fr = np.clip(np.where(outside, 0.0, fr), 0.0, rows - 1)
        c0 = np.minimum(fc.astype(np.int64), max(cols - 2, 0))
        r0 = np.minimum(fr.astype(np.int64), max(rows - 2, 0))
        tc = fc - c0
        tr = fr - r0
        if cols < 2 or rows < 2:  # a single row or column: nearest
            return np.where(outside, np.nan, flat[r0 * cols + c0])
        i00 = r0 * cols + c0
        z00, z01, z10, z11 = flat[i00], flat[i00 + 1], flat[i00 + cols], flat[i00 + cols + 1]
        # bilinear, as RasterLayer.sample (half-pixel edges clamp to the edge pixels)
        v = z00 + tc * (z01 - z00) + tr * (z10 - z00) + (tc * tr) * (z00 - z01 - z10 + z11)
        return np.where(outside, np.nan, v)

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
        Feature id per cell for picking (None: the part yields ``fid=None``).
    opacity_factor
        Opacity of the part when its layer is fully opaque (translucent fills < 1).
    pick_cells
        Whether picking ray-casts the part's cells (False for glyphs, outlines and the coarse
        levels of detail: the full-detail part of the same tile answers for them).
    tile
        The scene tile the part covers (-1: not tiled, always shown while its layer is).
    lod_lo, lod_hi
        Level of detail: a tiled part is shown while the size of a pixel (metres) at the
        tile's nearest point lies in ``[lod_lo, lod_hi)``.
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
    tile: int = -1
    lod_lo: float = 0.0
    lod_hi: float = math.inf
    lod_shown: bool = True
    skirt: bool = False  # terrain skirt: hidden while the ground is translucent
    #: how the part's colour rows follow their feature's style colour when a feature is recoloured
    #: (:meth:`LayerVisual.recolour`): None, they do not (a constant colour: pole metal, terrain);
    #: a float or a per-row float array, the factor applied (1.0: the feature colour; roofs 0.9)
    shade: float | np.ndarray | None = None
    #: screen-size symbols: the dot diameter or line width in pixels as built (0: neither); the
    #: scene scales dots (underground view); snapshots scale both with the image size
    point_px: float = 0.0
    line_px: float = 0.0
    _bounds: np.ndarray | None = field(default=None, repr=False)
    _fid_order: np.ndarray | None = field(default=None, repr=False)

    def bounds(self) -> np.ndarray:
        """(6,) local (xmin, xmax, ymin, ymax, zmin, zmax) of the input, cached (NaN when empty)."""
        if self._bounds is None:
            if self.polydata is None or self.polydata.GetNumberOfPoints() == 0:
                self._bounds = np.full(6, np.nan)
            else:
                self._bounds = np.array(self.polydata.GetBounds(), dtype=np.float64)
        return self._bounds

    def rows_of(self, fids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, which): the colour rows of the sorted unique ``fids`` and the index in ``fids`` of
        each, by binary search in an argsort of ``colour_fids`` made once (no pass over all rows)."""
        if self.colour_fids is None or len(self.colour_fids) == 0 or len(fids) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        if self._fid_order is None or len(self._fid_order) != len(self.colour_fids):
            self._fid_order = np.argsort(self.colour_fids, kind="stable")
        ordered = self.colour_fids[self._fid_order]
        lo = np.searchsorted(ordered, fids, side="left")
        hi = np.searchsorted(ordered, fids, side="right")
        counts = hi - lo
        if not counts.any():
            return np.empty(0, np.int64), np.empty(0, np.int64)
        which = np.repeat(np.arange(len(fids)), counts)
        first = np.repeat(lo - np.cumsum(counts) + counts, counts)
        return self._fid_order[first + np.arange(counts.sum())], which

    def recolour(self, fids: np.ndarray, colours: np.ndarray, selected: np.ndarray) -> bool:
        """Give the rows of ``fids`` (sorted unique) their features' new ``colours`` (k, 3) uint8,
        keeping selected ones highlighted; True when a row changed (the arrays are Modified)."""
        if self.shade is None or self.colours is None or self.base_colours is None:
            return False
        rows, which = self.rows_of(fids)
        if rows.size == 0:
            return False
        new = colours[which]
        if not (np.isscalar(self.shade) and float(self.shade) == 1.0):
            shade = self.shade if np.isscalar(self.shade) else np.asarray(self.shade)[rows, None]
            new = np.clip(new * shade, 0, 255).astype(np.uint8)  # truncating, as the builders do
        self.base_colours[rows] = new
        if selected.size:
            new = new.copy()
            new[np.isin(self.colour_fids[rows], selected)] = HIGHLIGHT
        self.colours[rows] = new
        if self.colour_array is not None:
            self.colour_array.Modified()
        if self.polydata is not None:
            self.polydata.Modified()
        return True

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
    _index: object = field(default=None, repr=False)

    def extent(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-instance AABB (lo, hi) (n, 3)."""
        r = self.radius[:, None]
        lo = np.column_stack([self.centre - r, self.z0])
        hi = np.column_stack([self.centre + r, self.z1])
        return lo, hi


@dataclass(eq=False)
class PickBoxes:
    """Axis-aligned boxes in local coordinates: lo/hi (n, 3), fids (n,)."""

    lo: np.ndarray
    hi: np.ndarray
    fids: np.ndarray
    _index: object = field(default=None, repr=False)

    def extent(self) -> tuple[np.ndarray, np.ndarray]:
        return self.lo, self.hi


@dataclass(eq=False)
class PickSprites:
    """Points drawn at a fixed pixel size: position (n, 3) local, fids (n,), tolerance in pixels.

    ``max_mpp``: the dots are drawn (and picked) only where a pixel is at most this many metres
    (level of detail; infinite without).
    """

    position: np.ndarray
    fids: np.ndarray
    radius_px: float
    max_mpp: float = math.inf
    _index: object = field(default=None, repr=False)

    def extent(self) -> tuple[np.ndarray, np.ndarray]:
        return self.position, self.position


@dataclass(eq=False)
class PickTubes:
    """Straight tube segments (pipes) in local coordinates, sharing their vertices.

    Segment ``i`` runs from ``vertices[start[i]]`` to ``vertices[start[i] + 1]`` with the radius
    of its first vertex (``radius`` per vertex) and feature id ``fids[i]``. Float32 vertices
    keep a city's million segments small; picking computes in float64.

    ``min_px``: what is drawn is what is picked. Pipes far away are drawn as lines a few pixels
    wide, far wider on screen than their true radius; a click within ``min_px`` pixels of the
    centre line picks the pipe at any distance (the true radius wins where it is wider).
    """

    vertices: np.ndarray
    start: np.ndarray
    radius: np.ndarray
    fids: np.ndarray
    min_px: float = 0.0
    _index: object = field(default=None, repr=False)

    def ends(self, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(a, b, radius) float64 of the given segments (all by default)."""
        first = self.start if rows is None else self.start[rows]
        a = self.vertices[first].astype(np.float64)
        b = self.vertices[first + 1].astype(np.float64)
        return a, b, self.radius[first].astype(np.float64)

    def extent(self) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.vertices[self.start], self.vertices[self.start + 1]  # float32: boxes only
        r = self.radius[self.start][:, None]
        lo = np.minimum(a, b)
        lo -= r
        hi = np.maximum(a, b, out=a)
        hi += r
        return lo, hi


def compact_ids(fids: np.ndarray) -> np.ndarray:
    """Feature ids as int32 when they fit (half the memory of int64; GeoPackage fids rarely need more)."""
    fids = np.asarray(fids)
    if fids.size and fids.dtype != np.int32 and -(2**31) <= int(fids.min()) and int(fids.max()) < 2**31:
        return fids.astype(np.int32)
    return fids


# what a layer is to the underground view: "ground" (terrain), "building" (LOD1, city models),
# "drape" (roads, zones: lie on the ground), "underground" (pipes, manholes), "facility" (the rest)
ROLES = ("ground", "building", "drape", "underground", "facility")
SEE_THROUGH_ROLES = ("ground", "building", "drape")


@dataclass(eq=False)
class LayerVisual:
    """The 3D representation of one layer (possibly empty, e.g. an orthophoto draped on a DEM).

    Visibility of an actor = the layer's visibility and its level of detail and the scene's
    display mode (``display_shown``: e.g. pipes under opaque ground are not drawn). Opacity =
    the layer's opacity × the part's ``opacity_factor`` × the scene's ``display_opacity``
    (the underground view fades the ground); none of this touches the layer model.
    """

    layer: Layer
    parts: list[VisualPart] = field(default_factory=list)
    cylinders: list[PickCylinders] = field(default_factory=list)
    boxes: list[PickBoxes] = field(default_factory=list)
    sprites: list[PickSprites] = field(default_factory=list)
    tubes: list[PickTubes] = field(default_factory=list)
    near: list = field(default_factory=list)  # qdt.render.near.NearSet, rebuilt around the camera
    heightfields: list = field(default_factory=list)  # qdt.render.heightfield.Heightfield: picked by marching
    role: str = "facility"
    #: a symbol standing on the surface (lights, poles, cabinets): it steps back (smaller, faded)
    #: in the underground view so the pipes show
    surface_symbol: bool = False
    layer_visible: bool = True
    layer_opacity: float = 1.0
    display_shown: bool = True
    display_opacity: float = 1.0
    #: fields the builder drew shapes or sizes from (height, depth, diameter …): a change rebuilds;
    #: None (a builder that does not say): any data change rebuilds the layer
    drawn_fields: frozenset[str] | None = None
    #: fields the colours come from (the style's field, or the class default such as ``status``)
    colour_fields: frozenset[str] = frozenset()
    #: new style colours of features at frame positions (k,) → (k, 3) uint8; None: recolouring
    #: is not supported and a colour change rebuilds the layer
    feature_colours: Callable[[np.ndarray], np.ndarray] | None = None
    _selected: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64), repr=False)
    _lod_arrays: tuple | None = field(default=None, repr=False)

    @property
    def actors(self) -> list[vtkProp3D]:
        return [p.actor for p in self.parts]

    @property
    def shown(self) -> bool:
        """Whether anything of the layer is drawn now (layer visible and not hidden by the display mode)."""
        return self.layer_visible and self.display_shown

    def apply_visibility(self, parts: list[VisualPart] | None = None) -> None:
        shown = self.shown
        for part in self.parts if parts is None else parts:
            part.actor.SetVisibility(bool(shown and part.lod_shown))

    def set_visible(self, visible: bool) -> None:
        self.layer_visible = bool(visible)
        self.apply_visibility()

    def set_opacity(self, opacity: float) -> None:
        self.layer_opacity = float(opacity)
        self.apply_opacity()

    def apply_opacity(self) -> None:
        for part in self.parts:
            opacity = self.layer_opacity * part.opacity_factor * self.display_opacity
            part.actor.GetProperty().SetOpacity(opacity)

    def set_display(self, shown: bool, opacity: float) -> None:
        """The scene's display mode for this layer (underground view, culling under the ground)."""
        changed_shown = bool(shown) != self.display_shown
        changed_opacity = float(opacity) != self.display_opacity
        self.display_shown, self.display_opacity = bool(shown), float(opacity)
        if changed_shown:
            self.apply_visibility()
        if changed_opacity:
            self.apply_opacity()

    def needs_rebuild(self, change: object | None) -> bool | None:
        """For a :class:`qdt.layers.DataChange`: True to rebuild the layer, False to recolour the
        changed features (:meth:`recolour`), None when nothing drawn changed."""
        if change is None or getattr(change, "everything", True) or getattr(change, "geometry", True):
            return True
        if self.drawn_fields is None or change.touches(self.drawn_fields):
            return True
        if change.touches(self.colour_fields):
            return False if self.feature_colours is not None else True
        return None

    def recolour(self, fids: np.ndarray) -> bool:
        """Recolour features ``fids`` from the layer's current attributes without rebuilding: the
        colour arrays VTK reads are updated in place and marked Modified. False when the visual
        cannot (the caller rebuilds)."""
        if self.feature_colours is None:
            return False
        fids = np.unique(np.asarray(fids, dtype=np.int64))
        frame = getattr(self.layer, "frame", None)
        if frame is None:
            return False
        pos = frame.index.get_indexer(fids)
        if (pos < 0).any():
            return False  # features added or removed: a rebuild, not a recolour
        colours = np.ascontiguousarray(self.feature_colours(pos), dtype=np.uint8).reshape(-1, 3)
        for part in self.parts:
            part.recolour(fids, colours, self._selected)
        for near in self.near:
            near.recolour(fids, colours)
        return True

    def set_symbol_scale(self, point_scale: float) -> None:
        """Draw the screen-size dots of the visual at ``point_scale`` × their built size (at least 1 px)."""
        for part in self.parts:
            if part.point_px:
                part.actor.GetProperty().SetPointSize(max(1.0, part.point_px * point_scale))

    def set_selection(self, fids: frozenset[int] | set[int]) -> None:
        selected = np.array(sorted(int(f) for f in fids), dtype=np.int64)
        self._selected = selected
        for part in self.parts:
            part.set_highlight(selected)
        for near in self.near:
            near.set_selection(selected)

    def apply_layer_state(self) -> None:
        """Visibility, opacity and selection as the layer has them now."""
        self.set_visible(self.layer.visible)
        self.set_opacity(self.layer.opacity)
        if self.layer.selection:
            self.set_selection(self.layer.selection)

    def anchors(self, fids: np.ndarray, limit: int = 5000) -> np.ndarray:
        """(k, 3) local points, one per selected feature drawn (its top centre), for selection markers;
        vectorised over the pick shapes and the mesh parts' cells (at most ``limit`` features)."""
        fids = np.unique(np.asarray(fids, dtype=np.int64))[:limit]
        rows_fid, rows_xyz = [], []
        for shape in (*self.cylinders, *self.boxes, *self.sprites, *self.tubes):
            hit = np.flatnonzero(np.isin(shape.fids, fids))
            if hit.size == 0:
                continue
            lo, hi = shape.extent()
            top = np.column_stack([(lo[hit, :2] + hi[hit, :2]) / 2, hi[hit, 2]])
            rows_fid.append(np.asarray(shape.fids)[hit])
            rows_xyz.append(top)
        if not rows_fid:
            from qdt.render.arrays import from_vtk

            for part in self.parts:
                if part.cell_fids is None or part.polydata is None or not part.polydata.GetNumberOfCells():
                    continue
                cells = np.flatnonzero(np.isin(part.cell_fids, fids))
                if cells.size == 0:
                    continue
                polys = part.polydata.GetPolys()
                if polys.GetNumberOfCells() != len(part.cell_fids):
                    continue
                offsets = from_vtk(polys.GetOffsetsArray())
                first = from_vtk(polys.GetConnectivityArray())[offsets[cells]]  # a corner per cell is enough
                rows_fid.append(np.asarray(part.cell_fids)[cells])
                rows_xyz.append(from_vtk(part.polydata.GetPoints().GetData())[first])
        if not rows_fid:
            return np.empty((0, 3), dtype=np.float32)
        fid = np.concatenate(rows_fid)
        xyz = np.concatenate(rows_xyz).astype(np.float64)
        order = np.argsort(fid, kind="stable")
        fid, xyz = fid[order], xyz[order]
        starts = np.flatnonzero(np.r_[True, fid[1:] != fid[:-1]])
        counts = np.diff(np.r_[starts, len(fid)])
        centre = np.add.reduceat(xyz[:, :2], starts, axis=0) / counts[:, None]
        top = np.maximum.reduceat(xyz[:, 2], starts)
        return np.column_stack([centre, top]).astype(np.float32)

    def lod_arrays(self) -> tuple[list[VisualPart], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The tiled parts and their (n, 3) box corners lo/hi and LOD ranges lo/hi, cached."""
        if self._lod_arrays is None:
            tiled = [p for p in self.parts if p.tile >= 0]
            bounds = np.array([p.bounds() for p in tiled]).reshape(-1, 6)
            lo, hi = bounds[:, 0::2], bounds[:, 1::2]
            self._lod_arrays = (tiled, lo, hi, np.array([p.lod_lo for p in tiled]),
                                np.array([p.lod_hi for p in tiled]))
        return self._lod_arrays


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


def mesh_parts(ctx: BuildContext, points: np.ndarray, cells: np.ndarray, *, cell_row: np.ndarray,
               row_fids: np.ndarray | None, colours: np.ndarray | None, lines: bool = False,
               normals: np.ndarray | None = None, opacity_factor: float = 1.0, pick_cells: bool = True,
               lod: tuple[float, float] = (0.0, math.inf), tile_of_row: np.ndarray | None = None,
               configure: Callable[[VisualPart], None] | None = None,
               shade: float | np.ndarray | None = 1.0) -> list[VisualPart]:
    """Mesh actors coloured per cell, one per scene tile when the context has tiles.

    Parameters
    ----------
    points
        (n, 3) local vertices; a vertex belongs to the cells of one feature only.
    cells
        (m, 3) triangles, or (m, 2) line segments with ``lines=True``.
    cell_row
        (m,) feature row of each cell; with ``row_fids`` (n_rows,) it gives the ``fid`` cell array.
    colours
        (m, 3) uint8 per cell (or None: no colours).
    tile_of_row
        The tile of each feature row (default: the tile of its first vertex).
    configure
        Called with every part made (mapper offsets, line widths …).
    shade
        How the cell colours follow the feature colours on a recolour (see ``VisualPart.shade``;
        a per-cell array is split with the cells).

    Returns
    -------
    list of VisualPart: one untiled part without tiles, else one per non-empty tile, each with
    its own ``fid`` and ``colours`` cell arrays (fids stay right per tile) and the LOD range ``lod``.
    """
    points = np.asarray(points, dtype=np.float32)
    cells = np.asarray(cells, dtype=np.int64).reshape(-1, 2 if lines else 3)
    cell_row = np.asarray(cell_row, dtype=np.int64)
    cell_fids = compact_ids(row_fids)[cell_row] if row_fids is not None else None
    kind = "lines" if lines else "polys"

    def one(pts: np.ndarray, cls: np.ndarray, fids: np.ndarray | None, rgb: np.ndarray | None,
            nrm: np.ndarray | None, tile: int, part_shade: float | np.ndarray | None) -> VisualPart:
        cell_data = {}
        if fids is not None:
            cell_data["fid"] = fids
        if rgb is not None:
            rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
            cell_data["colours"] = rgb
        poly = make_polydata(pts, **{kind: cls}, cell_data=cell_data, normals=nrm)
        part = coloured_part(poly, rgb, fids, on_cells=True, cell_fids=fids if pick_cells else None,
                             opacity_factor=opacity_factor, pick_cells=pick_cells)
        if not pick_cells:
            part.actor.PickableOff()
        part.tile = tile
        part.lod_lo, part.lod_hi = lod
        part.shade = part_shade if rgb is not None and fids is not None else None
        if configure is not None:
            configure(part)
        return part

    per_cell_shade = shade is not None and not np.isscalar(shade)
    if ctx.tiles is None or len(cells) == 0:
        return [one(points, cells, cell_fids, colours, normals, -1, shade)]
    if tile_of_row is None:
        n_rows = int(cell_row.max()) + 1
        tile_of_row = feature_tiles(ctx.tiles, first_vertex_of_rows(points, cells, cell_row, n_rows))
    out = []
    for piece in split_mesh(points, cells, tile_of_row[cell_row]):
        ci, pi = piece.cell_index, piece.point_index
        out.append(one(piece.points, piece.cells, None if cell_fids is None else cell_fids[ci],
                       None if colours is None else colours[ci], None if normals is None else normals[pi], piece.tile,
                       np.asarray(shade)[ci] if per_cell_shade else shade))
    return out


def point_parts(ctx: BuildContext, position: np.ndarray, colours: np.ndarray, fids: np.ndarray, *, size_px: float,
                lod: tuple[float, float] = (0.0, math.inf), spheres: bool = False) -> list[VisualPart]:
    """Dots of ``size_px`` pixels at local ``position`` (n, 3), one actor per scene tile (one without tiles).

    Point colours ``colours`` (n, 3) uint8 and ``fid`` per point; never cell-picked (the layer's
    :class:`PickSprites` answers for them).
    """
    position = np.asarray(position, dtype=np.float32).reshape(-1, 3)
    colours = np.ascontiguousarray(colours, dtype=np.uint8)
    if len(position) == 0:
        return []
    if ctx.tiles is None:
        groups = [(-1, np.arange(len(position)))]
    else:
        tile = ctx.tiles.tile_of(position[:, 0], position[:, 1])
        order = np.argsort(tile.astype(np.uint16) if tile.max() < 65536 else tile, kind="stable")
        tiles, counts = np.unique(tile[order], return_counts=True)
        groups = list(zip(tiles.tolist(), np.split(order, np.cumsum(counts)[:-1]), strict=True))
    out = []
    for tile, rows in groups:
        rgb = np.ascontiguousarray(colours[rows])
        poly = make_polydata(position[rows], verts=np.arange(len(rows)).reshape(-1, 1),
                             point_data={"fid": fids[rows], "colours": rgb})
        part = coloured_part(poly, rgb, fids[rows], on_cells=False, pick_cells=False)
        prop = part.actor.GetProperty()
        prop.SetPointSize(size_px)
        part.point_px = float(size_px)
        prop.SetRenderPointsAsSpheres(spheres)
        part.actor.PickableOff()
        part.tile = tile
        part.lod_lo, part.lod_hi = lod
        part.shade = 1.0
        out.append(part)
    return out
