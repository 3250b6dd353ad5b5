"""plan_rescale: the steps, duration and unavailable window of a rescale, without any change in AWS."""

from __future__ import annotations

import pytest

from dbscale.core import RdsProvisioning, RedshiftProvisioning
from dbscale.core.errors import InvalidRequest
from dbscale.core.plan import READ_ONLY, WRITE_UNAVAILABLE

MUTATING = ("Resize", "Pause", "Resume", "Modify", "Create", "Delete", "Failover", "Start", "Stop")


def mutations(aws_calls) -> list[str]:
    return [c for c in aws_calls.operations() if c.startswith(MUTATING)]


@pytest.fixture
def redshift(boto_session, fake_clock):
    return RedshiftProvisioning("sales", initial_instance_type="ra3.xlplus", initial_cluster_size=4, session=boto_session, clock=fake_clock)


@pytest.fixture
def aurora(boto_session, fake_clock):
    return RdsProvisioning("orders", initial_instance_type="db.r6g.large", reader_count=1, session=boto_session, clock=fake_clock)


def test_elastic_resize_plan_is_read_only_for_minutes(redshift, aws_calls):
    before = len(mutations(aws_calls))
    plan = redshift.plan_rescale(2)
    assert (plan.method, plan.reason) == ("elastic", "4 -> 2 nodes is within elastic bounds")
    assert [s.action for s in plan.steps] == ["resize"]
    assert plan.duration_minutes == (10, 15)
    assert plan.read_only_minutes == (10, 15)
    assert plan.steps[0].availability == READ_ONLY
    assert [s["action"] for s in plan.operation_steps] == ["resize", "wait_resized"]
    assert len(mutations(aws_calls)) == before
    assert redshift.cluster_size == 4


def test_classic_resize_of_a_paused_cluster_resumes_and_pauses_again(redshift):
    redshift.rescale(new_paused=True)
    plan = redshift.plan_rescale(1)  # to a single node: only classic resize can
    assert plan.method == "classic"
    assert [s.action for s in plan.steps] == ["resume", "resize", "pause"]
    assert plan.duration_minutes == (2 + 120 + 2, 10 + 2880 + 10)
    assert plan.read_only_minutes == (120, 2880)
    assert any("faster classic resize" in n for n in plan.notes)
    assert plan.to_dict()["write_unavailable_minutes"] == [124, 2900]


def test_nothing_to_change_is_an_empty_plan(redshift):
    plan = redshift.plan_rescale(4)
    assert not plan.changes and plan.method == "none" and plan.duration_minutes == (0, 0)


def test_plan_validates_like_rescale(redshift):
    with pytest.raises(InvalidRequest, match="elastic"):
        redshift.plan_rescale(20, resize_type="elastic")


def test_aurora_class_change_plans_one_failover(aurora, aws_calls):
    before = len(mutations(aws_calls))
    plan = aurora.plan_rescale(new_instance_type="db.r6g.xlarge")
    assert plan.method == "rolling"
    assert [s.action for s in plan.steps] == ["modify_instance", "create_instance", "failover", "delete_instance"]
    assert plan.write_unavailable_minutes == (0.5, 2)
    assert [s.availability for s in plan.steps].count(WRITE_UNAVAILABLE) == 1
    assert plan.duration_minutes == (5 + 5 + 0.5 + 1, 15 + 20 + 2 + 10)
    assert len(mutations(aws_calls)) == before


def test_aurora_deferred_change_says_when_it_happens(aurora):
    plan = aurora.plan_rescale(False, new_instance_type="db.r6g.xlarge")
    assert plan.method == "deferred"
    assert plan.duration_minutes == (0, 0)
    assert any("maintenance window" in n for n in plan.notes)


def test_aurora_stop_plan(aurora):
    plan = aurora.plan_rescale(new_paused=True)
    assert (plan.method, [s.action for s in plan.steps]) == ("stop", ["stop"])
