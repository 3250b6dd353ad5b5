"""Time, injectable: the core never calls ``time`` directly, so tests and benchmarks run on a simulated clock."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    """Wall-clock seconds since the epoch and a way to wait."""

    def now(self) -> float:
        """Seconds since the Unix epoch (UTC)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` (a simulated clock advances instead)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


SYSTEM_CLOCK = SystemClock()


def utc_datetime(clock: Clock) -> datetime:
    """The clock's current time as an aware UTC datetime."""
    return datetime.fromtimestamp(clock.now(), tz=timezone.utc)


def utc_stamp(clock: Clock) -> str:
    """The clock's current UTC time as ``YYYYMMDDHHMMSS`` (valid inside snapshot identifiers)."""
    return utc_datetime(clock).strftime("%Y%m%d%H%M%S")


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``ZoneInfoNotFoundError`` for an unknown one), cached."""
    return ZoneInfo(name)


def hour_of_week(epoch: float, tz: str = "UTC") -> int:
    """0 (Monday 00:00-01:00) to 167 (Sunday 23:00-24:00), in wall-clock time of ``tz`` (default UTC)."""
    local = datetime.fromtimestamp(epoch, tz=timezone.utc).astimezone(zone(tz))
    return local.weekday() * 24 + local.hour
