"""dbscale.core.redshift against moto, with timed transitions on a simulated clock."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest

from dbscale.core.errors import (
    AwsError,
    ClusterAlreadyExists,
    ClusterNotFound,
    ClusterNotOwned,
    InvalidRequest,
    InvalidState,
    OperationFailed,
    OperationTimeout,
)
from dbscale.core.limits import CREATED_BY_TAG_KEY, CREATED_BY_TAG_VALUE
from dbscale.core.operation import Operation, OperationStatus
from dbscale.core.redshift import ConnectionInfo, RedshiftProvisioning, choose_resize
from tests.fakes import (
    REDSHIFT_CLUSTER,
    AwsCallRecorder,
    FakeClock,
    LostResponses,
    SlowAws,
    ThrottleInjector,
    fresh_session,
)

NAME = "analytics"
MUTATING = ("CreateCluster", "ResizeCluster", "PauseCluster", "ResumeCluster", "DeleteCluster", "ModifyCluster")


def create(
    session: boto3.Session, clock: FakeClock, name: str = NAME, node_type: str = "ra3.xlplus", nodes: int = 2, **kw: Any
) -> RedshiftProvisioning:
    return RedshiftProvisioning(
        name, initial_instance_type=node_type, initial_cluster_size=nodes, session=session, clock=clock, **kw
    )


def create_outside_dbscale(session: boto3.Session, name: str = NAME, nodes: int = 2) -> None:
    session.client("redshift").create_cluster(
        ClusterIdentifier=name,
        NodeType="ra3.xlplus",
        NumberOfNodes=nodes,
        ClusterType="multi-node",
        MasterUsername="owner",
        MasterUserPassword="Sup3rSecret!",
        Tags=[{"Key": "team", "Value": "bi"}],
    )


def mutations(calls: AwsCallRecorder) -> list[str]:
    return [op for op in calls.operations() if op in MUTATING]


def since(observed: list[str], index: int) -> list[str]:
    """The statuses observed from position ``index`` on (one before, to show where it started)."""
    return observed[max(0, index - 1) :]


# --- get or create ----------------------------------------------------------------------------


def test_a_missing_cluster_without_initial_arguments_is_not_found_and_not_created(
    boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    with pytest.raises(ClusterNotFound, match="pass initial_instance_type and initial_cluster_size"):
        RedshiftProvisioning(NAME, session=boto_session)
    assert aws_calls.operations() == ["DescribeClusters"]


def test_a_missing_cluster_is_created_tagged_and_waited_for_through_creating(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rp = create(boto_session, fake_clock, Tags=[{"Key": "team", "Value": "bi"}])

    assert rp.status == "available"
    assert (rp.instance_type, rp.cluster_size) == ("ra3.xlplus", 2)
    assert rp.adopted is False
    assert rp.tags == {"team": "bi", CREATED_BY_TAG_KEY: CREATED_BY_TAG_VALUE}
    assert slow_aws.observed(NAME) == ["creating", "available"]
    # It waited on the simulated clock through 'creating', polling every 15 s.
    assert fake_clock.slept >= REDSHIFT_CLUSTER["create"].seconds and set(fake_clock.sleeps) == {15.0}
    assert rp.pending_operation is not None and rp.pending_operation.done
    (params,) = aws_calls.params("CreateCluster")
    assert params["ManageMasterPassword"] is True and "MasterUserPassword" not in params
    assert params["ClusterType"] == "multi-node"
    assert params["Encrypted"] is True and params["PubliclyAccessible"] is False
    assert (params["DBName"], params["MasterUsername"], params["Port"]) == ("dev", "admin", 5439)


def test_a_single_node_cluster_is_created_as_single_node(
    boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rp = create(boto_session, FakeClock(), nodes=1)
    assert rp.cluster_size == 1
    assert aws_calls.params("CreateCluster")[0]["ClusterType"] == "single-node"


def test_create_without_waiting_leaves_the_creation_pending(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session
) -> None:
    rp = create(boto_session, fake_clock, wait=False)
    assert rp.status == "creating" and fake_clock.sleeps == []
    op = rp.pending_operation
    assert op is not None and op.poll().in_progress
    op.wait(timeout_minutes=30)
    assert rp.status == "available"


def test_an_existing_cluster_is_adopted_not_created_again(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    create_outside_dbscale(boto_session)
    slow_aws.finish_all()
    aws_calls.clear()

    rp = create(boto_session, fake_clock, node_type="ra3.4xlarge", nodes=4)  # the shape is ignored: it exists

    assert aws_calls.count("CreateCluster") == 0
    assert rp.adopted is True
    assert (rp.instance_type, rp.cluster_size) == ("ra3.xlplus", 2)
    assert rp.pending_operation is None


def test_an_adopted_cluster_is_deleted_only_with_force(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    create_outside_dbscale(boto_session)
    slow_aws.finish_all()
    rp = RedshiftProvisioning(NAME, session=boto_session, clock=fake_clock)
    assert rp.adopted is True

    with pytest.raises(ClusterNotOwned, match="force=True"):
        rp.delete()
    assert aws_calls.count("DeleteCluster") == 0
    assert rp.status == "available"

    rp.delete(force=True, final_snapshot=False)
    assert aws_calls.params("DeleteCluster") == [{"ClusterIdentifier": NAME, "SkipFinalClusterSnapshot": True}]
    with pytest.raises(ClusterNotFound):
        rp.describe()


def test_a_create_whose_response_was_lost_is_recognised_as_ours(
    lost_responses: LostResponses, slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session
) -> None:
    lost_responses.lose("CreateCluster")  # AWS creates it; botocore's retry meets ClusterAlreadyExists
    rp = create(boto_session, fake_clock)
    assert lost_responses.lost["CreateCluster"] == 1
    assert (rp.status, rp.adopted) == ("available", False)


def test_a_cluster_someone_else_creates_meanwhile_is_not_taken_for_ours(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session
) -> None:
    def race(**_: Any) -> None:  # another tool creates the cluster between dbscale's describe and create
        create_outside_dbscale(fresh_session())

    boto_session.events.register_first("before-call.redshift.CreateCluster", race)
    with pytest.raises(ClusterAlreadyExists):
        create(boto_session, fake_clock)
    assert RedshiftProvisioning(NAME, session=boto_session).adopted is True


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"MasterUserPassword": "hunter2hunter2"}, "MasterUserPassword"),
        ({"ManageMasterPassword": False}, "ManageMasterPassword"),
        ({"NodeType": "ra3.4xlarge"}, "NodeType"),
        ({"ClusterIdentifier": "other"}, "ClusterIdentifier"),
    ],
)
def test_create_options_dbscale_owns_are_refused_without_any_aws_call(
    options: dict[str, Any], field: str, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    with pytest.raises(InvalidRequest) as err:
        create(boto_session, FakeClock(), **options)
    assert err.value.field == field
    assert len(aws_calls) == 0


@pytest.mark.parametrize(
    ("node_type", "nodes", "field"),
    [
        ("ra3.huge", 2, "initial_instance_type"),
        ("RA3.XLPLUS", 2, "initial_instance_type"),
        ("ra3.xlplus", 0, "initial_cluster_size"),
        ("ra3.xlplus", 17, "initial_cluster_size"),  # 16 at creation; 32 only by elastic resize
        ("ra3.4xlarge", 1, "initial_cluster_size"),
        ("ra3.xlplus", "2", "initial_cluster_size"),
        ("ra3.xlplus", 2.0, "initial_cluster_size"),
        ("ra3.xlplus", True, "initial_cluster_size"),
        (None, 2, "initial_instance_type"),
        ("ra3.xlplus", None, "initial_cluster_size"),
    ],
)
def test_a_bad_initial_shape_is_refused_without_any_aws_call(
    node_type: Any, nodes: Any, field: str, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    with pytest.raises(InvalidRequest) as err:
        RedshiftProvisioning(
            NAME, initial_instance_type=node_type, initial_cluster_size=nodes, session=boto_session, clock=FakeClock()
        )
    assert err.value.field == field
    assert len(aws_calls) == 0


@pytest.mark.parametrize("name", ["Analytics", "1st", "a--b", "a-", "a_b", "", "x" * 64])
def test_a_bad_cluster_name_is_refused_without_any_aws_call(
    name: str, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    with pytest.raises(InvalidRequest) as err:
        RedshiftProvisioning(name, initial_instance_type="ra3.xlplus", initial_cluster_size=2, session=boto_session)
    assert err.value.field == "cluster_name"
    assert len(aws_calls) == 0


# --- connection info --------------------------------------------------------------------------


def test_connection_info_names_the_managed_secret_and_never_holds_a_password(
    boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    rp = create(boto_session, fake_clock)
    info = rp.connection_info()

    assert info.host is not None and info.host.startswith(f"{NAME}.") and info.host.endswith(".redshift.amazonaws.com")
    assert (info.port, info.database, info.user, info.reader_host) == (5439, "dev", "admin", None)
    assert info.secret_arn == rp.describe()["MasterPasswordSecretArn"]
    secrets = boto_session.client("secretsmanager")
    secret = json.loads(secrets.get_secret_value(SecretId=info.secret_arn)["SecretString"])
    password = secret["password"]

    fields = {f.name for f in dataclasses.fields(ConnectionInfo)}
    assert fields == {"host", "port", "database", "user", "secret_arn", "reader_host"}
    assert not any("password" in name.lower() for name in fields)
    for text in (repr(info), str(dataclasses.asdict(info)), repr(rp), json.dumps(rp.describe(), default=str)):
        assert password not in text


# --- rescale ----------------------------------------------------------------------------------


def test_rescaling_a_paused_cluster_resumes_resizes_and_pauses_it_again(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rp = create(boto_session, fake_clock)
    rp.rescale(new_paused=True)
    assert rp.paused
    seen = len(slow_aws.observed(NAME))
    aws_calls.clear()
    start, polls = fake_clock.now(), len(fake_clock.sleeps)

    op = rp.rescale(new_cluster_size=4)

    assert op.done
    assert (rp.cluster_size, rp.status) == (4, "paused")
    assert since(slow_aws.observed(NAME), seen) == [
        "paused", "resuming", "available", "resizing", "available", "pausing", "paused",
    ]  # fmt: skip
    assert mutations(aws_calls) == ["ResumeCluster", "ResizeCluster", "PauseCluster"]
    # It waited out resume, elastic resize and pause on the fake clock, polling every 15 s.
    needed = sum(REDSHIFT_CLUSTER[action].seconds for action in ("resume", "elastic_resize", "pause"))
    assert fake_clock.now() - start >= needed
    assert len(fake_clock.sleeps) - polls >= needed / 15


def test_rescale_pauses_and_resumes_without_resizing(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rp = create(boto_session, fake_clock)
    rp.rescale(new_paused=True)
    assert rp.paused
    rp.rescale(new_paused=False)
    assert rp.status == "available"
    assert mutations(aws_calls) == ["CreateCluster", "PauseCluster", "ResumeCluster"]
    assert slow_aws.observed(NAME)[-4:] == ["pausing", "paused", "resuming", "available"]


def test_rescale_with_nothing_to_change_makes_no_change(
    boto_session: boto3.Session, fake_clock: FakeClock, aws_calls: AwsCallRecorder
) -> None:
    rp = create(boto_session, fake_clock)
    aws_calls.clear()
    for op in (
        rp.rescale(),
        rp.rescale(new_cluster_size=2),
        rp.rescale(2, new_paused=False, new_instance_type="ra3.xlplus"),
    ):
        assert op.done and op.steps == []
    assert mutations(aws_calls) == []
    assert set(aws_calls.operations()) == {"DescribeClusters"}


@pytest.mark.parametrize(
    ("current", "target", "method"),
    [
        (("ra3.xlplus", 2), ("ra3.xlplus", 4), "elastic"),  # up to 2x
        (("ra3.xlplus", 4), ("ra3.xlplus", 5), "elastic"),
        (("ra3.xlplus", 2), ("ra3.xlplus", 5), "classic"),  # beyond 2x
        (("ra3.xlplus", 8), ("ra3.xlplus", 2), "elastic"),  # down to 1/4 for ra3.xlplus
        (("ra3.xlplus", 16), ("ra3.xlplus", 32), "elastic"),  # the elastic maximum, above the create maximum
        (("ra3.4xlarge", 2), ("ra3.4xlarge", 8), "elastic"),  # up to 4x
        (("ra3.4xlarge", 2), ("ra3.4xlarge", 9), "classic"),
        (("ra3.4xlarge", 8), ("ra3.4xlarge", 2), "elastic"),  # down to 1/4
        (("ra3.16xlarge", 64), ("ra3.16xlarge", 128), "elastic"),
        (("dc2.large", 4), ("dc2.large", 2), "elastic"),  # down to 1/2
        (("dc2.large", 4), ("dc2.large", 1), "classic"),  # to a single node
        (("ra3.xlplus", 1), ("ra3.xlplus", 2), "classic"),  # from a single node
        (("ra3.xlplus", 2), ("ra3.4xlarge", 2), "classic"),  # node type change, auto
    ],
)
def test_choose_resize_picks_elastic_within_aws_bounds_and_classic_otherwise(
    current: tuple[str, int], target: tuple[str, int], method: str
) -> None:
    plan = choose_resize(*current, *target)
    assert plan.method == method, plan.reason
    assert plan.reason


def test_choose_resize_honours_a_forced_method() -> None:
    assert choose_resize("ra3.xlplus", 2, "ra3.xlplus", 4, "classic").method == "classic"
    assert choose_resize("ra3.xlplus", 2, "ra3.4xlarge", 2, "elastic").method == "elastic"
    with pytest.raises(InvalidRequest, match="allows 2 to 4 nodes") as err:
        choose_resize("ra3.xlplus", 2, "ra3.xlplus", 8, "elastic")
    assert err.value.field == "resize_type"
    with pytest.raises(InvalidRequest, match="single-node"):
        choose_resize("ra3.xlplus", 1, "ra3.xlplus", 2, "elastic")
    with pytest.raises(InvalidRequest) as err:
        choose_resize("ra3.xlplus", 2, "ra3.xlplus", 4, "fast")
    assert err.value.field == "resize_type"
    with pytest.raises(InvalidRequest, match="back to DC2"):
        choose_resize("ra3.xlplus", 2, "dc2.large", 2)


@pytest.mark.parametrize(
    ("change", "classic", "resize_type"),
    [
        ({"new_cluster_size": 4}, False, "ElasticResize"),
        ({"new_cluster_size": 5}, True, "ClassicResize"),
        ({"new_cluster_size": 4, "resize_type": "classic"}, True, "ClassicResize"),
        ({"new_instance_type": "ra3.4xlarge"}, True, "ClassicResize"),
        ({"new_instance_type": "ra3.4xlarge", "resize_type": "elastic"}, False, "ElasticResize"),
    ],
)
def test_rescale_sends_the_chosen_resize_method_to_aws(
    change: dict[str, Any],
    classic: bool,
    resize_type: str,
    slow_aws: SlowAws,
    fake_clock: FakeClock,
    boto_session: boto3.Session,
    aws_calls: AwsCallRecorder,
) -> None:
    rp = create(boto_session, fake_clock)
    aws_calls.clear()
    start = fake_clock.now()

    rp.rescale(**change)

    (sent,) = aws_calls.params("ResizeCluster")
    assert sent["Classic"] is classic
    resize = boto_session.client("redshift").describe_resize(ClusterIdentifier=NAME)
    assert (resize["ResizeType"], resize["Status"]) == (resize_type, "SUCCEEDED")
    assert (rp.instance_type, rp.cluster_size) == (sent["NodeType"], sent["NumberOfNodes"])
    # Classic resize takes longer than elastic (1200 s and 600 s in the fake).
    assert fake_clock.now() - start >= REDSHIFT_CLUSTER["classic_resize" if classic else "elastic_resize"].seconds


def test_a_forced_elastic_resize_out_of_bounds_is_refused_before_any_change(
    boto_session: boto3.Session, fake_clock: FakeClock, aws_calls: AwsCallRecorder
) -> None:
    rp = create(boto_session, fake_clock)
    aws_calls.clear()
    with pytest.raises(InvalidRequest, match="cannot force elastic resize") as err:
        rp.rescale(new_cluster_size=8, resize_type="elastic")
    assert err.value.field == "resize_type"
    assert mutations(aws_calls) == []
    assert rp.cluster_size == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"new_instance_type": "ra3.huge"}, "new_instance_type"),
        ({"new_instance_type": "ra3.4xlarge", "new_cluster_size": 1}, "new_cluster_size"),
        ({"new_instance_type": "ra3.xlplus", "new_cluster_size": 33}, "new_cluster_size"),
        ({"new_instance_type": "ra3.xlplus", "new_cluster_size": 20, "resize_type": "classic"}, "new_cluster_size"),
        ({"new_cluster_size": 2.5}, "new_cluster_size"),
        ({"new_cluster_size": "4"}, "new_cluster_size"),
        ({"new_cluster_size": True}, "new_cluster_size"),
        ({"new_cluster_size": 4, "resize_type": "fast"}, "resize_type"),
    ],
)
def test_a_bad_rescale_is_refused_without_any_aws_call(
    change: dict[str, Any], field: str, boto_session: boto3.Session, fake_clock: FakeClock, aws_calls: AwsCallRecorder
) -> None:
    rp = create(boto_session, fake_clock)
    aws_calls.clear()
    with pytest.raises(InvalidRequest) as err:
        rp.rescale(**change)
    assert err.value.field == field
    assert len(aws_calls) == 0


def test_a_count_out_of_range_for_the_current_type_is_refused_without_a_change(
    boto_session: boto3.Session, fake_clock: FakeClock, aws_calls: AwsCallRecorder
) -> None:
    rp = create(boto_session, fake_clock)
    aws_calls.clear()
    with pytest.raises(InvalidRequest) as err:
        rp.rescale(new_cluster_size=40)  # ra3.xlplus: at most 32, by elastic resize
    assert err.value.field == "new_cluster_size"
    assert mutations(aws_calls) == []  # it had to read the current node type, nothing more


def test_a_zero_node_count_is_refused(boto_session: boto3.Session, fake_clock: FakeClock) -> None:
    rp = create(boto_session, fake_clock)
    with pytest.raises(InvalidRequest):
        rp.rescale(new_cluster_size=0)


def test_a_count_only_elastic_could_reach_but_not_in_one_step_is_refused(
    boto_session: boto3.Session, fake_clock: FakeClock, aws_calls: AwsCallRecorder
) -> None:
    rp = create(boto_session, fake_clock)
    aws_calls.clear()
    with pytest.raises(InvalidRequest):
        rp.rescale(new_cluster_size=20)  # elastic from 2 reaches 4; classic reaches 16
    assert aws_calls.count("ResizeCluster") == 0


def test_rescaling_a_cluster_mid_resize_is_refused_unless_after_pending(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rp = create(boto_session, fake_clock)
    first = rp.rescale(new_cluster_size=4, wait=False)
    assert first.poll().in_progress  # the resize was requested
    assert rp.status == "resizing"
    aws_calls.clear()

    with pytest.raises(InvalidState, match="'resizing'"):
        rp.rescale(new_cluster_size=6)
    assert mutations(aws_calls) == []

    start = fake_clock.now()
    op = rp.rescale(new_cluster_size=8, after_pending=True)

    assert op.done
    assert rp.cluster_size == 8
    assert op.steps[0]["action"] == "wait_settled"
    # It first waited for the running resize, then ran its own elastic 4 -> 8.
    assert fake_clock.now() - start >= 2 * REDSHIFT_CLUSTER["elastic_resize"].seconds
    assert mutations(aws_calls) == ["ResizeCluster"]
    assert aws_calls.params("ResizeCluster")[0]["NumberOfNodes"] == 8
    assert slow_aws.observed(NAME)[-4:] == ["resizing", "available", "resizing", "available"]


def test_after_pending_plans_from_the_state_the_cluster_settles_in(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rp = create(boto_session, fake_clock)
    rp.rescale(new_paused=True, wait=False).poll()
    assert rp.status == "pausing"
    aws_calls.clear()

    rp.rescale(new_cluster_size=4, after_pending=True)

    # Paused by then: resume, resize, pause again.
    assert (rp.cluster_size, rp.status) == (4, "paused")
    assert mutations(aws_calls) == ["ResumeCluster", "ResizeCluster", "PauseCluster"]


def test_a_plan_made_after_pending_that_turns_out_invalid_fails_cleanly(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session
) -> None:
    rp = create(boto_session, fake_clock)
    rp.rescale(new_cluster_size=4, wait=False).poll()  # resizing 2 -> 4
    # Valid when asked (elastic reaches 16 from some sizes); invalid from the 4 nodes it settles at.
    op = rp.rescale(new_cluster_size=16, resize_type="elastic", after_pending=True, wait=False)
    with pytest.raises((InvalidRequest, OperationFailed), match="cannot force elastic resize"):
        op.wait(timeout_minutes=60)
    resumed = Operation.from_dict(json.loads(json.dumps(op.to_dict())), session=boto_session, clock=fake_clock)
    for again in (op, resumed):  # a later poll (or a later invocation) must not crash
        with contextlib.suppress(InvalidRequest):
            assert again.poll().failed
    assert rp.cluster_size == 4


def test_a_cluster_in_a_broken_state_fails_the_operation(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session
) -> None:
    from moto.redshift.models import redshift_backends

    rp = create(boto_session, fake_clock)
    redshift_backends["123456789012"]["us-east-1"].clusters[NAME].status = "hardware-failure"
    with pytest.raises(InvalidState):
        rp.rescale(new_paused=True)
    with pytest.raises(OperationFailed, match="needs attention"):
        rp.rescale(new_paused=True, after_pending=True)


# --- operations across invocations --------------------------------------------------------------


def test_an_operation_resumes_from_its_json_in_a_later_invocation(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session
) -> None:
    rp = create(boto_session, fake_clock)
    op = rp.rescale(new_cluster_size=4, new_paused=True, wait=False)
    first = op.poll()
    assert first.status is OperationStatus.IN_PROGRESS and first.step == "wait_resized"
    saved = json.dumps(op.to_dict())

    invocations = 0
    while True:
        # A new invocation: fresh session, fresh Operation, only the JSON carried over.
        fake_clock.sleep(120)
        later = Operation.from_dict(json.loads(saved), session=fresh_session(), clock=fake_clock)
        assert later.started_at == op.started_at
        result = later.poll()
        invocations += 1
        saved = json.dumps(later.to_dict())
        if not result.in_progress:
            break

    assert result.done, result.reason
    needed = REDSHIFT_CLUSTER["elastic_resize"].seconds + REDSHIFT_CLUSTER["pause"].seconds
    assert invocations >= needed // 120  # one invocation every 120 s
    assert (rp.cluster_size, rp.status) == (4, "paused")
    assert later.elapsed_seconds() >= needed


def test_an_operation_of_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported operation format"):
        Operation.from_dict({"version": 99, "service": "redshift"})


def test_wait_raises_operation_timeout_at_its_deadline_on_the_fake_clock(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session
) -> None:
    slow_aws.set_duration("redshift", "classic_resize", 2 * 3600)
    rp = create(boto_session, fake_clock)
    start = fake_clock.now()

    with pytest.raises(OperationTimeout, match="did not finish within 30 minutes") as err:
        rp.rescale(new_instance_type="ra3.4xlarge", timeout_minutes=30)

    assert fake_clock.now() - start == pytest.approx(30 * 60)
    op = err.value.operation
    assert isinstance(op, Operation) and not op.done and op.current_step == "wait_resized"
    assert rp.status == "resizing"
    # The exception carries the operation: waiting longer finishes it.
    op.wait(timeout_minutes=3 * 60, poll_seconds=600)
    assert rp.instance_type == "ra3.4xlarge"


# --- delete -----------------------------------------------------------------------------------


def test_delete_takes_a_final_snapshot_named_after_the_cluster_and_the_utc_time(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session
) -> None:
    rp = create(boto_session, fake_clock)
    secret_arn = rp.connection_info().secret_arn
    stamp = datetime.fromtimestamp(fake_clock.now(), tz=timezone.utc).strftime("%Y%m%d%H%M%S")

    op = rp.delete()

    assert op.done
    assert stamp == "20250115121000"  # created at 12:00:00, 'creating' for 600 s
    redshift = boto_session.client("redshift")
    (snapshot,) = redshift.describe_cluster_snapshots(SnapshotIdentifier=f"{NAME}-final-{stamp}")["Snapshots"]
    assert snapshot["ClusterIdentifier"] == NAME and snapshot["SnapshotType"] == "manual"
    with pytest.raises(ClusterNotFound):
        rp.describe()
    assert slow_aws.observed(NAME)[-2:] == ["final-snapshot", "deleting"]
    with pytest.raises(boto_session.client("secretsmanager").exceptions.ResourceNotFoundException):
        boto_session.client("secretsmanager").describe_secret(SecretId=secret_arn)


def test_delete_with_a_named_snapshot_or_none(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    create(boto_session, fake_clock, name="one").delete(snapshot_identifier="keep-me")
    create(boto_session, fake_clock, name="two").delete(final_snapshot=False)
    assert aws_calls.params("DeleteCluster") == [
        {"ClusterIdentifier": "one", "FinalClusterSnapshotIdentifier": "keep-me"},
        {"ClusterIdentifier": "two", "SkipFinalClusterSnapshot": True},
    ]
    manual = boto_session.client("redshift").describe_cluster_snapshots(SnapshotType="manual")["Snapshots"]
    assert [s["SnapshotIdentifier"] for s in manual] == ["keep-me"]


def test_a_paused_cluster_can_be_deleted(slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session) -> None:
    rp = create(boto_session, fake_clock)
    rp.rescale(new_paused=True)
    assert rp.delete().done
    with pytest.raises(ClusterNotFound):
        rp.describe()


def test_deleting_a_missing_cluster_is_a_no_op(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rp = create(boto_session, fake_clock)
    rp.delete()
    aws_calls.clear()

    op = rp.delete()

    assert op.done and op.steps == [] and "already gone" in op.description
    assert aws_calls.operations() == ["DescribeClusters"]


# --- settings and tags ----------------------------------------------------------------------


def test_update_tags_adds_and_removes_but_keeps_the_ownership_tag(
    boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    rp = create(boto_session, fake_clock, Tags=[{"Key": "team", "Value": "bi"}, {"Key": "cost", "Value": "1"}])
    rp.update_tags({"team": "data", "env": "prod"}, remove=["cost", CREATED_BY_TAG_KEY])
    assert rp.tags == {"team": "data", "env": "prod", CREATED_BY_TAG_KEY: CREATED_BY_TAG_VALUE}
    assert rp.adopted is False


def test_update_tags_cannot_change_who_owns_the_cluster(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session
) -> None:
    ours = create(boto_session, fake_clock)
    create_outside_dbscale(boto_session, name="theirs")
    slow_aws.finish_all()
    theirs = RedshiftProvisioning("theirs", session=boto_session, clock=fake_clock)
    for rp, value in ((ours, "someone-else"), (theirs, CREATED_BY_TAG_VALUE)):
        with contextlib.suppress(InvalidRequest):
            rp.update_tags({CREATED_BY_TAG_KEY: value})
    assert (ours.adopted, theirs.adopted) == (False, True)
    with pytest.raises(ClusterNotOwned):
        theirs.delete()


@pytest.mark.parametrize("key", ["MasterUserPassword", "ManageMasterPassword", "NodeType", "NumberOfNodes"])
def test_modify_settings_refuses_what_dbscale_manages_without_any_aws_call(
    key: str, boto_session: boto3.Session, fake_clock: FakeClock, aws_calls: AwsCallRecorder
) -> None:
    rp = create(boto_session, fake_clock)
    aws_calls.clear()
    with pytest.raises(InvalidRequest) as err:
        rp.modify_settings(**{key: "x"})
    assert err.value.field == key
    assert len(aws_calls) == 0


def test_modify_settings_passes_aws_parameters_through(
    boto_session: boto3.Session, fake_clock: FakeClock, aws_calls: AwsCallRecorder
) -> None:
    rp = create(boto_session, fake_clock)
    rp.modify_settings(AutomatedSnapshotRetentionPeriod=7)
    assert aws_calls.params("ModifyCluster") == [{"ClusterIdentifier": NAME, "AutomatedSnapshotRetentionPeriod": 7}]
    assert rp.describe()["AutomatedSnapshotRetentionPeriod"] == 7


# --- throttling -------------------------------------------------------------------------------


def test_the_whole_lifecycle_converges_with_30_percent_of_calls_throttled(
    throttle: ThrottleInjector,
    slow_aws: SlowAws,
    fake_clock: FakeClock,
    boto_session: boto3.Session,
    aws_calls: AwsCallRecorder,
) -> None:
    assert throttle.rate == pytest.approx(0.3)
    rp = create(boto_session, fake_clock)
    rp.rescale(new_paused=True)
    rp.rescale(new_cluster_size=4)
    assert (rp.cluster_size, rp.status) == (4, "paused")
    rp.delete()
    with pytest.raises(ClusterNotFound):
        rp.describe()

    assert throttle.injected > 30
    assert 0.2 < throttle.injected / throttle.attempts < 0.4
    # Each change was asked for exactly once: botocore retried the throttled attempts itself.
    assert mutations(aws_calls) == [
        "CreateCluster",
        "PauseCluster",
        "ResumeCluster",
        "ResizeCluster",
        "PauseCluster",
        "DeleteCluster",
    ]


def test_throttling_that_outlasts_the_retries_surfaces_as_aws_error(
    throttle: ThrottleInjector, boto_session: boto3.Session
) -> None:
    throttle.rate = 1.0
    with pytest.raises(AwsError) as err:
        RedshiftProvisioning(NAME, session=boto_session)
    assert err.value.code == "Throttling"
    assert throttle.injected == 10  # aws.py: standard retry mode, 10 attempts in all (total_max_attempts)
