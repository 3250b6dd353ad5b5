"""Advice you can run: the commands the advisor suggests work as printed for the cluster they name
(``--force`` where dbscale did not create it, and a word on why), crontab lines state their time zone
and can be printed in any IANA zone; ``prices refresh`` writes into the user's cache directory, which
the advisor reads, and ``--prices FILE`` uses a given file."""

from __future__ import annotations

import hashlib
import json
import shlex
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest

from dbscale.cli import errors
from dbscale.core import pricing
from dbscale.core.advisor import advise
from dbscale.core.errors import InvalidRequest
from tests.cli_runner import dbscale
from tests.fakes.fleet import create_redshift, hours_before, now_utc, office_hours, put_redshift_load
from tests.unit.test_pricing import answer_region, stub  # noqa: F401  (stub is a fixture)

DAYS = 7


@pytest.fixture
def dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("DBSCALE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DBSCALE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DBSCALE_PRICES", raising=False)
    return tmp_path


def office_fleet(session: boto3.Session, end: datetime) -> None:
    """'legacy-wh' (not created by dbscale) and 'sales' (made by dbscale), both busy in office hours (UTC)."""
    redshift, cloudwatch = session.client("redshift"), session.client("cloudwatch")
    stamps = hours_before(end, DAYS * 24)
    create_redshift(redshift, "legacy-wh", "ra3.xlplus", 4, managed=False)
    create_redshift(redshift, "sales", "ra3.xlplus", 4)
    for name in ("legacy-wh", "sales"):
        put_redshift_load(cloudwatch, name, stamps, office_hours(busy_cpu=20.0))


@pytest.fixture
def fleet(boto_session: boto3.Session, fake_clock: Any, dirs: Path) -> dict[str, Any]:
    office_fleet(boto_session, datetime.fromtimestamp(fake_clock.now(), tz=timezone.utc))
    return {"session": boto_session, "clock": fake_clock}


def schedules(fleet: dict[str, Any], tz: str | None = None) -> dict[str, Any]:
    result = advise(
        ["us-east-1"],
        days=DAYS,
        prices=pricing.load_snapshot(),
        sessions=lambda region: fleet["session"],
        clock=fleet["clock"],
        tz=tz,
    )
    return {c.usage.cluster.name: {r.kind: r for r in c.recommendations} for c in result.clusters}


def cron_lines(action: str) -> list[tuple[int, int, tuple[int, ...], str]]:
    """(minute, hour, days of week, command) of each crontab line of an action."""
    lines = []
    for line in action.splitlines():
        if line.startswith("CRON_TZ="):
            continue
        minute, hour, _, _, days, command = line.split(" ", 5)
        lines.append((int(minute), int(hour), tuple(int(d) for d in days.split(",")), command))
    return lines


def test_commands_for_a_cluster_dbscale_did_not_create_pass_force_and_say_why(fleet):
    found = schedules(fleet)
    legacy, sales = found["legacy-wh"], found["sales"]
    for name, rec, forced in (("legacy-wh", legacy, True), ("sales", sales, False)):
        schedule = rec["pause-schedule"]
        lines = cron_lines(schedule.action)
        assert {command.split()[1] for *_, command in lines} == {"pause", "resume"}
        assert all(command.endswith(" --force") is forced for *_, command in lines), schedule.action
        assert schedule.details["force"] is forced
        owned = [a for a in schedule.assumptions if "was not created by dbscale" in a]
        assert owned == (
            [f"'{name}' was not created by dbscale: the commands pass --force, without which they are refused"]
            if forced
            else []
        )
        right = rec["right-size"]
        assert right.action.startswith(f"dbscale plan redshift {name} ") and "--force" not in right.action
        notes = [a for a in right.assumptions if "plan changes nothing and needs no --force" in a]
        assert len(notes) == (1 if forced else 0)


def test_crontab_lines_state_their_zone_and_default_to_utc(fleet):
    schedule = schedules(fleet)["sales"]["pause-schedule"]
    assert schedule.action.splitlines()[0] == "CRON_TZ=UTC"
    assert (0, 20, (1, 2, 3, 4, 5), "dbscale pause sales --region us-east-1 --no-wait") in cron_lines(schedule.action)
    assert any(a.startswith("times are UTC (") for a in schedule.assumptions)
    assert "Fri 20:00 UTC for 60 h" in schedule.reason
    assert schedule.details["time_zone"] == "UTC"


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "UTC"])
def test_crontab_lines_in_another_zone_are_the_same_moments(fleet, zone):
    """Each line in ``zone``, moved back by the zone's offset at the window's end, is a UTC line."""
    utc = cron_lines(schedules(fleet)["sales"]["pause-schedule"].action)
    schedule = schedules(fleet, tz=zone)["sales"]["pause-schedule"]
    assert schedule.action.splitlines()[0] == f"CRON_TZ={zone}"
    when = datetime.fromtimestamp(fleet["clock"].now(), tz=timezone.utc)
    offset = when.astimezone(ZoneInfo(zone)).utcoffset() or timedelta(0)
    assert schedule.details["utc_offset_minutes"] == offset.total_seconds() / 60

    def in_utc(minute: int, hour: int, day: int) -> tuple[int, int, int]:
        # 2023-01-01 was a Sunday: cron day 0.
        moment = datetime(2023, 1, 1 + day, hour, minute) - offset
        return moment.minute, moment.hour, (moment.weekday() + 1) % 7

    moved = {(in_utc(m, h, d), command) for m, h, days, command in cron_lines(schedule.action) for d in days}
    assert moved == {((m, h, d), command) for m, h, days, command in utc for d in days}
    assert any(a.startswith(f"times are {zone}") for a in schedule.assumptions)


def test_an_unknown_zone_is_refused_before_any_aws_call(fleet, aws_calls):
    before = aws_calls.count()
    with pytest.raises(InvalidRequest) as refused:
        schedules(fleet, tz="Mars/Olympus_Mons")
    assert refused.value.field == "tz" and "IANA" in str(refused.value)
    assert aws_calls.count() == before


# --- through the command line, with the real clock -------------------------------------------------


@pytest.fixture
def live_fleet(boto_session: boto3.Session, dirs: Path) -> boto3.Session:
    office_fleet(boto_session, now_utc())
    return boto_session


def test_the_suggested_crontab_runs_as_printed(live_fleet, capsys):
    code, out, err = dbscale(capsys, "advise", "--days", str(DAYS), "--offline-prices", "--json")
    assert code == 0, err
    clusters = {c["cluster"]["name"]: c for c in json.loads(out)["clusters"]}
    action = next(r for r in clusters["legacy-wh"]["recommendations"] if r["kind"] == "pause-schedule")["action"]
    redshift = live_fleet.client("redshift")
    for verb, status in (("pause", "paused"), ("resume", "available")):
        command = next(c for *_, c in cron_lines(action) if c.split()[1] == verb)
        argv = shlex.split(command)
        assert argv[0] == "dbscale"
        code, _, err = dbscale(capsys, *argv[1:])
        assert code == 0, f"{command}: {err}"
        assert redshift.describe_clusters(ClusterIdentifier="legacy-wh")["Clusters"][0]["ClusterStatus"] == status


def test_the_table_prints_the_commands_whole_with_their_zone(live_fleet, capsys):
    code, out, err = dbscale(capsys, "advise", "--days", str(DAYS), "--offline-prices", "--tz", "Europe/Berlin")
    assert code == 0, err
    commands = out.split("Commands, as printed (crontab lines: paste into crontab -e):", 1)[1]
    assert "    CRON_TZ=Europe/Berlin" in commands
    assert "dbscale pause legacy-wh --region us-east-1 --no-wait --force" in commands
    assert "# times are Europe/Berlin" in commands
    code, _, err = dbscale(capsys, "advise", "--tz", "Nowhere/City")
    assert code == errors.INVALID and "unknown time zone 'Nowhere/City'" in err and "--tz" in err


# --- prices ----------------------------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_refresh_writes_the_user_cache_which_the_advisor_reads(stub, dirs, capsys, aws):  # noqa: F811
    shipped = _digest(pricing.SNAPSHOT_PATH)
    answer_region(stub)
    code, out, err = dbscale(capsys, "prices", "refresh", "--region", "eu-west-1")
    assert code == 0, err
    written = dirs / "cache" / "prices.json"
    assert out.startswith(f"wrote {written}: eu-west-1")
    assert _digest(pricing.SNAPSHOT_PATH) == shipped  # the package's own file is left alone
    today = datetime.now(tz=timezone.utc).strftime("%Y-%m-%d")
    code, out, _ = dbscale(capsys, "advise", "--region", "eu-west-1", "--offline-prices", "--json")
    assert code == 0
    assert json.loads(out)["prices"]["summary"] == f"refreshed {today}: eu-west-1"
    # Regions the refresh did not cover still come from the shipped snapshot.
    book = pricing.price_book(["eu-west-1", "us-east-1"], use_api=False)
    assert (book.sources["eu-west-1"].kind, book.sources["us-east-1"].kind) == ("refreshed", "snapshot")
    assert book.redshift_node("eu-west-1", "ra3.xlplus").on_demand == 1.139  # the API's figure


def test_a_refresh_older_than_the_shipped_snapshot_is_passed_over(stub, dirs):  # noqa: F811
    answer_region(stub)
    pricing.refresh_snapshot(["eu-west-1"], now=1_790_000_000.0)  # 2026-09-21, before the shipped 2026-11-25
    assert (dirs / "cache" / "prices.json").exists()
    book = pricing.price_book(["eu-west-1"], use_api=False)
    assert str(book.sources["eu-west-1"]) == str(pricing.load_snapshot().sources["eu-west-1"])


def test_dbscale_prices_names_the_refreshed_file(stub, dirs, monkeypatch):  # noqa: F811
    elsewhere = dirs / "team" / "prices.json"
    monkeypatch.setenv("DBSCALE_PRICES", str(elsewhere))
    answer_region(stub)
    pricing.refresh_snapshot(["eu-west-1"])
    assert elsewhere.exists() and not (dirs / "cache" / "prices.json").exists()
    assert pricing.price_book(["eu-west-1"], use_api=False).sources["eu-west-1"].kind == "refreshed"


def _price_file(path: Path, usd: float) -> Path:
    book = pricing.load_snapshot()
    prices = book.regions["us-east-1"]
    prices.redshift["ra3.xlplus"] = pricing.ShapePrice(usd)
    data = pricing.PriceBook(
        {"us-east-1": prices}, {"us-east-1": pricing.PriceSource("snapshot", "2026-12-01")}, "team prices"
    ).to_dict()
    path.write_text(json.dumps(data))
    return path


def test_prices_file_is_used_by_advise_and_status(live_fleet, dirs, capsys):
    given = _price_file(dirs / "mine.json", 10.0)
    code, out, err = dbscale(capsys, "advise", "--days", str(DAYS), "--prices", str(given), "--json")
    assert code == 0, err
    advice = json.loads(out)
    assert advice["prices"]["summary"] == "file 2026-12-01: us-east-1"
    sales = next(c for c in advice["clusters"] if c["cluster"]["name"] == "sales")
    assert sales["monthly_usd_now"] == pytest.approx(4 * 10.0 * 730, rel=0.01)
    code, out, err = dbscale(capsys, "status", "--prices", str(given), "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert listed["prices"] == "file 2026-12-01: us-east-1"
    hourly = {c["name"]: c.get("usd_per_hour") or c.get("hourly_usd") for c in listed["clusters"]}
    assert hourly["sales"] == pytest.approx(40.0)


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "cannot read the price file"), ("not json", "is not a price file (not JSON)"), ("{}", "no regions")],
)
def test_a_bad_prices_file_is_refused_naming_it(live_fleet, dirs, capsys, content, says):
    given = dirs / "bad.json"
    if content is not None:
        given.write_text(content)
    code, _, err = dbscale(capsys, "advise", "--prices", str(given))
    assert code == errors.INVALID
    assert str(given) in err and says in err and "--prices" in err
