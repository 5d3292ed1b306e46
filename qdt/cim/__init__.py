"""CIM facility model: catalogue of classes, fields and code lists; validation; standards tables.

No Qt, no VTK. The catalogue and the standards tables are data files in ``data/`` (see
``data/README.md``); :mod:`qdt.cim.sample` writes the Qingdao sample base map.
"""

from qdt.cim.schema import (
    Catalogue,
    CatalogueError,
    CodeEntry,
    CodeList,
    FeatureClass,
    FieldDef,
    catalogue,
    load_catalogue,
)
from qdt.cim.standards import (
    ClearanceRule,
    CoverRule,
    PipeNetwork,
    PipeSubtype,
    clearance_rules,
    component_codes,
    cover_rules,
    minimum_cover,
    network_code,
    pipe_networks,
    required_clearance,
)
from qdt.cim.validate import ValidationIssue, coerce_table, validate_table, validate_value

__all__ = [
    "Catalogue",
    "CatalogueError",
    "ClearanceRule",
    "CoverRule",
    "CodeEntry",
    "CodeList",
    "FeatureClass",
    "FieldDef",
    "PipeNetwork",
    "PipeSubtype",
    "ValidationIssue",
    "catalogue",
    "clearance_rules",
    "coerce_table",
    "component_codes",
    "cover_rules",
    "minimum_cover",
    "load_catalogue",
    "network_code",
    "pipe_networks",
    "required_clearance",
    "validate_table",
    "validate_value",
]
