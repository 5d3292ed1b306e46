"""Type map from a layer to the builder that makes its VTK visual.

Builders register by decorator under ``(layer kind, key)``; registering the same pair twice
raises. The key is, per layer kind:

- raster: the layer's ``role`` (``"dem"``, ``"ortho"``, ``"image"``);
- citymodel: ``"*"``;
- vector: the CIM ``feature_class`` (``"building"``, ``"streetlight"``, ``"pipe"`` …), else
  ``"geometry:Point"`` / ``"geometry:LineString"`` / ``"geometry:Polygon"`` by the dominant
  geometry type. Polygons with a ``height`` field and no registered class are buildings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from qdt.layers import Layer, LayerKind, VectorLayer

if TYPE_CHECKING:
    from qdt.render.visual import BuildContext, LayerVisual

Builder = Callable[[Layer, "BuildContext"], "LayerVisual"]

_BUILDERS: dict[tuple[str, str], Builder] = {}


class BuilderNotFound(LookupError):
    """No builder is registered for a layer."""


def register_builder(kind: LayerKind | str, *keys: str) -> Callable[[Builder], Builder]:
    """Decorator registering a builder for each ``(kind, key)``; a duplicate raises ValueError."""
    kind_name = LayerKind(kind).value
    if not keys:
        keys = ("*",)

    def decorate(fn: Builder) -> Builder:
        for key in keys:
            entry = (kind_name, key)
            if entry in _BUILDERS:
                existing = _BUILDERS[entry].__qualname__
                raise ValueError(f"a render builder for {entry} is already registered ({existing})")
        for key in keys:
            _BUILDERS[(kind_name, key)] = fn
        return fn

    return decorate


def unregister_builder(kind: LayerKind | str, key: str = "*") -> None:
    """Remove a registration (for plugins and tests); a missing one is ignored."""
    _BUILDERS.pop((LayerKind(kind).value, key), None)


def registered_builders() -> dict[tuple[str, str], Builder]:
    """A copy of the type map."""
    _ensure_builtin()
    return dict(_BUILDERS)


def builder_key(layer: Layer) -> tuple[str, str]:
    """The ``(kind, key)`` the registry is searched with for ``layer`` (first match wins)."""
    return _candidates(layer)[0]


def _candidates(layer: Layer) -> list[tuple[str, str]]:
    kind = LayerKind(layer.kind).value
    if layer.kind == LayerKind.RASTER:
        return [(kind, str(getattr(layer, "role", "image"))), (kind, "*")]
    if isinstance(layer, VectorLayer):
        out = []
        if layer.feature_class:
            out.append((kind, str(layer.feature_class)))
        geometry = layer.geometry_type
        if geometry == "Polygon" and "height" in layer.frame.columns:
            out.append((kind, "building"))
        out.append((kind, f"geometry:{geometry}"))
        out.append((kind, "*"))
        return out
    return [(kind, "*")]


def builder_for(layer: Layer) -> Builder:
    """The builder for ``layer``; raises :class:`BuilderNotFound` with one line naming the layer."""
    _ensure_builtin()
    candidates = _candidates(layer)
    for entry in candidates:
        if entry in _BUILDERS:
            return _BUILDERS[entry]
    raise BuilderNotFound(f"layer {layer.name!r}: no 3D builder for {candidates[0]}")


def _ensure_builtin() -> None:
    # importing the package registers the built-in builders exactly once
    import qdt.render.builders  # noqa: F401
