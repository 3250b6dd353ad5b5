"""Fault injection on the N-th AWS call of each operation type, then a replay of the same request
(CloudFormation's retry, or the user re-running the stack operation): the replay converges and no
resource is duplicated (issue 11)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.e2e.harness import CloudFormation
from tests.fakes import NthCallFault

REDSHIFT = "Custom::RedshiftCluster"
AURORA = "Custom::AuroraCluster"
R_PROPS = {"ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus", "NumberOfNodes": 2}
A_PROPS = {"ClusterIdentifier": "orders", "InstanceClass": "db.r6g.large", "ReaderCount": 1}


@pytest.fixture
def nth(boto_session: boto3.Session, fake_clock: Any, monkeypatch: pytest.MonkeyPatch) -> NthCallFault:
    import botocore.endpoint

    from tests.fakes import BackoffOnClock

    monkeypatch.setattr(botocore.endpoint, "time", BackoffOnClock(fake_clock))
    fault = NthCallFault()
    fault.attach(boto_session.events)
    return fault


def replay(cfn: CloudFormation, event: dict[str, Any]) -> Any:
    again = json.loads(json.dumps(event))
    again["ResponseURL"] = cfn.server.url()
    return cfn.send(again)


def redshift_clusters() -> list[tuple[str, int]]:
    return [(c["ClusterIdentifier"], c["NumberOfNodes"]) for c in boto3.client("redshift").describe_clusters()["Clusters"]]


def aurora_members() -> tuple[list[str], int]:
    rds = boto3.client("rds")
    clusters = [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]]
    return clusters, len(rds.describe_db_instances()["DBInstances"])


@pytest.mark.parametrize("mode", ["error", "lost"])
@pytest.mark.parametrize("n", [1, 3, 8])
def test_redshift_create_and_resize_converge_after_a_fault(
    redshift_cfn: CloudFormation, nth: NthCallFault, n: int, mode: str
) -> None:
    create = redshift_cfn.event("Create", REDSHIFT, R_PROPS)
    nth.arm(n, mode)
    first = redshift_cfn.send(create)
    nth.arm(0)
    if first.status == "FAILED":
        assert first.physical_id in ("warehouse",) or first.physical_id.startswith("DBSCALE-NOT-CREATED-")
        assert replay(redshift_cfn, create).status == "SUCCESS"
    assert redshift_clusters() == [("warehouse", 2)]

    bigger = {**R_PROPS, "NumberOfNodes": 4}
    update = redshift_cfn.event("Update", REDSHIFT, bigger, physical_id="warehouse", old_properties=R_PROPS)
    nth.arm(n, mode)
    if redshift_cfn.send(update).status == "FAILED":
        nth.arm(0)
        assert replay(redshift_cfn, update).status == "SUCCESS"
    nth.arm(0)
    assert redshift_clusters() == [("warehouse", 4)]


@pytest.mark.parametrize("mode", ["error", "lost"])
@pytest.mark.parametrize("n", [2, 6])
def test_aurora_create_converges_after_a_fault(aurora_cfn: CloudFormation, nth: NthCallFault, n: int, mode: str) -> None:
    create = aurora_cfn.event("Create", AURORA, A_PROPS)
    nth.arm(n, mode)
    first = aurora_cfn.send(create)
    nth.arm(0)
    if first.status == "FAILED":
        assert replay(aurora_cfn, create).status == "SUCCESS", f"fault on {nth.hit}"
    assert aurora_members() == (["orders"], 2), f"fault on {nth.hit}"
