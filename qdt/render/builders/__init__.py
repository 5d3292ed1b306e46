"""Built-in builders; importing this package registers them in :mod:`qdt.render.registry`."""

from qdt.render.builders import buildings, citymodel, lines, pipes, points, tables, terrain, tileset  # noqa: F401
