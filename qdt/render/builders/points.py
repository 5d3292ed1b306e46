"""Point facilities as instanced glyphs sized in metres: streetlights, smart poles, cabinets, manholes.

Each facility is drawn from a few pieces (a pole shaft, a lamp head, an equipment box …);
each piece is one ``vtkGlyph3DMapper`` over all features, with a unit-height template
stretched per feature (scale array ``(1, 1, height)``), so the whole layer is a handful of
actors whatever its size. Lights and poles also get a screen-size dot at the lamp, so they
stay visible from a district-wide view where a 0.12 m pole is far below a pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from vtkmodules.vtkCommonDataModel import vtkPolyData

from qdt.layers import Layer, VectorLayer
from qdt.render.arrays import make_polydata
from qdt.render.builders.lines import ROAD_LIFT
from qdt.render.colours import (
    PIPE_UNKNOWN,
    POINT_DEFAULT,
    POLE_METAL,
    is_default_style,
    lookup_colours,
    network_key,
    pipe_network_colours,
    status_colours,
    status_keys,
)
from qdt.render.geometry import box_template, cylinder_template, point_coords_of
from qdt.render.near import GlyphNear
from qdt.render.registry import register_builder
from qdt.render.visual import (
    BuildContext,
    LayerVisual,
    PickBoxes,
    PickCylinders,
    PickSprites,
    VisualPart,
    coloured_part,
    compact_ids,
    glyph_part,
    point_parts,
)

DEFAULT_POLE_HEIGHT = {"streetlight": 10.0, "smart_pole": 12.0}  # m, typical urban road lighting poles
DEFAULT_MANHOLE_DEPTH = 1.5  # m, display default when `depth` is missing
COVER_TOP = ROAD_LIFT + 0.06  # m above the ground
SPRITE_PX = 5.0  # lamp dot diameter in pixels
DOT_PX = 3.0  # far facilities: square dots (round ones cost twice as much in software GL)
# Level of detail per class, as metres per pixel: (glyphs up to, dots up to). Glyphs while a lamp
# head (1.5 m) spans ~6 px or a 1 m manhole cover ~7 px; dots until they would only speckle the view.
LOD = {"streetlight": (0.25, 1.5), "smart_pole": (0.25, 1.5), "cabinet": (0.25, 0.6), "manhole": (0.15, 0.4),
       "": (0.3, 2.0)}
SMART_POLE_BODY = (72, 86, 104)
SMART_POLE_CROWN = (236, 238, 242)
LAMP_UNKNOWN = (250, 204, 80)


@dataclass
class Piece:
    """One glyph piece for all features.

    ``shape`` is ``"cylinder"`` (``size`` = (radius,)) or ``"box"`` (``size`` = (x0, x1, y0, y1)
    relative to the feature point); the piece spans ``z0`` … ``z0 + height`` (local, per feature).
    """

    shape: str
    size: tuple[float, ...]
    z0: np.ndarray
    height: np.ndarray
    colours: np.ndarray


def _template(piece: Piece):  # noqa: ANN202
    if piece.shape == "cylinder":
        return cylinder_template(piece.size[0], 0.0, 1.0, sides=16)
    x0, x1, y0, y1 = piece.size
    return box_template((x0, y0, 0.0), (x1, y1, 1.0))


def _numeric(frame: pd.DataFrame, column: str, default: float) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), default)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
    return np.where(np.isfinite(values) & (values > 0), values, default)


def _colour_fields(layer: VectorLayer, feature_class: str) -> frozenset[str]:
    """The fields :func:`_feature_colours` reads."""
    if not is_default_style(layer.style):
        return frozenset({getattr(layer.style, "field", "")} - {""})
    if feature_class == "manhole":
        return frozenset({"network"})
    if feature_class in ("streetlight", "smart_pole", "cabinet"):
        return frozenset({"status"})
    return frozenset()


def _feature_colours(layer: VectorLayer, feature_class: str, frame: pd.DataFrame | None = None) -> np.ndarray:
    """Per-feature colours of ``frame`` (default the layer's): the layer's style, or the class
    default (status / network code lists)."""
    frame = layer.frame if frame is None else frame
    n = len(frame)
    if not is_default_style(layer.style):
        return layer.style.colours(frame, n).astype(np.uint8)
    if feature_class == "manhole" and "network" in frame.columns:
        return lookup_colours(network_key(frame["network"].to_numpy()), pipe_network_colours(), PIPE_UNKNOWN)
    if feature_class in ("streetlight", "smart_pole", "cabinet") and "status" in frame.columns:
        return lookup_colours(status_keys(frame["status"].to_numpy()), status_colours(feature_class),
                              (150, 150, 150))
    if feature_class in ("streetlight", "smart_pole"):
        return np.tile(np.array(LAMP_UNKNOWN, dtype=np.uint8), (n, 1))
    return np.tile(np.array(POINT_DEFAULT, dtype=np.uint8), (n, 1))


def _pieces(feature_class: str, frame: pd.DataFrame, rows: np.ndarray, ground: np.ndarray,
            colour: np.ndarray) -> tuple[list[Piece], np.ndarray | None]:
    """Pieces per facility class, and the local z of the lamp dot (None: no dot)."""
    n = len(rows)

    def const(rgb: tuple[int, int, int]) -> np.ndarray:
        return np.broadcast_to(np.array(rgb, dtype=np.uint8), (n, 3))  # no memory per feature

    if feature_class == "streetlight":
        h = _numeric(frame, "pole_height", DEFAULT_POLE_HEIGHT["streetlight"])[rows]
        return [
            Piece("cylinder", (0.12,), ground, h, const(POLE_METAL)),
            Piece("box", (-0.75, 0.75, -0.22, 0.22), ground + h - 0.3, np.full(n, 0.3), colour),
        ], ground + h
    if feature_class == "smart_pole":
        h = _numeric(frame, "pole_height", DEFAULT_POLE_HEIGHT["smart_pole"])[rows]
        return [
            Piece("cylinder", (0.2,), ground, h, const(SMART_POLE_BODY)),
            Piece("box", (-0.32, 0.32, -0.32, 0.32), ground + 2.2, np.full(n, 1.3), colour),  # equipment cabin
            Piece("cylinder", (0.34,), ground + h - 1.9, np.full(n, 1.2), const(SMART_POLE_CROWN)),  # 5G / camera
            Piece("box", (-1.0, 1.0, -0.25, 0.25), ground + h - 0.35, np.full(n, 0.35), colour),  # lamp arm
        ], ground + h
    if feature_class == "cabinet":
        return [Piece("box", (-0.5, 0.5, -0.25, 0.25), ground, np.full(n, 1.5), colour)], None
    if feature_class == "manhole":
        depth = _numeric(frame, "depth", DEFAULT_MANHOLE_DEPTH)[rows]
        # shaft from the bottom to 5 cm above the ground, so it shows under translucent ground; the
        # cover stands just proud of the road ribbons (drawn ROAD_LIFT above the ground) so it shows on roads
        return [Piece("cylinder", (0.5,), ground - depth, depth + 0.05, colour),
                Piece("cylinder", (0.35,), ground, np.full(n, COVER_TOP), colour)], None
    return [
        Piece("cylinder", (0.25,), ground, np.full(n, 2.5), const(POLE_METAL)),
        Piece("box", (-0.5, 0.5, -0.5, 0.5), ground + 2.5, np.full(n, 1.0), colour),
    ], ground + 3.5


def build_point_facilities(layer: Layer, ctx: BuildContext, feature_class: str) -> LayerVisual:
    """Glyph pieces for every point of ``layer`` standing on the DEM (or on 0 m / the point's z).

    Without scene tiles every feature gets its glyphs (one instanced actor per piece). With
    tiles the glyphs are a :class:`~qdt.render.near.GlyphNear` set holding only the features
    near the camera, and farther features are dots (one actor per tile) up to the class's
    :data:`LOD` distance. Pick shapes always cover every feature.
    """
    assert isinstance(layer, VectorLayer)
    coords, rows = point_coords_of(layer.geometry)
    x, y = coords[:, 0], coords[:, 1]
    own_z = np.where(np.isfinite(coords[:, 2]), coords[:, 2], 0.0)
    ground = ctx.ground(x, y, default=own_z) - ctx.origin.z
    fids = layer.fids[rows]
    colour = _feature_colours(layer, feature_class)[rows]
    pieces, lamp_z = _pieces(feature_class, layer.frame, rows, ground, colour)
    lx = x - ctx.origin.x
    ly = y - ctx.origin.y
    n = len(rows)
    # float32 and shared arrays: a city has a few hundred thousand of these
    xy = np.column_stack([lx, ly]).astype(np.float32)
    fids = compact_ids(fids)
    visual = LayerVisual(layer=layer, role="facility")  # manholes too: their covers show on the street
    visual.surface_symbol = feature_class != "manhole"  # steps back in the underground view
    visual.drawn_fields = frozenset({"pole_height", "depth"})
    visual.colour_fields = _colour_fields(layer, feature_class)
    visual.feature_colours = lambda pos: _feature_colours(layer, feature_class, layer.frame.iloc[pos])
    for piece in pieces:
        z0 = piece.z0.astype(np.float32)
        z1 = (piece.z0 + piece.height).astype(np.float32)
        if piece.shape == "cylinder":
            radius = np.broadcast_to(np.float32(piece.size[0]), (n,))
            visual.cylinders.append(PickCylinders(centre=xy, z0=z0, z1=z1, radius=radius, fids=fids))
        else:
            x0, x1, y0, y1 = piece.size
            visual.boxes.append(PickBoxes(lo=np.column_stack([xy + np.float32([x0, y0]), z0]),
                                          hi=np.column_stack([xy + np.float32([x1, y1]), z1]), fids=fids))
    if ctx.tiles is not None:
        return _near_and_dots(visual, ctx, feature_class, pieces, lamp_z, xy, ground, colour, fids)
    for piece in pieces:
        centres = np.column_stack([xy, piece.z0.astype(np.float32)])
        scale = np.stack([np.ones(n), np.ones(n), piece.height], axis=1).astype(np.float32)
        colours = np.ascontiguousarray(piece.colours, dtype=np.uint8)
        poly = make_polydata(centres, point_data={"fid": fids, "colours": colours, "scale": scale})
        part = glyph_part(poly, _template_source(piece), colours, fids, scale_array="scale")
        part.shade = 1.0 if piece.colours is colour else None  # constant pieces (pole metal) keep theirs
        visual.parts.append(part)
    if lamp_z is not None and n:
        position = np.column_stack([xy, lamp_z.astype(np.float32)])
        sprite = _sprite_part(position, colour, fids)
        sprite.shade = 1.0
        visual.parts.append(sprite)
        visual.sprites.append(PickSprites(position=position, fids=fids, radius_px=SPRITE_PX / 2 + 2))
    return visual


def _template_source(piece: Piece):  # noqa: ANN202 - vtkPolyData
    t_points, t_normals, t_tris = _template(piece)
    return make_polydata(t_points.astype(np.float32), polys=t_tris, normals=t_normals)


def _near_and_dots(visual: LayerVisual, ctx: BuildContext, feature_class: str, pieces: list[Piece],
                   lamp_z: np.ndarray | None, xy: np.ndarray, ground: np.ndarray, colour: np.ndarray,
                   fids: np.ndarray) -> LayerVisual:
    glyph_mpp, dot_mpp = LOD.get(feature_class, LOD[""])
    empty = make_polydata(np.empty((0, 3), dtype=np.float32))
    near_parts: list[VisualPart] = []
    arrays: list[dict[str, np.ndarray]] = []
    bottom = ground.astype(np.float32)
    top = bottom.copy()
    for piece in pieces:
        near_parts.append(glyph_part(empty, _template_source(piece), np.empty((0, 3), np.uint8),
                                     np.empty(0, np.int64), scale_array="scale"))
        z0 = piece.z0.astype(np.float32)
        height = piece.height.astype(np.float32)
        arrays.append({"xy": xy, "z": z0, "height": height, "colours": piece.colours,
                       "styled": piece.colours is colour})
        np.minimum(bottom, z0, out=bottom)
        np.maximum(top, z0 + height, out=top)
    dot_z = lamp_z.astype(np.float32) if lamp_z is not None else top
    if lamp_z is not None:
        near_parts.append(_sprite_part(empty, np.empty((0, 3), np.uint8), np.empty(0, np.int64)))
        arrays.append({"xy": xy, "z": dot_z, "colours": colour, "styled": True})
    visual.parts.extend(near_parts)
    lo = np.column_stack([xy, bottom])
    hi = np.column_stack([xy, top])
    visual.near.append(GlyphNear(lo, hi, glyph_mpp, near_parts, fids, arrays))
    dot_position = np.column_stack([xy, dot_z])
    visual.parts.extend(point_parts(ctx, dot_position, colour, fids, size_px=DOT_PX, lod=(0.0, dot_mpp)))
    visual.sprites.append(PickSprites(position=dot_position, fids=fids, radius_px=SPRITE_PX / 2 + 2, max_mpp=dot_mpp))
    return visual


def _sprite_part(position: np.ndarray | vtkPolyData, colour: np.ndarray, fids: np.ndarray) -> VisualPart:
    """Round lamp dots of ``SPRITE_PX`` pixels (``position`` (n, 3) local, or a ready polydata)."""
    colours = np.ascontiguousarray(colour, dtype=np.uint8)
    if isinstance(position, vtkPolyData):
        poly = position
    else:
        verts = np.arange(len(position)).reshape(-1, 1)
        poly = make_polydata(position.astype(np.float32), verts=verts, point_data={"fid": fids, "colours": colours})
    part = coloured_part(poly, colours, fids, on_cells=False, pick_cells=False)
    prop = part.actor.GetProperty()
    prop.SetPointSize(SPRITE_PX)
    part.point_px = SPRITE_PX
    prop.SetRenderPointsAsSpheres(True)
    part.actor.PickableOff()
    return part


@register_builder("vector", "streetlight")
def build_streetlights(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """Streetlights: a 0.12 m radius pole of ``pole_height`` (10 m default) and a lamp head coloured by status."""
    return build_point_facilities(layer, ctx, "streetlight")


@register_builder("vector", "smart_pole")
def build_smart_poles(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """Smart poles: thicker 0.2 m pole (12 m default), equipment cabin, white device crown, lamp arm."""
    return build_point_facilities(layer, ctx, "smart_pole")


@register_builder("vector", "cabinet")
def build_cabinets(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """Distribution cabinets: 1.0 × 0.5 × 1.5 m boxes coloured by status."""
    return build_point_facilities(layer, ctx, "cabinet")


@register_builder("vector", "manhole")
def build_manholes(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """Manholes: 1 m wide shafts from ``depth`` below ground to just above it, coloured by network."""
    return build_point_facilities(layer, ctx, "manhole")


@register_builder("vector", "geometry:Point")
def build_points(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """Any other point layer: a 2.5 m post with a 1 m marker box in the style colour."""
    return build_point_facilities(layer, ctx, "")
