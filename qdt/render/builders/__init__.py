"""Built-in builders; importing this package registers them in :mod:`qdt.render.registry`."""

from qdt.render.builders import buildings, citymodel, lines, pipes, points, tables, terrain  # noqa: F401
from qdt.render.builders import planning  # noqa: F401  (多杆合一 planning layer)
