"""PostGIS as a data source, an import target and an edit store (no Qt, no VTK).

::

    from qdt.io import LayerSource, load_layer
    result = load_layer(LayerSource("postgis:service=qdt", layer="city.buildings", feature_class="building"))

    from qdt.io.postgis import ViewWindowLoader, import_geopackage, init_schema
    import_geopackage("service=qdt", "sample_data/qingdao_shinan.gpkg", schema="city")
    window = ViewWindowLoader("postgis:service=qdt", "city.buildings").load(view_bbox)

Modules: :mod:`.connection` (URIs without passwords, one-line errors), :mod:`.catalogue`
(tables, columns, keys — every identifier is checked here before it is quoted into SQL),
:mod:`.source` (the DataSource and its parameterised SELECT), :mod:`.view` (a table's first
window; view-window loading itself is the generic :mod:`qdt.io.window`), :mod:`.schema`
(``qdt db init`` / ``import`` / ``fix``), :mod:`.commit` (edit commits with optimistic
concurrency, change log, LISTEN/NOTIFY).
"""

from qdt.io.postgis.catalogue import CHANGE_LOG_TABLE, VERSION_COLUMN, TableInfo, split_layer, table_info
from qdt.io.postgis.commit import (
    EditListener,
    EditNotice,
    FetchedFeatures,
    PostGISStore,
    apply_fetched,
    fetch_features,
    is_postgis_layer,
    read_change_log,
    refresh_features,
)
from qdt.io.postgis.connection import (
    NOTIFY_CHANNEL,
    URI_PREFIX,
    DatabaseError,
    TableNeedsFix,
    connect,
    conninfo_of,
    describe,
    is_database_source,
    make_uri,
)
from qdt.io.postgis.schema import ImportReport, fix_table, import_geopackage, init_schema
from qdt.io.postgis.source import PgFeatureRequest, PostGISDataSource, SqlFilter, select_sql
from qdt.io.postgis.view import (
    DEFAULT_BUDGET,
    DEFAULT_MARGIN,
    MAX_VIEW_SIDE_M,
    ViewWindow,
    ViewWindowLoader,
    apply_window,
    camera_ground_bbox,
    extent_window,
    loader_for,
)

__all__ = [
    "TableNeedsFix",
    "CHANGE_LOG_TABLE",
    "DEFAULT_BUDGET",
    "DEFAULT_MARGIN",
    "NOTIFY_CHANNEL",
    "URI_PREFIX",
    "VERSION_COLUMN",
    "DatabaseError",
    "EditListener",
    "EditNotice",
    "FetchedFeatures",
    "ImportReport",
    "MAX_VIEW_SIDE_M",
    "PgFeatureRequest",
    "PostGISDataSource",
    "PostGISStore",
    "SqlFilter",
    "TableInfo",
    "ViewWindow",
    "ViewWindowLoader",
    "apply_fetched",
    "apply_window",
    "camera_ground_bbox",
    "connect",
    "conninfo_of",
    "describe",
    "extent_window",
    "fetch_features",
    "fix_table",
    "import_geopackage",
    "init_schema",
    "is_database_source",
    "is_postgis_layer",
    "loader_for",
    "make_uri",
    "read_change_log",
    "refresh_features",
    "select_sql",
    "split_layer",
    "table_info",
]
