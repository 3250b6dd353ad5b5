"""The steps of an Aurora rescale: what takes a settled cluster to the requested instance class,
reader count, ACU range and stopped state."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequest
from ..limits import AURORA_SERVERLESS_INSTANCE_CLASS
from ..validation import validate_aurora_instance_class, validate_reader_count, validate_serverless_v2_capacity
from .describe import acu_range, cluster_members, next_instance_ids
from .settings import instance_settings_of


def plan_rescale(rds: Any, cluster: dict[str, Any], request: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps that take a settled cluster to the requested shape (see ``RdsProvisioning.rescale``)."""
    writer, readers = cluster_members(rds, cluster)
    current_class = writer["DBInstanceClass"] if writer else None
    target_class = request["instance_class"] or current_class
    target_readers = len(readers) if request["reader_count"] is None else request["reader_count"]
    acu_now = acu_range(cluster)
    target_acu = tuple(request["acu"]) if request["acu"] else acu_now
    if target_class == AURORA_SERVERLESS_INSTANCE_CLASS and target_acu is None:
        raise InvalidRequest(
            f"instance class {AURORA_SERVERLESS_INSTANCE_CLASS} needs a Serverless v2 capacity range; "
            "pass new_serverless_v2_capacity=(min, max)",
            field="new_serverless_v2_capacity",
        )
    settings = request.get("instance_settings")
    if settings is None:  # not declared: new instances get the writer's
        settings = instance_settings_of(writer) if writer else {}
    changes: list[dict[str, Any]] = []
    pause_seconds = request.get("auto_pause_seconds")
    seconds_now = (cluster.get("ServerlessV2ScalingConfiguration") or {}).get("SecondsUntilAutoPause")
    if target_acu != acu_now or (pause_seconds is not None and pause_seconds != seconds_now):
        changes.append(
            {
                "action": "modify_cluster",
                "acu": list(target_acu) if target_acu else None,
                "apply_immediately": request["immediate"],
                **({"auto_pause_seconds": pause_seconds} if pause_seconds is not None else {}),
            }
        )
        changes.append({"action": "wait_available"})
    changes += _instance_changes(cluster, writer, readers, target_class, target_readers, settings, request["immediate"])
    stopped_now = cluster["Status"] == "stopped"
    stopped_after = stopped_now if request["paused"] is None else request["paused"]
    steps: list[dict[str, Any]] = []
    if changes and stopped_now:
        steps += [{"action": "start"}, {"action": "wait_available"}]
    steps += changes
    if stopped_after and (changes or not stopped_now):
        steps += [{"action": "stop"}, {"action": "wait_stopped"}]
    elif stopped_now and not stopped_after and not changes:
        steps += [{"action": "start"}, {"action": "wait_available"}]
    return steps


def _create_instance(
    instance_id: str, instance_class: str | None, engine: str, tier: int, settings: Any
) -> dict[str, Any]:
    return {
        "action": "create_instance",
        "instance_id": instance_id,
        "instance_class": instance_class,
        "engine": engine,
        "promotion_tier": tier,
        "settings": settings,
    }


def _instance_changes(
    cluster: dict[str, Any],
    writer: dict[str, Any] | None,
    readers: list[dict[str, Any]],
    target_class: str | None,
    target_readers: int,
    settings: Any,
    immediate: bool,
) -> list[dict[str, Any]]:
    """The steps that bring the instances to ``target_readers`` readers and every instance to
    ``target_class``: readers removed or added, readers modified, the writer replaced (failover)."""
    engine = cluster["Engine"]
    changes: list[dict[str, Any]] = []
    kept = readers
    if target_readers < len(readers):
        kept = readers[:target_readers]
        for reader in readers[target_readers:]:
            changes.append({"action": "delete_instance", "instance_id": reader["DBInstanceIdentifier"]})
        changes.append({"action": "wait_available"})
    existing = [i["DBInstanceIdentifier"] for i in ([writer] if writer else []) + readers]
    new_ids = next_instance_ids(cluster["DBClusterIdentifier"], existing, max(0, target_readers - len(readers)) + 1)
    for instance_id in new_ids[:-1]:
        changes.append(_create_instance(instance_id, target_class, engine, 1, settings))
    if target_readers > len(readers):
        changes.append({"action": "wait_available"})
    current_class = writer["DBInstanceClass"] if writer else None
    if target_class == current_class and writer is not None:
        return changes
    for reader in kept:
        if reader["DBInstanceClass"] != target_class:
            changes.append(
                {
                    "action": "modify_instance",
                    "instance_id": reader["DBInstanceIdentifier"],
                    "instance_class": target_class,
                    "apply_immediately": immediate,
                }
            )
            if immediate:
                changes.append({"action": "wait_available"})
    if writer is None:
        changes += [_create_instance(new_ids[-1], target_class, engine, 0, settings), {"action": "wait_available"}]
    elif not immediate:
        changes.append(
            {
                "action": "modify_instance",
                "instance_id": writer["DBInstanceIdentifier"],
                "instance_class": target_class,
                "apply_immediately": False,
            }
        )
    else:
        old, new = writer["DBInstanceIdentifier"], new_ids[-1]
        changes += [
            _create_instance(new, target_class, engine, 0, settings),
            {"action": "wait_available"},
            {"action": "failover", "instance_id": new},
            {"action": "wait_writer", "instance_id": new},
            {"action": "delete_instance", "instance_id": old},
            {"action": "wait_available"},
        ]
    return changes


def rescale_request(
    immediate: bool,
    new_paused: bool | None,
    new_instance_type: str | None,
    new_reader_count: int | None,
    new_serverless_v2_capacity: tuple[float, float] | None,
    new_seconds_until_auto_pause: int | None,
    instance_settings: dict[str, Any] | None,
) -> dict[str, Any]:
    """A rescale's arguments (see ``RdsProvisioning.rescale``), checked without any AWS call, as the
    request :func:`plan_rescale` plans from (and a ``replan`` step carries)."""
    if new_instance_type is not None:
        validate_aurora_instance_class(new_instance_type, field="new_instance_type")
    if new_reader_count is not None:
        validate_reader_count(new_reader_count, field="new_reader_count")
    if new_serverless_v2_capacity is not None:
        if not isinstance(new_serverless_v2_capacity, (tuple, list)) or len(new_serverless_v2_capacity) != 2:
            raise InvalidRequest(
                "new_serverless_v2_capacity must be a (min, max) pair of ACUs",
                field="new_serverless_v2_capacity",
            )
        validate_serverless_v2_capacity(
            new_serverless_v2_capacity[0],
            new_serverless_v2_capacity[1],
            instance_class=AURORA_SERVERLESS_INSTANCE_CLASS,
            min_field="new_serverless_v2_capacity[0]",
            max_field="new_serverless_v2_capacity[1]",
        )
    if new_seconds_until_auto_pause is not None:
        seconds = new_seconds_until_auto_pause
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 300 <= seconds <= 86400:
            raise InvalidRequest(
                f"new_seconds_until_auto_pause must be a whole number of seconds from 300 to 86400, got {seconds!r}",
                field="new_seconds_until_auto_pause",
            )
        if new_serverless_v2_capacity is None or float(new_serverless_v2_capacity[0]) != 0:
            raise InvalidRequest(
                "new_seconds_until_auto_pause applies only with a Serverless v2 minimum capacity of 0 ACU",
                field="new_seconds_until_auto_pause",
            )
    return {
        "instance_class": new_instance_type,
        "reader_count": new_reader_count,
        "acu": list(new_serverless_v2_capacity) if new_serverless_v2_capacity else None,
        "auto_pause_seconds": new_seconds_until_auto_pause,
        "paused": new_paused,
        "immediate": immediate,
        "instance_settings": None if instance_settings is None else dict(instance_settings),
    }


def rescale_description(cluster_name: str, request: dict[str, Any]) -> str:
    """How an operation names the rescale ``request`` (see :func:`rescale_request`)."""
    parts = []
    if request["instance_class"]:
        parts.append(f"instance class {request['instance_class']}")
    if request["reader_count"] is not None:
        parts.append(f"{request['reader_count']} readers")
    if request["acu"]:
        parts.append(f"{request['acu'][0]:g}-{request['acu'][1]:g} ACUs")
    if request["paused"] is not None:
        parts.append("stopped" if request["paused"] else "started")
    return f"rescale Aurora cluster '{cluster_name}' to {', '.join(parts) or 'no change'}"
