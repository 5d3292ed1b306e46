"""Pipe networks as surveyed (CJJ 61-2017 point and line tables): topology, checks and analyses.

No Qt, no VTK. :func:`open_delivery` reads a delivery, :func:`build_topology` joins lines by
their point numbers (vectorised, scipy.sparse), and the analyses — :func:`check`,
:func:`connected`, :func:`trace`, :func:`isolate`, :func:`section`, :func:`profile` — return
JSON-ready dicts naming points by 物探点号 and lines by feature id.
"""

from qdt.network.analysis import connected, isolate, profile, trace
from qdt.network.check import RULES, check
from qdt.network.delivery import network_from_name, open_delivery
from qdt.network.model import NetworkError, PipeDelivery, line_heights
from qdt.network.section import parse_cut, section
from qdt.network.topology import DEFAULT_TOLERANCE_M, Topology, build_topology

__all__ = [
    "DEFAULT_TOLERANCE_M",
    "NetworkError",
    "PipeDelivery",
    "RULES",
    "Topology",
    "build_topology",
    "check",
    "connected",
    "isolate",
    "line_heights",
    "network_from_name",
    "open_delivery",
    "parse_cut",
    "profile",
    "section",
    "trace",
]
