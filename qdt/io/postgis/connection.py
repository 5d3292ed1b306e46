"""Database sources as URIs, connections without stored passwords, one-line errors.

A database layer source is written ``postgis:`` followed by a libpq connection string
without a password, e.g. ``postgis:service=qdt_city`` (a section of ``~/.pg_service.conf`` or
``PGSERVICEFILE``) or ``postgis:host=gis.example.cn port=5432 dbname=city user=zhang``.
The password comes from ``~/.pgpass`` (``PGPASSFILE``) or the environment (``PGPASSWORD``),
as for ``psql``; a password written in the source is refused, so it never lands in a project
file. Everything libpq reads from the environment (``PGHOST``, ``PGSERVICE`` …) applies.
"""

from __future__ import annotations

from typing import Any

from qdt.io.errors import ReadError

#: Prefix of a database source in ``LayerSource.path`` and in project files.
URI_PREFIX = "postgis:"

#: Seconds to wait for a server before saying it is unreachable.
CONNECT_TIMEOUT_S = 5

#: NOTIFY channel on which commits announce themselves (payload: JSON, see :mod:`.commit`).
NOTIFY_CHANNEL = "qdt_edits"


class DatabaseError(ReadError):
    """A database problem for the user: unreachable server, missing table, permission denied.

    ``str()`` is one line naming the database (never a password) and, where known, the table.
    """


class TableNeedsFix(DatabaseError):
    """A table QDT cannot use as it is but can repair (``qdt db fix``): ``missing`` names what
    is missing (``"primary key"``); ``schema`` and ``table`` name the table."""

    def __init__(self, message: str, *, schema: str, table: str, missing: str) -> None:
        super().__init__(message)
        self.schema, self.table, self.missing = schema, table, missing


def is_database_source(path: Any) -> bool:
    """True for a ``postgis:`` source string."""
    return isinstance(path, str) and path.startswith(URI_PREFIX)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a declared dependency
        raise DatabaseError("PostGIS layers need the psycopg package (pip install 'psycopg[binary]')") from exc
    return psycopg


def conninfo_of(uri: str) -> str:
    """The libpq connection string of a ``postgis:`` URI (checked: parseable, no password)."""
    if not is_database_source(uri):
        raise DatabaseError(f"{uri!r} is not a database source (expected '{URI_PREFIX}service=NAME' or "
                            f"'{URI_PREFIX}host=… dbname=…')")
    conninfo = uri[len(URI_PREFIX):].strip()
    check_conninfo(conninfo)
    return conninfo


def check_conninfo(conninfo: str) -> dict[str, str]:
    """Parse a conninfo; refuse a password in it. Returns its parameters."""
    psycopg = _psycopg()
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        raise DatabaseError(f"bad database connection string: {_first_line(exc)}") from exc
    if params.get("password"):
        raise DatabaseError("the database connection string contains a password; remove it and put the password "
                            "in ~/.pgpass (or PGPASSWORD, or a libpq service file) so it is never saved in a project")
    return {k: str(v) for k, v in params.items()}


def make_uri(*, dsn: str | None = None, service: str | None = None) -> str:
    """A ``postgis:`` URI from a conninfo/URL (``--dsn``) or a libpq service name (``--service``)."""
    if service and dsn:
        raise DatabaseError("give either a service name or a connection string, not both")
    if service:
        conninfo = f"service={_quote_value(service)}"
    elif dsn is not None:
        conninfo = dsn.strip()
        if conninfo.startswith(URI_PREFIX):
            conninfo = conninfo[len(URI_PREFIX):]
    else:
        conninfo = ""  # libpq defaults: PGSERVICE, PGHOST, PGDATABASE … from the environment
    check_conninfo(conninfo)
    return URI_PREFIX + conninfo


def _quote_value(value: str) -> str:
    if value and all(c.isalnum() or c in "_-." for c in value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def describe(conninfo: str) -> str:
    """How messages name a database: ``service 'qdt'`` or ``host:port/dbname`` (no password)."""
    try:
        params = check_conninfo(conninfo)
    except DatabaseError:
        return "database"
    if params.get("service"):
        return f"database service '{params['service']}'"
    host = params.get("host") or "localhost"
    port = params.get("port") or "5432"
    db = params.get("dbname") or params.get("user") or ""
    return f"database {host}:{port}/{db}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # libpq prefixes "connection failed: …" / "connection to server at … failed:" lines; keep the reason
    return " ".join(lines[:2]) if lines else text


def connect(conninfo: str, *, autocommit: bool = False, timeout_s: int = CONNECT_TIMEOUT_S) -> Any:
    """Open a psycopg connection (UTC session time zone, ``application_name=qdt``).

    Raises
    ------
    DatabaseError
        Unreachable server, authentication failure, unknown service or database — one line.
    """
    psycopg = _psycopg()
    check_conninfo(conninfo)
    try:
        con = psycopg.connect(conninfo, autocommit=autocommit, connect_timeout=timeout_s,
                              application_name="qdt")
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot connect to {describe(conninfo)}: {_first_line(exc)}") from exc
    try:
        con.execute("SET TIME ZONE 'UTC'")
        if not autocommit:
            con.commit()
    except psycopg.Error as exc:
        con.close()
        raise DatabaseError(f"{describe(conninfo)}: {_first_line(exc)}") from exc
    return con


def db_error(exc: BaseException, conninfo: str, what: str = "") -> DatabaseError:
    """A psycopg error as a one-line :class:`DatabaseError` (permission denied, lost connection …)."""
    psycopg = _psycopg()
    where = describe(conninfo) + (f", {what}" if what else "")
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return DatabaseError(f"{where}: permission denied ({_first_line(exc)}); ask the database administrator "
                             "for the right to do this")
    if isinstance(exc, psycopg.OperationalError):
        return DatabaseError(f"{where}: the connection to the server was lost ({_first_line(exc)})")
    return DatabaseError(f"{where}: {_first_line(exc)}")
