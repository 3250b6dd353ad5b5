"""Custom::RedshiftCluster end to end: CloudFormation event JSON -> handler -> response over HTTPS."""

from __future__ import annotations

from typing import Any

import logging

import boto3
import pytest

from tests.e2e.harness import CloudFormation
from tests.fakes import FakeClock, SlowAws, ThrottleInjector

TYPE = "Custom::RedshiftCluster"
PROPS = {"ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus", "NumberOfNodes": 2}


def cluster(name: str = "warehouse") -> dict:
    return boto3.client("redshift").describe_clusters(ClusterIdentifier=name)["Clusters"][0]


def clusters() -> list[str]:
    return [c["ClusterIdentifier"] for c in boto3.client("redshift").describe_clusters()["Clusters"]]


def snapshots() -> list[str]:
    return [s["SnapshotIdentifier"] for s in boto3.client("redshift").describe_cluster_snapshots()["Snapshots"]]


def test_full_lifecycle(redshift_cfn: CloudFormation, fake_clock: FakeClock) -> None:
    created = redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS))
    assert created.status == "SUCCESS", created.reason
    assert created.physical_id == "warehouse"
    assert created.data["NodeType"] == "ra3.xlplus"
    assert created.data["NumberOfNodes"] == "2"
    assert created.data["Paused"] == "false"
    assert created.data["Adopted"] == "false"
    assert created.data["Endpoint.Port"] == "5439"
    assert created.data["Endpoint.Address"].startswith("warehouse.")
    assert created.data["SecretArn"].startswith("arn:aws:secretsmanager:")
    assert "_dbscale" not in created.data
    # The fake keeps the cluster 'creating' for 10 simulated minutes: the handler waited for it.
    assert fake_clock.elapsed >= 600

    bigger = {**PROPS, "NumberOfNodes": 4}
    resized = redshift_cfn.send(redshift_cfn.event("Update", TYPE, bigger, physical_id="warehouse", old_properties=PROPS))
    assert resized.status == "SUCCESS", resized.reason
    assert resized.physical_id == "warehouse"
    assert resized.data["NumberOfNodes"] == "4"
    assert cluster()["NumberOfNodes"] == 4

    paused = {**bigger, "Paused": True}
    result = redshift_cfn.send(redshift_cfn.event("Update", TYPE, paused, physical_id="warehouse", old_properties=bigger))
    assert result.status == "SUCCESS", result.reason
    assert result.data["Paused"] == "true"
    assert cluster()["ClusterStatus"] == "paused"

    result = redshift_cfn.send(redshift_cfn.event("Update", TYPE, bigger, physical_id="warehouse", old_properties=paused))
    assert result.status == "SUCCESS", result.reason
    assert cluster()["ClusterStatus"] == "available"

    deleted = redshift_cfn.send(redshift_cfn.event("Delete", TYPE, bigger, physical_id="warehouse"))
    assert deleted.status == "SUCCESS", deleted.reason
    assert clusters() == []
    assert [s for s in snapshots() if s.startswith("warehouse-final-")], snapshots()
    assert redshift_cfn.running() == []


def test_create_paused(redshift_cfn: CloudFormation) -> None:
    result = redshift_cfn.send(redshift_cfn.event("Create", TYPE, {**PROPS, "Paused": True}))
    assert result.status == "SUCCESS", result.reason
    assert result.data["Paused"] == "true"
    assert cluster()["ClusterStatus"] == "paused"


def test_rescale_of_paused_cluster_resumes_resizes_and_pauses(redshift_cfn: CloudFormation) -> None:
    paused = {**PROPS, "Paused": True}
    assert redshift_cfn.send(redshift_cfn.event("Create", TYPE, paused)).status == "SUCCESS"
    bigger = {**paused, "NumberOfNodes": 3}
    result = redshift_cfn.send(redshift_cfn.event("Update", TYPE, bigger, physical_id="warehouse", old_properties=paused))
    assert result.status == "SUCCESS", result.reason
    assert (cluster()["NumberOfNodes"], cluster()["ClusterStatus"]) == (3, "paused")


def test_replacement_creates_new_cluster_and_old_is_deleted_with_snapshot(redshift_cfn: CloudFormation) -> None:
    assert redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS)).status == "SUCCESS"
    renamed = {**PROPS, "ClusterIdentifier": "warehouse-v2"}
    result = redshift_cfn.send(redshift_cfn.event("Update", TYPE, renamed, physical_id="warehouse", old_properties=PROPS))
    assert result.status == "SUCCESS", result.reason
    assert result.physical_id == "warehouse-v2"
    assert sorted(clusters()) == ["warehouse", "warehouse-v2"]
    # CloudFormation then deletes the old physical id, with the old properties.
    deleted = redshift_cfn.send(redshift_cfn.event("Delete", TYPE, PROPS, physical_id="warehouse"))
    assert deleted.status == "SUCCESS", deleted.reason
    assert clusters() == ["warehouse-v2"]
    assert any(s.startswith("warehouse-final-") for s in snapshots())


@pytest.mark.parametrize(
    ("name", "value"),
    [("DBName", "other"), ("MasterUsername", "root"), ("Encrypted", False), ("KmsKeyId", "alias/other")],
)
def test_immutable_change_is_rejected(redshift_cfn: CloudFormation, name: str, value: object) -> None:
    assert redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS)).status == "SUCCESS"
    changed = {**PROPS, name: value, "NumberOfNodes": 4}
    result = redshift_cfn.send(redshift_cfn.event("Update", TYPE, changed, physical_id="warehouse", old_properties=PROPS))
    assert result.status == "FAILED"
    assert result.reason.startswith(f"Invalid property {name}:")
    assert "new ClusterIdentifier" in result.reason
    assert result.physical_id == "warehouse"
    assert cluster()["NumberOfNodes"] == 2  # nothing changed


def test_delete_after_failed_create_touches_nothing(redshift_cfn: CloudFormation) -> None:
    failed = redshift_cfn.send(redshift_cfn.event("Create", TYPE, {**PROPS, "NodeType": "ra3.huge"}))
    assert failed.status == "FAILED"
    assert failed.physical_id.startswith("DBSCALE-NOT-CREATED-")
    deleted = redshift_cfn.send(redshift_cfn.event("Delete", TYPE, {**PROPS, "NodeType": "ra3.huge"}, physical_id=failed.physical_id))
    assert deleted.status == "SUCCESS", deleted.reason
    assert clusters() == []


def test_create_of_existing_cluster_fails_and_its_delete_leaves_it(redshift_cfn: CloudFormation) -> None:
    boto3.client("redshift").create_cluster(
        ClusterIdentifier="warehouse", NodeType="ra3.xlplus", NumberOfNodes=2, MasterUsername="admin",
        MasterUserPassword="Passw0rd!Passw0rd", ClusterType="multi-node",
    )
    failed = redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS))
    assert failed.status == "FAILED"
    assert "already exists" in failed.reason and "AdoptExisting" in failed.reason
    assert failed.physical_id != "warehouse"  # the rollback Delete must not find the foreign cluster
    deleted = redshift_cfn.send(redshift_cfn.event("Delete", TYPE, PROPS, physical_id=failed.physical_id))
    assert deleted.status == "SUCCESS"
    assert clusters() == ["warehouse"]


def test_adoption_brings_to_declared_state_and_is_never_deleted(redshift_cfn: CloudFormation, allow_guardrails: Any) -> None:
    allow_guardrails(adopt_prefixes=["ware"], allow_unencrypted=True, allow_tls_off=True)  # a legacy cluster
    boto3.client("redshift").create_cluster(
        ClusterIdentifier="warehouse", NodeType="ra3.xlplus", NumberOfNodes=2, MasterUsername="admin",
        MasterUserPassword="Passw0rd!Passw0rd", ClusterType="multi-node",
    )
    adopted = {**PROPS, "AdoptExisting": True, "NumberOfNodes": 3}
    result = redshift_cfn.send(redshift_cfn.event("Create", TYPE, adopted))
    assert result.status == "SUCCESS", result.reason
    assert result.data["Adopted"] == "true"
    assert cluster()["NumberOfNodes"] == 3
    deleted = redshift_cfn.send(redshift_cfn.event("Delete", TYPE, adopted, physical_id="warehouse"))
    assert deleted.status == "SUCCESS"
    assert clusters() == ["warehouse"]


def test_duplicate_create_makes_one_cluster(redshift_cfn: CloudFormation) -> None:
    event = redshift_cfn.event("Create", TYPE, PROPS)
    first = redshift_cfn.send(event)
    again = dict(event, ResponseURL=redshift_cfn.server.url())
    second = redshift_cfn.send(again)
    assert (first.status, second.status) == ("SUCCESS", "SUCCESS")
    assert first.physical_id == second.physical_id == "warehouse"
    assert clusters() == ["warehouse"]


def test_long_resize_completes_through_polling(redshift_cfn: CloudFormation, provider_env: SlowAws) -> None:
    provider_env.set_duration("redshift", "elastic_resize", 1800)
    assert redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS)).status == "SUCCESS"
    bigger = {**PROPS, "NumberOfNodes": 4}  # an elastic resize the fake makes last 30 simulated minutes
    result = redshift_cfn.send(redshift_cfn.event("Update", TYPE, bigger, physical_id="warehouse", old_properties=PROPS))
    assert result.status == "SUCCESS", result.reason
    assert result.invocations > 1  # outlived one 15-minute Lambda: finished by EventBridge polls
    assert cluster()["NumberOfNodes"] == 4
    assert redshift_cfn.running() == []  # the poll rule is removed once answered
    # Answered within seconds of the resize finishing, not at the next 2-minute crhelper poll.
    assert result.sent_at is not None and result.started_at is not None
    assert result.sent_at - result.started_at < 1800 + 15
    assert result.data["PlanMethod"] == "elastic" and result.data["PlanMinutes"] == "10-15"


def test_classic_resize_without_a_completion_signal_fails_before_it_starts(redshift_cfn: CloudFormation) -> None:
    assert redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS)).status == "SUCCESS"
    retyped = {**PROPS, "NodeType": "ra3.4xlarge"}  # a node type change: classic resize, hours by AWS's figures
    result = redshift_cfn.send(redshift_cfn.event("Update", TYPE, retyped, physical_id="warehouse", old_properties=PROPS))
    assert result.status == "FAILED"
    assert "nothing was started" in result.reason and "CompletionSignalUrl" in result.reason
    assert "120 to 2880 minutes" in result.reason
    assert (cluster()["ClusterStatus"], cluster()["NodeType"]) == ("available", "ra3.xlplus")


def test_operation_that_outlives_the_deadline_is_answered_before_it(redshift_cfn: CloudFormation) -> None:
    assert redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS)).status == "SUCCESS"
    retyped = {**PROPS, "NodeType": "ra3.4xlarge"}
    event = redshift_cfn.event("Update", TYPE, retyped, physical_id="warehouse", old_properties=PROPS, service_timeout=1200)
    result = redshift_cfn.send(event)
    assert result.status == "FAILED"
    assert result.sent_at is not None and result.started_at is not None
    assert result.sent_at - result.started_at < 1200
    assert "ServiceTimeout" in result.reason and "resiz" in result.reason
    assert redshift_cfn.running() == []


def test_rollback_waits_for_the_running_resize_then_restores(
    redshift_cfn: CloudFormation, provider_env: SlowAws
) -> None:
    provider_env.set_duration("redshift", "elastic_resize", 1800)
    assert redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS)).status == "SUCCESS"
    bigger = {**PROPS, "NumberOfNodes": 4}
    failed = redshift_cfn.send(
        redshift_cfn.event("Update", TYPE, bigger, physical_id="warehouse", old_properties=PROPS, service_timeout=1200)
    )
    assert failed.status == "FAILED"
    assert cluster()["ClusterStatus"] == "resizing"
    # CloudFormation rolls back: an Update carrying the old properties.
    rollback = redshift_cfn.send(redshift_cfn.event("Update", TYPE, PROPS, physical_id="warehouse", old_properties=bigger))
    assert rollback.status == "SUCCESS", rollback.reason
    assert (cluster()["NodeType"], cluster()["NumberOfNodes"]) == ("ra3.xlplus", 2)


def test_wait_for_completion_false_answers_once_accepted(redshift_cfn: CloudFormation) -> None:
    result = redshift_cfn.send(redshift_cfn.event("Create", TYPE, {**PROPS, "WaitForCompletion": False}))
    assert result.status == "SUCCESS", result.reason
    assert result.data["InProgress"] == "true"
    assert result.data["Status"] == "creating"
    assert result.invocations == 1


def test_throttling_on_30_percent_of_calls_still_converges(redshift_cfn: CloudFormation, throttle: ThrottleInjector) -> None:
    created = redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS))
    assert created.status == "SUCCESS", created.reason
    bigger = {**PROPS, "NumberOfNodes": 4, "Paused": True}
    result = redshift_cfn.send(redshift_cfn.event("Update", TYPE, bigger, physical_id="warehouse", old_properties=PROPS))
    assert result.status == "SUCCESS", result.reason
    deleted = redshift_cfn.send(redshift_cfn.event("Delete", TYPE, bigger, physical_id="warehouse"))
    assert deleted.status == "SUCCESS", deleted.reason
    assert throttle.injected > 0
    assert clusters() == []


def test_response_is_retried_after_http_500_and_sent_once(redshift_cfn: CloudFormation) -> None:
    redshift_cfn.server.fail_next = 2
    result = redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS))
    assert result.status == "SUCCESS"
    assert len(result.responses) == 1


def test_logs_never_contain_the_response_url(redshift_cfn: CloudFormation, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS))
    redshift_cfn.send(redshift_cfn.event("Create", TYPE, {**PROPS, "ClusterIdentifier": "Bad_Name"}))
    assert "X-Amz-Signature" not in caplog.text
    assert "cloudformation-custom-resource-response" not in caplog.text


def test_autoscaled_cluster_keeps_the_autoscalers_size_across_deploys(redshift_cfn: CloudFormation) -> None:
    from dbscale.core import RedshiftProvisioning

    declared = {**PROPS, "Autoscaled": True}
    assert redshift_cfn.send(redshift_cfn.event("Create", TYPE, declared)).status == "SUCCESS"
    # The autoscaler grows the cluster outside the stack.
    RedshiftProvisioning("warehouse", clock=redshift_cfn.clock).rescale(new_cluster_size=4)
    # A deploy that changes something else (Paused) but not the size keeps the autoscaler's size.
    paused = {**declared, "Paused": True}
    result = redshift_cfn.send(redshift_cfn.event("Update", TYPE, paused, physical_id="warehouse", old_properties=declared))
    assert result.status == "SUCCESS", result.reason
    assert (cluster()["NumberOfNodes"], cluster()["ClusterStatus"]) == (4, "paused")
    # Changing the declared size is an explicit instruction and is applied.
    resized = {**paused, "NumberOfNodes": 3}
    result = redshift_cfn.send(redshift_cfn.event("Update", TYPE, resized, physical_id="warehouse", old_properties=paused))
    assert result.status == "SUCCESS", result.reason
    assert cluster()["NumberOfNodes"] == 3
