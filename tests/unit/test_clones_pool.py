"""ClonePool and the scheduled handler dbscale.handlers.clone_pool: spare slots, the age limit,
copies driven on by later runs, dry runs, one JSON log line per decision."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import boto3
import pytest

from dbscale.core.clones import ClonePool, PoolMaintenance, copy_identifier, provision_clone
from dbscale.core.errors import InvalidRequest
from dbscale.handlers import clone_pool
from tests.fakes import FakeClock
from tests.fakes.clones import AuroraCloneFake, aws_state

DAY = timedelta(hours=24)
SCHEDULE_SECONDS = 300  # the pool's EventBridge schedule in these tests: every 5 minutes


@pytest.fixture
def full_source(fake: AuroraCloneFake, rds: Any) -> str:
    fake.make_source(rds, "prod")
    fake.add_clones(rds, "prod", 15)
    fake.settle()
    return "prod"


def pool(boto_session: boto3.Session, fake_clock: FakeClock, **kwargs: Any) -> ClonePool:
    kwargs.setdefault("min_spare_slots", 20)
    kwargs.setdefault("max_copy_age", DAY)
    return ClonePool("prod", session=boto_session, clock=fake_clock, **kwargs)


def actions(outcome: PoolMaintenance) -> list[tuple[str, str]]:
    return [(d.action, d.cluster_id) for d in outcome.decisions]


def cluster_names(rds: Any) -> set[str]:
    return {c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]}


def test_status_counts_source_and_fresh_copies(
    fake: AuroraCloneFake, full_source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    fake.make_copy(rds, "prod", "prod-copy-fresh", age_hours=2)
    fake.add_clones(rds, "prod-copy-fresh", 3, dbscale=True)
    fake.make_copy(rds, "prod", "prod-copy-old", age_hours=30)
    fake.settle(60)

    status = pool(boto_session, fake_clock).status()

    assert status.source_clones == 15 and status.source_free_slots == 0
    by_name = {c.cluster_id: c for c in status.copies}
    assert (by_name["prod-copy-fresh"].clones, by_name["prod-copy-fresh"].free_slots) == (3, 12)
    assert by_name["prod-copy-old"].fresh is False
    assert status.spare_slots == 12  # the old copy's slots do not count
    assert status.short_of == 8


def test_maintain_reaches_the_spare_slot_target_over_scheduled_runs(
    fake: AuroraCloneFake, full_source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    start = fake_clock.utc()
    first = pool(boto_session, fake_clock).maintain()

    first_copy = copy_identifier("prod", start)
    second_copy = f"{first_copy}-2"
    assert actions(first) == [("create-copy", first_copy), ("create-copy", second_copy)]
    assert "0 spare clone slots, fewer than the 20 wanted" in first.decisions[0].reason
    assert all(r.in_progress for r in first.results)

    runs = 0
    while True:
        runs += 1
        assert runs < 100, "the pool never reached its target"
        fake_clock.advance(SCHEDULE_SECONDS)
        outcome = pool(boto_session, fake_clock).maintain()
        kinds = {action for action, _ in actions(outcome)}
        assert "create-copy" not in kinds  # copies being made count as spare slots
        if kinds == {"keep-copy", "enough-slots"}:
            break
        assert kinds == {"continue-copy", "enough-slots"}, actions(outcome)
    assert runs > 3  # each copy took several runs: snapshot, restore, instance

    status = pool(boto_session, fake_clock).status()
    assert status.spare_slots == 30
    assert {c.cluster_id for c in status.copies if c.ready} == {first_copy, second_copy}
    assert rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"] == []
    assert fake.silent_full_copies == []
    # A clone now comes from a pool copy.
    plan = provision_clone(
        "prod", "dev-1", instance_class="db.r6g.large", max_copy_age=DAY, session=boto_session, clock=fake_clock
    )
    assert plan.action == "clone-copy" and plan.cloned_from in (first_copy, second_copy)


def test_follow_up_runs_drive_copies_on_but_start_none(
    fake: AuroraCloneFake, full_source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    # Between scheduled runs, start_copies=False only continues what a scheduled run started.
    idle = pool(boto_session, fake_clock).maintain(start_copies=False)
    assert actions(idle) == [("copy-deferred", "prod")]
    assert "next scheduled maintenance run" in idle.decisions[0].reason
    assert idle.operations == ()
    assert not any(name.startswith("prod-copy") for name in cluster_names(rds))

    started = pool(boto_session, fake_clock, min_spare_slots=1).maintain()
    (copy_id,) = [cluster for action, cluster in actions(started) if action == "create-copy"]
    runs = 0
    while copy_id not in {c.cluster_id for c in pool(boto_session, fake_clock).status().copies if c.ready}:
        runs += 1
        assert runs < 100, "follow-up runs never finished the copy"
        fake_clock.advance(SCHEDULE_SECONDS)
        outcome = pool(boto_session, fake_clock).maintain(start_copies=False)
        kinds = {action for action, _ in actions(outcome)}
        assert "create-copy" not in kinds, actions(outcome)
    assert runs > 3
    # Still short of the 20 slots wanted (one copy gives 15), and still no second copy.
    assert {c.cluster_id for c in pool(boto_session, fake_clock).status().copies} == {copy_id}


def test_maintain_replaces_copies_past_the_age_limit_and_keeps_those_with_clones(
    fake: AuroraCloneFake, full_source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    fake.make_copy(rds, "prod", "prod-copy-a", age_hours=1)
    fake.make_copy(rds, "prod", "prod-copy-b", age_hours=1)
    fake.add_clones(rds, "prod-copy-b", 1, dbscale=True)
    fake.settle(60)
    assert sorted(actions(pool(boto_session, fake_clock, min_spare_slots=10).maintain(dry_run=True))) == [
        ("enough-slots", "prod"),
        ("keep-copy", "prod-copy-a"),
        ("keep-copy", "prod-copy-b"),
    ]

    fake_clock.advance(26 * 3600)  # both copies are now older than a day
    outcome = pool(boto_session, fake_clock, min_spare_slots=10).maintain()

    new_copy = copy_identifier("prod", fake_clock.utc())
    assert sorted(actions(outcome)) == [
        ("create-copy", new_copy),
        ("delete-copy", "prod-copy-a"),
        ("keep-obsolete-copy", "prod-copy-b"),
    ]
    deleting = next(d for d in outcome.decisions if d.action == "delete-copy")
    assert "older than the age limit and has no clones" in deleting.reason
    for _ in range(60):
        fake_clock.advance(SCHEDULE_SECONDS)
        outcome = pool(boto_session, fake_clock, min_spare_slots=10).maintain()
    names = cluster_names(rds)
    assert "prod-copy-a" not in names
    assert {"prod-copy-b", "prod-copy-b-other-1", new_copy} <= names
    assert ("keep-obsolete-copy", "prod-copy-b") in actions(outcome)

    # Once its last clone is gone, the obsolete copy goes too.
    rds.delete_db_cluster(DBClusterIdentifier="prod-copy-b-other-1", SkipFinalSnapshot=True)
    fake.settle(600)
    for _ in range(10):
        fake_clock.advance(SCHEDULE_SECONDS)
        pool(boto_session, fake_clock, min_spare_slots=10).maintain()
    assert "prod-copy-b" not in cluster_names(rds)


def test_maintain_dry_run_changes_nothing(
    fake: AuroraCloneFake, full_source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    fake.make_copy(rds, "prod", "prod-copy-old", age_hours=40)
    before = aws_state(rds)
    outcome = pool(boto_session, fake_clock).maintain(dry_run=True)
    assert outcome.dry_run and outcome.operations == ()
    assert [a for a, _ in actions(outcome)] == ["delete-copy", "create-copy", "create-copy"]
    assert aws_state(rds) == before


def test_maintain_with_wait_finishes_the_copies(
    fake: AuroraCloneFake, full_source: str, rds: Any, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    outcome = pool(boto_session, fake_clock, min_spare_slots=1).maintain(wait=True)
    assert [r.done for r in outcome.results] == [True]
    assert pool(boto_session, fake_clock, min_spare_slots=1).status().spare_slots == 15


def test_pool_input_checks(boto_session: boto3.Session, fake_clock: FakeClock) -> None:
    with pytest.raises(InvalidRequest) as caught:
        pool(boto_session, fake_clock, min_spare_slots=-1)
    assert caught.value.field == "min_spare_slots"
    with pytest.raises(InvalidRequest) as caught:
        pool(boto_session, fake_clock, max_copy_age=timedelta(hours=-1))
    assert caught.value.field == "max_copy_age"


# --- the scheduled handler ----------------------------------------------------------------------


@pytest.fixture
def scheduled(
    boto_session: boto3.Session, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> pytest.MonkeyPatch:
    monkeypatch.setattr(clone_pool, "session", boto_session)
    monkeypatch.setattr(clone_pool, "clock", fake_clock)
    for name in clone_pool.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def schedule_event(detail: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2025-01-15T12:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/dbscale-clone-pool"],
        "detail": detail or {},
    }


def json_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "dbscale.clone_pool"]


def test_handler_configured_by_environment_logs_one_line_per_decision(
    fake: AuroraCloneFake,
    full_source: str,
    rds: Any,
    scheduled: pytest.MonkeyPatch,
    fake_clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduled.setenv("SOURCE_CLUSTER_ID", "prod")
    scheduled.setenv("MIN_SPARE_SLOTS", "5")
    scheduled.setenv("MAX_COPY_AGE_HOURS", "24")
    fake.make_copy(rds, "prod", "prod-copy-old", age_hours=30)
    caplog.set_level(logging.INFO, logger="dbscale.clone_pool")

    summary = clone_pool.handler(schedule_event(), None)

    lines = json_lines(caplog)
    assert [(line["decision"], line["cluster"]) for line in lines] == [
        ("delete-copy", "prod-copy-old"),
        ("create-copy", copy_identifier("prod", fake_clock.utc())),
    ]
    assert all(line["source"] == "prod" and line["dry_run"] is False for line in lines)
    assert lines[1]["operation"] == "in_progress" and "snapshot" in lines[1]["detail"]
    assert summary["decisions"] == lines
    assert summary["spare_slots"] == 0 and summary["min_spare_slots"] == 5
    assert json.loads(json.dumps(summary)) == summary


def test_handler_detail_overrides_environment_and_dry_run_changes_nothing(
    fake: AuroraCloneFake,
    full_source: str,
    rds: Any,
    scheduled: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduled.setenv("SOURCE_CLUSTER_ID", "prod")
    scheduled.setenv("MIN_SPARE_SLOTS", "100")
    scheduled.setenv("DRY_RUN", "true")
    caplog.set_level(logging.INFO, logger="dbscale.clone_pool")
    before = aws_state(rds)

    summary = clone_pool.handler(schedule_event({"MinSpareSlots": 10}), None)

    assert summary["dry_run"] is True and summary["min_spare_slots"] == 10
    assert [line["decision"] for line in json_lines(caplog)] == ["create-copy"]
    assert aws_state(rds) == before


def test_handler_follow_up_event_starts_no_copy(
    fake: AuroraCloneFake,
    full_source: str,
    rds: Any,
    scheduled: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The event ClonePoolMaintenance's follow-up rule sends between the scheduled runs.
    scheduled.setenv("SOURCE_CLUSTER_ID", "prod")
    scheduled.setenv("MIN_SPARE_SLOTS", "5")
    caplog.set_level(logging.INFO, logger="dbscale.clone_pool")
    before = aws_state(rds)

    summary = clone_pool.handler({"detail": {"StartCopies": "false"}}, None)

    assert [line["decision"] for line in json_lines(caplog)] == ["copy-deferred"]
    assert summary["dry_run"] is False and aws_state(rds) == before


def test_handler_with_bad_configuration_raises_and_logs_the_reason(
    fake: AuroraCloneFake, scheduled: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    scheduled.setenv("SOURCE_CLUSTER_ID", "prod")
    caplog.set_level(logging.INFO, logger="dbscale.clone_pool")
    with pytest.raises(InvalidRequest) as caught:
        clone_pool.handler(schedule_event(), None)
    assert caught.value.field == "MinSpareSlots"
    assert json_lines(caplog) == [
        {"source": "prod", "error": "Invalid property MinSpareSlots: MinSpareSlots is required"}
    ]
    with pytest.raises(InvalidRequest, match="unknown property"):
        clone_pool.handler(schedule_event({"MinSpareSlot": 3}), None)


def test_configuration_parses_environment_strings() -> None:
    config = clone_pool.configuration(
        {"detail": {}},
        {"SOURCE_CLUSTER_ID": "prod", "MIN_SPARE_SLOTS": "3", "MAX_COPY_AGE_HOURS": "12.5", "DRY_RUN": "TRUE"},
    )
    assert config["SourceClusterId"] == "prod"
    assert (config["MinSpareSlots"], config["MaxCopyAgeHours"], config["DryRun"]) == (3, 12.5, True)
    with pytest.raises(InvalidRequest):
        clone_pool.configuration(
            {"detail": {"MaxCopyAgeHours": "0"}}, {"SOURCE_CLUSTER_ID": "p", "MIN_SPARE_SLOTS": "1"}
        )
    # Only true/false are flags: "yes" is refused rather than guessed (issue 11, item 7).
    with pytest.raises(InvalidRequest, match="DryRun must be true or false"):
        clone_pool.configuration({"detail": {}}, {"SOURCE_CLUSTER_ID": "p", "MIN_SPARE_SLOTS": "1", "DRY_RUN": "yes"})


def test_the_handlers_import_nothing_from_the_cdk() -> None:
    import subprocess
    import sys

    code = (
        "import sys, dbscale.handlers.aurora_clone, dbscale.handlers.clone_pool, dbscale.core.clones\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'constructs', 'jsii', 'cdk_nag')]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
