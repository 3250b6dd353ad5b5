"""Pause schedules: the idle hours of the week as crontab lines that pause and resume a cluster."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from ..errors import InvalidRequest
from ..pricing import HOURS_PER_MONTH, PriceBook
from .recommendation import Recommendation, usd
from .usage import HOURS_PER_WEEK, ClusterUsage

MIN_PAUSE_HOURS = 3
"""Idle stretches shorter than this are not worth a pause and a resume."""
WAKE_MINUTES = 15
"""The schedule resumes this long before the first busy hour (resume takes minutes)."""
WEEKS_PER_MONTH = HOURS_PER_MONTH / HOURS_PER_WEEK
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def time_zone(name: str | None) -> ZoneInfo:
    """The IANA time zone ``name`` (default ``UTC``) in which schedules are printed; InvalidRequest
    (field ``tz``) when there is no such zone."""
    from zoneinfo import ZoneInfoNotFoundError

    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(
            f"unknown time zone {name!r}: give an IANA name such as UTC, Europe/Berlin or America/New_York",
            field="tz",
        ) from None


def _runs(idle: tuple[int, ...]) -> list[tuple[int, int]]:
    """Circular runs of consecutive idle hours of the week, as (first hour, length)."""
    slots = set(idle)
    if len(slots) == HOURS_PER_WEEK:
        return [(0, HOURS_PER_WEEK)]
    runs = []
    for start in sorted(slots):
        if (start - 1) % HOURS_PER_WEEK in slots:
            continue
        length = 0
        while (start + length) % HOURS_PER_WEEK in slots:
            length += 1
        runs.append((start, length))
    return runs


def _cron(slot: int, minute: int = 0) -> tuple[int, int, int]:
    """(minute, hour, cron day of week with 0 = Sunday) of an hour of the week plus minutes."""
    total = (slot * 60 + minute) % (HOURS_PER_WEEK * 60)
    hour_of_week, minute = divmod(total, 60)
    day, hour = divmod(hour_of_week, 24)
    return minute, hour, (day + 1) % 7


def _offset_minutes(zone: ZoneInfo, at: float) -> int:
    """The zone's offset from UTC at epoch second ``at``, in whole minutes (e.g. 60 for CET)."""
    offset = datetime.fromtimestamp(at, tz=timezone.utc).astimezone(zone).utcoffset()
    return 0 if offset is None else round(offset.total_seconds() / 60)


def _crontab(
    cluster: str, region: str, windows: list[tuple[int, int]], *, force: bool = False, offset: int = 0
) -> list[str]:
    """crontab lines pausing each window (hour of the week in UTC, length in hours) and resuming
    :data:`WAKE_MINUTES` before its end, in a time zone ``offset`` minutes from UTC (default 0);
    ``force`` (default False) adds ``--force`` for a cluster dbscale did not create."""
    lines: dict[tuple[str, int, int], list[int]] = {}
    for start, length in windows:
        for verb, slot, minute in (("pause", start, 0), ("resume", start + length, -WAKE_MINUTES)):
            m, h, dow = _cron(slot, minute + offset)
            lines.setdefault((verb, m, h), []).append(dow)
    out = []
    for (verb, m, h), days in sorted(lines.items(), key=lambda item: (item[0][0] != "pause", item[0][2], item[0][1])):
        out.append(
            f"{m} {h} * * {','.join(str(d) for d in sorted(set(days)))} "
            f"dbscale {verb} {cluster} --region {region} --no-wait" + (" --force" if force else "")
        )
    return out


def _zone_note(zone: ZoneInfo, offset: int) -> str:
    """What the times of a schedule in ``zone`` (``offset`` minutes from UTC) mean, for its assumptions."""
    cron = (
        f"cronie and other crons that read CRON_TZ honour the CRON_TZ={zone.key} line; another cron uses its system's"
    )
    if zone.key == "UTC":
        return f"times are UTC ({cron} time zone; dbscale advise --tz ZONE prints them in another IANA zone)"
    sign, whole = ("+" if offset >= 0 else "-"), abs(offset)
    return (
        f"times are {zone.key}, converted from the UTC idle hours at UTC{sign}{whole // 60:02d}:{whole % 60:02d} "
        f"(the offset at the end of the window; a clock change shifts them by its size); {cron} time zone"
    )


def pause_schedule(usage: ClusterUsage, prices: PriceBook, zone: ZoneInfo) -> Recommendation | None:
    """Pause (or stop) the cluster in its idle stretches of at least :data:`MIN_PAUSE_HOURS`, as crontab
    lines in ``zone``; None for a paused or Serverless v2 cluster, or when no stretch is long enough."""
    c = usage.cluster
    hourly = c.hourly_usd(prices) if not c.paused else None
    if hourly is None or hourly <= 0 or (c.service == "aurora" and c.serverless):
        return None  # Serverless v2 pauses itself (0 ACU); nothing to schedule
    windows = [(s, n) for s, n in _runs(usage.idle_hours) if n >= MIN_PAUSE_HOURS]
    if not windows:
        return None
    paused_hours = sum(n - WAKE_MINUTES / 60 for _, n in windows)
    saving = paused_hours * WEEKS_PER_MONTH * hourly
    offset = _offset_minutes(zone, usage.window_end)

    def when(slot: int) -> str:
        minute, hour, dow = _cron(slot, offset)
        return f"{_DAYS[(dow - 1) % 7]} {hour:02d}:{minute:02d}"

    described = [f"{when(s)} {zone.key} for {n} h" for s, n in sorted(windows, key=lambda w: -w[1])[:4]]
    weeks = usage.window_hours / HOURS_PER_WEEK
    reason = (
        f"{len(usage.idle_hours)} hours of the week were idle (CPU <= 5%, no connections) in each of the "
        f"{weeks:.1f} weeks observed; {len(windows)} stretch(es) of >= {MIN_PAUSE_HOURS} h ({', '.join(described)}"
        f"{', ...' if len(windows) > 4 else ''}) = {paused_hours:.1f} h/week paused at {usd(hourly)}/h"
    )
    verb = "pause" if c.service == "redshift" else "stop"
    notes = [f"resumes {WAKE_MINUTES} minutes before the first busy hour"]
    if c.service == "aurora":
        notes.append("a stopped Aurora cluster still bills storage; AWS restarts it after 7 days stopped")
    else:
        notes.append("a paused Redshift cluster still bills managed storage and backups")
    if weeks < 2:
        notes.append("fewer than two weeks observed: the pattern may not repeat")
    notes.append(_zone_note(zone, offset))
    crontab = _crontab(c.name, c.region, windows, force=not c.managed, offset=offset)
    return Recommendation(
        "pause-schedule",
        f"{verb} {paused_hours:.0f} h a week on a schedule",
        saving,
        reason,
        "\n".join([f"CRON_TZ={zone.key}", *crontab]),
        tuple(notes),
        {
            "windows": [{"start_hour_of_week": s, "hours": n} for s, n in windows],
            "paused_hours_per_week": paused_hours,
            "time_zone": zone.key,
            "utc_offset_minutes": offset,
            "force": not c.managed,
        },
    )
