"""dbscale.core.clones: where a clone comes from, copies, purging, dry runs, idempotent steps.

Runs on moto with :class:`tests.fakes.clones.AuroraCloneFake` (clone groups, the 15-clone limit
with AWS's silent full copy beyond it, snapshot timing, restore secrets) on slow transitions.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest

from dbscale.core.aurora import RdsProvisioning
from dbscale.core.aws import tag_dict
from dbscale.core.clones import (
    CLONE_LIMIT_SOURCE_URL,
    CLONE_OF_TAG_KEY,
    CLONED_FROM_SOURCE_TAG_KEY,
    COPY_CREATED_TAG_KEY,
    COPY_OF_TAG_KEY,
    DEFAULT_MAX_CLONES_PER_SOURCE,
    CloneSlotUnavailable,
    clone_count,
    copy_cutoff,
    copy_identifier,
    parse_timestamp,
    provision_clone,
    seed_snapshot_identifier,
    waiting_only,
)
from dbscale.core.errors import ClusterAlreadyExists, ClusterNotFound, InvalidRequest
from dbscale.core.limits import CREATED_BY_TAG_KEY, CREATED_BY_TAG_VALUE
from dbscale.core.operation import Operation
from tests.fakes import FakeClock
from tests.fakes.clones import AuroraCloneFake, aws_state

DAY = timedelta(hours=24)


@pytest.fixture
def source(fake: AuroraCloneFake, rds: Any) -> str:
    fake.make_source(rds, "prod")
    return "prod"


def clusters(rds: Any) -> dict[str, dict[str, Any]]:
    return {c["DBClusterIdentifier"]: c for c in rds.describe_db_clusters()["DBClusters"]}


def tags_of(rds: Any, name: str) -> dict[str, str]:
    return tag_dict(clusters(rds)[name].get("TagList"))


def instances_of(rds: Any, name: str) -> list[dict[str, Any]]:
    found = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [name]}])["DBInstances"]
    return list(found)


def provision(boto_session: boto3.Session, fake_clock: FakeClock, clone: str = "dev-1", **kwargs: Any) -> Any:
    kwargs.setdefault("instance_class", "db.r6g.large")
    kwargs.setdefault("source_cluster_id", "prod")
    source_id = kwargs.pop("source_cluster_id")
    return provision_clone(source_id, clone, session=boto_session, clock=fake_clock, **kwargs)


def drive(operation: Operation, fake_clock: FakeClock, *, max_polls: int = 500) -> list[str]:
    """Poll once a minute (as the handler's EventBridge polls do) until done; return the states seen."""
    seen: list[str] = []
    for _ in range(max_polls):
        result = operation.poll()
        if not seen or seen[-1] != result.reason:
            seen.append(result.reason)
        if result.done:
            return seen
        assert not result.failed, result.reason
        fake_clock.advance(60)
    raise AssertionError(f"not done after {max_polls} polls: {seen[-3:]}")


# --- clone the source --------------------------------------------------------------------------


def test_clones_the_source_when_it_has_a_free_slot(
    fake: AuroraCloneFake, source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    plan = provision(boto_session, fake_clock, tags={"team": "qa"})

    assert plan.action == "clone-source"
    assert plan.cloned_from == "prod"
    assert plan.source_clones == 0 and plan.max_clones_per_source == 15
    assert "'prod' has 0 of 15 clones" in plan.reason
    assert plan.operation is not None and plan.operation.done
    clone = clusters(rds)["dev-1"]
    assert clone["Status"] == "available"
    assert tags_of(rds, "dev-1") == {
        "team": "qa",
        CREATED_BY_TAG_KEY: CREATED_BY_TAG_VALUE,
        CLONE_OF_TAG_KEY: "prod",
        CLONED_FROM_SOURCE_TAG_KEY: "prod",
    }
    writer = instances_of(rds, "dev-1")
    assert [(i["DBInstanceIdentifier"], i["DBInstanceClass"], i["DBInstanceStatus"]) for i in writer] == [
        ("dev-1-1", "db.r6g.large", "available")
    ]
    # Its own managed secret: not the source's, and no password was ever sent.
    source_secret = clusters(rds)["prod"]["MasterUserSecret"]["SecretArn"]
    assert clone["MasterUserSecret"]["SecretArn"] != source_secret
    # Same network placement as the source (a restore otherwise gets the default security group).
    assert [g["VpcSecurityGroupId"] for g in clone["VpcSecurityGroups"]] == ["sg-0123456789abcdef0"]
    assert clone["CloneGroupId"] == clusters(rds)["prod"]["CloneGroupId"]
    assert fake.restores == [("clone", "prod", "dev-1")]
    assert fake.silent_full_copies == []


def test_clone_of_a_source_without_managed_password_gets_no_secret(
    fake: AuroraCloneFake, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    fake.make_source(rds, "prod", managed_password=False)
    plan = provision(boto_session, fake_clock)
    assert plan.operation is not None
    assert [s["action"] for s in plan.operation.steps].count("manage_password") == 0
    assert "MasterUserSecret" not in clusters(rds)["dev-1"]


def test_the_operation_is_json_and_resumes_from_to_dict(
    fake: AuroraCloneFake, source: str, boto_session: boto3.Session, fake_clock: FakeClock, rds: Any
) -> None:
    plan = provision(boto_session, fake_clock, wait=False)
    assert plan.operation is not None
    saved = json.loads(json.dumps(plan.operation.to_dict()))
    for _ in range(100):  # a fresh Operation each poll, as a new Lambda invocation would have
        operation = Operation.from_dict(saved, session=boto_session, clock=fake_clock)
        result = operation.poll()
        saved = json.loads(json.dumps(operation.to_dict()))
        if result.done:
            break
        fake_clock.advance(60)
    assert result.done
    assert len(instances_of(rds, "dev-1")) == 1
    assert fake.restores == [("clone", "prod", "dev-1")]


def test_clone_limit_default_is_what_aws_documents() -> None:
    assert DEFAULT_MAX_CLONES_PER_SOURCE == 15
    assert CLONE_LIMIT_SOURCE_URL.startswith("https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/")


# --- the source is full ------------------------------------------------------------------------


def test_full_source_clones_the_freshest_copy_with_a_free_slot(
    fake: AuroraCloneFake, source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    fake.add_clones(rds, "prod", 15)  # made outside dbscale: counted through the clone group
    fake.make_copy(rds, "prod", "prod-copy-old", age_hours=30)
    fake.make_copy(rds, "prod", "prod-copy-full", age_hours=1)
    fake.add_clones(rds, "prod-copy-full", 15, dbscale=True)
    fake.make_copy(rds, "prod", "prod-copy-fresh", age_hours=5)
    fake.settle()

    plan = provision(boto_session, fake_clock, max_copy_age=DAY)

    assert plan.action == "clone-copy"
    assert plan.cloned_from == "prod-copy-fresh"
    assert plan.source_clones == 15
    assert "'prod' has 15 of 15 clones" in plan.reason and "'prod-copy-fresh'" in plan.reason
    by_name = {c.cluster_id: c for c in plan.copies}
    assert by_name["prod-copy-old"].fresh is False
    assert by_name["prod-copy-full"].free_slots == 0
    assert by_name["prod-copy-fresh"].usable and by_name["prod-copy-fresh"].ready
    assert tags_of(rds, "dev-1")[CLONE_OF_TAG_KEY] == "prod-copy-fresh"
    assert tags_of(rds, "dev-1")[CLONED_FROM_SOURCE_TAG_KEY] == "prod"
    assert clusters(rds)["dev-1"]["Status"] == "available"
    assert fake.silent_full_copies == []


def test_clones_made_outside_dbscale_count_against_the_limit(
    fake: AuroraCloneFake, source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    fake.add_clones(rds, "prod", 14)
    plan = provision(boto_session, fake_clock, dry_run=True)
    assert (plan.action, plan.source_clones) == ("clone-source", 14)
    fake.add_clones(rds, "prod", 1, prefix="prod-more-")
    plan = provision(boto_session, fake_clock, dry_run=True)
    assert (plan.action, plan.source_clones) == ("none", 15)


def test_all_copies_too_old_and_no_copy_allowed_fails_naming_the_copies(
    fake: AuroraCloneFake, source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    fake.add_clones(rds, "prod", 15)
    fake.make_copy(rds, "prod", "prod-copy-a", age_hours=30)
    fake.make_copy(rds, "prod", "prod-copy-b", age_hours=50)
    fake.settle()
    before = aws_state(rds)

    with pytest.raises(CloneSlotUnavailable) as caught:
        provision(boto_session, fake_clock, max_copy_age=DAY)

    message = str(caught.value)
    assert "cannot clone 'prod' into 'dev-1'" in message
    assert "it has 15 of 15 clones" in message
    for name, at_least in (("prod-copy-a", 30), ("prod-copy-b", 50)):
        found = re.search(rf"'{name}' \((\d+\.\d) h old, 0/15 clones, available, too old\)", message)
        assert found, message
        assert at_least < float(found.group(1)) < at_least + 3
    assert "copies must be newer than" in message and "CopyOk" in message
    assert caught.value.plan.action == "none"
    assert aws_state(rds) == before


def test_full_source_without_copies_says_so(
    fake: AuroraCloneFake, source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    fake.add_clones(rds, "prod", 15)
    with pytest.raises(CloneSlotUnavailable, match="no copy is usable: no copies"):
        provision(boto_session, fake_clock)


def test_copy_created_since_and_max_age_use_the_later_bound(
    fake: AuroraCloneFake, source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    fake.add_clones(rds, "prod", 15)
    fake.make_copy(rds, "prod", "prod-copy-a", age_hours=5)
    fake.settle(60)
    now = fake_clock.utc()
    plan = provision(boto_session, fake_clock, dry_run=True, max_copy_age=DAY)
    assert plan.cloned_from == "prod-copy-a"
    since = now - timedelta(hours=2)  # later than now - 24 h: the copy (5 h old) is too old
    plan = provision(boto_session, fake_clock, dry_run=True, max_copy_age=DAY, copy_created_since=since)
    assert plan.action == "none" and plan.cutoff == since
    plan = provision(boto_session, fake_clock, dry_run=True, copy_created_since=(now - DAY).isoformat())
    assert plan.cloned_from == "prod-copy-a"


# --- a new copy ----------------------------------------------------------------------------------


def test_copy_ok_makes_a_copy_then_clones_it_across_polls(
    fake: AuroraCloneFake, source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    fake.add_clones(rds, "prod", 15)
    fake.make_copy(rds, "prod", "prod-copy-old", age_hours=40)
    fake.settle()
    started = fake_clock.utc()
    restores_before = len(fake.restores)

    plan = provision(boto_session, fake_clock, max_copy_age=DAY, copy_ok=True, wait=False)

    copy_id = f"prod-copy-{started:%Y%m%d%H%M}"
    assert plan.action == "copy-and-clone"
    assert plan.new_copy_id == copy_id and plan.cloned_from == copy_id
    assert re.search(r"'prod-copy-old' \(4\d\.\d h old, 0/15 clones, available, too old\)", plan.reason)
    assert plan.operation is not None
    states = drive(plan.operation, fake_clock)
    # Many polls, each reporting where it stands: snapshot, restore, instance, clone.
    assert any("snapshot" in s for s in states)
    assert any(f"'{copy_id}'" in s or copy_id in s for s in states)
    assert len(states) >= 4
    assert fake_clock.elapsed > 3600  # the copy (snapshot + restore) took a while
    copy_tags = tags_of(rds, copy_id)
    assert copy_tags[COPY_OF_TAG_KEY] == "prod"
    assert parse_timestamp(copy_tags[COPY_CREATED_TAG_KEY]) == started.replace(microsecond=0)
    assert [i["DBInstanceStatus"] for i in instances_of(rds, copy_id)] == ["available"]
    assert tags_of(rds, "dev-1")[CLONE_OF_TAG_KEY] == copy_id
    assert clusters(rds)["dev-1"]["Status"] == "available"
    assert rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"] == []  # seed deleted
    assert [kind for kind, _, _ in fake.restores[restores_before:]] == ["restore", "clone"]
    assert fake.silent_full_copies == []
    # The new copy has 1 clone now and 14 free slots.
    again = provision(boto_session, fake_clock, clone="dev-2", max_copy_age=DAY, dry_run=True)
    assert again.cloned_from == copy_id
    assert {c.cluster_id: c.clones for c in again.copies}[copy_id] == 1


def test_a_copy_in_progress_is_reused_by_a_retry(
    fake: AuroraCloneFake, source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    """A first attempt timed out while its copy was being made: the retry clones that copy."""
    fake.add_clones(rds, "prod", 15)
    restores_before = len(fake.restores)
    first = provision(boto_session, fake_clock, max_copy_age=DAY, copy_ok=True, wait=False)
    assert first.operation is not None
    first.operation.poll()  # the snapshot is requested, then the attempt is abandoned
    fake_clock.advance(120)

    retry = provision(boto_session, fake_clock, clone="dev-1", max_copy_age=DAY, copy_ok=True, wait=False)

    assert retry.action == "clone-copy"
    assert retry.cloned_from == first.new_copy_id
    assert {c.cluster_id: c.status for c in retry.copies} == {first.new_copy_id: "snapshotting"}
    assert retry.operation is not None
    drive(retry.operation, fake_clock)
    assert tags_of(rds, "dev-1")[CLONE_OF_TAG_KEY] == first.new_copy_id
    assert [kind for kind, _, _ in fake.restores[restores_before:]] == ["restore", "clone"]  # one copy, not two


def test_new_copy_names_are_deterministic_and_fit_63_characters() -> None:
    when = datetime(2025, 1, 15, 12, 34, 56, tzinfo=timezone.utc)
    assert copy_identifier("prod", when) == "prod-copy-202501151234"
    assert copy_identifier("prod", when, {"prod-copy-202501151234"}) == "prod-copy-202501151234-2"
    long_name = "a" * 63
    shortened = copy_identifier(long_name, when)
    assert len(shortened) == 63 and shortened.endswith("-copy-202501151234")
    assert seed_snapshot_identifier("prod-copy-202501151234") == "prod-copy-202501151234-seed"


# --- purge ---------------------------------------------------------------------------------------


def test_purge_deletes_only_old_copies_without_clones(
    fake: AuroraCloneFake, source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    fake.make_copy(rds, "prod", "prod-copy-old-unused", age_hours=48)
    fake.make_copy(rds, "prod", "prod-copy-old-used", age_hours=36)
    fake.add_clones(rds, "prod-copy-old-used", 1, dbscale=True)
    fake.make_copy(rds, "prod", "prod-copy-fresh-unused", age_hours=2)
    fake.settle()

    plan = provision(boto_session, fake_clock, max_copy_age=DAY, purge_obsolete_copies=True, wait=False)

    assert plan.action == "clone-source"
    assert plan.purged_copies == ("prod-copy-old-unused",)
    assert "deleting obsolete copies without clones: prod-copy-old-unused" in plan.reason
    assert plan.operation is not None
    drive(plan.operation, fake_clock)
    fake.settle(600)
    left = clusters(rds)
    assert "prod-copy-old-unused" not in left
    assert {"prod-copy-old-used", "prod-copy-fresh-unused", "dev-1", "prod"} <= set(left)


def test_purge_without_an_age_limit_deletes_nothing(
    fake: AuroraCloneFake, source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    fake.make_copy(rds, "prod", "prod-copy-old", age_hours=480)
    plan = provision(boto_session, fake_clock, purge_obsolete_copies=True, dry_run=True)
    assert plan.purged_copies == ()


# --- dry run ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "expected_action"),
    [("free-source", "clone-source"), ("fresh-copy", "clone-copy"), ("new-copy", "copy-and-clone")],
)
def test_dry_run_leaves_aws_state_identical(
    fake: AuroraCloneFake,
    source: str,
    rds: Any,
    boto_session: boto3.Session,
    fake_clock: FakeClock,
    aws_calls: Any,
    scenario: str,
    expected_action: str,
) -> None:
    fake.make_copy(rds, "prod", "prod-copy-old", age_hours=48)
    if scenario != "free-source":
        fake.add_clones(rds, "prod", 15)
    if scenario == "fresh-copy":
        fake.make_copy(rds, "prod", "prod-copy-fresh", age_hours=1)
    fake.settle()
    before = aws_state(rds)
    calls_before = len(aws_calls.calls)

    plan = provision(boto_session, fake_clock, max_copy_age=DAY, copy_ok=True, purge_obsolete_copies=True, dry_run=True)

    assert plan.action == expected_action and plan.dry_run and plan.operation is None
    assert plan.purged_copies == ("prod-copy-old",)
    assert aws_state(rds) == before
    made = [c.operation for c in aws_calls.calls[calls_before:]]
    assert made and all(name.startswith("Describe") for name in made), made


# --- idempotence and conflicts -------------------------------------------------------------------


def test_provisioning_an_existing_clone_again_resumes_it(
    fake: AuroraCloneFake, source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    first = provision(boto_session, fake_clock, wait=False)
    assert first.operation is not None
    first.operation.poll()  # the clone is requested; the caller goes away
    second = provision(boto_session, fake_clock)
    assert second.action == "resume" and second.cloned_from == "prod"
    assert [i["DBInstanceIdentifier"] for i in instances_of(rds, "dev-1")] == ["dev-1-1"]
    assert fake.restores == [("clone", "prod", "dev-1")]


def test_a_foreign_cluster_of_the_clone_name_is_refused(
    fake: AuroraCloneFake, source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    fake.make_source(rds, "dev-1")
    with pytest.raises(ClusterAlreadyExists, match="not a dbscale clone of 'prod'"):
        provision(boto_session, fake_clock)


def test_a_slot_taken_after_planning_fails_the_clone_step_instead_of_a_silent_full_copy(
    fake: AuroraCloneFake, source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    fake.add_clones(rds, "prod", 14)
    plan = provision(boto_session, fake_clock, wait=False)
    fake.add_clones(rds, "prod", 1, prefix="prod-racer-")
    assert plan.operation is not None
    result = plan.operation.poll()
    assert result.failed
    assert "already has 15 clones, the limit of 15" in result.reason
    assert fake.silent_full_copies == []


def test_the_fake_makes_a_silent_full_copy_beyond_15(fake: AuroraCloneFake, source: str, rds: Any) -> None:
    """The behavior dbscale avoids: AWS's 16th "clone" is a slow full copy."""
    fake.add_clones(rds, "prod", 16)
    assert fake.silent_full_copies == ["prod-other-16"]


def test_limit_is_configurable(
    fake: AuroraCloneFake, source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    fake.add_clones(rds, "prod", 2)
    plan = provision(boto_session, fake_clock, max_clones_per_source=2, dry_run=True)
    assert plan.action == "none" and "it has 2 of 2 clones" in plan.reason


# --- delete --------------------------------------------------------------------------------------


def test_a_clone_is_deleted_like_any_dbscale_cluster(
    fake: AuroraCloneFake, source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    provision(boto_session, fake_clock)
    clone = RdsProvisioning("dev-1", session=boto_session, clock=fake_clock)
    assert clone.adopted is False
    clone.delete(final_snapshot=False)
    with pytest.raises(ClusterNotFound):
        RdsProvisioning("dev-1", session=boto_session, clock=fake_clock)
    assert "prod" in clusters(rds)
    assert rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"] == []


# --- input checks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"clone": "Bad_Name"}, "clone_cluster_id"),
        ({"clone": "prod"}, "clone_cluster_id"),
        ({"instance_class": "db.m1.small"}, "instance_class"),
        ({"max_clones_per_source": 0}, "max_clones_per_source"),
        ({"max_copy_age": timedelta(0)}, "max_copy_age"),
        ({"copy_created_since": "yesterday"}, "copy_created_since"),
        ({"copy_created_since": "2999-01-01T00:00:00Z"}, "copy_created_since"),
        ({"tags": {"dbscale:clone-of": "x"}}, "tags"),
        ({"serverless_v2_min_acu": 1, "serverless_v2_max_acu": 4}, "serverless_v2_min_acu"),
        ({"instance_class": "db.serverless"}, "serverless_v2_max_acu"),
    ],
)
def test_bad_input_is_refused_before_any_change(
    fake: AuroraCloneFake,
    source: str,
    rds: Any,
    boto_session: boto3.Session,
    fake_clock: FakeClock,
    kwargs: dict[str, Any],
    field: str,
) -> None:
    before = aws_state(rds)
    clone = kwargs.pop("clone", "dev-1")
    with pytest.raises(InvalidRequest) as caught:
        provision(boto_session, fake_clock, clone=clone, **kwargs)
    assert caught.value.field == field
    assert aws_state(rds) == before


def test_missing_source_is_cluster_not_found(
    fake: AuroraCloneFake, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    with pytest.raises(ClusterNotFound):
        provision(boto_session, fake_clock, source_cluster_id="nope")


def test_serverless_clone_takes_the_range_given(
    fake: AuroraCloneFake, source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    provision(
        boto_session, fake_clock, instance_class="db.serverless", serverless_v2_min_acu=0.5, serverless_v2_max_acu=4
    )
    clone = clusters(rds)["dev-1"]
    assert clone["ServerlessV2ScalingConfiguration"]["MaxCapacity"] == 4
    assert instances_of(rds, "dev-1")[0]["DBInstanceClass"] == "db.serverless"


# --- small pure helpers --------------------------------------------------------------------------


def test_copy_cutoff_is_the_later_bound() -> None:
    now = datetime(2025, 1, 15, 12, tzinfo=timezone.utc)
    assert copy_cutoff(now, None, None) is None
    assert copy_cutoff(now, DAY, None) == now - DAY
    since = now - timedelta(hours=3)
    assert copy_cutoff(now, DAY, since) == since
    assert copy_cutoff(now, timedelta(hours=1), since) == now - timedelta(hours=1)


def test_parse_timestamp_forms() -> None:
    assert parse_timestamp("2025-01-15") == datetime(2025, 1, 15, tzinfo=timezone.utc)
    assert parse_timestamp("2025-01-15T12:00:00Z") == datetime(2025, 1, 15, 12, tzinfo=timezone.utc)
    assert parse_timestamp("2025-01-15T13:00:00+01:00") == datetime(2025, 1, 15, 12, tzinfo=timezone.utc)
    assert parse_timestamp(datetime(2025, 1, 15, 12)) == datetime(2025, 1, 15, 12, tzinfo=timezone.utc)


def test_clone_count_takes_the_larger_of_group_and_tags() -> None:
    origin = {"DBClusterIdentifier": "a", "CloneGroupId": "g"}
    others: list[dict[str, Any]] = [
        origin,
        {"DBClusterIdentifier": "b", "CloneGroupId": "g"},
        {"DBClusterIdentifier": "c", "CloneGroupId": "g"},
        {"DBClusterIdentifier": "d", "TagList": [{"Key": CLONE_OF_TAG_KEY, "Value": "a"}]},
    ]
    assert clone_count(origin, others) == 2
    assert clone_count({"DBClusterIdentifier": "a"}, others) == 1


def test_waiting_only_looks_at_the_steps_left() -> None:
    op = Operation(
        "clones",
        "x",
        [
            {"action": "clone", "origin": "a", "clone": "x", "limit": 15, "options": {}, "tags": {}},
            {"action": "aurora", "cluster": "x", "step": {"action": "wait_available"}},
        ],
    )
    assert not waiting_only(op)
    op.index = 1
    assert waiting_only(op)


def test_copy_and_clone_converge_under_throttling(
    fake: AuroraCloneFake, source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock, throttle: Any
) -> None:
    throttle.rate = 0.0  # set the scene unthrottled
    fake.add_clones(rds, "prod", 15)
    throttle.rate = 0.3
    plan = provision(boto_session, fake_clock, copy_ok=True, wait=False)
    assert plan.operation is not None
    drive(plan.operation, fake_clock)
    assert throttle.injected > 0
    throttle.rate = 0.0  # the test's own client has no retries to spare
    assert tags_of(rds, "dev-1")[CLONE_OF_TAG_KEY] == plan.new_copy_id
    assert fake.silent_full_copies == []
