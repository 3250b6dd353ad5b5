"""Checks of what a caller asks for: a clone request (``Custom::AuroraClone``, the ``AuroraClone``
construct, :func:`~dbscale.core.clones.provision_clone`) and the settings of a clone pool."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..errors import InvalidRequest
from ..limits import AURORA_SERVERLESS_INSTANCE_CLASS, MAX_COPY_AGE_HOURS
from ..validation import (
    validate_aurora_instance_class,
    validate_cluster_identifier,
    validate_copy_age_hours,
    validate_serverless_v2_capacity,
)
from .inventory import DEFAULT_MAX_CLONES_PER_SOURCE
from .naming import iso, parse_timestamp


def validate_clone_request(
    *,
    source_cluster_id: object,
    instance_class: object,
    clone_cluster_id: object = None,
    copy_instance_class: object = None,
    copy_created_since: object = None,
    max_copy_age_hours: object = None,
    max_clones_per_source: object = None,
    serverless_v2_min_acu: object = None,
    serverless_v2_max_acu: object = None,
    fields: dict[str, str] | None = None,
) -> None:
    """Check the inputs of a clone request (``Custom::AuroraClone``, the ``AuroraClone`` construct).

    Identifiers and classes as for clusters; ``copy_created_since`` an ISO-8601 time or datetime;
    ``max_copy_age_hours`` above 0; ``max_clones_per_source`` at least 1; an ACU range only with
    ``db.serverless`` (which may also leave it out: the clone then takes the source's range); the
    clone named differently from its source. ``fields`` renames inputs in messages, keyed by the
    Python argument name. None means "not given" for every optional input.
    """
    names = {
        "source_cluster_id": "source_cluster_id",
        "instance_class": "instance_class",
        "clone_cluster_id": "clone_cluster_id",
        "copy_instance_class": "copy_instance_class",
        "copy_created_since": "copy_created_since",
        "max_copy_age_hours": "max_copy_age_hours",
        "max_clones_per_source": "max_clones_per_source",
        "serverless_v2_min_acu": "serverless_v2_min_acu",
        "serverless_v2_max_acu": "serverless_v2_max_acu",
        **(fields or {}),
    }
    validate_cluster_identifier(source_cluster_id, field=names["source_cluster_id"])
    checked_class = validate_aurora_instance_class(instance_class, field=names["instance_class"])
    if copy_instance_class is not None:
        validate_aurora_instance_class(copy_instance_class, field=names["copy_instance_class"])
    if copy_created_since is not None:
        if not isinstance(copy_created_since, (str, datetime)):
            raise InvalidRequest(
                f"{names['copy_created_since']} must be an ISO-8601 string or a datetime, got {copy_created_since!r}",
                field=names["copy_created_since"],
            )
        parse_timestamp(copy_created_since, field=names["copy_created_since"])
    if max_copy_age_hours is not None:
        validate_copy_age_hours(max_copy_age_hours, field=names["max_copy_age_hours"])
    limit = max_clones_per_source
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidRequest(
            f"{names['max_clones_per_source']} must be a whole number of at least 1, got {max_clones_per_source!r}",
            field=names["max_clones_per_source"],
        )
    if checked_class != AURORA_SERVERLESS_INSTANCE_CLASS or serverless_v2_max_acu is not None:
        validate_serverless_v2_capacity(
            serverless_v2_min_acu,
            serverless_v2_max_acu,
            instance_class=checked_class,
            min_field=names["serverless_v2_min_acu"],
            max_field=names["serverless_v2_max_acu"],
        )
    if clone_cluster_id is not None:
        validate_cluster_identifier(clone_cluster_id, field=names["clone_cluster_id"])
        if clone_cluster_id == source_cluster_id:
            raise InvalidRequest(
                f"{names['clone_cluster_id']} must differ from {names['source_cluster_id']}",
                field=names["clone_cluster_id"],
            )


def validate_pool_settings(
    source_cluster_id: object,
    *,
    min_spare_slots: object,
    max_copy_age: object,
    copy_created_since: object = None,
    max_clones_per_source: object = None,
    copy_instance_class: object = None,
    fields: dict[str, str] | None = None,
) -> None:
    """Check the settings of a :class:`ClonePool` (and of the ``ClonePoolMaintenance`` construct).

    ``min_spare_slots`` a whole number, at least 0; ``max_copy_age`` a positive timedelta or None;
    the rest as in :func:`validate_clone_request`. ``fields`` renames inputs in messages.
    """
    names = {"min_spare_slots": "min_spare_slots", "max_copy_age": "max_copy_age", **(fields or {})}
    if isinstance(min_spare_slots, bool) or not isinstance(min_spare_slots, int) or min_spare_slots < 0:
        raise InvalidRequest(
            f"{names['min_spare_slots']} must be a whole number of at least 0, got {min_spare_slots!r}",
            field=names["min_spare_slots"],
        )
    if max_copy_age is not None and (
        not isinstance(max_copy_age, timedelta)
        or not timedelta(0) < max_copy_age <= timedelta(hours=MAX_COPY_AGE_HOURS)
    ):
        raise InvalidRequest(
            f"{names['max_copy_age']} must be a positive timedelta of at most {MAX_COPY_AGE_HOURS:,.0f} hours, "
            f"got {max_copy_age!r}",
            field=names["max_copy_age"],
        )
    # The rest are checked as for a clone request; the instance class there is a placeholder.
    validate_clone_request(
        source_cluster_id=source_cluster_id,
        instance_class=AURORA_SERVERLESS_INSTANCE_CLASS,
        copy_instance_class=copy_instance_class,
        copy_created_since=copy_created_since,
        max_clones_per_source=max_clones_per_source,
        fields=fields,
    )


def check_limit(value: int | None) -> int:
    """``max_clones_per_source`` checked: a whole number of at least 1; None means the default, 15."""
    if value is None:
        return DEFAULT_MAX_CLONES_PER_SOURCE
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest(
            f"max_clones_per_source must be a whole number of at least 1, got {value!r}", field="max_clones_per_source"
        )
    return value


def check_age(value: timedelta | None) -> timedelta | None:
    """``max_copy_age`` checked: None, or a positive timedelta within the longest copy age allowed."""
    if value is None:
        return None
    if not isinstance(value, timedelta) or not timedelta(0) < value <= timedelta(hours=MAX_COPY_AGE_HOURS):
        raise InvalidRequest(
            f"max_copy_age must be a positive timedelta of at most {MAX_COPY_AGE_HOURS:,.0f} hours, got {value!r}",
            field="max_copy_age",
        )
    return value


def check_since(value: datetime | str | None, now: datetime) -> datetime | None:
    """``copy_created_since`` parsed (see :func:`parse_timestamp`) and refused when after ``now``."""
    if value is None:
        return None
    since = parse_timestamp(value)
    if since > now:
        raise InvalidRequest(
            f"copy_created_since {iso(since)} is in the future (now: {iso(now)}); no copy could ever satisfy it",
            field="copy_created_since",
        )
    return since
