"""The step runner of Aurora operations: :class:`AuroraSteps`."""

from __future__ import annotations

import re
from typing import Any

from ..aws import aws_errors
from ..errors import ClusterNotFound
from ..operation import StepOutcome, step
from .describe import (
    BROKEN,
    SETTLED,
    USABLE,
    acu_range,
    instance_pending_reboot,
)
from .instance_steps import AuroraInstanceSteps
from .rescale import plan_rescale
from .settings import instance_settings_differ

# AWS's DB cluster snapshot identifier: 1-255 letters, digits or hyphens, starting with a letter.
_SNAPSHOT_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,254}")


class AuroraSteps(AuroraInstanceSteps):
    """Runs the steps of Aurora operations. Each step checks the cluster before acting."""

    _client_service = "rds"
    _service_label = "Aurora"
    _fields_as_arguments = False
    _status_key = "Status"
    _settled = SETTLED
    _paused_status = "stopped"
    _resume_steps = ("start", "wait_available")
    _pause_steps = ("stop", "wait_stopped")
    _modifiable = USABLE
    _setting_readers = {
        "EnableIAMDatabaseAuthentication": "IAMDatabaseAuthenticationEnabled",
        # The declared list of exports; sent as a CloudwatchLogsExportConfiguration (see _send_settings).
        "EnableCloudwatchLogsExports": lambda c: sorted(c.get("EnabledCloudwatchLogsExports") or []),
        "DBClusterParameterGroupName": "DBClusterParameterGroup",
        "VpcSecurityGroupIds": lambda c: [g["VpcSecurityGroupId"] for g in c.get("VpcSecurityGroups", [])],
    }

    def _send_settings(self, name: str, settings: dict[str, Any], step: dict[str, Any]) -> None:
        if "EnableCloudwatchLogsExports" in settings:
            settings = dict(settings)
            wanted = set(settings.pop("EnableCloudwatchLogsExports") or [])
            current = set(self._cluster(name).get("EnabledCloudwatchLogsExports") or [])
            settings["CloudwatchLogsExportConfiguration"] = {
                "EnableLogTypes": sorted(wanted - current),
                "DisableLogTypes": sorted(current - wanted),
            }
        with aws_errors(f"modify Aurora cluster '{name}'"):
            self._client.modify_db_cluster(
                DBClusterIdentifier=name, ApplyImmediately=step.get("apply_immediately", True), **settings
            )

    @staticmethod
    def _broken(status: str, what: str) -> StepOutcome | None:
        if status in BROKEN:
            return StepOutcome.fail(f"{what} is '{status}' and needs attention in the RDS console")
        return None

    def _cluster_broken(self, name: str, cluster: dict[str, Any]) -> StepOutcome | None:
        return self._broken(cluster["Status"], f"cluster '{name}'")

    @step("replan")
    def _replan(self, name: str, step: dict[str, Any]) -> StepOutcome:
        # The plan could not be made while another operation ran: make it now and run it inline.
        request = {k: step[k] for k in ("instance_class", "reader_count", "acu", "paused", "immediate")}
        request["auto_pause_seconds"] = step.get("auto_pause_seconds")
        request["instance_settings"] = step.get("instance_settings")
        planned = plan_rescale(self._client, self._cluster(name), request)
        step.clear()
        step.update({"action": "planned", "steps": planned})
        return self._planned(name, step)

    @step("wait_available")
    def _wait_available(self, name: str, step: dict[str, Any]) -> StepOutcome:
        """The cluster and every instance in it are available (deleted instances gone)."""
        c = self._cluster(name)
        if (broken := self._cluster_broken(name, c)) is not None:
            return broken
        if c["Status"] not in USABLE:
            return StepOutcome.wait(f"cluster is '{c['Status']}', waiting for 'available'")
        for instance in self._instances(name):
            status = instance["DBInstanceStatus"]
            what = f"instance '{instance['DBInstanceIdentifier']}'"
            if (broken := self._broken(status, what)) is not None:
                return broken
            if status not in USABLE:
                return StepOutcome.wait(f"{what} is '{status}', waiting for 'available'")
        return StepOutcome.next()

    @step("wait_stopped")
    def _wait_stopped(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        if c["Status"] == "stopped":
            return StepOutcome.next()
        return StepOutcome.wait(f"cluster is '{c['Status']}', waiting for 'stopped'")

    @step("start")
    def _start(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        if c["Status"] == "stopped":
            with aws_errors(f"start Aurora cluster '{name}'"):
                self._client.start_db_cluster(DBClusterIdentifier=name)
        elif c["Status"] == "stopping":
            return StepOutcome.wait("waiting for 'stopping' to finish before starting")
        return StepOutcome.next()

    @step("stop")
    def _stop(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        if c["Status"] in ("stopped", "stopping"):
            return StepOutcome.next()
        if c["Status"] != "available":
            return StepOutcome.wait(f"waiting for '{c['Status']}' to finish before stopping")
        with aws_errors(f"stop Aurora cluster '{name}'"):
            self._client.stop_db_cluster(DBClusterIdentifier=name)
        return StepOutcome.next()

    @step("modify_cluster")
    def _modify_cluster(self, name: str, step: dict[str, Any]) -> StepOutcome:
        acu = step["acu"]
        seconds = step.get("auto_pause_seconds")
        cluster = self._cluster(name)
        seconds_now = (cluster.get("ServerlessV2ScalingConfiguration") or {}).get("SecondsUntilAutoPause")
        if acu is None or (acu_range(cluster) == tuple(acu) and (seconds is None or seconds == seconds_now)):
            return StepOutcome.next()
        config: dict[str, Any] = {"MinCapacity": acu[0], "MaxCapacity": acu[1]}
        # Keep the running auto-pause delay across a range change unless a new one is asked for (it
        # only applies at a 0-ACU minimum).
        if seconds is None and seconds_now is not None and acu[0] == 0:
            seconds = seconds_now
        if seconds is not None:
            config["SecondsUntilAutoPause"] = seconds
        with aws_errors(f"change the ACU range of Aurora cluster '{name}'"):
            self._client.modify_db_cluster(
                DBClusterIdentifier=name,
                ServerlessV2ScalingConfiguration=config,
                ApplyImmediately=step["apply_immediately"],
            )
        return StepOutcome.next()

    @step("protect")
    def _protect(self, name: str, step: dict[str, Any]) -> StepOutcome:
        if self._cluster(name).get("DeletionProtection"):
            return StepOutcome.next()
        with aws_errors(f"turn on deletion protection of Aurora cluster '{name}'"):
            self._client.modify_db_cluster(DBClusterIdentifier=name, DeletionProtection=True, ApplyImmediately=True)
        return StepOutcome.next()

    @step("after_restore")
    def _after_restore(self, name: str, step: dict[str, Any]) -> StepOutcome:
        # A restored cluster has no managed master secret of its own (it keeps the source's
        # password) and takes backup and maintenance settings only through ModifyDBCluster.
        c = self._cluster(name)
        if c["Status"] not in USABLE:
            return StepOutcome.wait(f"cluster is '{c['Status']}', waiting to apply the settings a restore cannot take")
        settings = dict(step["settings"])
        if c.get("MasterUserSecret"):
            settings = {
                k: v for k, v in settings.items() if k not in ("ManageMasterUserPassword", "MasterUserSecretKmsKeyId")
            }
        if settings:
            with aws_errors(f"apply the settings of restored Aurora cluster '{name}'"):
                self._client.modify_db_cluster(DBClusterIdentifier=name, ApplyImmediately=True, **settings)
        step["settings"] = {}
        return StepOutcome.next()

    def _settings_changes(self, name: str, cluster: dict[str, Any], step: dict[str, Any]) -> list[dict[str, Any]]:
        changes = super()._settings_changes(name, cluster, step)
        extra = {k: v for k, v in step.items() if k in ("apply_immediately",)}
        wanted = step.get("instance_settings")
        instances = self._instances(name) if wanted or step.get("reboot") else []
        if wanted and any(instance_settings_differ(i, wanted, cluster["Engine"]) for i in instances):
            changes += [
                {"action": "wait_available"},
                {"action": "modify_instances", "settings": wanted, **extra},
                {"action": "wait_available"},
            ]
        if step.get("reboot") and (changes or any(instance_pending_reboot(cluster, i) for i in instances)):
            changes += [{"action": "reboot_pending"}, {"action": "wait_available"}]
        return changes

    @step("check_final_snapshot")
    def _check_final_snapshot(self, name: str, step: dict[str, Any]) -> StepOutcome:
        snapshot = step["final_snapshot"]
        if (c := self._cluster_if_exists(name)) is None or c["Status"] == "deleting":
            return StepOutcome.next()
        if not _SNAPSHOT_IDENTIFIER.fullmatch(snapshot) or "--" in snapshot or snapshot.endswith("-"):
            return StepOutcome.fail(
                f"'{snapshot}' is not a valid DB cluster snapshot identifier (1-255 letters, digits or hyphens, "
                "starting with a letter, without two hyphens in a row or a hyphen at the end); nothing was deleted"
            )
        try:
            with aws_errors(f"look up DB cluster snapshot '{snapshot}'"):
                found = self._client.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot)[
                    "DBClusterSnapshots"
                ]
        except ClusterNotFound:
            found = []
        if found:
            return StepOutcome.fail(
                f"a DB cluster snapshot named '{snapshot}' already exists (of cluster "
                f"'{found[0].get('DBClusterIdentifier')}'), so the final snapshot cannot be taken; nothing was "
                "deleted. Delete or rename that snapshot, or choose another final snapshot name"
            )
        return StepOutcome.next()

    @step("delete_instances")
    def _delete_instances(self, name: str, step: dict[str, Any]) -> StepOutcome:
        if (c := self._cluster_if_exists(name)) is None:
            return StepOutcome.next()
        if c["Status"] == "stopped":
            # Instances of a stopped cluster cannot be deleted; start it so the delete can run.
            with aws_errors(f"start Aurora cluster '{name}' to delete it"):
                self._client.start_db_cluster(DBClusterIdentifier=name)
            return StepOutcome.wait("starting the stopped cluster so that it can be deleted")
        if c["Status"] in ("starting", "stopping"):
            return StepOutcome.wait(f"cluster is '{c['Status']}', waiting before deleting its instances")
        for instance in self._instances(name):
            if instance["DBInstanceStatus"] != "deleting":
                with aws_errors(f"delete instance '{instance['DBInstanceIdentifier']}'"):
                    self._client.delete_db_instance(DBInstanceIdentifier=instance["DBInstanceIdentifier"])
        return StepOutcome.next()

    @step("delete_cluster")
    def _delete_cluster(self, name: str, step: dict[str, Any]) -> StepOutcome:
        if (c := self._cluster_if_exists(name)) is None:
            return StepOutcome.next()
        if c["Status"] == "deleting":
            return StepOutcome.next()
        if self._instances(name):
            return StepOutcome.wait("waiting for the cluster's instances to be deleted")
        kwargs: dict[str, Any] = {"DBClusterIdentifier": name}
        if step["final_snapshot"]:
            kwargs["FinalDBSnapshotIdentifier"] = step["final_snapshot"]
        else:
            kwargs["SkipFinalSnapshot"] = True
        with aws_errors(f"delete Aurora cluster '{name}'"):
            self._client.delete_db_cluster(**kwargs)
        return StepOutcome.next()
