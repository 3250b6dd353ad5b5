"""Custom::AuroraClone end to end: CloudFormation event JSON -> handler -> response over HTTPS,
on moto with slow transitions and Aurora's clone semantics (tests/fakes/clones.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import trustme

from dbscale.core.aws import tag_dict
from dbscale.core.clones import CLONE_OF_TAG_KEY, COPY_OF_TAG_KEY, copy_identifier
from dbscale.handlers import aurora_clone
from dbscale.handlers.aurora_clone import default_clone_identifier
from tests.e2e.harness import STACK_ID, CloudFormation, ResponseServer, wired
from tests.fakes import FakeClock, SlowAws, ThrottleInjector
from tests.fakes.clones import AuroraCloneFake

TYPE = "Custom::AuroraClone"
PROPS: dict[str, Any] = {"SourceClusterId": "prod", "InstanceClass": "db.r6g.large"}
CLONE = default_clone_identifier(STACK_ID, "Clone", "prod")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "events"


@pytest.fixture
def fake(provider_env: SlowAws) -> Iterator[AuroraCloneFake]:
    with AuroraCloneFake(provider_env) as installed:
        yield installed


@pytest.fixture
def rds(boto_session: boto3.Session) -> Any:
    return boto_session.client("rds")


@pytest.fixture
def cfn(
    fake: AuroraCloneFake,
    response_server: ResponseServer,
    tls_ca: tuple[trustme.CA, str],
    boto_session: boto3.Session,
    fake_clock: FakeClock,
) -> Iterator[CloudFormation]:
    with wired(aurora_clone, response_server, tls_ca[1], boto_session, fake_clock) as driver:
        yield driver


@pytest.fixture
def source(fake: AuroraCloneFake, rds: Any) -> str:
    fake.make_source(rds, "prod")
    return "prod"


def clusters(rds: Any) -> dict[str, dict[str, Any]]:
    return {c["DBClusterIdentifier"]: c for c in rds.describe_db_clusters()["DBClusters"]}


def create(cfn: CloudFormation, props: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return cfn.send(cfn.event("Create", TYPE, PROPS if props is None else props, logical_id="Clone", **kwargs))


# --- create ----------------------------------------------------------------------------------


def test_create_clones_the_source_and_answers_with_its_endpoints(
    cfn: CloudFormation, source: str, rds: Any, fake: AuroraCloneFake, fake_clock: FakeClock
) -> None:
    result = create(cfn, {**PROPS, "Tags": [{"Key": "team", "Value": "qa"}]})

    assert result.status == "SUCCESS", result.reason
    assert result.physical_id == CLONE == "dbscale-e2e-clone-98ff7fb6"
    data = result.data
    assert data["ClusterIdentifier"] == CLONE
    assert data["ClonedFrom"] == "prod"
    assert data["Endpoint.Address"].startswith(f"{CLONE}.cluster-")
    assert data["ReadEndpoint.Address"].startswith(f"{CLONE}.cluster-ro-")
    assert data["Endpoint.Port"] == "5432"
    assert data["SecretArn"].startswith("arn:aws:secretsmanager:")
    assert data["SecretArn"] != clusters(rds)["prod"]["MasterUserSecret"]["SecretArn"]
    assert data["InProgress"] == "false"
    assert "_dbscale" not in data
    clone = clusters(rds)[CLONE]
    tags = tag_dict(clone["TagList"])
    assert tags["team"] == "qa" and tags[CLONE_OF_TAG_KEY] == "prod"
    assert tags["dbscale:cfn-logical-id"] == "Clone"
    instances = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [CLONE]}])["DBInstances"]
    assert [(i["DBInstanceClass"], i["DBInstanceStatus"]) for i in instances] == [("db.r6g.large", "available")]
    assert result.invocations > 1  # the clone and its instance outlast one invocation: polled
    assert cfn.running() == []
    assert fake.silent_full_copies == []


def test_copy_ok_makes_a_copy_and_clones_it_across_several_polls(
    cfn: CloudFormation, source: str, rds: Any, fake: AuroraCloneFake, fake_clock: FakeClock, provider_env: SlowAws
) -> None:
    fake.add_clones(rds, "prod", 15)
    fake.make_copy(rds, "prod", "prod-copy-old", age_hours=40)
    fake.settle()
    fake.snapshot_seconds = 300
    provider_env.set_duration("aurora", "restore", 900)
    started = fake_clock.utc()

    result = create(cfn, {**PROPS, "CopyOk": True, "MaxCopyAgeHours": 24, "PurgeObsoleteCopies": True})

    assert result.status == "SUCCESS", result.reason
    copy_id = copy_identifier("prod", started)
    assert result.data["ClonedFrom"] == copy_id
    assert result.invocations >= 3
    assert result.sent_at is not None and result.started_at is not None
    assert result.sent_at - result.started_at < 3600
    assert tag_dict(clusters(rds)[copy_id]["TagList"])[COPY_OF_TAG_KEY] == "prod"
    assert "prod-copy-old" not in clusters(rds)  # purged: too old, no clones
    assert fake.silent_full_copies == []


def test_a_copy_longer_than_the_deadline_fails_in_time_and_a_retry_uses_that_copy(
    cfn: CloudFormation, source: str, rds: Any, fake: AuroraCloneFake, fake_clock: FakeClock
) -> None:
    fake.add_clones(rds, "prod", 15)
    props = {**PROPS, "CopyOk": True, "MaxCopyAgeHours": 24}
    first = create(cfn, props, service_timeout=1800)

    assert first.status == "FAILED"
    assert first.sent_at is not None and first.started_at is not None
    assert first.sent_at - first.started_at < 1800
    assert "ServiceTimeout" in first.reason
    assert first.physical_id == CLONE  # the rollback Delete finds nothing to delete yet
    deleted = cfn.send(cfn.event("Delete", TYPE, props, logical_id="Clone", physical_id=first.physical_id))
    assert deleted.status == "SUCCESS", deleted.reason

    retry = create(cfn, props)  # the copy went on in AWS meanwhile: the retry clones it

    assert retry.status == "SUCCESS", retry.reason
    copies = [n for n, c in clusters(rds).items() if tag_dict(c["TagList"]).get(COPY_OF_TAG_KEY) == "prod"]
    assert len(copies) == 1 and retry.data["ClonedFrom"] == copies[0]


def test_no_free_slot_fails_naming_the_copies_and_their_ages(
    cfn: CloudFormation, source: str, rds: Any, fake: AuroraCloneFake
) -> None:
    fake.add_clones(rds, "prod", 15)
    fake.make_copy(rds, "prod", "prod-copy-a", age_hours=30)
    fake.settle(60)

    result = create(cfn, {**PROPS, "MaxCopyAgeHours": 24})

    assert result.status == "FAILED"
    assert "cannot clone 'prod'" in result.reason and "15 of 15 clones" in result.reason
    assert "'prod-copy-a' (30." in result.reason and "too old" in result.reason
    assert result.physical_id.startswith("DBSCALE-NOT-CREATED-")
    deleted = cfn.send(cfn.event("Delete", TYPE, PROPS, logical_id="Clone", physical_id=result.physical_id))
    assert deleted.status == "SUCCESS"
    assert CLONE not in clusters(rds)


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"SourceClusterId": "prod"}, "Invalid property InstanceClass: InstanceClass is required"),
        ({**PROPS, "CopyCreatedSince": "last tuesday"}, "Invalid property CopyCreatedSince"),
        ({**PROPS, "MaxCopyAgeHours": "0"}, "Invalid property MaxCopyAgeHours"),
        ({**PROPS, "CopyOk": "maybe"}, "Invalid property CopyOk"),
        ({**PROPS, "InstanceClass": "db.m1.small"}, "Invalid property InstanceClass"),
        ({**PROPS, "CloneClusterIdentifier": "Not_Valid"}, "Invalid property CloneClusterIdentifier"),
        ({**PROPS, "ClusterIdentifier": "x"}, "Invalid property ClusterIdentifier: unknown property"),
        ({**PROPS, "SourceClusterId": "missing"}, "source Aurora cluster 'missing' does not exist"),
    ],
)
def test_bad_input_fails_with_a_reason(
    cfn: CloudFormation, source: str, rds: Any, props: dict[str, Any], expected: str
) -> None:
    before = sorted(clusters(rds))
    result = create(cfn, props)
    assert result.status == "FAILED"
    assert expected in result.reason, result.reason
    assert result.physical_id.startswith("DBSCALE-NOT-CREATED-")
    assert sorted(clusters(rds)) == before


def test_duplicate_create_makes_one_clone(cfn: CloudFormation, source: str, rds: Any, fake: AuroraCloneFake) -> None:
    request_id = str(uuid.uuid4())
    first = create(cfn, request_id=request_id)
    second = create(cfn, request_id=request_id)
    assert (first.status, second.status) == ("SUCCESS", "SUCCESS")
    assert first.physical_id == second.physical_id == CLONE
    assert [kind for kind, origin, _ in fake.restores if origin == "prod"] == ["clone"]


def test_create_over_a_cluster_it_does_not_own_fails(
    cfn: CloudFormation, source: str, fake: AuroraCloneFake, rds: Any
) -> None:
    fake.make_source(rds, "taken")
    result = create(cfn, {**PROPS, "CloneClusterIdentifier": "taken"})
    assert result.status == "FAILED"
    assert "'taken' already exists and was not created by this resource" in result.reason


def test_wait_for_completion_false_answers_once_everything_is_requested(
    cfn: CloudFormation, source: str, rds: Any
) -> None:
    result = create(cfn, {**PROPS, "WaitForCompletion": False})
    assert result.status == "SUCCESS", result.reason
    assert result.data["InProgress"] == "true"
    instances = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [CLONE]}])["DBInstances"]
    assert [i["DBInstanceStatus"] for i in instances] == ["creating"]


def test_throttling_on_30_percent_of_calls_still_clones(
    cfn: CloudFormation, source: str, rds: Any, throttle: ThrottleInjector
) -> None:
    result = create(cfn)
    assert result.status == "SUCCESS", result.reason
    assert throttle.injected > 0


# --- update ----------------------------------------------------------------------------------


def test_update_changes_instance_class_and_tags_in_place(cfn: CloudFormation, source: str, rds: Any) -> None:
    old = {**PROPS, "Tags": [{"Key": "team", "Value": "qa"}, {"Key": "gone", "Value": "soon"}]}
    assert create(cfn, old).status == "SUCCESS"
    new = {**PROPS, "InstanceClass": "db.r6g.xlarge", "Tags": [{"Key": "team", "Value": "perf"}]}

    result = cfn.send(cfn.event("Update", TYPE, new, logical_id="Clone", physical_id=CLONE, old_properties=old))

    assert result.status == "SUCCESS", result.reason
    assert result.physical_id == CLONE
    tags = tag_dict(clusters(rds)[CLONE]["TagList"])
    assert tags["team"] == "perf" and "gone" not in tags and tags[CLONE_OF_TAG_KEY] == "prod"
    instances = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [CLONE]}])["DBInstances"]
    assert [i["DBInstanceClass"] for i in instances] == ["db.r6g.xlarge"]


def test_new_source_with_a_derived_identifier_replaces_the_clone(
    cfn: CloudFormation, source: str, rds: Any, fake: AuroraCloneFake
) -> None:
    assert create(cfn).status == "SUCCESS"
    fake.make_source(rds, "staging")
    new = {**PROPS, "SourceClusterId": "staging"}

    result = cfn.send(cfn.event("Update", TYPE, new, logical_id="Clone", physical_id=CLONE, old_properties=PROPS))

    assert result.status == "SUCCESS", result.reason
    replacement = default_clone_identifier(STACK_ID, "Clone", "staging")
    assert result.physical_id == replacement != CLONE
    assert result.data["ClonedFrom"] == "staging"
    # CloudFormation then deletes the old one.
    old_gone = cfn.send(cfn.event("Delete", TYPE, PROPS, logical_id="Clone", physical_id=CLONE))
    assert old_gone.status == "SUCCESS"
    assert CLONE not in clusters(rds) and replacement in clusters(rds)


def test_new_source_with_a_fixed_identifier_is_refused(
    cfn: CloudFormation, source: str, fake: AuroraCloneFake, rds: Any
) -> None:
    fixed = {**PROPS, "CloneClusterIdentifier": "qa-clone"}
    assert create(cfn, fixed).status == "SUCCESS"
    fake.make_source(rds, "staging")
    moved = {**fixed, "SourceClusterId": "staging"}
    result = cfn.send(
        cfn.event("Update", TYPE, moved, logical_id="Clone", physical_id="qa-clone", old_properties=fixed)
    )
    assert result.status == "FAILED"
    assert "SourceClusterId cannot change in place" in result.reason
    assert tag_dict(clusters(rds)["qa-clone"]["TagList"])[CLONE_OF_TAG_KEY] == "prod"


# --- delete ----------------------------------------------------------------------------------


def test_delete_removes_the_clone_without_a_final_snapshot(cfn: CloudFormation, source: str, rds: Any) -> None:
    assert create(cfn).status == "SUCCESS"
    result = cfn.send(cfn.event("Delete", TYPE, PROPS, logical_id="Clone", physical_id=CLONE))
    assert result.status == "SUCCESS", result.reason
    assert CLONE not in clusters(rds) and "prod" in clusters(rds)
    assert rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"] == []
    assert cfn.running() == []


def test_delete_with_final_snapshot_keeps_one(cfn: CloudFormation, source: str, rds: Any) -> None:
    props = {**PROPS, "FinalSnapshot": True}
    assert create(cfn, props).status == "SUCCESS"
    assert cfn.send(cfn.event("Delete", TYPE, props, logical_id="Clone", physical_id=CLONE)).status == "SUCCESS"
    snapshots = rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert [s["DBClusterSnapshotIdentifier"].startswith(f"{CLONE}-final-") for s in snapshots] == [True]


def test_delete_of_a_missing_clone_succeeds(cfn: CloudFormation, source: str) -> None:
    result = cfn.send(cfn.event("Delete", TYPE, PROPS, logical_id="Clone", physical_id="never-made"))
    assert result.status == "SUCCESS", result.reason


def test_delete_leaves_a_cluster_this_resource_did_not_create(cfn: CloudFormation, source: str, rds: Any) -> None:
    result = cfn.send(cfn.event("Delete", TYPE, PROPS, logical_id="Clone", physical_id="prod"))
    assert result.status == "SUCCESS", result.reason
    assert clusters(rds)["prod"]["Status"] == "available"


# --- the example events ----------------------------------------------------------------------


def example(name: str, cfn: CloudFormation) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    event["ResponseURL"] = cfn.server.url()
    event["RequestId"] = str(uuid.uuid4())
    return event


def test_the_example_events_run_through_the_handler(
    cfn: CloudFormation, fake: AuroraCloneFake, rds: Any, fake_clock: FakeClock
) -> None:
    fake.make_source(rds, "example-orders")

    created = cfn.send(example("aurora-clone-create.json", cfn))
    assert created.status == "SUCCESS", created.reason
    assert created.data["ClonedFrom"] == "example-orders"
    updated_event = example("aurora-clone-update.json", cfn)
    assert created.physical_id == updated_event["PhysicalResourceId"]

    updated = cfn.send(updated_event)
    assert updated.status == "SUCCESS", updated.reason
    assert tag_dict(clusters(rds)[created.physical_id]["TagList"])["purpose"] == "load-test"

    deleted = cfn.send(example("aurora-clone-delete.json", cfn))
    assert deleted.status == "SUCCESS", deleted.reason
    assert created.physical_id not in clusters(rds)


def test_the_example_template_uses_only_known_properties_and_attributes(cfn: CloudFormation, source: str) -> None:
    from cfnlint.decode import decode_str

    template, problems = decode_str((EXAMPLES.parent / "aurora-clone.yaml").read_text())
    assert not problems
    resource = template["Resources"]["Clone"]
    assert resource["Type"] == TYPE
    assert resource["Properties"]["ServiceToken"] == {"Fn::ImportValue": "dbscale-AuroraCloneServiceToken"}
    known = {prop.name for prop in aurora_clone.SCHEMA} | {"ServiceToken", "ServiceTimeout"}
    assert set(resource["Properties"]) <= known
    created = create(cfn)
    assert created.status == "SUCCESS", created.reason
    used = {o["Value"]["Fn::GetAtt"][1] for o in template["Outputs"].values()}
    assert used <= set(created.data)
