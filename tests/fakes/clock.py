"""A simulated clock: implements :class:`dbscale.core.clock.Clock` without ever really sleeping."""

from __future__ import annotations

from datetime import datetime, timezone

# 2025-01-15 12:00:00 UTC: a fixed, readable starting point for timestamps in names.
DEFAULT_START = datetime(2025, 1, 15, 12, 0, 0, tzinfo=timezone.utc).timestamp()


class FakeClock:
    """Simulated epoch seconds. ``sleep(s)`` advances time by ``s`` and returns at once.

    ``sleeps`` lists every sleep the code under test asked for, so a test can assert that it
    waited (and how often) without measuring wall-clock time.
    """

    def __init__(self, start: float = DEFAULT_START) -> None:
        self._now = float(start)
        self.start = float(start)
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        seconds = max(0.0, float(seconds))
        self.sleeps.append(seconds)
        self._now += seconds

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (not recorded as a sleep of the code under test)."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._now += float(seconds)

    @property
    def elapsed(self) -> float:
        """Simulated seconds since the clock was made."""
        return self._now - self.start

    @property
    def slept(self) -> float:
        """Total simulated seconds spent in ``sleep``."""
        return sum(self.sleeps)

    def utc(self) -> datetime:
        """The current simulated time as an aware UTC datetime."""
        return datetime.fromtimestamp(self._now, tz=timezone.utc)

    def __repr__(self) -> str:
        return f"FakeClock({self.utc().isoformat()}, slept {self.slept:g}s in {len(self.sleeps)} sleeps)"
