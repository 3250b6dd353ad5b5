"""Versioned SQL migrations: files named ``<number>_<name>.sql``, applied in number order, each once.

The record is the table ``dbscale.migrations`` (a MySQL database or a PostgreSQL/Redshift schema
named ``dbscale``), one row per applied file with its SHA-256. On every run:

* a recorded file whose text changed fails the run, naming the file (an applied migration is
  history: write a new file instead);
* a recorded file that is gone fails the run (the history must stay readable);
* a new file numbered before the last applied one fails the run (it would run out of order);
* new files run in order, each statement committed as it completes, and the file is recorded
  after its last statement. A file that fails stops the run: it is not recorded, and the error
  names it and its statement number; statements before the failing one stay applied (MySQL and
  Redshift commit DDL anyway), so write migrations that can run again (``IF NOT EXISTS``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import InvalidRequest, MigrationChanged, StatementFailed
from .executors import StatementExecutor
from .sql import quote_identifier, split_statements

LOG = logging.getLogger("dbscale")

MIGRATION_FILE = re.compile(r"^(\d{1,9})[_-][A-Za-z0-9_.-]*\.sql$")
"""A migration file name: a number, ``_`` or ``-``, a name, ``.sql`` (``001_schema.sql``)."""
RECORD_SCHEMA = "dbscale"
RECORD_TABLE = "migrations"
MAX_MIGRATION_BYTES = 256 * 1024


@dataclass(frozen=True)
class Migration:
    """One migration file: its name (``001_schema.sql``), its SQL text and that text's SHA-256."""

    name: str
    sql: str

    @property
    def number(self) -> int:
        match = MIGRATION_FILE.match(self.name)
        if match is None:
            raise InvalidRequest(
                f"migration {self.name!r} is not named <number>_<name>.sql (e.g. 001_schema.sql)", field="migrations"
            )
        return int(match.group(1))

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class MigrationResult:
    """What a run did: the files applied now, and those already applied before."""

    applied: tuple[str, ...]
    already_applied: tuple[str, ...]


def ordered(migrations: Iterable[Migration]) -> list[Migration]:
    """``migrations`` checked (names, sizes, unique numbers) and sorted by number."""
    items = list(migrations)
    seen: dict[int, str] = {}
    for migration in items:
        number = migration.number
        if number in seen:
            raise InvalidRequest(
                f"migrations {seen[number]!r} and {migration.name!r} have the same number {number}", field="migrations"
            )
        seen[number] = migration.name
        if len(migration.sql.encode("utf-8")) > MAX_MIGRATION_BYTES:
            raise InvalidRequest(
                f"migration {migration.name!r} is larger than {MAX_MIGRATION_BYTES // 1024} KiB", field="migrations"
            )
    return sorted(items, key=lambda m: m.number)


def load_migrations(directory: Path | str) -> list[Migration]:
    """The ``*.sql`` files of ``directory`` as migrations, in order. Other files are ignored;
    a ``.sql`` file with a name that is not ``<number>_<name>.sql`` is an error."""
    path = Path(directory)
    if not path.is_dir():
        raise InvalidRequest(f"migrations directory {str(path)!r} does not exist", field="migrations")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix == ".sql")
    return ordered(Migration(p.name, p.read_text(encoding="utf-8")) for p in files)


def _record_table(dialect: str) -> str:
    return f"{quote_identifier(RECORD_SCHEMA, dialect)}.{quote_identifier(RECORD_TABLE, dialect)}"


def ensure_record_table(executor: StatementExecutor) -> None:
    """Create ``dbscale.migrations`` when it is missing."""
    dialect = executor.dialect
    schema = quote_identifier(RECORD_SCHEMA, dialect)
    if dialect == "mysql":
        executor.execute(f"CREATE DATABASE IF NOT EXISTS {schema}")
    else:
        executor.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    executor.execute(
        f"CREATE TABLE IF NOT EXISTS {_record_table(dialect)} ("
        "name VARCHAR(255) NOT NULL PRIMARY KEY, "
        "checksum CHAR(64) NOT NULL, "
        "applied_at VARCHAR(32) NOT NULL)"
    )


def applied_migrations(executor: StatementExecutor) -> dict[str, str]:
    """Name -> checksum of the migrations recorded as applied."""
    rows = executor.execute(f"SELECT name, checksum FROM {_record_table(executor.dialect)}")
    return {str(name): str(checksum) for name, checksum in rows}


def check_history(migrations: Sequence[Migration], recorded: dict[str, str]) -> list[Migration]:
    """The migrations still to apply; raises when the files and the record disagree."""
    by_name = {m.name: m for m in migrations}
    for name, checksum in sorted(recorded.items()):
        migration = by_name.get(name)
        if migration is None:
            raise MigrationChanged(
                f"migration {name} was applied but its file is gone; restore it (applied migrations are history)"
            )
        if migration.checksum != checksum:
            raise MigrationChanged(
                f"migration {name} changed after it was applied (checksum {checksum[:12]}... recorded, "
                f"{migration.checksum[:12]}... now); restore the applied text and put the change in a new file"
            )
    pending = [m for m in migrations if m.name not in recorded]
    if recorded and pending:
        last = max((by_name[name] for name in recorded), key=lambda m: m.number)
        early = [m.name for m in pending if m.number < last.number]
        if early:
            raise InvalidRequest(
                f"new migration {early[0]} is numbered before {last.name}, which is already applied; "
                "renumber it to run after the applied ones",
                field="migrations",
            )
    return pending


def apply_migrations(
    executor: StatementExecutor, migrations: Iterable[Migration], *, now: datetime | None = None
) -> MigrationResult:
    """Apply the pending ``migrations`` in order; see the module docstring for the rules."""
    items = ordered(migrations)
    ensure_record_table(executor)
    recorded = applied_migrations(executor)
    pending = check_history(items, recorded)
    applied: list[str] = []
    table = _record_table(executor.dialect)
    for migration in pending:
        statements = split_statements(migration.sql, executor.dialect)
        for number, statement in enumerate(statements, start=1):
            try:
                executor.execute(statement)
            except StatementFailed as err:
                raise StatementFailed(
                    f"migration {migration.name} failed at statement {number} of {len(statements)}: {err}. "
                    f"Applied before it: {', '.join(applied) or 'none'} in this run"
                ) from None
        stamp = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
        executor.execute(
            f"INSERT INTO {table} (name, checksum, applied_at) VALUES (:name, :checksum, :applied_at)",
            {"name": migration.name, "checksum": migration.checksum, "applied_at": stamp},
        )
        LOG.info("applied migration %s (%d statements)", migration.name, len(statements))
        applied.append(migration.name)
    return MigrationResult(tuple(applied), tuple(sorted(recorded)))
