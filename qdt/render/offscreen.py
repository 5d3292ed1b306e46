"""Offscreen rendering of a layer list to an image (``qdt snapshot``, reports, tests).

Without a display (no ``DISPLAY``/``WAYLAND_DISPLAY``) VTK 9's wheel would first try X and
print a warning before falling back to EGL; we ask for EGL directly. With a display the
platform's own offscreen window is used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (registers the OpenGL render window factories)
from vtkmodules.vtkIOImage import vtkPNGWriter
from vtkmodules.vtkRenderingCore import vtkRenderWindow, vtkWindowToImageFilter

from qdt.layers import LayerList
from qdt.render.arrays import image_to_numpy, rgb_image
from qdt.render.scene import Scene

MAX_SIZE = 16384  # pixels a side


def _prefer_egl_without_display() -> None:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


def offscreen_window(width: int, height: int) -> vtkRenderWindow:
    """An offscreen render window of exactly ``width`` × ``height`` pixels."""
    _check_size(width, height)
    _prefer_egl_without_display()
    window = vtkRenderWindow()
    window.SetOffScreenRendering(True)
    window.SetMultiSamples(0)  # FXAA instead: multisampling is slow on software GL and breaks depth peeling
    window.SetAlphaBitPlanes(True)
    window.SetSize(int(width), int(height))
    return window


def _check_size(width: int, height: int) -> None:
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, (int, np.integer)) or not 1 <= int(value) <= MAX_SIZE:
            raise ValueError(f"image {name} must be a whole number of pixels from 1 to {MAX_SIZE}, got {value!r}")


def grab_image(window: vtkRenderWindow) -> np.ndarray:
    """The window's last rendered frame as a top-down (h, w, 3) uint8 array."""
    grabber = vtkWindowToImageFilter()
    grabber.SetInput(window)
    grabber.SetInputBufferTypeToRGB()
    grabber.ReadFrontBufferOff()
    grabber.ShouldRerenderOff()
    grabber.Update()
    return image_to_numpy(grabber.GetOutput())


def write_png(image: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write a top-down (h, w, 3|4) uint8 image as PNG; raises OSError naming the file."""
    out = Path(path)
    if not out.parent.is_dir():
        raise OSError(f"cannot write {str(out)!r}: folder {str(out.parent)!r} does not exist")
    writer = vtkPNGWriter()
    writer.SetFileName(str(out))
    writer.SetInputData(rgb_image(np.ascontiguousarray(image)))
    writer.Write()
    if writer.GetErrorCode() != 0 or not out.is_file():
        raise OSError(f"cannot write {str(out)!r}: the PNG writer failed (error code {writer.GetErrorCode()})")
    return out


def render_offscreen(layer_list: LayerList, width: int, height: int, out_path: str | os.PathLike[str] | None = None,
                     camera: Any = None, underground: bool = False, lod: bool = True) -> np.ndarray:
    """Render ``layer_list`` without a window and return the image.

    Parameters
    ----------
    layer_list
        The layers, as in the main window (visibility, opacity, styles, selection honoured).
    width, height
        Exact image size in pixels.
    out_path
        Also write the image there as PNG.
    camera
        A :meth:`Scene.camera_state` dict (world coordinates) or an object with ``to_dict()``
        giving one (``qdt.project.Camera``); None frames all layers from the south at 45°.
    underground
        Draw the underground view (:meth:`Scene.set_underground`): faded ground and buildings,
        pipes and manholes visible.
    lod
        Levels of detail and tiles as in the 3D view (default); False builds every layer in
        full detail (slower for a city, the same for a district).

    Returns
    -------
    numpy.ndarray
        (height, width, 3) uint8, first row at the top.
    """
    window = offscreen_window(width, height)
    scene = Scene(layer_list, lod=lod)
    try:
        scene.set_underground(underground)
        window.AddRenderer(scene.renderer)
        if camera is not None:
            scene.set_camera_state(camera)
        else:
            scene.frame_all()
        window.Render()
        image = grab_image(window)
        if image.shape[:2] != (height, width):
            raise RuntimeError(f"offscreen render came back {image.shape[1]}×{image.shape[0]}, "
                               f"asked for {width}×{height}")
        if out_path is not None:
            write_png(image, out_path)
        return image
    finally:
        scene.close()
        window.RemoveRenderer(scene.renderer)
        window.Finalize()
