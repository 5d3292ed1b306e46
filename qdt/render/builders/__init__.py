"""Built-in builders; importing this package registers them in :mod:`qdt.render.registry`."""

from qdt.render.builders import (  # noqa: F401
    buildings,
    citymodel,
    lines,
    pipes,
    planning,  # noqa: F401, I001  (多杆合一 planning layer, pole kinds)
    points,
    tables,
    terrain,
    tileset,
)
