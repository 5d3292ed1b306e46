"""The VTK bridge: layer models → actors, scene following layer events, picking, offscreen images.

Public API::

    from qdt.render import Scene, PickResult, render_offscreen
    scene = Scene(layer_list)                 # or Scene(layer_list, renderer) for a Qt view
    scene.request_render = view.request_render
    scene.frame_all()
    hit = scene.pick(x, y)                    # PickResult(layer, fid, world_xyz, ...) or None
    image = render_offscreen(layer_list, 1600, 1000, "out.png")

No Qt here: the Qt view embeds ``scene.renderer`` in its own render window.
"""

import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (OpenGL implementations of mappers and windows)

from qdt.render.offscreen import grab_image, offscreen_window, render_offscreen, write_png
from qdt.render.picking import PickResult, pick
from qdt.render.registry import BuilderNotFound, builder_for, register_builder, registered_builders
from qdt.render.scene import Scene
from qdt.render.visual import BuildContext, LayerVisual, VisualPart

__all__ = [
    "BuildContext",
    "BuilderNotFound",
    "LayerVisual",
    "PickResult",
    "Scene",
    "VisualPart",
    "builder_for",
    "grab_image",
    "offscreen_window",
    "pick",
    "register_builder",
    "registered_builders",
    "render_offscreen",
    "write_png",
]
