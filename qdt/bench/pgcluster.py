"""A throw-away PostgreSQL + PostGIS cluster on loopback (for ``qdt.bench db`` and the tests).

``initdb`` into a temporary folder, ``pg_ctl start`` on a free port with the unix socket in the
same folder; :meth:`PgCluster.stop` (or the end of this process, even by a crash) stops and deletes
it. PostgreSQL refuses to run as root, so under root the server runs as the ``postgres`` system
user (``runuser``); clients connect through the socket with ``trust`` authentication (the cluster
is private to this run). The pytest fixtures are in ``tests/pg_cluster.py``.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

TEMPLATE = "qdt_template"


def _bindir() -> Path | None:
    """The newest /usr/lib/postgresql/N/bin that has initdb and the PostGIS extension."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0, reverse=True)
    for initdb in candidates:
        version = Path(initdb).parts[-3]
        if glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control"):
            return Path(initdb).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """A private PostgreSQL server: ``host`` (socket folder), ``port``, superuser ``postgres``."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL server binaries (initdb) not found; install postgresql and postgis "
                               "with tools/system_deps.sh")
        self.root = Path(tempfile.mkdtemp(prefix="qdt-pg-"))
        self.data = self.root / "data"
        self.host = str(self.root)
        self.port = _free_port()
        self.user = "postgres"
        self._runas: list[str] = []
        self._names = itertools.count(1)
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise RuntimeError("running as root and there is no 'postgres' user to run the server as") from exc
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            os.chmod(self.root, 0o755)
            self._runas = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        proc = subprocess.run([*self._runas, *args], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {proc.stderr.strip() or proc.stdout.strip()}")

    def start(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        opts = (f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.host} "
                "-c fsync=off -c full_page_writes=off -c max_connections=60")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", opts, "-w", "-t", "60", "start")
        self._watch()
        import psycopg

        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as con:
            con.execute(f"CREATE DATABASE {TEMPLATE}")
        with psycopg.connect(self.conninfo(TEMPLATE), autocommit=True) as con:
            con.execute("CREATE EXTENSION postgis")

    def _watch(self) -> None:
        """Stop the server and delete its folder when this process ends, even by a crash or
        SIGKILL (a GUI test that segfaults must not leave a postgres behind)."""
        runas = " ".join(shlex.quote(a) for a in self._runas)
        stop = (f"{runas} {shlex.quote(str(self.bindir / 'pg_ctl'))} -D {shlex.quote(str(self.data))} "
                f"-m immediate -w stop; rm -rf {shlex.quote(str(self.root))}")
        watcher = f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 0.5; done; {stop}"
        subprocess.Popen(["sh", "-c", watcher], start_new_session=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self._runas, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                            "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    def conninfo(self, dbname: str) -> str:
        """libpq conninfo (no password: the cluster trusts its socket)."""
        return f"host={self.host} port={self.port} dbname={dbname} user={self.user}"

    def new_database(self) -> str:
        """A fresh database with PostGIS; returns its conninfo."""
        import psycopg

        name = f"qdt_test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.conninfo(name)
