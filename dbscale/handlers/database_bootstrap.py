"""Custom::DatabaseBootstrap: ``dbscale.handlers.database_bootstrap.handler``.

Applies versioned SQL migrations and creates application users in an Aurora cluster (through the
RDS Data API) or a Redshift cluster (through the Redshift Data API), signed in with the cluster's
managed master user secret. Each user's password comes from its own secret (made by the
template, e.g. by ``DatabaseBootstrap``); passwords never appear in properties, logs or responses.

Create and Update apply the migrations not yet applied (a changed applied file fails, naming it)
and bring the users to their declared passwords and grants. Delete leaves the database alone:
schemas, tables, rows and users stay, because they are data.

An auto-paused Aurora Serverless v2 cluster answers the first statement with
``DatabaseResumingException``; the resource then waits (polling every few seconds) until it is up.
"""

from __future__ import annotations

import json
import re
from typing import Any

from dbscale.cfn import LOG, Progress, Prop, Provider, Request, ResourceType, parse
from dbscale.cfn.state import OperationState, ResourceState
from dbscale.core.bootstrap import Grant, Migration, UserSpec, bootstrap
from dbscale.core.bootstrap.executors import RdsDataExecutor, RedshiftDataExecutor, StatementExecutor
from dbscale.core.bootstrap.migrations import ordered
from dbscale.core.bootstrap.users import read_user_secret
from dbscale.core.errors import DatabaseResuming, InvalidRequest
from dbscale.core.preflight import check_preflight
from dbscale.core.validation import validate_cluster_identifier

ENGINE_DIALECTS = {"aurora-mysql": "mysql", "aurora-postgresql": "postgresql", "redshift": "redshift"}
SCHEMA: tuple[Prop, ...] = (
    Prop("Engine", required=True, choices=tuple(ENGINE_DIALECTS)),
    Prop("ClusterArn"),
    Prop("ClusterIdentifier"),
    Prop("SecretArn", required=True),
    Prop("Database"),
    Prop("Migrations", "json", default=[]),
    Prop("Users", "json", default=[]),
)
_RDS_CLUSTER_ARN = re.compile(r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[a-z][a-z0-9-]*$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")
_DATABASE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,63}$")


def _secret_arn(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _SECRET_ARN.match(value):
        raise InvalidRequest(f"{field} must be a Secrets Manager secret ARN, got {value!r}", field=field)
    return value


def _migrations(value: Any) -> list[Migration]:
    if not isinstance(value, list):
        raise InvalidRequest("Migrations must be a list of {Name, Sql} objects", field="Migrations")
    items = []
    for entry in value:
        if (
            not isinstance(entry, dict)
            or set(entry) != {"Name", "Sql"}
            or not all(isinstance(entry[k], str) for k in entry)
        ):
            raise InvalidRequest(
                f"Migrations entries must be {{Name, Sql}} objects of strings, got keys {sorted(entry)!r}"
                if isinstance(entry, dict)
                else "Migrations entries must be {Name, Sql} objects",
                field="Migrations",
            )
        items.append(Migration(entry["Name"], entry["Sql"]))
    return ordered(items)


def _is_managed_master_secret(arn: str) -> bool:
    """True for a secret RDS or Redshift made for a cluster's master user (``rds!...``, ``redshift!...``)."""
    name = arn.split(":secret:", 1)[-1]
    return name.startswith(("rds!", "redshift!"))


def _users(value: Any, dialect: str) -> list[UserSpec]:
    if not isinstance(value, list):
        raise InvalidRequest("Users must be a list of {Name, SecretArn, Grants} objects", field="Users")
    users = []
    for entry in value:
        if not isinstance(entry, dict) or not {"Name", "SecretArn"} <= set(entry) <= {"Name", "SecretArn", "Grants"}:
            raise InvalidRequest("Users entries must be {Name, SecretArn, Grants} objects", field="Users")
        grants = entry.get("Grants") or []
        if not isinstance(grants, list) or not all(isinstance(g, str) for g in grants):
            raise InvalidRequest(f"Grants of user {entry['Name']!r} must be a list of strings", field="Users")
        secret = _secret_arn(entry["SecretArn"], "Users")
        if _is_managed_master_secret(secret):
            # A cluster's master password must never become another login (whatever the IAM
            # scope of the provider lets it read).
            raise InvalidRequest(
                f"Users: the secret of user {entry['Name']!r} is a cluster's managed master secret ({secret}); "
                "give each user a secret of its own (an AWS::SecretsManager::Secret with a generated password)",
                field="Users",
            )
        user = UserSpec(entry["Name"], secret, tuple(Grant.parse(g) for g in grants))
        user.check(dialect)
        users.append(user)
    names = [u.name for u in users]
    if len(set(names)) != len(names):
        raise InvalidRequest("Users names must be unique", field="Users")
    return users


class DatabaseBootstrapResource(ResourceType[ResourceState]):
    resource_type = "Custom::DatabaseBootstrap"
    state_type = ResourceState  # nothing of its own: each step runs every migration not yet applied

    def parse(self, request: Request, raw: dict[str, Any] | None = None) -> dict[str, Any]:
        props = parse(SCHEMA, request.properties if raw is None else raw)
        dialect = ENGINE_DIALECTS[props["Engine"]]
        if dialect == "redshift":
            if not props["ClusterIdentifier"] or props["ClusterArn"]:
                raise InvalidRequest(
                    "a redshift bootstrap takes ClusterIdentifier (not ClusterArn)", field="ClusterArn"
                )
            validate_cluster_identifier(props["ClusterIdentifier"], field="ClusterIdentifier")
            props["Database"] = props["Database"] or "dev"
        else:
            if not props["ClusterArn"] or props["ClusterIdentifier"]:
                raise InvalidRequest(
                    "an Aurora bootstrap takes ClusterArn (not ClusterIdentifier)", field="ClusterIdentifier"
                )
            if not _RDS_CLUSTER_ARN.match(props["ClusterArn"]):
                raise InvalidRequest(
                    f"ClusterArn must be an Aurora cluster ARN, got {props['ClusterArn']!r}", field="ClusterArn"
                )
        if props["Database"] is not None and not _DATABASE.match(props["Database"]):
            raise InvalidRequest(f"Database {props['Database']!r} is not a valid database name", field="Database")
        _secret_arn(props["SecretArn"], "SecretArn")
        props["dialect"] = dialect
        props["Migrations"] = _migrations(props["Migrations"])
        props["Users"] = _users(props["Users"], dialect)
        return props

    @staticmethod
    def physical_id(props: dict[str, Any]) -> str:
        cluster = props["ClusterIdentifier"] or props["ClusterArn"].rsplit(":", 1)[-1]
        return f"dbscale-bootstrap:{props['Engine']}:{cluster}:{props['Database'] or ''}"

    def executor(self, provider: Provider, props: dict[str, Any]) -> StatementExecutor:
        if props["dialect"] == "redshift":
            return RedshiftDataExecutor(
                props["ClusterIdentifier"],
                props["SecretArn"],
                database=props["Database"],
                session=provider.session,
                clock=provider.clock,
            )
        return RdsDataExecutor(
            props["ClusterArn"],
            props["SecretArn"],
            props["dialect"],
            database=props["Database"],
            session=provider.session,
        )

    def check_request(self, request: Request) -> None:
        if request.request_type != "Delete":
            self.parse(request)

    def preflight(self, provider: Provider, request: Request, props: dict[str, Any]) -> None:
        """The cluster and the secret, checked before the first statement (on an Update, only when
        they changed); one PreflightFailed lists every problem."""
        old = None
        if request.request_type == "Update":
            try:
                old = self.parse(request, request.old_properties or {})
            except InvalidRequest:
                old = None  # old properties of an older schema: check everything
        check_preflight(self.resource_type, props, provider.session, old=old)

    def step(self, provider: Provider, request: Request, state: OperationState[ResourceState]) -> Progress:
        if request.request_type == "Delete":
            # Schemas, tables, rows and users are data: a bootstrap never removes them.
            LOG.info("Delete of %s leaves the database as it is", request.physical_id)
            return Progress(request.physical_id or request.failed_create_id, True)
        props = self.parse(request)
        if state.physical_id is None:  # the request's first step: nothing has run yet
            self.preflight(provider, request, props)
        physical_id = self.physical_id(props)
        state.physical_id = physical_id
        users = [
            (user, read_user_secret(user.secret_arn, user.name, provider.session)["password"])
            for user in props["Users"]
        ]
        try:
            result = bootstrap(self.executor(provider, props), props["Migrations"], users)
        except DatabaseResuming as err:
            return Progress(physical_id, False, detail=str(err))
        LOG.info(
            json.dumps(
                {
                    "logical_id": request.logical_id,
                    "applied": list(result.migrations.applied),
                    "already_applied": len(result.migrations.already_applied),
                    "users_created": list(result.users_created),
                    "users_updated": list(result.users_updated),
                }
            )
        )
        names = [m.name for m in props["Migrations"]]
        return Progress(
            physical_id,
            True,
            {
                "AppliedMigrations": ",".join(result.migrations.applied),
                "LastMigration": names[-1] if names else "",
                "MigrationCount": str(len(names)),
                "Users": ",".join(u.name for u in props["Users"]),
            },
        )


provider = Provider(DatabaseBootstrapResource())


def handler(event: dict[str, Any], context: Any) -> dict[str, Any] | None:
    """The Lambda entry point for Custom::DatabaseBootstrap."""
    return provider.handle(event, context)
