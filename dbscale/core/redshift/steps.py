"""The step runner of Redshift operations (:class:`~dbscale.core.operation.Operation` kind ``redshift``):
resume, pause, resize, settings (ModifyCluster, ModifyClusterIamRoles, EnableLogging), reboot, delete."""

from __future__ import annotations

from typing import Any

from ..aws import aws_errors
from ..errors import AwsError
from ..operation import StepOutcome, step
from ..provisioning import ClusterSteps
from ..validation import validate_redshift_nodes
from .changes import IAM_SETTINGS, LOGGING_SETTING
from .describe import BROKEN, SETTLED, describe_cluster
from .rescale import plan_rescale
from .settings import delete_owned_parameter_group, logging_matches, send_logging


class RedshiftSteps(ClusterSteps):
    """Runs the steps of Redshift operations. Each step checks the cluster before acting."""

    _client_service = "redshift"
    _service_label = "Redshift"
    _fields_as_arguments = True
    _status_key = "ClusterStatus"
    _settled = SETTLED
    _paused_status = "paused"
    _resume_steps = ("resume", "wait_available")
    _pause_steps = ("pause", "wait_paused")
    _modifiable = frozenset({"available"})
    _setting_readers = {
        "Port": lambda c: (c.get("Endpoint") or {}).get("Port"),
        "VpcSecurityGroupIds": lambda c: [g["VpcSecurityGroupId"] for g in c.get("VpcSecurityGroups", [])],
        "ClusterParameterGroupName": lambda c: next(
            (g["ParameterGroupName"] for g in c.get("ClusterParameterGroups") or []), None
        ),
        "PreferredMaintenanceWindow": lambda c: str(c.get("PreferredMaintenanceWindow") or "").lower(),
        "MultiAZ": lambda c: c.get("MultiAZ") == "Enabled",
        "IamRoles": lambda c: [r["IamRoleArn"] for r in c.get("IamRoles") or []],
    }

    def _cluster(self, name: str) -> dict[str, Any]:
        return describe_cluster(self._client, name)

    def _settings_in_effect(self, name: str, cluster: dict[str, Any], settings: dict[str, Any]) -> bool:
        others = {k: v for k, v in settings.items() if k != LOGGING_SETTING}
        if others and not super()._settings_in_effect(name, cluster, others):
            return False
        if LOGGING_SETTING not in settings:
            return True
        with aws_errors(f"read the logging status of Redshift cluster '{name}'"):
            status = self._client.describe_logging_status(ClusterIdentifier=name)
        return logging_matches(settings[LOGGING_SETTING], status)

    def _send_settings(self, name: str, settings: dict[str, Any], step: dict[str, Any]) -> None:
        # One call per step (modify_settings groups them): each call makes the cluster 'modifying'.
        if LOGGING_SETTING in settings:
            send_logging(self._client, name, settings[LOGGING_SETTING])
            return
        if IAM_SETTINGS & set(settings):
            self._send_iam_roles(name, settings)
            return
        params = dict(settings)
        if params.get("MasterPasswordSecretKmsKeyId"):
            params["ManageMasterPassword"] = True  # AWS takes the key only with it
        with aws_errors(f"modify Redshift cluster '{name}'"):
            self._client.modify_cluster(ClusterIdentifier=name, **params)

    def _send_iam_roles(self, name: str, settings: dict[str, Any]) -> None:
        current = set(self._setting_readers["IamRoles"](self._cluster(name)))  # type: ignore[operator]
        params: dict[str, Any] = {"ClusterIdentifier": name}
        if "IamRoles" in settings:
            wanted = set(settings["IamRoles"])
            if wanted - current:
                params["AddIamRoles"] = sorted(wanted - current)
            if current - wanted:
                params["RemoveIamRoles"] = sorted(current - wanted)
        if settings.get("DefaultIamRoleArn"):
            params["DefaultIamRoleArn"] = settings["DefaultIamRoleArn"]
        with aws_errors(f"change the IAM roles of Redshift cluster '{name}'"):
            self._client.modify_cluster_iam_roles(**params)

    @step("reboot_for_parameters")
    def _reboot_for_parameters(self, name: str, step: dict[str, Any], **_: Any) -> StepOutcome:
        # Asked for explicitly (RebootForParameterChanges): reboot once when AWS reports the new
        # parameter group's values pending a reboot, then wait until the cluster is back.
        c = self._cluster(name)
        if (broken := self._cluster_broken(name, c)) is not None:
            return broken
        if c["ClusterStatus"] != "available":
            return StepOutcome.wait(f"cluster is '{c['ClusterStatus']}', waiting before the reboot")
        pending = any(g.get("ParameterApplyStatus") == "pending-reboot" for g in c.get("ClusterParameterGroups") or [])
        if pending and not step.get("rebooted"):
            with aws_errors(f"reboot Redshift cluster '{name}'"):
                self._client.reboot_cluster(ClusterIdentifier=name)
            step["rebooted"] = True
            return StepOutcome.wait("rebooting to apply the parameter group")
        return StepOutcome.next()

    @step("delete_parameter_group")
    def _delete_parameter_group(self, name: str, step: dict[str, Any], **_: Any) -> StepOutcome:
        gone = delete_owned_parameter_group(self._client, step["group"], step.get("tags") or {})
        if not gone:
            return StepOutcome.next(f"parameter group {step['group']!r} is still in use; kept")
        return StepOutcome.next()

    def _cluster_broken(self, name: str, cluster: dict[str, Any]) -> StepOutcome | None:
        status = cluster["ClusterStatus"]
        if status in BROKEN or cluster.get("ClusterAvailabilityStatus") == "Failed":
            return StepOutcome.fail(f"the cluster is '{status}' and needs attention in the Redshift console")
        return None

    @step("replan")
    def _replan(self, name: str, step: dict[str, Any], **args: Any) -> StepOutcome:
        # The plan could not be made while another operation ran: make it now and splice it in.
        c = self._cluster(name)
        target_type = c["NodeType"] if args["node_type"] is None else args["node_type"]
        target_nodes = int(c["NumberOfNodes"]) if args["number_of_nodes"] is None else args["number_of_nodes"]
        validate_redshift_nodes(target_type, target_nodes, elastic=args["resize_type"] != "classic")
        planned = plan_rescale(c, target_type, target_nodes, args["paused"], args["resize_type"])
        step["action"] = "planned"
        step["steps"] = planned
        return self._planned(name, step)

    @step("resume")
    def _resume(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        if c["ClusterStatus"] == "paused":
            with aws_errors(f"resume Redshift cluster '{name}'"):
                self._client.resume_cluster(ClusterIdentifier=name)
        return StepOutcome.next()

    @step("pause")
    def _pause(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        if c["ClusterStatus"] in ("paused", "pausing"):
            return StepOutcome.next()
        if c["ClusterStatus"] != "available":
            return StepOutcome.wait(f"waiting for '{c['ClusterStatus']}' to finish before pausing")
        with aws_errors(f"pause Redshift cluster '{name}'"):
            self._client.pause_cluster(ClusterIdentifier=name)
        return StepOutcome.next()

    @step("wait_available")
    def _wait_available(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        if (broken := self._cluster_broken(name, c)) is not None:
            return broken
        if c["ClusterStatus"] == "available":
            return StepOutcome.next()
        return StepOutcome.wait(f"cluster is '{c['ClusterStatus']}', waiting for 'available'")

    @step("wait_paused")
    def _wait_paused(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        if (broken := self._cluster_broken(name, c)) is not None:
            return broken
        if c["ClusterStatus"] == "paused":
            return StepOutcome.next()
        return StepOutcome.wait(f"cluster is '{c['ClusterStatus']}', waiting for 'paused'")

    @step("resize")
    def _resize(
        self, name: str, step: dict[str, Any], *, node_type: str, number_of_nodes: int, classic: bool, reason: str = ""
    ) -> StepOutcome:
        c = self._cluster(name)
        if (c["NodeType"], int(c["NumberOfNodes"])) == (node_type, number_of_nodes):
            return StepOutcome.next()
        if c["ClusterStatus"] != "available":
            return StepOutcome.wait(f"waiting for '{c['ClusterStatus']}' to finish before resizing")
        if self._resize_status(name)[0] in ("IN_PROGRESS", "QUEUED"):
            return StepOutcome.next()  # our resize was accepted by an earlier, interrupted poll
        with aws_errors(f"resize Redshift cluster '{name}'"):
            self._client.resize_cluster(
                ClusterIdentifier=name,
                ClusterType="single-node" if number_of_nodes == 1 else "multi-node",
                NodeType=node_type,
                NumberOfNodes=number_of_nodes,
                Classic=classic,
            )
        return StepOutcome.next()

    def _resize_status(self, name: str) -> tuple[str, str]:
        """DescribeResize's Status and Message; ("NONE", "") when no resize was ever requested."""
        try:
            with aws_errors(f"describe the resize of Redshift cluster '{name}'"):
                resize = self._client.describe_resize(ClusterIdentifier=name)
        except AwsError as err:
            if err.code in ("ResizeNotFound", "ResizeNotFoundFault"):
                return ("NONE", "")
            raise
        return (str(resize.get("Status", "NONE")), str(resize.get("Message", "")))

    @step("wait_resized")
    def _wait_resized(self, name: str, step: dict[str, Any], *, node_type: str, number_of_nodes: int) -> StepOutcome:
        c = self._cluster(name)
        if (broken := self._cluster_broken(name, c)) is not None:
            return broken
        status, message = self._resize_status(name)
        if status in ("FAILED", "CANCELLING"):
            return StepOutcome.fail(f"AWS reports the resize {status.lower()}: {message or 'no message'}")
        shape = (c["NodeType"], int(c["NumberOfNodes"]))
        if c["ClusterStatus"] == "available" and shape == (node_type, number_of_nodes) and status != "IN_PROGRESS":
            return StepOutcome.next()
        if (
            c["ClusterStatus"] == "available"
            and status in ("NONE", "SUCCEEDED")
            and shape != (node_type, number_of_nodes)
        ):
            return StepOutcome.fail(
                f"the resize ended with {shape[1]} x {shape[0]} instead of {number_of_nodes} x {node_type}"
            )
        return StepOutcome.wait(
            f"cluster is '{c['ClusterStatus']}' (resize {status.lower()}), resizing to {number_of_nodes} x {node_type}"
        )

    @step("delete")
    def _delete(self, name: str, step: dict[str, Any], *, final_snapshot: str | None) -> StepOutcome:
        if (c := self._cluster_if_exists(name)) is None:
            return StepOutcome.next()
        status = c["ClusterStatus"]
        if status in ("deleting", "final-snapshot"):
            return StepOutcome.next()
        if status not in SETTLED:
            return StepOutcome.wait(f"waiting for '{status}' to finish before deleting")
        kwargs: dict[str, Any] = {"ClusterIdentifier": name}
        if final_snapshot:
            kwargs["FinalClusterSnapshotIdentifier"] = final_snapshot
        else:
            kwargs["SkipFinalClusterSnapshot"] = True
        with aws_errors(f"delete Redshift cluster '{name}'"):
            self._client.delete_cluster(**kwargs)
        return StepOutcome.next()
