"""Database users for applications: created (or brought back) with the password kept in their own
Secrets Manager secret, and given the grants declared for them.

Passwords never appear in logs, errors or results. Where the engine accepts a password hash
(PostgreSQL: a SCRAM-SHA-256 verifier; Redshift: an MD5 hash), only the hash is sent, so the
plain password never reaches the server's statement history; MySQL takes the password itself
(``IDENTIFIED BY``) and masks it in its logs. DDL takes no bind parameters, so names are
validated and quoted, and the password (or hash) is validated and rendered as a literal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..aws import aws_errors, client
from ..errors import InvalidRequest, StatementFailed
from .executors import StatementExecutor
from .sql import quote_identifier, quote_literal

if TYPE_CHECKING:
    import boto3

USER_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,31}$")
"""A database user name: lowercase letters, digits, underscores; at most 32 characters (MySQL's limit)."""
_OBJECT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]{0,62})\.(\*|[A-Za-z_][A-Za-z0-9_]{0,62})$")
COMMON_PRIVILEGES = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "REFERENCES", "TRIGGER", "ALL"})
DIALECT_PRIVILEGES: dict[str, frozenset[str]] = {
    "mysql": COMMON_PRIVILEGES | {"CREATE", "ALTER", "DROP", "INDEX", "EXECUTE", "CREATE VIEW", "SHOW VIEW"},
    "postgresql": COMMON_PRIVILEGES | {"TRUNCATE"},
    "redshift": COMMON_PRIVILEGES | {"TRUNCATE"},
}
_FORBIDDEN_PASSWORD_CHARACTERS = frozenset("'\"\\\x00")
SCRAM_ITERATIONS = 4096


@dataclass(frozen=True)
class Grant:
    """``privileges`` on ``on``: ``schema.*`` (every table of a schema, also the ones created
    later by the migrations' user) or ``schema.table``."""

    privileges: tuple[str, ...]
    on: str

    @classmethod
    def parse(cls, text: str) -> Grant:
        """``"SELECT, INSERT ON telemetry.*"`` as a Grant (case-insensitive keywords)."""
        match = re.match(r"^\s*(.+?)\s+ON\s+(\S+)\s*$", text, re.IGNORECASE)
        if match is None:
            raise InvalidRequest(f"grant {text!r} is not '<privileges> ON <schema>.<table or *>'", field="grants")
        privileges = tuple(" ".join(p.split()).upper() for p in match.group(1).split(","))
        return cls(privileges, match.group(2))

    def __str__(self) -> str:
        return f"{', '.join(self.privileges)} ON {self.on}"

    def target(self) -> tuple[str, str | None]:
        """(schema, table) with table None for ``schema.*``."""
        match = _OBJECT.match(self.on)
        if match is None:
            raise InvalidRequest(f"grant target {self.on!r} is not <schema>.<table> or <schema>.*", field="grants")
        return match.group(1), None if match.group(2) == "*" else match.group(2)

    def check(self, dialect: str) -> None:
        allowed = DIALECT_PRIVILEGES[dialect]
        for privilege in self.privileges:
            if privilege not in allowed:
                raise InvalidRequest(
                    f"privilege {privilege!r} in grant '{self}' is not one of {', '.join(sorted(allowed))} ({dialect})",
                    field="grants",
                )
        if "ALL" in self.privileges and len(self.privileges) > 1:
            raise InvalidRequest(f"grant '{self}': ALL stands alone", field="grants")
        self.target()


@dataclass(frozen=True)
class UserSpec:
    """A user to create: its name, its grants, and the secret holding its password."""

    name: str
    secret_arn: str
    grants: tuple[Grant, ...] = field(default_factory=tuple)

    def check(self, dialect: str) -> None:
        validate_user_name(self.name)
        for grant in self.grants:
            grant.check(dialect)


def validate_user_name(name: str, *, field: str = "users") -> str:
    """``name`` when it is a valid user name (:data:`USER_NAME`); InvalidRequest otherwise."""
    if not isinstance(name, str) or not USER_NAME.match(name):
        raise InvalidRequest(
            f"user name {name!r} is not valid: lowercase letters, digits and underscores, starting with a "
            "letter or underscore, at most 32 characters",
            field=field,
        )
    return name


def check_password(password: str, user: str) -> str:
    """``password`` when it can be used as is; the error never shows it."""
    if not isinstance(password, str) or not 8 <= len(password) <= 64:
        raise InvalidRequest(f"the password in the secret of user {user} must be 8-64 characters")
    if any(ch in _FORBIDDEN_PASSWORD_CHARACTERS or not ch.isprintable() for ch in password):
        raise InvalidRequest(
            f"the password in the secret of user {user} contains a quote, backslash or control character; "
            "generate it without them (ExcludeCharacters)"
        )
    return password


def scram_sha256_verifier(password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """A PostgreSQL ``SCRAM-SHA-256`` verifier of ``password`` (RFC 5802/7677; what ``libpq`` sends
    with ``\\password``), so the server stores and checks it without ever receiving the password."""
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def redshift_md5_password(password: str, user: str) -> str:
    """Redshift's pre-hashed password form: ``md5`` + MD5(password + user name)."""
    return "md5" + hashlib.md5((password + user).encode("utf-8"), usedforsecurity=False).hexdigest()


def read_user_secret(secret_arn: str, user: str, session: boto3.Session | None = None) -> dict[str, Any]:
    """The JSON of a user's secret, checked: a ``password``, and ``username`` equal to ``user``."""
    with aws_errors(f"read the secret of database user {user}"):
        text = client("secretsmanager", session).get_secret_value(SecretId=secret_arn)["SecretString"]
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidRequest(f"the secret of database user {user} is not JSON") from None
    if not isinstance(value, dict) or "password" not in value:
        raise InvalidRequest(f"the secret of database user {user} has no 'password' key")
    if value.get("username") != user:
        raise InvalidRequest(
            f"the secret of database user {user} is for user {value.get('username')!r}; each user needs its own secret"
        )
    check_password(value["password"], user)
    return value


def grant_statements(user: str, grant: Grant, dialect: str) -> list[str]:
    """The GRANT statements of one grant."""
    schema, table = grant.target()
    privileges = "ALL PRIVILEGES" if grant.privileges == ("ALL",) else ", ".join(grant.privileges)
    q_schema = quote_identifier(schema, dialect, field="grants")
    if dialect == "mysql":
        target = f"{q_schema}.*" if table is None else f"{q_schema}.{quote_identifier(table, dialect, field='grants')}"
        return [f"GRANT {privileges} ON {target} TO {quote_literal(user, dialect)}@'%'"]
    q_user = quote_identifier(user, dialect, field="users")
    statements = [f"GRANT USAGE ON SCHEMA {q_schema} TO {q_user}"]
    if table is not None:
        q_table = quote_identifier(table, dialect, field="grants")
        return [*statements, f"GRANT {privileges} ON {q_schema}.{q_table} TO {q_user}"]
    statements += [
        f"GRANT {privileges} ON ALL TABLES IN SCHEMA {q_schema} TO {q_user}",
        # Tables the migrations create later (as the same admin user) get the grant too.
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {q_schema} GRANT {privileges} ON TABLES TO {q_user}",
    ]
    if dialect == "postgresql" and {"INSERT", "ALL"} & set(grant.privileges):
        # Inserting into a serial/identity column takes the sequence's nextval.
        statements += [
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {q_schema} TO {q_user}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {q_schema} GRANT USAGE, SELECT ON SEQUENCES TO {q_user}",
        ]
    return statements


def _user_exists(executor: StatementExecutor, user: str) -> bool:
    dialect = executor.dialect
    if dialect == "mysql":
        sql = "SELECT 1 FROM mysql.user WHERE User = :name AND Host = '%'"
    elif dialect == "postgresql":
        sql = "SELECT 1 FROM pg_roles WHERE rolname = :name"
    else:
        sql = "SELECT 1 FROM pg_user WHERE usename = :name"
    try:
        return bool(executor.execute(sql, {"name": user}))
    except StatementFailed as err:
        raise StatementFailed(f"could not check whether database user {user} exists: {err}") from None


def _password_statement(executor: StatementExecutor, user: str, password: str, exists: bool) -> str:
    dialect = executor.dialect
    if dialect == "mysql":
        verb = "ALTER USER" if exists else "CREATE USER"
        return f"{verb} {quote_literal(user, dialect)}@'%' IDENTIFIED BY {quote_literal(password, dialect)}"
    q_user = quote_identifier(user, dialect, field="users")
    if dialect == "postgresql":
        verb = "ALTER ROLE" if exists else "CREATE ROLE"
        return f"{verb} {q_user} WITH LOGIN PASSWORD {quote_literal(scram_sha256_verifier(password), dialect)}"
    verb = "ALTER USER" if exists else "CREATE USER"
    return f"{verb} {q_user} PASSWORD {quote_literal(redshift_md5_password(password, user), dialect)}"


def ensure_user(executor: StatementExecutor, user: str, password: str, grants: Sequence[Grant] = ()) -> bool:
    """Create ``user`` (or set its password when it exists) and apply ``grants``; True when created.

    Grants are only added: a grant removed from the declaration is not revoked (revoke it in a
    migration), and a user removed from the declaration is left in the database.
    """
    dialect = executor.dialect
    validate_user_name(user)
    check_password(password, user)
    for grant in grants:
        grant.check(dialect)
    exists = _user_exists(executor, user)
    try:
        executor.execute(_password_statement(executor, user, password, exists))
    except StatementFailed:
        # The driver's message may quote the statement, and the statement holds the password.
        raise StatementFailed(
            f"could not {'update' if exists else 'create'} database user {user} (the statement is not shown "
            "because it carries the password); check that the bootstrap's admin user may manage users"
        ) from None
    for grant in grants:
        for statement in grant_statements(user, grant, dialect):
            try:
                executor.execute(statement)
            except StatementFailed as err:
                raise StatementFailed(f"grant '{grant}' to user {user} failed: {err}") from None
    return not exists
