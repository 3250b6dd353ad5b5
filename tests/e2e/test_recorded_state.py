"""Operations saved by an earlier release still resume (issue 25): each scenario's operation
documents were recorded from the release that wrote state version 3 (``tests/data/cfn_state/``).

A scenario runs its requests again; when its recorded check comes round, that check is given the
recorded (old) state instead of the one this release wrote, and the request must end as it did
when it was recorded: the same answer (status, physical id, attributes) and the same signal.
Before the swap, the recorded state must load to the same typed state as the one this release
wrote for that check (the same next step).

``DBSCALE_RECORD_CFN_STATE=1`` records the fixtures again (only ever from the release they describe).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
import trustme

from dbscale.cfn.state import STATE_VERSION, OperationState
from dbscale.cfn.workflow import is_check
from dbscale.handlers import aurora_clone, aurora_cluster, database_bootstrap, redshift_cluster
from tests.e2e.harness import CloudFormation, ResponseServer, wired
from tests.fakes import FakeClock, SlowAws
from tests.fakes.clones import AuroraCloneFake

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "cfn_state"
RECORDING = os.environ.get("DBSCALE_RECORD_CFN_STATE") == "1"
REDSHIFT = {"ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus", "NumberOfNodes": 2}
AURORA = {"ClusterIdentifier": "orders", "InstanceClass": "db.r6g.large", "ReaderCount": 1, "DatabaseName": "orders"}
LONGER = 1500.0
"""Seconds a change takes in these scenarios: longer than a delivery checks (600 s), so that the
request is handed over to its Step Functions execution."""
CLONE = {"SourceClusterId": "prod", "InstanceClass": "db.r6g.large"}


@dataclass
class Checks:
    """Wraps a provider's handler: records the operation document of every check, and gives the
    check number ``swap_at`` of the last request the ``swap`` state instead of its own."""

    module: Any
    inputs: list[dict[str, Any]] = field(default_factory=list)
    swap_index: int | None = None
    """Which check of the last request gets ``swap`` (0: the first)."""
    swap: dict[str, Any] | None = None
    swap_at: int | None = None
    replaced: dict[str, Any] | None = None

    def handler(self, event: dict[str, Any], context: Any) -> Any:
        if is_check(event):
            if self.swap_at == len(self.inputs) and self.swap is not None:
                self.replaced = copy.deepcopy(event["operation"]["state"])
                event = {**event, "operation": {**event["operation"], "state": copy.deepcopy(self.swap)}}
            self.inputs.append(copy.deepcopy(event["operation"]))
        return self.module.handler(event, context)

    def proxy(self) -> Any:
        return SimpleNamespace(provider=self.module.provider, handler=self.handler)


# --- the scenarios: set-up requests, then the recorded one ------------------------------------------


def redshift_create(cfn: CloudFormation, aws: SlowAws) -> dict[str, Any]:
    aws.set_duration("redshift", "create", LONGER)
    return cfn.event("Create", "Custom::RedshiftCluster", REDSHIFT)


def redshift_create_answer_refused(cfn: CloudFormation, aws: SlowAws) -> dict[str, Any]:
    """The endpoint refuses the answer 7 times (more than one check tries): the state keeps the
    outcome and the delivery attempts."""
    event = redshift_create(cfn, aws)
    cfn.server.fail(event["ResponseURL"], 7)
    return event


def redshift_resize(cfn: CloudFormation, aws: SlowAws) -> dict[str, Any]:
    assert cfn.send(redshift_create(cfn, aws)).status == "SUCCESS"
    aws.set_duration("redshift", "elastic_resize", LONGER)
    bigger = {**REDSHIFT, "NumberOfNodes": 4}
    return cfn.event("Update", "Custom::RedshiftCluster", bigger, physical_id="warehouse", old_properties=REDSHIFT)


def redshift_delete(cfn: CloudFormation, aws: SlowAws) -> dict[str, Any]:
    assert cfn.send(redshift_create(cfn, aws)).status == "SUCCESS"
    aws.set_duration("redshift", "delete", LONGER)
    return cfn.event("Delete", "Custom::RedshiftCluster", REDSHIFT, physical_id="warehouse")


def redshift_signalled_resize(cfn: CloudFormation, aws: SlowAws) -> dict[str, Any]:
    """Answered early: the state says ``answered`` and ``signal``, the wait condition waits."""
    classic = {**REDSHIFT, "ResizeType": "classic"}
    assert cfn.send(cfn.event("Create", "Custom::RedshiftCluster", classic)).status == "SUCCESS"
    aws.set_duration("redshift", "classic_resize", 2 * 3600)
    props = {**classic, "NumberOfNodes": 3, "CompletionSignalUrl": cfn.server.url(), "CompletionSignalTimeout": 43200}
    return cfn.event(
        "Update",
        "Custom::RedshiftCluster",
        props,
        physical_id="warehouse",
        old_properties=classic,
        service_timeout=3600,
    )


def aurora_create(cfn: CloudFormation, aws: SlowAws) -> dict[str, Any]:
    aws.set_duration("aurora", "create", LONGER)
    return cfn.event("Create", "Custom::AuroraCluster", AURORA)


def aurora_settings_update(cfn: CloudFormation, aws: SlowAws) -> dict[str, Any]:
    """An autoscaled cluster's settings change: the state keeps the size and the pending settings."""
    old = {**AURORA, "Autoscaled": True}
    assert cfn.send(cfn.event("Create", "Custom::AuroraCluster", old)).status == "SUCCESS"
    aws.set_duration("aurora", "modify", LONGER)
    new = {**old, "BackupRetentionPeriod": 14, "Paused": True}
    return cfn.event("Update", "Custom::AuroraCluster", new, physical_id="orders", old_properties=old)


def aurora_clone_create(cfn: CloudFormation, aws: SlowAws) -> dict[str, Any]:
    return cfn.event("Create", "Custom::AuroraClone", CLONE, logical_id="Clone")


def bootstrap_create(cfn: CloudFormation, aws: SlowAws) -> dict[str, Any]:
    rds = boto3.client("rds")
    cluster = rds.create_db_cluster(
        DBClusterIdentifier="telemetry",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        ManageMasterUserPassword=True,
        EnableHttpEndpoint=True,
    )["DBCluster"]
    props = {
        "Engine": "aurora-postgresql",
        "ClusterArn": cluster["DBClusterArn"],
        "SecretArn": cluster["MasterUserSecret"]["SecretArn"],
        "Migrations": [{"Name": "001_schema.sql", "Sql": "CREATE SCHEMA IF NOT EXISTS app;"}],
    }
    return cfn.event("Create", "Custom::DatabaseBootstrap", props, logical_id="Bootstrap")


SCENARIOS: dict[str, tuple[Any, Callable[[CloudFormation, SlowAws], dict[str, Any]]]] = {
    "redshift_create": (redshift_cluster, redshift_create),
    "redshift_create_answer_refused": (redshift_cluster, redshift_create_answer_refused),
    "redshift_resize": (redshift_cluster, redshift_resize),
    "redshift_delete": (redshift_cluster, redshift_delete),
    "redshift_signalled_resize": (redshift_cluster, redshift_signalled_resize),
    "aurora_create": (aurora_cluster, aurora_create),
    "aurora_settings_update": (aurora_cluster, aurora_settings_update),
    "aurora_clone_create": (aurora_clone, aurora_clone_create),
    "bootstrap_create": (database_bootstrap, bootstrap_create),
}


@pytest.fixture
def resuming_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Data API answers "resuming" for a while (an auto-paused cluster), then the migrations run."""
    from dbscale.core.errors import DatabaseResuming

    answers = iter([DatabaseResuming("the cluster is resuming")] * int(LONGER / 5))

    def bootstrap(executor: Any, migrations: Any, users: Any) -> Any:
        resuming = next(answers, None)
        if resuming is not None:
            raise resuming
        applied = SimpleNamespace(applied=[m.name for m in migrations], already_applied=[])
        return SimpleNamespace(migrations=applied, users_created=[], users_updated=[])

    monkeypatch.setattr(database_bootstrap, "bootstrap", bootstrap)


def run(
    name: str,
    checks: Checks,
    env: SlowAws,
    server: ResponseServer,
    ca: tuple[trustme.CA, str],
    session: boto3.Session,
    clock: FakeClock,
) -> dict[str, Any]:
    """Run scenario ``name``; what its last request ended with."""
    scene = SCENARIOS[name][1]
    context = AuroraCloneFake(env) if name.startswith("aurora_clone") else None
    with (
        context if context is not None else contextlib.nullcontext(),
        wired(checks.proxy(), server, ca[1], session, clock) as cfn,
    ):
        if context is not None:
            context.make_source(session.client("rds"), "prod")
        event = scene(cfn, env)
        first = len(checks.inputs)
        if checks.swap_index is not None:
            checks.swap_at = first + checks.swap_index  # armed now: the set-up's checks are not swapped
        result = cfn.send(event, after_answer_seconds=0)
        signal_url = event["ResourceProperties"].get("CompletionSignalUrl")
        if signal_url:
            cfn.run_until(lambda: bool(cfn.received(signal_url)))
        cfn.settle()
        signals = cfn.received(signal_url) if signal_url else []
        return {
            "answer": {k: result.response[k] for k in ("Status", "PhysicalResourceId", "Reason", "Data")},
            "signal": [{k: s[k] for k in ("Status", "UniqueId", "Data")} for s in signals],
            "checks": checks.inputs[first:],
        }


def fixture_path(name: str) -> Path:
    return FIXTURES / f"{name}.json"


@pytest.mark.parametrize("which", ["first", "last"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_recorded_operation_resumes_to_the_recorded_end(
    name: str,
    which: str,
    provider_env: SlowAws,
    resuming_bootstrap: None,
    response_server: ResponseServer,
    tls_ca: tuple[trustme.CA, str],
    boto_session: boto3.Session,
    fake_clock: FakeClock,
) -> None:
    module = SCENARIOS[name][0]
    if RECORDING:
        if which == "last":
            pytest.skip("recorded with 'first'")
        ended = run(name, Checks(module), provider_env, response_server, tls_ca, boto_session, fake_clock)
        checks = ended.pop("checks")
        assert checks, f"{name}: the request was answered without a Step Functions execution"
        recorded = {
            **ended,
            "checks": len(checks),
            "first": checks[0],
            "last": checks[-1],
            "last_index": len(checks) - 1,
        }
        FIXTURES.mkdir(parents=True, exist_ok=True)
        fixture_path(name).write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        return
    recorded = json.loads(fixture_path(name).read_text())
    document = recorded[which]
    checks = Checks(module, swap_index=0 if which == "first" else recorded["last_index"], swap=document["state"])
    ended = run(name, checks, provider_env, response_server, tls_ca, boto_session, fake_clock)
    assert checks.replaced is not None, f"{name}: check {checks.swap_at} never came"
    assert (document["state"]["v"], checks.replaced["v"]) == (3, STATE_VERSION)
    assert loaded(module, document["state"]) == loaded(module, checks.replaced)
    assert comparable(ended["answer"]) == comparable(recorded["answer"])
    assert [signal_fields(s) for s in ended["signal"]] == [signal_fields(s) for s in recorded["signal"]]


def signal_fields(signal: dict[str, Any]) -> tuple[Any, ...]:
    """A signal without its first and last Data fields (the endpoint and secret: moto's random names)."""
    return signal["Status"], signal["UniqueId"], str(signal["Data"]).split("|")[1:-1]


VOLATILE = ("SecretArn", "Endpoint.Address", "ReadEndpoint.Address", "ClusterResourceId")
"""Attributes that differ from run to run (moto's random names)."""


def comparable(value: Any) -> Any:
    """``value`` with the attributes that differ from run to run masked."""
    if isinstance(value, dict):
        return {k: ("<volatile>" if k in VOLATILE else comparable(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def loaded(module: Any, state: dict[str, Any]) -> Any:
    """The state as this release reads it (written back as this release writes it)."""
    return comparable(OperationState.from_dict(state, module.provider.resource.state_type).to_dict())
