"""Custom::AuroraCluster's Data API (EnableHttpEndpoint) and auto-pause delay
(ServerlessV2SecondsUntilAutoPause), end to end on moto (its gaps filled by tests/fakes/data_api.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.e2e.harness import CloudFormation
from tests.fakes.data_api import DataApiFake, install

TYPE = "Custom::AuroraCluster"
SERVERLESS = {
    "ClusterIdentifier": "telemetry",
    "Engine": "aurora-mysql",
    "EngineVersion": "8.0.mysql_aurora.3.08.0",
    "InstanceClass": "db.serverless",
    "ServerlessV2MinCapacity": 0,
    "ServerlessV2MaxCapacity": 4,
    "ServerlessV2SecondsUntilAutoPause": 600,
    "EnableHttpEndpoint": True,
}


@pytest.fixture
def cfn(aurora_cfn: CloudFormation) -> Iterator[CloudFormation]:
    fake: DataApiFake
    with install() as fake:
        assert fake is not None
        yield aurora_cfn


def cluster() -> dict[str, Any]:
    return dict(boto3.client("rds").describe_db_clusters(DBClusterIdentifier="telemetry")["DBClusters"][0])


def test_data_api_and_auto_pause_on_create_and_update(cfn: CloudFormation) -> None:
    created = cfn.send(cfn.event("Create", TYPE, SERVERLESS))
    assert created.status == "SUCCESS", created.reason
    assert created.data["HttpEndpointEnabled"] == "true"
    described = cluster()
    assert described["HttpEndpointEnabled"] is True
    assert described["ServerlessV2ScalingConfiguration"]["SecondsUntilAutoPause"] == 600

    wider = {**SERVERLESS, "ServerlessV2MaxCapacity": 8}  # a range change keeps the delay
    result = cfn.send(cfn.event("Update", TYPE, wider, physical_id="telemetry", old_properties=SERVERLESS))
    assert result.status == "SUCCESS", result.reason
    assert cluster()["ServerlessV2ScalingConfiguration"] == {
        "MinCapacity": 0.0,
        "MaxCapacity": 8.0,
        "SecondsUntilAutoPause": 600,
    }

    changed = {**wider, "ServerlessV2SecondsUntilAutoPause": 3600, "EnableHttpEndpoint": False}
    result = cfn.send(cfn.event("Update", TYPE, changed, physical_id="telemetry", old_properties=wider))
    assert result.status == "SUCCESS", result.reason
    assert result.data["HttpEndpointEnabled"] == "false"
    described = cluster()
    assert described["HttpEndpointEnabled"] is False
    assert described["ServerlessV2ScalingConfiguration"]["SecondsUntilAutoPause"] == 3600


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ServerlessV2MinCapacity": 0.5}, "needs ServerlessV2MinCapacity 0"),
        ({"ServerlessV2SecondsUntilAutoPause": 120}, "out of range: allowed 300 to 86400 seconds"),
        ({"ServerlessV2SecondsUntilAutoPause": "soon"}, "must be a whole number"),
    ],
)
def test_bad_auto_pause_fails_before_anything_is_created(
    cfn: CloudFormation, change: dict[str, Any], message: str
) -> None:
    result = cfn.send(cfn.event("Create", TYPE, {**SERVERLESS, **change}))
    assert result.status == "FAILED" and message in result.reason
    assert boto3.client("rds").describe_db_clusters()["DBClusters"] == []


def test_an_engine_version_without_the_data_api_is_refused_by_aws(cfn: CloudFormation) -> None:
    old = {**SERVERLESS, "EngineVersion": "8.0.mysql_aurora.3.05.2", "ServerlessV2MinCapacity": 0.5}
    del old["ServerlessV2SecondsUntilAutoPause"]
    result = cfn.send(cfn.event("Create", TYPE, old))
    assert result.status == "FAILED" and "does not support the Data API" in result.reason
