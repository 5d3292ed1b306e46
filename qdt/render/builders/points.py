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
import shapely

from qdt.layers import Layer, VectorLayer
from qdt.render.arrays import make_polydata
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
from qdt.render.geometry import box_template, cylinder_template, explode
from qdt.render.registry import register_builder
from qdt.render.visual import (
    BuildContext,
    LayerVisual,
    PickBoxes,
    PickCylinders,
    PickSprites,
    VisualPart,
    coloured_part,
    glyph_part,
)

DEFAULT_POLE_HEIGHT = {"streetlight": 10.0, "smart_pole": 12.0}  # m, typical urban road lighting poles
DEFAULT_MANHOLE_DEPTH = 1.5  # m, display default when `depth` is missing
SPRITE_PX = 5.0  # lamp dot diameter in pixels
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


def _feature_colours(layer: VectorLayer, feature_class: str) -> np.ndarray:
    """Per-feature colours: the layer's style, or the class default (status / network code lists)."""
    frame = layer.frame
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
        return np.tile(np.array(rgb, dtype=np.uint8), (n, 1))

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
        # shaft from the bottom to a 5 cm proud cover, so it shows under translucent ground
        return [Piece("cylinder", (0.5,), ground - depth, depth + 0.05, colour)], None
    return [
        Piece("cylinder", (0.25,), ground, np.full(n, 2.5), const(POLE_METAL)),
        Piece("box", (-0.5, 0.5, -0.5, 0.5), ground + 2.5, np.full(n, 1.0), colour),
    ], ground + 3.5


def build_point_facilities(layer: Layer, ctx: BuildContext, feature_class: str) -> LayerVisual:
    """Glyph pieces for every point of ``layer`` standing on the DEM (or on 0 m / the point's z)."""
    assert isinstance(layer, VectorLayer)
    points, rows = explode(layer.geometry, (0,))
    coords = shapely.get_coordinates(points, include_z=True)
    x, y = coords[:, 0], coords[:, 1]
    own_z = np.where(np.isfinite(coords[:, 2]), coords[:, 2], 0.0)
    ground = ctx.ground(x, y, default=own_z) - ctx.origin.z
    fids = layer.fids[rows]
    colour = _feature_colours(layer, feature_class)[rows]
    pieces, lamp_z = _pieces(feature_class, layer.frame, rows, ground, colour)
    lx = x - ctx.origin.x
    ly = y - ctx.origin.y
    visual = LayerVisual(layer=layer)
    for piece in pieces:
        centres = np.stack([lx, ly, piece.z0], axis=1)
        scale = np.stack([np.ones(len(rows)), np.ones(len(rows)), piece.height], axis=1).astype(np.float32)
        colours = np.ascontiguousarray(piece.colours, dtype=np.uint8)
        poly = make_polydata(centres.astype(np.float32), point_data={"fid": fids, "colours": colours, "scale": scale})
        t_points, t_normals, t_tris = _template(piece)
        source = make_polydata(t_points.astype(np.float32), polys=t_tris, normals=t_normals)
        visual.parts.append(glyph_part(poly, source, colours, fids, scale_array="scale"))
        if piece.shape == "cylinder":
            visual.cylinders.append(PickCylinders(centre=np.stack([lx, ly], 1), z0=piece.z0.copy(),
                                                  z1=piece.z0 + piece.height,
                                                  radius=np.full(len(rows), piece.size[0]), fids=fids))
        else:
            x0, x1, y0, y1 = piece.size
            visual.boxes.append(PickBoxes(lo=np.stack([lx + x0, ly + y0, piece.z0], 1),
                                          hi=np.stack([lx + x1, ly + y1, piece.z0 + piece.height], 1), fids=fids))
    if lamp_z is not None and len(rows):
        position = np.stack([lx, ly, lamp_z], axis=1)
        visual.parts.append(_sprite_part(position, colour, fids))
        visual.sprites.append(PickSprites(position=position, fids=fids, radius_px=SPRITE_PX / 2 + 2))
    return visual


def _sprite_part(position: np.ndarray, colour: np.ndarray, fids: np.ndarray) -> VisualPart:
    colours = np.ascontiguousarray(colour, dtype=np.uint8)
    verts = np.arange(len(position)).reshape(-1, 1)
    poly = make_polydata(position.astype(np.float32), verts=verts, point_data={"fid": fids, "colours": colours})
    part = coloured_part(poly, colours, fids, on_cells=False, pick_cells=False)
    prop = part.actor.GetProperty()
    prop.SetPointSize(SPRITE_PX)
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
