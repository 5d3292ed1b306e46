"""Database sources as URIs, connections without stored passwords, one-line errors.

A database layer source is written ``postgis:`` followed by a libpq connection string
without a password, e.g. ``postgis:service=qdt_city`` (a section of ``~/.pg_service.conf`` or
``PGSERVICEFILE``) or ``postgis:host=gis.example.cn port=5432 dbname=city user=zhang``.
The password comes from ``~/.pgpass`` (``PGPASSFILE``) or the environment (``PGPASSWORD``),
as for ``psql``; a password written in the source is refused, so it never lands in a project
file. Everything libpq reads from the environment (``PGHOST``, ``PGSERVICE`` …) applies.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
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


class ServerNotApproved(DatabaseError):
    """A connection to a database server the user has not approved (a shared project naming a
    host): refused before libpq could offer it a password from ``~/.pgpass`` or ``PGPASSWORD``.
    ``hosts`` are the servers to approve (``host:port``) with :func:`approve_server`."""

    def __init__(self, message: str, *, hosts: list[str], conninfo: str) -> None:
        super().__init__(message)
        self.hosts, self.conninfo = hosts, conninfo


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
    approve_server(conninfo, remember=False)  # typed by the user now: trusted for this process
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


# --- which servers may be sent a password ----------------------------------------------------
#
# libpq offers a password from ~/.pgpass or PGPASSWORD to whatever server a connection string
# names, so a project file shared by someone else could send it anywhere. QDT connects only to
# servers the user approved: local ones (Unix socket, localhost), libpq service names (defined
# in the user's own pg_service.conf), hosts from the user's environment (PGHOST), hosts typed
# on the command line in this process, and hosts approved once and remembered in
# ``<config>/qdt/approved_servers.json`` (``qdt db approve``, or the window's prompt).

_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}
_SESSION_APPROVED: set[str] = set()


def approvals_file() -> Path:
    """Where approved servers are remembered: ``$XDG_CONFIG_HOME/qdt/approved_servers.json``."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "qdt" / "approved_servers.json"


def _remembered() -> set[str]:
    try:
        data = json.loads(approvals_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {str(h) for h in data.get("servers", [])} if isinstance(data, dict) else set()


def remote_servers(conninfo: str) -> list[str]:
    """The ``host:port`` servers a conninfo names that are not local, not from a service file
    and not from the user's own environment — the ones that need approval."""
    params = check_conninfo(conninfo)
    if params.get("service") and not params.get("host") and not params.get("hostaddr"):
        return []
    hosts = (params.get("host") or params.get("hostaddr") or "").split(",")
    ports = (params.get("port") or os.environ.get("PGPORT") or "5432").split(",")
    out = []
    for i, host in enumerate(hosts):
        host = host.strip()
        if host.startswith("/") or host.lower() in _LOCAL_HOSTS or host == os.environ.get("PGHOST"):
            continue
        out.append(f"{host}:{ports[min(i, len(ports) - 1)].strip() or '5432'}")
    return out


def unapproved_servers(conninfo: str) -> list[str]:
    known = _SESSION_APPROVED | _remembered()
    return [s for s in remote_servers(conninfo) if s not in known]


def approve_server(conninfo: str, *, remember: bool = True) -> list[str]:
    """Approve the servers of ``conninfo`` for this process and, with ``remember``, for good
    (written atomically to :func:`approvals_file`). Returns the servers approved."""
    servers = remote_servers(conninfo)
    _SESSION_APPROVED.update(servers)
    if remember and servers:
        from qdt.safe_output import atomic_output

        path = approvals_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"servers": sorted(_remembered() | set(servers))}
        with atomic_output(path, error=DatabaseError) as temp:
            temp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return servers


def check_approved(conninfo: str) -> None:
    """ServerNotApproved unless every server of ``conninfo`` is approved."""
    missing = unapproved_servers(conninfo)
    if missing:
        raise ServerNotApproved(
            f"QDT has not connected to database server {', '.join(missing)} before and did not, so no stored "
            f"password was offered to it; if you trust it, approve it (qdt db approve --dsn \"{conninfo}\", or "
            "answer the prompt in the window) — or use a service name from your own pg_service.conf",
            hosts=missing, conninfo=conninfo)


def connect(conninfo: str, *, autocommit: bool = False, timeout_s: int = CONNECT_TIMEOUT_S) -> Any:
    """Open a psycopg connection (UTC session time zone, ``application_name=qdt``).

    Refuses a server the user has not approved (:class:`ServerNotApproved`, before any packet
    is sent) and asks for TLS when the server offers it (``sslmode=prefer`` unless the
    connection string, ``PGSSLMODE`` or a service file says otherwise); gives up after
    ``timeout_s`` (libpq ``connect_timeout``).

    Raises
    ------
    DatabaseError
        Unreachable server, authentication failure, unknown service or database — one line.
    """
    psycopg = _psycopg()
    params = check_conninfo(conninfo)
    check_approved(conninfo)
    safe: dict[str, Any] = {}
    if not params.get("sslmode") and not os.environ.get("PGSSLMODE") and not params.get("service"):
        safe["sslmode"] = "prefer"  # TLS whenever the server offers it (a service file sets its own)
    try:
        con = psycopg.connect(conninfo, autocommit=autocommit, connect_timeout=timeout_s,
                              application_name="qdt", **safe)
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
