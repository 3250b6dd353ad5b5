"""Completion signals for Custom::AuroraClone (issue 13): a copy-first clone that takes hours answers
as soon as AWS has accepted the copy, with the clone's physical id and nothing it cannot know yet,
and signals the finished clone's attributes (or the failure) to a wait condition handle served over
HTTPS on 127.0.0.1; a rollback Delete while the copy runs ends the poll and deletes cleanly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str
from moto.backends import get_backend

from dbscale.cfn import workflow
from dbscale.cfn.schema import FRAMEWORK_PROPERTIES
from dbscale.core.aurora import instance_identifier
from dbscale.core.clones import copy_identifier
from dbscale.handlers import aurora_clone
from dbscale.handlers.aurora_clone import SIGNAL_ATTRIBUTES
from tests.e2e.harness import CloudFormation
from tests.e2e.test_aurora_clone import CLONE, PROPS, TYPE, cfn, clusters, fake, rds, source  # noqa: F401
from tests.fakes import FakeClock, SlowAws
from tests.fakes.clones import AuroraCloneFake

FOUR_HOURS = 4 * 3600
SPARSE_CHECK_SECONDS = workflow.SPARSE_CHECK_SECONDS
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "long-clone.yaml"


def with_signal(cfn: CloudFormation, props: dict[str, Any], handle: str) -> dict[str, Any]:
    return {**props, "CompletionSignalUrl": handle, "CompletionSignalTimeout": 43200}


def create(cfn: CloudFormation, props: dict[str, Any], **kwargs: Any) -> Any:
    event = cfn.event("Create", TYPE, props, logical_id="Clone", service_timeout=3600)
    return cfn.send(event, after_answer_seconds=0, **kwargs)


def signalled(cfn: CloudFormation, handle: str) -> dict[str, str]:
    (signal,) = cfn.received(handle)
    assert signal["Status"] == "SUCCESS", signal
    assert signal["UniqueId"] == CLONE
    values = signal["Data"].split("|")
    assert len(values) == len(SIGNAL_ATTRIBUTES)
    return dict(zip(SIGNAL_ATTRIBUTES, values, strict=True))


def arrival(cfn: CloudFormation, handle: str) -> float:
    return cfn.server.received_at[handle.split("?")[0].split(f":{cfn.server.port}", 1)[1]][0]


def last_available(slow: SlowAws, *names: tuple[str, str]) -> float:
    return max(t for name, kind in names for t, state in slow.history(name, kind) if state == "available")


@pytest.fixture
def full_source(source: str, fake: AuroraCloneFake, rds: Any, provider_env: SlowAws) -> str:
    """A source with no free clone slot and no copy: a clone needs a new copy (snapshot and restore)."""
    fake.add_clones(rds, "prod", 15)
    fake.settle()
    fake.snapshot_seconds = 1800
    provider_env.set_duration("aurora", "restore", FOUR_HOURS - 1800)
    return source


COPY_PROPS = {**PROPS, "CopyOk": True}


def test_a_four_hour_copy_answers_at_once_and_signals_within_one_sparse_check_of_completion(
    cfn: CloudFormation, full_source: str, rds: Any, fake: AuroraCloneFake, fake_clock: FakeClock, provider_env: SlowAws
) -> None:
    handle = cfn.server.url()
    started_utc = fake_clock.utc()
    answered = create(cfn, with_signal(cfn, COPY_PROPS, handle))

    assert answered.status == "SUCCESS", answered.reason
    assert answered.physical_id == CLONE
    copy_id = copy_identifier("prod", started_utc)
    # Only what is known: no endpoint, ARN or secret exists before the copy and the clone are made.
    assert answered.data == {"ClusterIdentifier": CLONE, "ClonedFrom": copy_id, "InProgress": "true"}
    assert answered.sent_at is not None and answered.started_at is not None
    assert answered.sent_at - answered.started_at < 60
    assert cfn.received(handle) == []
    assert CLONE not in clusters(rds)

    cfn.run_until(lambda: bool(cfn.received(handle)))

    data = signalled(cfn, handle)
    assert data["ClusterIdentifier"] == CLONE and data["ClonedFrom"] == copy_id
    assert data["Endpoint.Address"].startswith(f"{CLONE}.cluster-")
    assert data["ReadEndpoint.Address"].startswith(f"{CLONE}.cluster-ro-")
    assert data["Endpoint.Port"] == "5432"
    assert data["ClusterArn"].endswith(f":cluster:{CLONE}")
    assert data["SecretArn"].startswith("arn:aws:secretsmanager:")
    finished = last_available(provider_env, (CLONE, "aurora"), (instance_identifier(CLONE, 1), "aurora-instance"))
    assert finished - answered.started_at >= FOUR_HOURS
    # Past the first hour the execution checks every SPARSE_CHECK_SECONDS (the cost of 12-hour waits).
    assert arrival(cfn, handle) - finished <= SPARSE_CHECK_SECONDS + 10
    assert cfn.running() == []
    assert fake.silent_full_copies == []


def test_a_failing_copy_signals_failure_with_the_reason(
    cfn: CloudFormation, full_source: str, fake_clock: FakeClock
) -> None:
    handle = cfn.server.url()
    started_utc = fake_clock.utc()
    answered = create(cfn, with_signal(cfn, COPY_PROPS, handle))
    assert answered.status == "SUCCESS", answered.reason
    backend = get_backend("rds")["123456789012"]["us-east-1"]
    copy_id = copy_identifier("prod", started_utc)
    cfn.run_until(lambda: copy_id in backend.clusters)  # the seed snapshot is done
    fake_clock.advance(3600)  # an hour into the restore, it fails
    backend.clusters[copy_id].status = "incompatible-restore"

    cfn.run_until(lambda: bool(cfn.received(handle)))

    (signal,) = cfn.received(handle)
    assert signal["Status"] == "FAILURE", signal
    assert "incompatible-restore" in signal["Reason"]
    assert signal["Data"] == ""
    assert cfn.running() == []


def test_a_rollback_delete_while_the_copy_runs_stops_its_execution_and_deletes_cleanly(
    cfn: CloudFormation, full_source: str, rds: Any, fake: AuroraCloneFake, fake_clock: FakeClock
) -> None:
    handle = cfn.server.url()
    props = with_signal(cfn, COPY_PROPS, handle)
    assert create(cfn, props).status == "SUCCESS"
    (execution,) = cfn.running()
    cfn.sim.run_for(600)  # the copy's execution checks on, in the middle of a check task

    deleted = cfn.send(cfn.event("Delete", TYPE, props, logical_id="Clone", physical_id=CLONE))

    assert deleted.status == "SUCCESS", deleted.reason
    assert cfn.running() == []
    assert [e["name"] for e in cfn.executions("ABORTED")] == [execution]
    cfn.sim.run_for(3600)  # whatever the stopped execution would still do, it does not
    fake.settle(FOUR_HOURS)
    assert CLONE not in clusters(rds)
    assert cfn.received(handle) == []
    assert cfn.running() == []


def test_a_copy_on_write_clone_signals_too(cfn: CloudFormation, source: str, fake: AuroraCloneFake) -> None:
    handle = cfn.server.url()
    answered = create(cfn, with_signal(cfn, PROPS, handle))
    assert answered.status == "SUCCESS", answered.reason
    assert answered.data == {"ClusterIdentifier": CLONE, "ClonedFrom": "prod", "InProgress": "true"}

    cfn.run_until(lambda: bool(cfn.received(handle)))

    data = signalled(cfn, handle)
    assert data["ClonedFrom"] == "prod"
    assert cfn.running() == []
    assert [kind for kind, origin, _ in fake.restores if origin == "prod"] == ["clone"]
    # examples/long-clone.yaml reads each value back from the wait condition's Data.
    (signal,) = cfn.received(handle)
    condition_data = json.dumps({signal["UniqueId"]: signal["Data"]}, separators=(",", ":"))
    template, problems = decode_str(EXAMPLE.read_text())
    assert not problems
    allowed = {prop.name for prop in aurora_clone.SCHEMA} | FRAMEWORK_PROPERTIES
    assert set(template["Resources"]["Clone"]["Properties"]) <= allowed
    outputs = {name: output["Value"] for name, output in template["Outputs"].items()}
    expected = {
        "Endpoint": "Endpoint.Address",
        "Port": "Endpoint.Port",
        "ReaderEndpoint": "ReadEndpoint.Address",
        "ClonedFrom": "ClonedFrom",
        "SecretArn": "SecretArn",
    }
    for name, attribute in expected.items():
        assert evaluate(outputs[name], {"CloneReady20261126": condition_data}) == data[attribute], name
    assert outputs["ClusterIdentifier"] == {"Fn::GetAtt": ["Clone", "ClusterIdentifier"]}  # answered early


def test_an_instance_class_change_answers_with_the_clone_as_it_is_and_signals(
    cfn: CloudFormation, source: str, rds: Any
) -> None:
    created = cfn.send(cfn.event("Create", TYPE, PROPS, logical_id="Clone"))
    assert created.status == "SUCCESS", created.reason
    handle = cfn.server.url()
    bigger = with_signal(cfn, {**PROPS, "InstanceClass": "db.r6g.xlarge"}, handle)
    event = cfn.event("Update", TYPE, bigger, logical_id="Clone", physical_id=CLONE, old_properties=PROPS)

    answered = cfn.send(event, after_answer_seconds=0)

    assert answered.status == "SUCCESS", answered.reason
    assert answered.data["InProgress"] == "true"
    assert answered.data["Endpoint.Address"] == created.data["Endpoint.Address"]  # an existing clone's, unchanged
    if not cfn.received(handle):
        cfn.run_until(lambda: bool(cfn.received(handle)))
    assert signalled(cfn, handle)["SecretArn"] == created.data["SecretArn"]
    instances = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [CLONE]}])["DBInstances"]
    assert [(i["DBInstanceClass"], i["DBInstanceStatus"]) for i in instances] == [("db.r6g.xlarge", "available")]
    assert cfn.running() == []


def test_a_signal_without_waiting_is_refused(cfn: CloudFormation, source: str, rds: Any) -> None:
    props = with_signal(cfn, {**PROPS, "WaitForCompletion": False}, cfn.server.url())
    result = cfn.send(cfn.event("Create", TYPE, props, logical_id="Clone"))
    assert result.status == "FAILED" and "WaitForCompletion" in result.reason
    assert CLONE not in clusters(rds)


def evaluate(value: Any, data: dict[str, str]) -> Any:
    """Fn::Select, Fn::Split and GetAtt of a wait condition's Data, as CloudFormation evaluates them."""
    if isinstance(value, list):
        return [evaluate(item, data) for item in value]
    if not isinstance(value, dict):
        return value
    ((function, argument),) = value.items()
    if function == "Fn::GetAtt":
        assert argument[1] == "Data"
        return data[argument[0]]
    if function == "Fn::Select":
        return evaluate(argument[1], data)[argument[0]]
    if function == "Fn::Split":
        return evaluate(argument[1], data).split(argument[0])
    raise AssertionError(f"unexpected {function}")
