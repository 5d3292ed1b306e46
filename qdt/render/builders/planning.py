"""The 多杆合一 planning layer (proposed smart-pole sites, links from the poles they replace) and the
signal, sign and camera poles it consolidates.

Sites are drawn as smart poles (the proposed pole, in the layer's style colour, ``pole_height``
tall); links as ribbons on the ground from each removed pole to its site. Their layers are
made by :func:`qdt.poles.planning_layers` with the feature classes below (not catalogue
classes: they are results, not facilities).
"""

from __future__ import annotations

from qdt.layers import Layer, VectorLayer
from qdt.render.builders.lines import build_ribbons
from qdt.render.builders.points import build_point_facilities
from qdt.render.registry import register_builder
from qdt.render.visual import BuildContext, LayerVisual

SITE_CLASS = "pole_plan_site"
LINK_CLASS = "pole_plan_link"
LINK_WIDTH = 0.6  # m, a ribbon that reads from a street-level view without hiding the kerb
LINK_COLOUR = (214, 48, 160)


@register_builder("vector", SITE_CLASS)
def build_plan_sites(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """Proposed smart-pole sites: the smart-pole glyph in the layer's style colour."""
    return build_point_facilities(layer, ctx, "smart_pole")


@register_builder("vector", LINK_CLASS)
def build_plan_links(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """Links from removed poles to their site: ground ribbons ``width`` (0.6 m) wide."""
    assert isinstance(layer, VectorLayer)
    return build_ribbons(layer, ctx, LINK_WIDTH, LINK_COLOUR)


# --- the pole kinds 多杆合一 consolidates ------------------------------------------------------------------
@register_builder("vector", "traffic_signal_pole")
@register_builder("vector", "sign_pole")
@register_builder("vector", "camera_pole")
def build_other_poles(layer: Layer, ctx: BuildContext) -> LayerVisual:
    """Signal, sign and camera poles: a pole of ``pole_height`` with its head (signal, sign plate,
    camera) coloured by status, drawn as streetlights are (same levels of detail and picking)."""
    return build_point_facilities(layer, ctx, "streetlight")
