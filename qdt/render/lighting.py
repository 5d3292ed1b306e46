"""The scene's lights, as data shared by the renderer set-up and the builders that bake lighting.

A warm sun from the south-east, a bluish sky fill from the north-west (so walls facing away
from the sun are not black) and a soft headlight. Sun and sky are fixed in the world, so the
diffuse light they give a surface does not depend on the view: the terrain bakes it into its
vertex colours and is drawn unlit, which in software OpenGL halves its cost per pixel.
"""

from __future__ import annotations

import math

import numpy as np

SUN_AZIMUTH = 135.0  # degrees from north, clockwise: the sun stands in the south-east
SUN_ELEVATION = 50.0
SUN_COLOUR = (1.0, 0.97, 0.91)
SUN_INTENSITY = 0.85
SKY_DIRECTION = (-0.6, 0.5, 0.6)  # towards the light, not normalised
SKY_COLOUR = (0.85, 0.9, 1.0)
SKY_INTENSITY = 0.3
HEADLIGHT_COLOUR = (0.9, 0.94, 1.0)
HEADLIGHT_INTENSITY = 0.3
HEADLIGHT_BAKED = 0.6  # mean cosine of the headlight on ground seen from above, for baked surfaces


def sun_direction() -> np.ndarray:
    """Unit vector towards the sun (x east, y north, z up)."""
    az, el = math.radians(SUN_AZIMUTH), math.radians(SUN_ELEVATION)
    return np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])


def baked_light(normals: np.ndarray, ambient: float, diffuse: float) -> np.ndarray:
    """(n, 3) light factors (0..~1.1) for surfaces with unit ``normals`` (n, 3) and the given material:
    ambient + diffuse × (sun + sky + a typical headlight), the way VTK lights them."""
    normals = np.asarray(normals, dtype=np.float32)
    sky = np.asarray(SKY_DIRECTION, dtype=np.float64)
    sky /= np.linalg.norm(sky)
    sun_cos = np.maximum(normals @ sun_direction().astype(np.float32), 0.0)[:, None]
    sky_cos = np.maximum(normals @ sky.astype(np.float32), 0.0)[:, None]
    sun = (diffuse * SUN_INTENSITY * np.asarray(SUN_COLOUR)).astype(np.float32)
    fill = (diffuse * SKY_INTENSITY * np.asarray(SKY_COLOUR)).astype(np.float32)
    constant = (ambient + diffuse * HEADLIGHT_BAKED * HEADLIGHT_INTENSITY * np.asarray(HEADLIGHT_COLOUR))
    out = sun_cos * sun
    out += sky_cos * fill
    out += constant.astype(np.float32)
    return out
