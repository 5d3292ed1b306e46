"""Vector layers with nothing to draw (attribute tables, empty layers): an empty visual."""

from __future__ import annotations

from qdt.layers import Layer
from qdt.render.registry import register_builder
from qdt.render.visual import BuildContext, LayerVisual


@register_builder("vector", "*")
def build_nothing(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """No actors: e.g. ``smart_pole_devices`` (a table without geometry) or a layer with no features yet."""
    return LayerVisual(layer=layer)
