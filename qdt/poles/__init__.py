"""Pole planning (多杆合一): consolidation candidates of streetlight, signal, sign and camera poles.

A model package: no Qt, no VTK. See :mod:`qdt.poles.consolidate`.
"""

from qdt.poles.consolidate import (
    DEFAULT_DISTANCE,
    POLE_CLASSES,
    ConsolidationError,
    Group,
    Plan,
    Poles,
    consolidate,
    consolidate_layers,
    export_plan,
    gather_poles,
    linked_pairs,
    planning_layers,
    pole_kind,
)

__all__ = ["DEFAULT_DISTANCE", "POLE_CLASSES", "ConsolidationError", "Group", "Plan", "Poles", "consolidate",
           "consolidate_layers", "export_plan", "gather_poles", "linked_pairs", "planning_layers", "pole_kind"]
