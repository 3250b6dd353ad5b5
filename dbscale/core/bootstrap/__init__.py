"""Database bootstrap: versioned SQL migrations and application users, run through one small
statement interface (:class:`StatementExecutor`) so the same code runs on a local server (DB-API),
on Aurora (RDS Data API) and on Redshift (Redshift Data API).

    from dbscale.core.bootstrap import DbApiExecutor, bootstrap, load_migrations

    result = bootstrap(DbApiExecutor(connection, "mysql"), load_migrations("sql/"), users=[])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .executors import (
    DbApiExecutor,
    RdsDataExecutor,
    RedshiftDataExecutor,
    SqlValue,
    StatementExecutor,
)
from .migrations import Migration, MigrationResult, apply_migrations, load_migrations
from .sql import DIALECTS, quote_identifier, split_statements, validate_identifier
from .users import Grant, UserSpec, ensure_user

__all__ = [
    "DIALECTS",
    "BootstrapResult",
    "DbApiExecutor",
    "Grant",
    "Migration",
    "MigrationResult",
    "RdsDataExecutor",
    "RedshiftDataExecutor",
    "SqlValue",
    "StatementExecutor",
    "UserSpec",
    "apply_migrations",
    "bootstrap",
    "ensure_user",
    "load_migrations",
    "quote_identifier",
    "split_statements",
    "validate_identifier",
]


@dataclass(frozen=True)
class BootstrapResult:
    """What :func:`bootstrap` did: migrations applied now and before, users created and updated."""

    migrations: MigrationResult
    users_created: tuple[str, ...]
    users_updated: tuple[str, ...]


def bootstrap(
    executor: StatementExecutor,
    migrations: Iterable[Migration],
    users: Sequence[tuple[UserSpec, str]] = (),
) -> BootstrapResult:
    """Apply pending ``migrations``, then make each ``(user, password)`` exist with its grants.

    Migrations first, so the schemas the grants name exist. Users are checked before anything runs.
    """
    for user, _ in users:
        user.check(executor.dialect)
    names = [user.name for user, _ in users]
    if len(set(names)) != len(names):
        from ..errors import InvalidRequest

        raise InvalidRequest(f"users are declared twice: {sorted({n for n in names if names.count(n) > 1})}")
    result = apply_migrations(executor, migrations)
    created: list[str] = []
    updated: list[str] = []
    for user, password in users:
        (created if ensure_user(executor, user.name, password, user.grants) else updated).append(user.name)
    return BootstrapResult(result, tuple(created), tuple(updated))
