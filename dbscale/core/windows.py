"""Weekly maintenance and daily backup windows: AWS's one syntax for Redshift and Aurora, one parser.

``ddd:hh24:mi-ddd:hh24:mi`` (maintenance, weekly) and ``hh24:mi-hh24:mi`` (backup, daily), in UTC,
each at least 30 minutes long (:data:`~dbscale.core.limits.AURORA_WINDOW_MINIMUM_MINUTES`,
:data:`~dbscale.core.limits.REDSHIFT_MAINTENANCE_WINDOW_MIN_MINUTES`); a window may wrap past
midnight or the end of the week.
"""

from __future__ import annotations

import re

from .errors import InvalidRequest
from .limits import AURORA_WINDOW_MINIMUM_MINUTES

_TIME = r"([01]\d|2[0-3]):([0-5]\d)"
_BACKUP_WINDOW = re.compile(rf"{_TIME}-{_TIME}")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAINTENANCE_WINDOW = re.compile(rf"({'|'.join(_DAYS)}):{_TIME}-({'|'.join(_DAYS)}):{_TIME}", re.IGNORECASE)
_WEEK = 7 * 24 * 60
_DAY = 24 * 60


def _length(start: int, end: int, period: int) -> int:
    return (end - start) % period


def validate_backup_window(value: str, *, field: str = "PreferredBackupWindow") -> tuple[int, int]:
    """``hh24:mi-hh24:mi`` in UTC, at least 30 minutes; returns (start, end) in minutes of the day."""
    match = _BACKUP_WINDOW.fullmatch(value)
    if not match:
        raise InvalidRequest(f"{field} must be hh24:mi-hh24:mi in UTC (e.g. 03:00-03:30), got {value!r}", field=field)
    start = int(match.group(1)) * 60 + int(match.group(2))
    end = int(match.group(3)) * 60 + int(match.group(4))
    if _length(start, end, _DAY) < AURORA_WINDOW_MINIMUM_MINUTES:
        raise InvalidRequest(f"{field} {value!r} is shorter than {AURORA_WINDOW_MINIMUM_MINUTES} minutes", field=field)
    return start, end


def validate_maintenance_window(
    value: str, *, field: str = "PreferredMaintenanceWindow", minimum_minutes: int = AURORA_WINDOW_MINIMUM_MINUTES
) -> tuple[int, int]:
    """``ddd:hh24:mi-ddd:hh24:mi`` in UTC (any case), at least ``minimum_minutes`` long (default 30);
    returns (start, end) in minutes of the week, Monday 00:00 being 0."""
    match = _MAINTENANCE_WINDOW.fullmatch(value)
    if not match:
        raise InvalidRequest(
            f"{field} must be ddd:hh24:mi-ddd:hh24:mi in UTC (e.g. sun:05:00-sun:05:30), got {value!r}", field=field
        )
    start = _DAYS.index(match.group(1).lower()) * _DAY + int(match.group(2)) * 60 + int(match.group(3))
    end = _DAYS.index(match.group(4).lower()) * _DAY + int(match.group(5)) * 60 + int(match.group(6))
    if _length(start, end, _WEEK) < minimum_minutes:
        raise InvalidRequest(f"{field} {value!r} is shorter than {minimum_minutes} minutes", field=field)
    return start, end


def check_windows_apart(backup: str, maintenance: str, *, field: str = "PreferredBackupWindow") -> None:
    """The daily backup window must not overlap the weekly maintenance window (AWS refuses it)."""
    b_start, b_end = validate_backup_window(backup)
    m_start, m_end = validate_maintenance_window(maintenance)
    m_length = _length(m_start, m_end, _WEEK)
    b_length = _length(b_start, b_end, _DAY)
    for day in range(7):
        start = day * _DAY + b_start
        # Two intervals on a circle overlap when either starts inside the other.
        if _length(m_start, start, _WEEK) < m_length or _length(start, m_start, _WEEK) < b_length:
            raise InvalidRequest(
                f"{field} {backup!r} overlaps PreferredMaintenanceWindow {maintenance!r}; choose times that do not",
                field=field,
            )
