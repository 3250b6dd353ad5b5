"""The steps of an Aurora rescale: what takes a settled cluster to the requested instance class,
reader count, ACU range and stopped state."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequest
from ..limits import AURORA_SERVERLESS_INSTANCE_CLASS
from .describe import _members, _next_numbers, acu_range
from .settings import instance_settings_of


def plan_rescale(rds: Any, cluster: dict[str, Any], request: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps that take a settled cluster to the requested shape (see ``RdsProvisioning.rescale``)."""
    name = cluster["DBClusterIdentifier"]
    engine = cluster["Engine"]
    writer, readers = _members(rds, cluster)
    current_class = writer["DBInstanceClass"] if writer else None
    target_class = request["instance_class"] or current_class
    target_readers = len(readers) if request["reader_count"] is None else request["reader_count"]
    immediate = request["immediate"]
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
    stopped_now = cluster["Status"] == "stopped"
    stopped_after = stopped_now if request["paused"] is None else request["paused"]
    changes: list[dict[str, Any]] = []
    pause_seconds = request.get("auto_pause_seconds")
    seconds_now = (cluster.get("ServerlessV2ScalingConfiguration") or {}).get("SecondsUntilAutoPause")
    if target_acu != acu_now or (pause_seconds is not None and pause_seconds != seconds_now):
        changes.append(
            {
                "action": "modify_cluster",
                "acu": list(target_acu) if target_acu else None,
                "apply_immediately": immediate,
                **({"auto_pause_seconds": pause_seconds} if pause_seconds is not None else {}),
            }
        )
        changes.append({"action": "wait_available"})
    kept = readers
    if target_readers < len(readers):
        kept = readers[:target_readers]
        for reader in readers[target_readers:]:
            changes.append({"action": "delete_instance", "instance_id": reader["DBInstanceIdentifier"]})
        changes.append({"action": "wait_available"})
    existing = [i["DBInstanceIdentifier"] for i in ([writer] if writer else []) + readers]
    new_ids = _next_numbers(name, existing, max(0, target_readers - len(readers)) + 1)
    for instance_id in new_ids[:-1]:
        changes.append(
            {
                "action": "create_instance",
                "instance_id": instance_id,
                "instance_class": target_class,
                "engine": engine,
                "promotion_tier": 1,
                "settings": settings,
            }
        )
    if target_readers > len(readers):
        changes.append({"action": "wait_available"})
    if target_class != current_class or writer is None:
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
            changes.append(
                {
                    "action": "create_instance",
                    "instance_id": new_ids[-1],
                    "instance_class": target_class,
                    "engine": engine,
                    "promotion_tier": 0,
                    "settings": settings,
                }
            )
            changes.append({"action": "wait_available"})
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
                {
                    "action": "create_instance",
                    "instance_id": new,
                    "instance_class": target_class,
                    "engine": engine,
                    "promotion_tier": 0,
                    "settings": settings,
                },
                {"action": "wait_available"},
                {"action": "failover", "instance_id": new},
                {"action": "wait_writer", "instance_id": new},
                {"action": "delete_instance", "instance_id": old},
                {"action": "wait_available"},
            ]
    steps: list[dict[str, Any]] = []
    if changes and stopped_now:
        steps += [{"action": "start"}, {"action": "wait_available"}]
    steps += changes
    if stopped_after and (changes or not stopped_now):
        steps += [{"action": "stop"}, {"action": "wait_stopped"}]
    elif stopped_now and not stopped_after and not changes:
        steps += [{"action": "start"}, {"action": "wait_available"}]
    return steps
