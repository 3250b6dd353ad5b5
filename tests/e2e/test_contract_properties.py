"""Property-based contract test (issue 11): generated property sets, event shapes and AWS faults
sent to the cluster handlers. Whatever is generated:

* every delivery is answered exactly once, on its own ResponseURL, with a Reason of at most 4 KB;
* a FAILED Reason about input names a property of the resource's schema;
* after a FAILED Create and CloudFormation's rollback Delete (with the id the Create answered),
  nothing is left in AWS: no live cluster, no instance, no poll rule.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import boto3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbscale.handlers import aurora_cluster, redshift_cluster
from tests.e2e.harness import CloudFormation
from tests.fakes import FailingCalls

NAMES = itertools.count()
HOSTILE = st.sampled_from(["", "1_6", "٣", "1e300", "-1", "nan", "true", "\x00", "a\x1bb", "x" * 300, "ÿ", " 2 "])
FAULTS = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from(
            [
                "CreateCluster",
                "CreateDBCluster",
                "CreateDBInstance",
                "DescribeClusters",
                "DescribeDBClusters",
                "StartExecution",
                "DescribeExecution",
                "ListExecutions",
            ]
        ),
        st.sampled_from(["ThrottlingException", "AccessDeniedException", "InternalFailure"]),
        st.integers(min_value=1, max_value=6),
    ),
)
SHAPES = st.sampled_from(["ok", "ok", "ok", "lower-case type", "no RequestType", "properties not an object"])
SETTINGS = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def _props(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    props = dict(base)
    props.update(overrides)
    return props


def _check(
    cfn: CloudFormation,
    schema: tuple[Any, ...],
    event: dict[str, Any],
    live: Any,
    lambda_timeout: float,
    heal: Any = lambda: None,
) -> None:
    cfn.lambda_timeout = lambda_timeout
    result = cfn.send(event, after_answer_seconds=120)
    assert len(result.responses) == 1, [r["Status"] for r in result.responses]
    assert len(result.reason.encode()) <= 4096
    given_props = event.get("ResourceProperties") if isinstance(event.get("ResourceProperties"), dict) else {}
    names = {p.name for p in schema} | {"RequestType", "ResourceProperties", "ServiceTimeout"} | set(given_props)
    if result.status == "FAILED" and result.reason.startswith("Invalid property"):
        assert result.reason.split()[2].rstrip(":") in names, result.reason
    if result.status == "FAILED" and event.get("RequestType") == "Create":
        props = event.get("ResourceProperties")
        props = props if isinstance(props, dict) else {}
        rollback = cfn.event("Delete", "Custom::X", {}, physical_id=result.physical_id)
        rollback["ResourceType"] = event.get("ResourceType", "Custom::X")
        rollback["ResourceProperties"] = {**props, "SkipFinalSnapshot": "true"}
        deleted = cfn.send(rollback)
        assert deleted.status == "SUCCESS", deleted.reason
        assert len(deleted.responses) == 1
    heal()
    cfn.settle()
    assert cfn.running() == [], "an execution outlived its answer"
    if result.status == "SUCCESS":
        return
    assert live() == [], f"left running after {result.reason}"


def _shape(event: dict[str, Any], shape: str) -> dict[str, Any]:
    if shape == "lower-case type":
        event["RequestType"] = event["RequestType"].lower()
    elif shape == "no RequestType":
        del event["RequestType"]
    elif shape == "properties not an object":
        event["ResourceProperties"] = json.dumps(event["ResourceProperties"])
    return event


@SETTINGS
@given(
    overrides=st.dictionaries(
        st.sampled_from(["NumberOfNodes", "NodeType", "Port", "Paused", "ResizeType", "MasterUsername", "DBName"]),
        HOSTILE,
        max_size=2,
    ),
    fault=FAULTS,
    shape=SHAPES,
    short_lambda=st.booleans(),
)
def test_redshift_handler_keeps_the_contract(
    redshift_cfn: CloudFormation,
    failing_calls: FailingCalls,
    overrides: dict[str, Any],
    fault: tuple[str, str, int] | None,
    shape: str,
    short_lambda: bool,
) -> None:
    name = f"gen-{next(NAMES)}"
    base = {"ClusterIdentifier": name, "NodeType": "ra3.xlplus", "NumberOfNodes": 2}
    for operation in ("CreateCluster", "DescribeClusters", "StartExecution", "DescribeExecution", "ListExecutions"):
        failing_calls.fail(operation, "x", times=0)
    if fault:
        failing_calls.fail(fault[0], fault[1], times=fault[2])
    event = _shape(redshift_cfn.event("Create", "Custom::RedshiftCluster", _props(base, overrides)), shape)

    def live() -> list[str]:
        clusters = boto3.client("redshift").describe_clusters()["Clusters"]
        return [c["ClusterIdentifier"] for c in clusters if c["ClusterIdentifier"] == name and c["ClusterStatus"] != "deleting"]

    def heal() -> None:  # the fault passes; CloudFormation's rollback and later firings come after it
        if fault:
            failing_calls.fail(fault[0], fault[1], times=0)

    original_send = redshift_cfn.send

    def send_then_heal(ev: dict[str, Any], **kw: Any) -> Any:
        result = original_send(ev, **kw)
        heal()
        return result

    redshift_cfn.send = send_then_heal  # type: ignore[method-assign]
    _check(redshift_cfn, redshift_cluster.SCHEMA, event, live, 120.0 if short_lambda else 900.0, heal)


@SETTINGS
@given(
    overrides=st.dictionaries(
        st.sampled_from(["ReaderCount", "InstanceClass", "Port", "Paused", "Engine", "BackupRetentionPeriod"]),
        HOSTILE,
        max_size=2,
    ),
    fault=FAULTS,
    shape=SHAPES,
)
def test_aurora_handler_keeps_the_contract(
    aurora_cfn: CloudFormation,
    failing_calls: FailingCalls,
    overrides: dict[str, Any],
    fault: tuple[str, str, int] | None,
    shape: str,
) -> None:
    name = f"gen-{next(NAMES)}"
    base = {"ClusterIdentifier": name, "InstanceClass": "db.r6g.large", "ReaderCount": 0}
    for operation in ("CreateDBCluster", "CreateDBInstance", "DescribeDBClusters", "StartExecution", "DescribeExecution"):
        failing_calls.fail(operation, "x", times=0)
    if fault:
        failing_calls.fail(fault[0], fault[1], times=fault[2])
    event = _shape(aurora_cfn.event("Create", "Custom::AuroraCluster", _props(base, overrides)), shape)
    rds = boto3.client("rds")

    def live() -> list[str]:
        clusters = [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == name]
        instances = [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"] if i.get("DBClusterIdentifier") == name]
        return clusters + instances

    original_send = aurora_cfn.send

    def send_then_heal(ev: dict[str, Any], **kw: Any) -> Any:
        result = original_send(ev, **kw)
        if fault:
            failing_calls.fail(fault[0], fault[1], times=0)
        return result

    aurora_cfn.send = send_then_heal  # type: ignore[method-assign]
    _check(aurora_cfn, aurora_cluster.SCHEMA, event, live, 900.0)
