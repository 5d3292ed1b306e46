"""A throw-away PostgreSQL + PostGIS cluster for the tests (pytest plugin).

The cluster itself is :class:`qdt.bench.pgcluster.PgCluster` (the database benchmark uses it too).

Fixtures:

- ``pg_cluster`` (session): the running :class:`PgCluster`;
- ``pg_dsn`` (function): libpq conninfo of a fresh database with the PostGIS extension
  (cloned from a template, so each test starts empty).

Without PostgreSQL/PostGIS installed the fixtures skip with the reason (``make test`` installs
them through ``tools/system_deps.sh``); with ``QDT_REQUIRE_POSTGIS=1`` they fail instead. An
installed server that does not start is always a failure.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from qdt.bench.pgcluster import TEMPLATE, PgCluster

__all__ = ["TEMPLATE", "PgCluster", "pg_cluster", "pg_dsn"]


def _unavailable(reason: str) -> None:
    if os.environ.get("QDT_REQUIRE_POSTGIS") == "1":
        pytest.fail(f"PostGIS tests required but cannot run: {reason}")
    pytest.skip(f"PostGIS tests skipped: {reason}")


@pytest.fixture(scope="session")
def pg_cluster():
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e .)")
    try:
        cluster = PgCluster()
    except RuntimeError as exc:
        _unavailable(str(exc))
    try:
        cluster.start()
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        cluster.stop()
        # the server is installed, so this is a real failure, not a reason to skip
        pytest.fail(f"the test PostgreSQL cluster did not start: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_dsn(pg_cluster: PgCluster) -> str:
    return pg_cluster.new_database()
