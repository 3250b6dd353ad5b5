"""AutoscalePolicy, Thresholds, ClusterRef, Decision and AutoscalerConfig: validation and JSON, no AWS."""

from __future__ import annotations

import json

import pytest

from dbscale.core.autoscale import (
    ACTIONS,
    AutoscalePolicy,
    AutoscalerConfig,
    ClusterRef,
    Decision,
    MemoryStateStore,
    Thresholds,
)
from dbscale.core.errors import InvalidRequest
from dbscale.core.limits import REDSHIFT_NODE_TYPES


def test_the_default_policy_is_valid_and_aims_for_the_middle_of_each_band() -> None:
    policy = AutoscalePolicy()
    t = policy.thresholds
    assert t.cpu_target == (t.cpu_high + t.cpu_low) / 2
    assert policy.redshift_min_nodes <= policy.redshift_max_nodes
    assert not policy.manages_readers


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"redshift_min_nodes": 1}, "redshift_min_nodes"),
        ({"redshift_min_nodes": 6, "redshift_max_nodes": 4}, "redshift_min_nodes"),
        ({"redshift_min_nodes": 2.5}, "redshift_min_nodes"),
        ({"redshift_max_nodes": 1000}, "redshift_max_nodes"),
        ({"aurora_instance_classes": ("db.r6g.xlarge", "db.r6g.large")}, "aurora_instance_classes[1]"),
        ({"aurora_instance_classes": ("db.r6g.large", "db.nope")}, "aurora_instance_classes[1]"),
        ({"aurora_instance_classes": ("db.serverless",)}, "aurora_instance_classes[0]"),
        ({"aurora_instance_classes": "db.r6g.large"}, "aurora_instance_classes"),
        ({"aurora_acu_range": (8, 4)}, "aurora_acu_range[0]"),
        ({"aurora_acu_range": (0.5, 4)}, "aurora_acu_range[0]"),
        ({"aurora_acu_range": (1, 300)}, "aurora_acu_range[1]"),
        ({"aurora_acu_range": (1, 4.2)}, "aurora_acu_range[1]"),
        ({"aurora_min_readers": 1}, "aurora_max_readers"),
        ({"aurora_min_readers": 3, "aurora_max_readers": 2}, "aurora_min_readers"),
        ({"aurora_min_readers": 0, "aurora_max_readers": 16}, "aurora_max_readers"),
        ({"window_minutes": 0}, "window_minutes"),
        ({"evaluation_interval_minutes": 61}, "evaluation_interval_minutes"),
        ({"cooldown_minutes": -1}, "cooldown_minutes"),
        ({"idle_pause_minutes": 0}, "idle_pause_minutes"),
        ({"idle_cpu_percent": 30}, "idle_cpu_percent"),
        ({"resume_catalog": ""}, "resume_catalog"),
        ({"redshift_query_checks": "yes"}, "redshift_query_checks"),
    ],
)
def test_an_invalid_policy_is_refused_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        AutoscalePolicy(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_redshift_bounds_are_checked_against_the_node_types_elastic_limits() -> None:
    spec = REDSHIFT_NODE_TYPES["ra3.xlplus"]
    policy = AutoscalePolicy(
        redshift_min_nodes=2, redshift_max_nodes=spec.elastic_max_nodes, redshift_node_type="ra3.xlplus"
    )
    assert policy.redshift_bounds("ra3.xlplus") == (2, spec.elastic_max_nodes)
    small = REDSHIFT_NODE_TYPES["dc2.large"]
    too_many = AutoscalePolicy(redshift_max_nodes=small.elastic_max_nodes + 1)
    with pytest.raises(InvalidRequest) as err:
        too_many.redshift_bounds("dc2.large")
    assert err.value.field == "redshift_max_nodes"
    with pytest.raises(InvalidRequest):
        AutoscalePolicy(redshift_max_nodes=small.elastic_max_nodes + 1, redshift_node_type="dc2.large")
    with pytest.raises(InvalidRequest) as err:
        AutoscalePolicy(redshift_node_type="ra3.huge")
    assert err.value.field == "redshift_node_type"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"cpu_low": 80}, "thresholds.cpu_low"),
        ({"memory_low": 90}, "thresholds.memory_low"),
        ({"spill_low": 10}, "thresholds.spill_low"),
        ({"disk_low": 85}, "thresholds.disk_low"),
        ({"cpu_high": 101}, "thresholds.cpu_high"),
        ({"latency_high_ms": 0}, "thresholds.latency_high_ms"),
        ({"slow_query_seconds": float("nan")}, "thresholds.slow_query_seconds"),
    ],
)
def test_thresholds_need_a_band_between_low_and_high(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        Thresholds(**kwargs)
    assert err.value.field == field


def test_policy_json_round_trips_and_rejects_unknown_keys() -> None:
    policy = AutoscalePolicy(
        redshift_min_nodes=2,
        redshift_max_nodes=16,
        aurora_instance_classes=("db.r6g.large", "db.r6g.xlarge", "db.r6g.2xlarge"),
        aurora_acu_range=(1, 32),
        aurora_min_readers=0,
        aurora_max_readers=3,
        thresholds=Thresholds(cpu_high=80, cpu_low=20),
        resume_catalog="sales",
        redshift_query_checks=True,
    )
    text = json.dumps(policy.to_dict())
    assert AutoscalePolicy.from_dict(json.loads(text)) == policy
    with pytest.raises(InvalidRequest) as err:
        AutoscalePolicy.from_dict({**policy.to_dict(), "max_nodes": 3})
    assert err.value.field == "policy.max_nodes"
    with pytest.raises(InvalidRequest) as err:
        AutoscalePolicy.from_dict({"thresholds": {"cpu": 3}})
    assert err.value.field == "thresholds.cpu"


def test_config_json_round_trips() -> None:
    config = AutoscalerConfig(
        policy=AutoscalePolicy(),
        clusters=(ClusterRef.redshift("warehouse"), ClusterRef.aurora("orders", declared_paused=True)),
        dry_run=True,
    )
    assert AutoscalerConfig.from_json(json.dumps(config.to_dict())) == config
    with pytest.raises(InvalidRequest):
        AutoscalerConfig.from_json("{not json")
    with pytest.raises(InvalidRequest):
        AutoscalerConfig.from_dict({"clusters": [{"service": "dynamodb", "name": "x"}]})


def test_cluster_refs_and_decisions_are_validated() -> None:
    with pytest.raises(InvalidRequest):
        ClusterRef("redshift", "Not_Valid")
    with pytest.raises(InvalidRequest):
        Decision(cluster="a", service="redshift", action="explode", reason="")
    assert set(ACTIONS) == {"none", "scale_up", "scale_down", "pause", "resume", "stop_again", "skip_busy"}


def test_a_decision_describes_its_change_in_words() -> None:
    up = Decision(
        cluster="rs",
        service="redshift",
        action="scale_up",
        reason="overused",
        current={"nodes": 2, "paused": False},
        target={"nodes": 4},
    )
    assert up.change == "2 -> 4 nodes" and up.changes
    assert up.summary() == "redshift cluster 'rs': scale_up (2 -> 4 nodes): overused"
    stop = Decision(
        cluster="au",
        service="aurora",
        action="stop_again",
        reason="x",
        current={"paused": False},
        target={"paused": True},
    )
    assert stop.change == "running -> stopped"
    acu = Decision(
        cluster="au",
        service="aurora",
        action="scale_up",
        reason="x",
        current={"acu": [0.5, 4]},
        target={"acu": [0.5, 8]},
    )
    assert acu.change == "0.5-4 -> 0.5-8 ACU"
    assert json.loads(json.dumps(up.to_dict()))["change"] == "2 -> 4 nodes"


def test_the_memory_store_keeps_copies() -> None:
    store = MemoryStateStore()
    data = {"a": [1]}
    store.save("k", data)
    data["a"].append(2)
    assert store.load("k") == {"a": [1]} and store.load("missing") is None
