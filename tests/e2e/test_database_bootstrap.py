"""Custom::DatabaseBootstrap end to end: CloudFormation events -> handler -> RDS Data API / Redshift
Data API under moto -> real MariaDB and PostgreSQL servers (tests/fakes/data_api.py), with the
example's migrations and a portable set for the PostgreSQL-dialect paths."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import trustme

from dbscale.core.bootstrap import Migration, load_migrations
from dbscale.handlers import database_bootstrap
from tests.e2e.harness import CloudFormation, ResponseServer, wired
from tests.fakes import FakeClock
from tests.fakes.data_api import DataApiFake, install

TYPE = "Custom::DatabaseBootstrap"
TELEMETRY_SQL = Path(__file__).resolve().parents[2] / "examples" / "telemetry" / "sql" / "migrations"
PORTABLE = [
    Migration("001_schema.sql", "CREATE SCHEMA IF NOT EXISTS app;"),
    Migration("002_items.sql", "CREATE TABLE IF NOT EXISTS app.items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL);"),
]


def migrations_property(migrations: list[Migration]) -> list[dict[str, str]]:
    return [{"Name": m.name, "Sql": m.sql} for m in migrations]


@pytest.fixture
def data_api(aws: None) -> Iterator[DataApiFake]:
    with install() as fake:
        yield fake


@pytest.fixture
def cfn(
    data_api: DataApiFake,
    provider_env: Any,
    response_server: ResponseServer,
    tls_ca: tuple[trustme.CA, str],
    boto_session: boto3.Session,
    fake_clock: FakeClock,
) -> Iterator[CloudFormation]:
    with wired(database_bootstrap, response_server, tls_ca[1], boto_session, fake_clock) as driver:
        yield driver


def aurora(
    boto_session: boto3.Session, name: str, engine: str, version: str, *, data_api: bool = True
) -> dict[str, Any]:
    rds = boto_session.client("rds")
    return rds.create_db_cluster(
        DBClusterIdentifier=name,
        Engine=engine,
        EngineVersion=version,
        MasterUsername="admin",
        ManageMasterUserPassword=True,
        EnableHttpEndpoint=data_api,
        ServerlessV2ScalingConfiguration={"MinCapacity": 0, "MaxCapacity": 4, "SecondsUntilAutoPause": 600},
    )["DBCluster"]


def user_secret(boto_session: boto3.Session, name: str, engine: str, host: str, port: int) -> tuple[str, str]:
    sm = boto_session.client("secretsmanager")
    password = sm.get_random_password(PasswordLength=32, ExcludePunctuation=True, RequireEachIncludedType=True)[
        "RandomPassword"
    ]
    secret = {"engine": engine, "host": host, "port": port, "username": name, "password": password}
    return sm.create_secret(Name=f"user-{name}", SecretString=json.dumps(secret))["ARN"], password


@pytest.fixture
def telemetry_cluster(boto_session: boto3.Session, data_api: DataApiFake, mysql_db: Any) -> dict[str, Any]:
    cluster = aurora(boto_session, "telemetry", "aurora-mysql", "8.0.mysql_aurora.3.08.0")
    data_api.attach(cluster["DBClusterArn"], mysql_db)
    return cluster


def test_create_update_delete_on_aurora_mysql(
    cfn: CloudFormation,
    telemetry_cluster: dict[str, Any],
    boto_session: boto3.Session,
    mysql_db: Any,
    response_server: ResponseServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret_arn, password = user_secret(boto_session, "app", "mysql", "telemetry.cluster", 3306)
    caplog.clear()  # from here on, every record at any level: the handler's (botocore's are set to ERROR)
    caplog.set_level(logging.DEBUG)
    props: dict[str, Any] = {
        "Engine": "aurora-mysql",
        "ClusterArn": telemetry_cluster["DBClusterArn"],
        "SecretArn": telemetry_cluster["MasterUserSecret"]["SecretArn"],
        "Migrations": migrations_property(load_migrations(TELEMETRY_SQL)),
        "Users": [{"Name": "app", "SecretArn": secret_arn, "Grants": ["SELECT, INSERT ON telemetry.*"]}],
    }
    created = cfn.send(cfn.event("Create", TYPE, props, logical_id="Schema"))
    assert created.status == "SUCCESS", created.reason
    assert created.physical_id == "dbscale-bootstrap:aurora-mysql:telemetry:"
    assert created.data == {
        "AppliedMigrations": "001_schema.sql,002_tables.sql",
        "LastMigration": "002_tables.sql",
        "MigrationCount": "2",
        "Users": "app",
    }
    app = mysql_db.connect(user="app", password=password)  # the password in the user's own secret
    try:
        app.cursor().execute(
            "INSERT INTO telemetry.telemetry (device_id, entry_ts, cpu_usage, memory_usage, data) "
            "VALUES ('d', NOW(), 0.1, 0.2, '{}')"
        )
        app.commit()
    finally:
        app.close()

    # A new file applies on update; the applied ones are left alone.
    newer = [
        *props["Migrations"],
        {"Name": "003_index.sql", "Sql": "CREATE INDEX by_received ON telemetry.telemetry (received_at);"},
    ]
    updated = cfn.send(
        cfn.event(
            "Update",
            TYPE,
            {**props, "Migrations": newer},
            logical_id="Schema",
            physical_id=created.physical_id,
            old_properties=props,
        )
    )
    assert updated.status == "SUCCESS", updated.reason
    assert updated.data["AppliedMigrations"] == "003_index.sql" and updated.data["MigrationCount"] == "3"

    # Changing an applied file fails, naming it.
    changed = [dict(m) for m in newer]
    changed[1]["Sql"] = changed[1]["Sql"].replace("VARCHAR(64)", "VARCHAR(128)")
    refused = cfn.send(
        cfn.event(
            "Update",
            TYPE,
            {**props, "Migrations": changed},
            logical_id="Schema",
            physical_id=created.physical_id,
            old_properties={**props, "Migrations": newer},
        )
    )
    assert refused.status == "FAILED"
    assert "migration 002_tables.sql changed after it was applied" in refused.reason

    # Delete leaves the data in place.
    deleted = cfn.send(cfn.event("Delete", TYPE, props, logical_id="Schema", physical_id=created.physical_id))
    assert deleted.status == "SUCCESS"
    admin = mysql_db.connect()
    try:
        cursor = admin.cursor()
        cursor.execute("SELECT COUNT(*) FROM telemetry.telemetry")
        assert cursor.fetchone() == (1,)
    finally:
        admin.close()

    # The password never left Secrets Manager: not in a response, not in a log line.
    every_response = json.dumps(response_server.responses)
    assert password not in every_response
    assert password not in caplog.text


def test_a_paused_cluster_is_waited_for(
    cfn: CloudFormation, telemetry_cluster: dict[str, Any], data_api: DataApiFake, fake_clock: FakeClock
) -> None:
    data_api.pause(telemetry_cluster["DBClusterArn"], 3)
    started = fake_clock.now()
    props = {
        "Engine": "aurora-mysql",
        "ClusterArn": telemetry_cluster["DBClusterArn"],
        "SecretArn": telemetry_cluster["MasterUserSecret"]["SecretArn"],
        "Migrations": migrations_property(load_migrations(TELEMETRY_SQL)),
    }
    result = cfn.send(cfn.event("Create", TYPE, props))
    assert result.status == "SUCCESS", result.reason
    assert result.data["AppliedMigrations"] == "001_schema.sql,002_tables.sql"
    assert fake_clock.now() - started >= 15  # three answers of "resuming", 5 s apart


def test_without_the_data_api_the_create_fails_saying_so(
    cfn: CloudFormation, boto_session: boto3.Session, data_api: DataApiFake, mysql_db: Any
) -> None:
    cluster = aurora(boto_session, "closed", "aurora-mysql", "8.0.mysql_aurora.3.08.0", data_api=False)
    data_api.attach(cluster["DBClusterArn"], mysql_db)
    props = {
        "Engine": "aurora-mysql",
        "ClusterArn": cluster["DBClusterArn"],
        "SecretArn": cluster["MasterUserSecret"]["SecretArn"],
        "Migrations": migrations_property(PORTABLE),
    }
    result = cfn.send(cfn.event("Create", TYPE, props))
    assert result.status == "FAILED"
    assert result.reason.startswith("Invalid property ClusterArn: ") and "Data API off" in result.reason
    assert "EnableHttpEndpoint" in result.reason  # what to do


def test_aurora_postgresql_through_the_data_api(
    cfn: CloudFormation, boto_session: boto3.Session, data_api: DataApiFake, postgres_db: Any
) -> None:
    cluster = aurora(boto_session, "orders", "aurora-postgresql", "16.6")
    data_api.attach(cluster["DBClusterArn"], postgres_db)
    secret_arn, password = user_secret(boto_session, "reporting", "postgres", "orders.cluster", 5432)
    props = {
        "Engine": "aurora-postgresql",
        "ClusterArn": cluster["DBClusterArn"],
        "SecretArn": cluster["MasterUserSecret"]["SecretArn"],
        "Migrations": migrations_property(PORTABLE),
        "Users": [{"Name": "reporting", "SecretArn": secret_arn, "Grants": ["SELECT ON app.*"]}],
    }
    result = cfn.send(cfn.event("Create", TYPE, props))
    assert result.status == "SUCCESS", result.reason
    assert not any(password in s["sql"] for s in data_api.statements)  # only a SCRAM verifier was sent
    reporting = postgres_db.connect(user="reporting", password=password)
    try:
        assert reporting.execute("SELECT COUNT(*) FROM app.items").fetchone() == (0,)
    finally:
        reporting.close()


def test_redshift_through_the_redshift_data_api(
    cfn: CloudFormation, boto_session: boto3.Session, data_api: DataApiFake, postgres_db: Any, fake_clock: FakeClock
) -> None:
    redshift = boto_session.client("redshift")
    cluster = redshift.create_cluster(
        ClusterIdentifier="warehouse",
        NodeType="ra3.xlplus",
        NumberOfNodes=2,
        MasterUsername="admin",
        ManageMasterPassword=True,
    )["Cluster"]
    data_api.attach("warehouse", postgres_db)
    for _ in range(120):  # the Data API answers only once the cluster is available
        if redshift.describe_clusters(ClusterIdentifier="warehouse")["Clusters"][0]["ClusterStatus"] == "available":
            break
        fake_clock.sleep(30)
    secret_arn, password = user_secret(boto_session, "loader", "redshift", "warehouse", 5439)
    props = {
        "Engine": "redshift",
        "ClusterIdentifier": "warehouse",
        "SecretArn": cluster["MasterPasswordSecretArn"],
        "Migrations": migrations_property(PORTABLE),
        "Users": [{"Name": "loader", "SecretArn": secret_arn, "Grants": ["SELECT, INSERT ON app.*"]}],
    }
    result = cfn.send(cfn.event("Create", TYPE, props))
    assert result.status == "SUCCESS", result.reason
    assert result.physical_id == "dbscale-bootstrap:redshift:warehouse:dev"
    admin = postgres_db.connect()
    try:
        stored = admin.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'loader'").fetchone()
    finally:
        admin.close()
    assert stored is not None and stored[0].startswith("md5")  # Redshift's pre-hashed form, never the password
    assert not any(password in s["sql"] for s in data_api.statements)
    again = cfn.send(cfn.event("Create", TYPE, props))  # a retried Create: nothing to apply, user updated
    assert again.status == "SUCCESS" and again.data["AppliedMigrations"] == ""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Engine": "oracle"}, "Engine 'oracle' is not one of"),
        ({"ClusterArn": "arn:aws:rds:us-east-1:123456789012:db:x"}, "ClusterArn must be an Aurora cluster ARN"),
        ({"SecretArn": "plain-text"}, "SecretArn must be a Secrets Manager secret ARN"),
        ({"Migrations": [{"Name": "schema.sql", "Sql": "SELECT 1"}]}, "is not named <number>_<name>.sql"),
        (
            {"Users": [{"Name": "App", "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"}]},
            "user name",
        ),
        (
            {
                "Users": [
                    {
                        "Name": "a",
                        "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
                        "Grants": ["SELECT ON a.b; DROP"],
                    }
                ]
            },
            "grant",
        ),
        *(
            (
                {
                    "Users": [
                        {"Name": "admin", "SecretArn": f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}"}
                    ]
                },
                "is a cluster's managed master secret",
            )
            for name in ("rds!cluster-0a1b2c3d-1111-2222-3333-444455556666-AbCdEf", "redshift!dbscale-wh-admin-XyZ123")
        ),
    ],
)
def test_bad_properties_fail_before_any_sql(
    cfn: CloudFormation, boto_session: boto3.Session, data_api: DataApiFake, change: dict[str, Any], message: str
) -> None:
    # No server attached: a statement would fail the test with "no test server attached".
    telemetry_cluster = aurora(boto_session, "telemetry", "aurora-mysql", "8.0.mysql_aurora.3.08.0")
    props = {
        "Engine": "aurora-mysql",
        "ClusterArn": telemetry_cluster["DBClusterArn"],
        "SecretArn": telemetry_cluster["MasterUserSecret"]["SecretArn"],
        **change,
    }
    result = cfn.send(cfn.event("Create", TYPE, props))
    assert result.status == "FAILED" and message in result.reason
    assert data_api.statements == []
