"""CIM facility model: catalogue of classes, fields and code lists; validation; standards tables.

No Qt, no VTK. The catalogue and the standards tables are data files in ``data/``.
"""

from qdt.cim.schema import Catalogue, CodeEntry, CodeList, FeatureClass, FieldDef, catalogue, load_catalogue
from qdt.cim.standards import ClearanceRule, clearance_rules, component_codes, pipe_networks, required_clearance
from qdt.cim.validate import ValidationIssue, coerce_table, validate_table, validate_value

__all__ = [
    "Catalogue",
    "ClearanceRule",
    "CodeEntry",
    "CodeList",
    "FeatureClass",
    "FieldDef",
    "ValidationIssue",
    "catalogue",
    "clearance_rules",
    "coerce_table",
    "component_codes",
    "load_catalogue",
    "pipe_networks",
    "required_clearance",
    "validate_table",
    "validate_value",
]
