"""The step runner of clone and copy operations: :class:`CloneSteps`, found by
:class:`~dbscale.core.operation.Operation` for the ``clones`` service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..aurora import AuroraSteps, describe_db_cluster
from ..aurora.describe import BROKEN
from ..aws import aws_errors, client, tag_dict, tag_list
from ..clock import Clock
from ..errors import AwsError
from ..operation import StepOutcome, StepTable, step
from .inventory import USABLE_STATES, clone_count, cluster_instances, find_cluster, find_snapshot, rds_list
from .naming import CLONE_OF_TAG_KEY, seed_snapshot_identifier

if TYPE_CHECKING:
    import boto3

# Cluster states an origin can be cloned in (point-in-time restore works on a stopped cluster).
_CLONABLE = frozenset({"available", "backing-up", "stopped"})


class CloneSteps(StepTable):
    """Runs the steps of clone and copy operations (the ``clones`` service of
    :class:`~dbscale.core.operation.Operation`). Each step checks AWS before it acts, so running
    it again after it took effect changes nothing. ``aurora`` steps run an
    :class:`~dbscale.core.aurora.AuroraSteps` step on the cluster the step names."""

    def __init__(self, *, session: boto3.Session | None = None, clock: Clock | None = None) -> None:
        self._client = client("rds", session)
        self._aurora_steps = AuroraSteps(session=session, clock=clock)

    def run(self, cluster_name: str, step: dict[str, Any]) -> StepOutcome:
        action = step["action"]
        method = self.STEPS.get(action)
        if method is None:
            return StepOutcome.fail(f"unknown clone step '{action}'")
        outcome: StepOutcome = method(self, step)
        return outcome

    @step("aurora")
    def _aurora(self, step: dict[str, Any]) -> StepOutcome:
        return self._aurora_steps.run(step["cluster"], step["step"])

    def _all_clusters(self) -> list[dict[str, Any]]:
        return rds_list(self._client, "describe_db_clusters", "DBClusters", "list the Aurora clusters")

    # --- copies -------------------------------------------------------------------------

    @step("snapshot")
    def _snapshot(self, step: dict[str, Any]) -> StepOutcome:
        if find_cluster(self._client, step["copy"]) is not None or find_snapshot(self._client, step["snapshot"]):
            return StepOutcome.next()
        source = describe_db_cluster(self._client, step["source"])
        status = source["Status"]
        if status in BROKEN:
            return StepOutcome.fail(f"source '{step['source']}' is '{status}' and needs attention in the RDS console")
        if status not in USABLE_STATES:
            return StepOutcome.wait(f"source '{step['source']}' is '{status}'; waiting to snapshot it")
        try:
            with aws_errors(f"snapshot '{step['source']}' for copy '{step['copy']}'"):
                self._client.create_db_cluster_snapshot(
                    DBClusterIdentifier=step["source"],
                    DBClusterSnapshotIdentifier=step["snapshot"],
                    Tags=tag_list(step["tags"]),
                )
        except AwsError as err:
            # A retried request whose first attempt went through finds its own snapshot.
            if err.code != "DBClusterSnapshotAlreadyExistsFault" or not self._ours(
                find_snapshot(self._client, step["snapshot"]), step["tags"]
            ):
                raise
        return StepOutcome.next()

    @staticmethod
    def _ours(found: dict[str, Any] | None, tags: dict[str, str]) -> bool:
        """True when ``found`` (a described cluster or snapshot) carries every tag in ``tags``."""
        if found is None:
            return False
        have = tag_dict(found.get("TagList"))
        return all(have.get(key) == value for key, value in tags.items())

    @step("wait_snapshot")
    def _wait_snapshot(self, step: dict[str, Any]) -> StepOutcome:
        if find_cluster(self._client, step["copy"]) is not None:
            return StepOutcome.next()
        snapshot = find_snapshot(self._client, step["snapshot"])
        if snapshot is None:
            return StepOutcome.fail(f"snapshot '{step['snapshot']}' disappeared before copy '{step['copy']}' was made")
        status = snapshot.get("Status")
        if status == "available":
            return StepOutcome.next()
        if status == "creating":
            progress = snapshot.get("PercentProgress")
            done = f" ({progress}% done)" if progress is not None else ""
            return StepOutcome.wait(f"snapshot '{step['snapshot']}' for copy '{step['copy']}' is being made{done}")
        return StepOutcome.fail(f"snapshot '{step['snapshot']}' is '{status}'")

    @step("restore_copy")
    def _restore_copy(self, step: dict[str, Any]) -> StepOutcome:
        if find_cluster(self._client, step["copy"]) is not None:
            return StepOutcome.next()
        try:
            with aws_errors(f"restore copy '{step['copy']}' from snapshot '{step['snapshot']}'"):
                self._client.restore_db_cluster_from_snapshot(
                    DBClusterIdentifier=step["copy"],
                    SnapshotIdentifier=step["snapshot"],
                    Tags=tag_list(step["tags"]),
                    **step["options"],
                )
        except AwsError as err:
            if err.code != "DBClusterAlreadyExistsFault" or not self._ours(
                find_cluster(self._client, step["copy"]), step["tags"]
            ):
                raise
        return StepOutcome.next()

    @step("delete_snapshot")
    def _delete_snapshot(self, step: dict[str, Any]) -> StepOutcome:
        snapshot = find_snapshot(self._client, step["snapshot"])
        if snapshot is None or snapshot.get("Status") == "deleting":
            return StepOutcome.next()
        if snapshot.get("Status") == "creating":
            return StepOutcome.wait(f"snapshot '{step['snapshot']}' is still being made; deleting it when it is done")
        with aws_errors(f"delete snapshot '{step['snapshot']}'"):
            self._client.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=step["snapshot"])
        return StepOutcome.next()

    # --- clones -------------------------------------------------------------------------

    @step("clone")
    def _clone(self, step: dict[str, Any]) -> StepOutcome:
        clusters = {c["DBClusterIdentifier"]: c for c in self._all_clusters()}
        clone_id, origin_id = step["clone"], step["origin"]
        existing = clusters.get(clone_id)
        if existing is not None:
            if tag_dict(existing.get("TagList")).get(CLONE_OF_TAG_KEY) == origin_id:
                return StepOutcome.next()  # made by an earlier, interrupted poll
            return StepOutcome.fail(f"cluster '{clone_id}' exists and is not a clone of '{origin_id}'")
        origin = clusters.get(origin_id)
        if origin is None:
            return StepOutcome.fail(f"'{origin_id}' no longer exists; it cannot be cloned")
        status = origin["Status"]
        if status in BROKEN:
            return StepOutcome.fail(f"'{origin_id}' is '{status}' and cannot be cloned")
        if status not in _CLONABLE:
            return StepOutcome.wait(f"'{origin_id}' is '{status}'; waiting to clone it")
        instances = cluster_instances(self._client, origin_id)
        if not instances:
            return StepOutcome.wait(f"'{origin_id}' has no DB instance yet; Aurora clones only clusters with one")
        if status != "stopped" and not any(i.get("DBInstanceStatus") in USABLE_STATES for i in instances):
            return StepOutcome.wait(f"waiting for an instance of '{origin_id}' to be available before cloning it")
        count = clone_count(origin, clusters.values())
        if count >= step["limit"]:
            return StepOutcome.fail(
                f"'{origin_id}' already has {count} clones, the limit of {step['limit']}: another clone took the "
                "last free slot after this plan was made. Retry: a new plan picks another copy (or makes one when "
                "copies are allowed)."
            )
        try:
            with aws_errors(f"clone '{origin_id}' into '{clone_id}'"):
                self._client.restore_db_cluster_to_point_in_time(
                    DBClusterIdentifier=clone_id,
                    SourceDBClusterIdentifier=origin_id,
                    RestoreType="copy-on-write",
                    UseLatestRestorableTime=True,
                    Tags=tag_list(step["tags"]),
                    **step["options"],
                )
        except AwsError as err:
            if err.code != "DBClusterAlreadyExistsFault" or not self._ours(
                find_cluster(self._client, clone_id), step["tags"]
            ):
                raise
        return StepOutcome.next()

    @step("manage_password")
    def _manage_password(self, step: dict[str, Any]) -> StepOutcome:
        cluster = describe_db_cluster(self._client, step["cluster"])
        if cluster.get("MasterUserSecret"):
            return StepOutcome.next()
        if cluster["Status"] not in USABLE_STATES:
            return StepOutcome.wait(f"clone is '{cluster['Status']}'; waiting to give it a managed password")
        with aws_errors(f"give clone '{step['cluster']}' a managed master password"):
            self._client.modify_db_cluster(
                DBClusterIdentifier=step["cluster"], ManageMasterUserPassword=True, ApplyImmediately=True
            )
        return StepOutcome.next()

    # --- purging --------------------------------------------------------------------------

    @step("purge_copy")
    def _purge_copy(self, step: dict[str, Any]) -> StepOutcome:
        """Delete an obsolete copy without clones: ``start`` deletes its instances (and seed snapshot)
        without waiting; ``finish`` waits for them to go, then deletes the cluster. A copy that has
        clones is left alone (it may be deleted safely, but its clones would then pay its storage)."""
        copy_id = step["copy"]
        clusters = self._all_clusters()
        copy = next((c for c in clusters if c["DBClusterIdentifier"] == copy_id), None)
        if copy is None or copy["Status"] == "deleting":
            return StepOutcome.next()
        instances = cluster_instances(self._client, copy_id)
        has_clones = clone_count(copy, clusters) > 0
        if step["phase"] == "start":
            if has_clones or copy["Status"] not in USABLE_STATES:
                return StepOutcome.next()
            self._delete_snapshot({"snapshot": seed_snapshot_identifier(copy_id)})
            for instance in instances:
                if instance.get("DBInstanceStatus") != "deleting":
                    with aws_errors(f"delete instance '{instance['DBInstanceIdentifier']}' of copy '{copy_id}'"):
                        self._client.delete_db_instance(DBInstanceIdentifier=instance["DBInstanceIdentifier"])
            return StepOutcome.next()
        if any(i.get("DBInstanceStatus") != "deleting" for i in instances):
            return StepOutcome.next()  # left alone at the start (it had clones), or in use again
        if instances:
            return StepOutcome.wait(f"waiting for the instances of obsolete copy '{copy_id}' to be deleted")
        if has_clones:
            return StepOutcome.next()
        if copy["Status"] not in USABLE_STATES and copy["Status"] != "stopped":
            return StepOutcome.wait(f"copy '{copy_id}' is '{copy['Status']}'; waiting to delete it")
        with aws_errors(f"delete obsolete copy '{copy_id}'"):
            self._client.delete_db_cluster(DBClusterIdentifier=copy_id, SkipFinalSnapshot=True)
        return StepOutcome.next()
