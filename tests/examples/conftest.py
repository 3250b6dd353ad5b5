"""Fixtures for examples/telemetry: its modules on sys.path, and its database bootstrapped on MariaDB."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TELEMETRY = Path(__file__).resolve().parents[2] / "examples" / "telemetry"
APP_PASSWORD = "AppUserPassw0rdFromTheSecret"

for path in (TELEMETRY, TELEMETRY / "ingest"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


@pytest.fixture
def telemetry_db(mysql_db: Any) -> Iterator[Any]:
    """MariaDB with the example's migrations applied and its ``app`` user created, as the
    construct declares them (see examples/telemetry/app.py)."""
    from dbscale.core.bootstrap import DbApiExecutor, Grant, UserSpec, bootstrap, load_migrations

    connection = mysql_db.connect()
    try:
        user = UserSpec("app", "unused", (Grant.parse("SELECT, INSERT ON telemetry.*"),))
        bootstrap(
            DbApiExecutor(connection, "mysql"),
            load_migrations(TELEMETRY / "sql" / "migrations"),
            [(user, APP_PASSWORD)],
        )
    finally:
        connection.close()
    yield mysql_db
