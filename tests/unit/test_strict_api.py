"""The Python API is strict (issue 11, item 8): arguments after the first are keyword-only where the
seed used keywords, flags must be real bools, counts real ints. Every documented seed call works."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest

import dbscale.core.provisioning
from dbscale.core import RdsProvisioning, RedshiftProvisioning
from dbscale.core.clones import ClonePool, provision_clone
from dbscale.core.errors import ClusterNotFound, InvalidRequest
from tests.fakes import AwsCallRecorder, FakeClock, SlowAws

MUTATING_PREFIXES = ("Create", "Modify", "Start", "Stop", "Pause", "Resume", "Resize", "Delete", "Failover", "Restore")


def mutations(calls: AwsCallRecorder) -> list[str]:
    return [op for op in calls.operations() if op.startswith(MUTATING_PREFIXES)]


@pytest.fixture
def aurora(slow_aws: SlowAws, boto_session: boto3.Session, fake_clock: FakeClock) -> RdsProvisioning:
    db = RdsProvisioning("orders", initial_instance_type="db.r6g.large", session=boto_session, clock=fake_clock)
    slow_aws.finish_all()
    return db


@pytest.fixture
def redshift(slow_aws: SlowAws, boto_session: boto3.Session, fake_clock: FakeClock) -> RedshiftProvisioning:
    rd = RedshiftProvisioning(
        "warehouse", initial_instance_type="ra3.xlplus", initial_cluster_size=2, session=boto_session, clock=fake_clock
    )
    slow_aws.finish_all()
    return rd


# --- the reported bug: a positional call in the seed's old order stopped the cluster ------------


def test_positional_class_after_immediate_is_a_type_error_and_stops_nothing(
    aurora: RdsProvisioning, aws_calls: AwsCallRecorder
) -> None:
    aws_calls.clear()
    with pytest.raises(TypeError):
        aurora.rescale(True, "db.r6g.xlarge")  # type: ignore[misc]
    assert mutations(aws_calls) == []
    assert aurora.status == "available"


def test_redshift_rescale_takes_only_the_size_positionally(
    redshift: RedshiftProvisioning, aws_calls: AwsCallRecorder
) -> None:
    aws_calls.clear()
    with pytest.raises(TypeError):
        redshift.rescale(4, True)  # type: ignore[misc]
    with pytest.raises(TypeError):
        RedshiftProvisioning("warehouse", "ra3.xlplus", 2)  # type: ignore[misc]
    with pytest.raises(TypeError):
        RdsProvisioning("orders", "db.r6g.large")  # type: ignore[misc]
    assert mutations(aws_calls) == []


# --- flags are bools, counts are ints, checked before any AWS call ------------------------------

NOT_BOOLS: list[Any] = ["db.r6g.xlarge", "false", "yes", 1, 0, 0.0, []]


def test_aurora_rescale_refuses_a_non_bool_new_paused(aurora: RdsProvisioning, aws_calls: AwsCallRecorder) -> None:
    aws_calls.clear()
    for value in NOT_BOOLS:
        with pytest.raises(InvalidRequest) as err:
            aurora.rescale(new_paused=value)
        assert err.value.field == "new_paused"
    assert mutations(aws_calls) == []
    assert aurora.status == "available"


def test_redshift_rescale_refuses_a_non_bool_new_paused(
    redshift: RedshiftProvisioning, aws_calls: AwsCallRecorder
) -> None:
    aws_calls.clear()
    for value in NOT_BOOLS:
        with pytest.raises(InvalidRequest) as err:
            redshift.rescale(new_paused=value)
        assert err.value.field == "new_paused"
    assert mutations(aws_calls) == []
    assert redshift.status == "available"


AURORA_FLAG_CALLS: list[tuple[str, Callable[[RdsProvisioning, Any], Any]]] = [
    ("immediate", lambda db, v: db.rescale(v, new_reader_count=1)),
    ("wait", lambda db, v: db.rescale(new_reader_count=1, wait=v)),
    ("after_pending", lambda db, v: db.rescale(new_reader_count=1, after_pending=v)),
    ("apply_immediately", lambda db, v: db.modify_settings(apply_immediately=v, BackupRetentionPeriod=3)),
    ("final_snapshot", lambda db, v: db.delete(final_snapshot=v)),
    ("force", lambda db, v: db.delete(force=v)),
    ("wait", lambda db, v: db.delete(wait=v)),
]


def test_every_aurora_flag_is_a_bool(aurora: RdsProvisioning, aws_calls: AwsCallRecorder) -> None:
    aws_calls.clear()
    for field, call in AURORA_FLAG_CALLS:
        for value in ("false", 0, None):
            with pytest.raises(InvalidRequest) as err:
                call(aurora, value)
            assert err.value.field == field, (field, value)
    assert mutations(aws_calls) == []


def test_a_node_count_is_an_int_never_a_bool(redshift: RedshiftProvisioning, aws_calls: AwsCallRecorder) -> None:
    aws_calls.clear()
    for value in (True, False, 2.0, "4"):
        with pytest.raises(InvalidRequest) as err:
            redshift.rescale(value)
        assert err.value.field == "new_cluster_size"
    assert redshift.rescale(None).done  # None keeps the current size: nothing to do
    assert mutations(aws_calls) == []


def test_initial_counts_are_ints(slow_aws: SlowAws, boto_session: boto3.Session) -> None:
    for value in (True, "2", 2.5):
        with pytest.raises(InvalidRequest) as err:
            RedshiftProvisioning("warehouse", initial_instance_type="ra3.xlplus", initial_cluster_size=value)
        assert err.value.field == "initial_cluster_size"
        with pytest.raises(InvalidRequest) as err:
            RdsProvisioning("orders", initial_instance_type="db.r6g.large", reader_count=value)
        assert err.value.field == "reader_count"
    assert boto_session.client("redshift").describe_clusters()["Clusters"] == []


def test_timeouts_are_positive_numbers(redshift: RedshiftProvisioning) -> None:
    for value in (0, -1, float("nan"), float("inf"), True, "60"):
        with pytest.raises(InvalidRequest) as err:
            redshift.rescale(new_paused=True, timeout_minutes=value)
        assert err.value.field == "timeout_minutes"
    assert redshift.status == "available"


def test_clone_and_pool_flags_are_bools(slow_aws: SlowAws, boto_session: boto3.Session, fake_clock: FakeClock) -> None:
    for flag in ("copy_ok", "purge_obsolete_copies", "dry_run", "wait"):
        with pytest.raises(InvalidRequest) as err:
            provision_clone("prod", "dev", instance_class="db.r6g.large", clock=fake_clock, **{flag: "false"})
        assert err.value.field == flag
    pool = ClonePool("prod", min_spare_slots=1, max_copy_age=timedelta(days=1), clock=fake_clock)
    for flag in ("dry_run", "wait", "start_copies"):
        with pytest.raises(InvalidRequest) as err:
            pool.maintain(**{flag: 1})
        assert err.value.field == flag
    with pytest.raises(InvalidRequest) as err:
        ClonePool("prod", min_spare_slots=True, max_copy_age=None)
    assert err.value.field == "min_spare_slots"
    with pytest.raises(InvalidRequest) as err:
        ClonePool("prod", min_spare_slots=1, max_copy_age=timedelta(days=100_000))
    assert err.value.field == "max_copy_age"


# --- every documented seed call (and README example) still works --------------------------------


@pytest.fixture
def default_clock(monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock, boto_session: boto3.Session) -> FakeClock:
    """The seed's calls pass no clock or session: make the defaults the test's (simulated) ones."""
    monkeypatch.setattr(dbscale.core.provisioning, "SYSTEM_CLOCK", fake_clock)
    return fake_clock


def test_the_seed_redshift_usage_runs_as_documented(slow_aws: SlowAws, default_clock: FakeClock) -> None:
    # /work/shared/seeds/000 "Redshift Usage", verbatim but for the bare except.
    try:
        rd = RedshiftProvisioning(cluster_name="brad-cluster0")
    except ClusterNotFound:
        rd = RedshiftProvisioning(
            cluster_name="brad-cluster0", initial_instance_type="ra3.xlplus", initial_cluster_size=2
        )
    cluster_size = rd.cluster_size
    cluster_size = 4 if cluster_size == 2 else 2
    rd.rescale(new_cluster_size=cluster_size, new_paused=False)
    assert (rd.cluster_size, rd.paused) == (4, False)
    print(rd)
    rd.rescale(new_paused=True)
    assert rd.paused
    print(rd)
    assert rd.connection_info().user == "admin"


def test_the_seed_aurora_usage_runs_as_documented(slow_aws: SlowAws, default_clock: FakeClock) -> None:
    # /work/shared/seeds/000 "Aurora Usage", verbatim but for the bare except.
    try:
        rd = RdsProvisioning(cluster_name="brad-cluster0")
    except ClusterNotFound:
        rd = RdsProvisioning(cluster_name="brad-cluster0", initial_instance_type="db.r6g.large")
    instance_type = rd.instance_type
    instance_type = "db.r6g.xlarge" if instance_type == "db.r6g.large" else "db.r6g.large"
    rd.rescale(immediate=True, new_paused=False, new_instance_type=instance_type)
    assert (rd.instance_type, rd.paused) == ("db.r6g.xlarge", False)
    print(rd)
    rd.rescale(immediate=True, new_paused=True)
    assert rd.paused
    print(rd)
    assert rd.connection_info().user == "postgres"


def test_the_readme_core_examples_run(slow_aws: SlowAws, default_clock: FakeClock) -> None:
    try:
        rd = RedshiftProvisioning.open("brad-cluster0")
    except ClusterNotFound:
        rd = RedshiftProvisioning.create("brad-cluster0", initial_instance_type="ra3.xlplus", initial_cluster_size=2)
    rd.rescale(new_cluster_size=4, new_paused=False)
    rd.rescale(new_paused=True)
    assert rd.paused and rd.cluster_size == 4
    db = RdsProvisioning("orders", initial_instance_type="db.r6g.large", engine="aurora-postgresql", reader_count=1)
    db.rescale(new_instance_type="db.r6g.xlarge")
    db.rescale(new_reader_count=3)
    db.rescale(new_paused=True)
    assert (db.instance_type, db.reader_count, db.paused) == ("db.r6g.xlarge", 3, True)


def test_the_autoscaler_dry_run_flag_is_a_bool(aws: None) -> None:
    from dbscale.core.autoscale import AutoscalePolicy, Autoscaler

    for value in ("false", 0, None):
        with pytest.raises(InvalidRequest) as err:
            Autoscaler(AutoscalePolicy(), dry_run=value, state_store=object())  # type: ignore[arg-type]
        assert err.value.field == "dry_run"
    assert Autoscaler(AutoscalePolicy(), dry_run=True, state_store=object()).dry_run is True  # type: ignore[arg-type]
