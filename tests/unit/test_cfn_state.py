"""The state kept between invocations (dbscale.cfn.state): typed, versioned, compact; what the
previous releases saved (versions 1-3, flat) loads as the same state (issue 25)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbscale.cfn import Provider
from dbscale.cfn import outcome as outcome_module
from dbscale.cfn.state import (
    RUNTIME_KEYS,
    SLIM_STATE,
    STATE_VERSION,
    OperationState,
    OutcomeRecord,
    ResourceState,
    StateError,
    new_state,
)
from dbscale.cfn.workflow import OPERATION_KEY, OPERATION_VERSION
from dbscale.handlers import aurora_clone, aurora_cluster, database_bootstrap, redshift_cluster
from dbscale.handlers.state import CloneSteps, ClusterSteps

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "cfn_state"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HANDLERS = {
    "Custom::RedshiftCluster": redshift_cluster,
    "Custom::AuroraCluster": aurora_cluster,
    "Custom::AuroraClone": aurora_clone,
    "Custom::DatabaseBootstrap": database_bootstrap,
}

times = st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False)
texts = st.text(max_size=20)
scalars = st.none() | st.booleans() | st.integers(-(2**31), 2**31) | texts
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(texts, json_values, max_size=4)
outcomes = st.builds(
    OutcomeRecord,
    status=st.sampled_from(["SUCCESS", "FAILED"]),
    physical_id=texts,
    reason=texts,
    data=st.dictionaries(texts, texts, max_size=3),
)
plans = st.fixed_dictionaries({"method": texts, "minutes": st.lists(st.integers(0, 999), min_size=2, max_size=2)})
cluster_steps = st.builds(
    ClusterSteps,
    op=st.none() | json_objects,
    adopted=st.booleans(),
    keep_size=st.booleans(),
    settings=st.none() | json_objects,
    rounds=st.integers(0, 5),
    plan=st.none() | plans,
)
clone_steps = st.builds(CloneSteps, op=st.none() | json_objects, converged=st.booleans(), cloned_from=st.none() | texts)
resource_parts = cluster_steps | clone_steps | st.just(ResourceState())


@st.composite
def states(draw: st.DrawFn) -> OperationState[Any]:
    return OperationState(
        started=draw(times),
        deadline=draw(times),
        timeout=draw(st.integers(1, 3600)),
        resource=draw(resource_parts),
        signal=draw(st.booleans()),
        signal_timeout=draw(st.none() | st.integers(0, 43200)),
        physical_id=draw(st.none() | texts),
        answered=draw(st.booleans()),
        signalled=draw(st.booleans()),
        outcome=draw(st.none() | outcomes),
        hold_until=draw(times),
        delivery_attempts=draw(st.integers(0, 50)),
        last_error=draw(texts),
        last_detail=draw(texts),
    )


def through_json(data: dict[str, Any]) -> Any:
    return json.loads(json.dumps(data, separators=(",", ":")))


def version_3(state: OperationState[Any]) -> dict[str, Any]:
    """``state`` as the release before wrote it: the resource's keys beside the runtime's."""
    saved = state.to_dict()
    own = saved.pop("resource", {})
    return {**saved, **own, "v": 3}


@SETTINGS
@given(states())
def test_a_state_reads_back_as_it_was_written(state: OperationState[Any]) -> None:
    saved = through_json(state.to_dict())
    assert saved["v"] == STATE_VERSION
    assert OperationState.from_dict(saved, type(state.resource)) == state


@SETTINGS
@given(states())
def test_a_version_3_state_reads_as_the_same_state(state: OperationState[Any]) -> None:
    assert OperationState.from_dict(through_json(version_3(state)), type(state.resource)) == state


@SETTINGS
@given(states())
def test_only_the_slim_fields_are_kept_of_a_state_that_outgrew_the_limit(state: OperationState[Any]) -> None:
    slim = state.slim()
    assert set(slim.to_dict()) <= set(SLIM_STATE)
    assert {k: v for k, v in state.to_dict().items() if k in SLIM_STATE} == slim.to_dict()


def test_a_new_state_is_compact() -> None:
    state = new_state(3600, 1000.0, None, ClusterSteps())
    assert state.to_dict() == {
        "v": STATE_VERSION,
        "started": 1000.0,
        "deadline": 4510.0,
        "timeout": 3600,
        "signal": False,
    }
    state.resource.rounds = 1
    assert state.to_dict()["resource"] == {"rounds": 1}


@pytest.mark.parametrize("version", [1, 2, 3])
def test_older_versions_keep_the_resources_keys_beside_the_runtimes(version: int) -> None:
    saved = {"v": version, "started": 10, "deadline": 20, "timeout": 30, "op": None, "rounds": 2, "adopted": True}
    state = OperationState.from_dict(saved, ClusterSteps)
    assert (state.started, state.deadline, state.timeout, state.signal) == (10.0, 20.0, 30, False)
    assert state.resource == ClusterSteps(rounds=2, adopted=True)


@pytest.mark.parametrize("version", [5, 99, None, "4", True])
def test_a_version_this_release_does_not_know_is_refused_by_name(version: Any) -> None:
    with pytest.raises(StateError, match=f"version {version!r}; this release reads versions 1 to {STATE_VERSION}"):
        OperationState.from_dict({"v": version, "started": 1, "deadline": 2, "timeout": 3}, ClusterSteps)


def test_a_key_the_resource_does_not_know_is_refused_by_name() -> None:
    with pytest.raises(StateError, match="ClusterSteps does not know: surprise"):
        OperationState.from_dict({"v": 3, "started": 1, "deadline": 2, "timeout": 3, "surprise": 1}, ClusterSteps)
    with pytest.raises(StateError, match="not readable"):
        OperationState.from_dict({"v": 4, "started": "soon", "deadline": 2, "timeout": 3}, ClusterSteps)


def test_the_runtime_keys_are_the_runtime_fields() -> None:
    fields = set(OperationState.__dataclass_fields__) - {"resource"}
    assert set(RUNTIME_KEYS) == fields | {"v"}


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_every_recorded_version_3_state_loads_and_writes_back_the_same(path: Path) -> None:
    recorded = json.loads(path.read_text())
    for which in ("first", "last"):
        document = recorded[which]
        resource = HANDLERS[document["request"]["ResourceType"]].provider.resource
        saved = document["state"]
        assert saved["v"] == 3
        state = OperationState.from_dict(saved, resource.state_type)
        assert version_3(state) == {k: v for k, v in saved.items() if v is not None}
        # As compact as before: the one "resource" key more, and nothing else.
        assert len(json.dumps(state.to_dict())) <= len(json.dumps(saved)) + len('"resource": {}, ')


def test_a_check_whose_state_this_release_cannot_read_answers_failed_naming_the_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(outcome_module, "send_cfn_response", lambda url, body, *a, **k: sent.append(body) or True)
    provider = Provider(redshift_cluster.RedshiftClusterResource())
    fields = {
        "RequestType": "Update",
        "ResponseURL": "https://cloudformation-custom-resource-response.example/answer",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
        "RequestId": "r-1",
        "LogicalResourceId": "Warehouse",
        "ResourceType": "Custom::RedshiftCluster",
        "PhysicalResourceId": "warehouse",
    }
    operation = {
        OPERATION_KEY: OPERATION_VERSION,
        "request": fields,
        "properties": {"ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus", "NumberOfNodes": "2"},
        "state": {"v": 9, "started": 1, "physical_id": "warehouse"},
    }
    event = {OPERATION_KEY: OPERATION_VERSION, "mode": "check", "execution": "", "operation": operation}

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 900_000

    document = provider.handle(event, Context())

    assert document is not None and document["phase"] == "done" and document["outcome"] == "FAILED"
    (answer,) = sent
    assert (answer["Status"], answer["PhysicalResourceId"]) == ("FAILED", "warehouse")
    assert "version 9; this release reads versions 1 to 4" in answer["Reason"]
