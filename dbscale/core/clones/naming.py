"""What dbscale calls things: the names of copies and their seed snapshots, the tags it writes on
copies and clones, and the times it writes in those tags.

Tags dbscale writes:

* on a copy: ``dbscale:copy-of=<source>``, ``dbscale:copy-created=<ISO-8601 UTC time of its data>``,
  ``dbscale:copy-id=<copy>`` (also on the snapshot it is restored from), ``dbscale:created-by=dbscale``;
* on a clone: ``dbscale:clone-of=<source or copy it was cloned from>``,
  ``dbscale:cloned-from-source=<source>``, ``dbscale:created-by=dbscale``.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import datetime, timedelta, timezone

from ..errors import InvalidRequest
from ..limits import CLUSTER_IDENTIFIER_MAX_LENGTH, CREATED_BY_TAG_KEY, EARLIEST_TIMESTAMP_YEAR
from ..validation import validate_text

COPY_OF_TAG_KEY = "dbscale:copy-of"
COPY_CREATED_TAG_KEY = "dbscale:copy-created"
COPY_ID_TAG_KEY = "dbscale:copy-id"
CLONE_OF_TAG_KEY = "dbscale:clone-of"
CLONED_FROM_SOURCE_TAG_KEY = "dbscale:cloned-from-source"

MANAGED_TAG_KEYS = frozenset(
    {
        CREATED_BY_TAG_KEY,
        COPY_OF_TAG_KEY,
        COPY_CREATED_TAG_KEY,
        COPY_ID_TAG_KEY,
        CLONE_OF_TAG_KEY,
        CLONED_FROM_SOURCE_TAG_KEY,
    }
)
"""The tag keys dbscale writes on copies and clones: a caller cannot set them."""

_STAMP = "%Y%m%d%H%M"
_STAMP_EXAMPLE = "202501151200"  # what _STAMP renders: 12 characters
_ISO = "%Y-%m-%dT%H:%M:%SZ"


def parse_timestamp(value: datetime | str, *, field: str = "copy_created_since") -> datetime:
    """An aware UTC datetime from a datetime (naive means UTC) or an ISO-8601 string
    (``2025-01-15``, ``2025-01-15T12:00:00Z``, ``2025-01-15T13:00:00+01:00``), no earlier than
    2014-01-01 UTC (Aurora's launch: no copy is older)."""
    if isinstance(value, str):
        text = validate_text(value, field=field, max_length=64).strip(" ")
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidRequest(
                f"{field} must be an ISO-8601 date or time such as 2025-01-15T12:00:00Z, got {value!r}", field=field
            ) from None
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise InvalidRequest(f"{field} must be a datetime or an ISO-8601 string, got {value!r}", field=field)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    earliest = datetime(EARLIEST_TIMESTAMP_YEAR, 1, 1, tzinfo=timezone.utc)
    try:
        # Years 1 and 9999 with an offset fall outside datetime's range when moved to UTC.
        utc = parsed.astimezone(timezone.utc)
    except OverflowError:
        utc = None
    if utc is None or utc < earliest:
        raise InvalidRequest(f"{field} {value!s} is out of range: use a time from {iso(earliest)} to now", field=field)
    return utc


def copy_identifier_prefix(source_cluster_id: str) -> str:
    """What the name of every copy of ``source_cluster_id`` starts with (for IAM scoping).

    ``<source>-copy-`` while the source's name is short enough to stay whole in
    :func:`copy_identifier`; for longer names, the part of the source that is always kept.
    """
    longest_suffix = len("-copy-") + len(_STAMP_EXAMPLE) + len("-99")
    if len(source_cluster_id) + longest_suffix <= CLUSTER_IDENTIFIER_MAX_LENGTH:
        return f"{source_cluster_id}-copy-"
    return source_cluster_id[: CLUSTER_IDENTIFIER_MAX_LENGTH - longest_suffix].rstrip("-")


def iso(moment: datetime) -> str:
    """``moment`` as ``YYYY-MM-DDTHH:MM:SSZ`` (the form dbscale writes in tags)."""
    return moment.astimezone(timezone.utc).strftime(_ISO)


def copy_cutoff(now: datetime, max_copy_age: timedelta | None, copy_created_since: datetime | None) -> datetime | None:
    """The time a copy's data must be newer than: the later of ``now - max_copy_age`` and
    ``copy_created_since``; None (any copy will do) when neither is given."""
    bounds = []
    if max_copy_age is not None:
        bounds.append(now - max_copy_age)
    if copy_created_since is not None:
        bounds.append(copy_created_since)
    return max(bounds) if bounds else None


def copy_identifier(source_cluster_id: str, when: datetime, taken: Container[str] = ()) -> str:
    """The name of a new copy: ``<source>-copy-<UTC yyyymmddhhmm>``, the source part shortened to
    stay within 63 characters, and ``-2``, ``-3`` ... appended when the name is ``taken``."""
    stamp = when.astimezone(timezone.utc).strftime(_STAMP)
    number = 1
    while True:
        suffix = f"-copy-{stamp}" + (f"-{number}" if number > 1 else "")
        base = source_cluster_id[: CLUSTER_IDENTIFIER_MAX_LENGTH - len(suffix)].rstrip("-")
        candidate = base + suffix
        if candidate not in taken:
            return candidate
        number += 1


def seed_snapshot_identifier(copy_id: str) -> str:
    """The manual cluster snapshot a copy is restored from (deleted once the copy is ready)."""
    return f"{copy_id}-seed"
