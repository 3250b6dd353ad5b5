"""The steps of Aurora operations that act on a cluster's instances: add, change, reboot, fail over
to and delete them (:class:`AuroraInstanceSteps`, the base of :class:`~dbscale.core.aurora.AuroraSteps`)."""

from __future__ import annotations

import contextlib
from typing import Any

from ..aws import InstanceAlreadyExists, aws_errors, tag_dict, tag_list
from ..errors import ClusterNotFound
from ..operation import StepOutcome, step
from ..provisioning import ClusterSteps
from .describe import (
    INSTANCE_KIND_TAG_KEYS,
    USABLE,
    describe_db_cluster,
    describe_db_instance,
    instance_pending_reboot,
)
from .settings import for_instance_class, instance_settings_differ


class AuroraInstanceSteps(ClusterSteps):
    """The instance steps of :class:`~dbscale.core.aurora.AuroraSteps`. Each step checks the cluster
    and its instances before acting."""

    def _cluster(self, name: str) -> dict[str, Any]:
        return describe_db_cluster(self._client, name)

    def _instances(self, name: str) -> list[dict[str, Any]]:
        with aws_errors(f"describe the instances of Aurora cluster '{name}'"):
            pages = self._client.get_paginator("describe_db_instances").paginate(
                Filters=[{"Name": "db-cluster-id", "Values": [name]}]
            )
            return [i for page in pages for i in page["DBInstances"]]

    @step("create_instance")
    def _create_instance(self, name: str, step: dict[str, Any]) -> StepOutcome:
        instance_id = step["instance_id"]
        try:
            describe_db_instance(self._client, instance_id)
            return StepOutcome.next()  # created by an earlier, interrupted poll
        except ClusterNotFound:
            pass
        # The instance carries its cluster's kind tags: the providers' IAM conditions read them.
        cluster_tags = tag_dict(self._cluster(name).get("TagList"))
        kind = {key: cluster_tags[key] for key in INSTANCE_KIND_TAG_KEYS if key in cluster_tags}
        settings = for_instance_class(step.get("settings") or {}, step["engine"], step["instance_class"])
        with (
            contextlib.suppress(InstanceAlreadyExists),
            aws_errors(f"add instance '{instance_id}' to Aurora cluster '{name}'"),
        ):
            self._client.create_db_instance(
                DBInstanceIdentifier=instance_id,
                DBClusterIdentifier=name,
                DBInstanceClass=step["instance_class"],
                Engine=step["engine"],
                PromotionTier=step["promotion_tier"],
                PubliclyAccessible=False,
                **settings,
                **({"Tags": tag_list(kind)} if kind else {}),
            )
        return StepOutcome.next()

    @step("modify_instances")
    def _modify_instances(self, name: str, step: dict[str, Any]) -> StepOutcome:
        engine = self._cluster(name)["Engine"]
        for instance in self._instances(name):
            differ = instance_settings_differ(instance, step["settings"], engine)
            if not differ:
                continue
            if instance["DBInstanceStatus"] not in USABLE:
                return StepOutcome.wait(
                    f"instance '{instance['DBInstanceIdentifier']}' is '{instance['DBInstanceStatus']}'"
                )
            with aws_errors(f"change the settings of instance '{instance['DBInstanceIdentifier']}'"):
                self._client.modify_db_instance(
                    DBInstanceIdentifier=instance["DBInstanceIdentifier"],
                    ApplyImmediately=step.get("apply_immediately", True),
                    **differ,
                )
        return StepOutcome.next()

    @step("reboot_pending")
    def _reboot_pending(self, name: str, step: dict[str, Any]) -> StepOutcome:
        # One instance per poll, readers first, each once available again: the cluster keeps serving.
        cluster = self._cluster(name)
        writer = next(
            (m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None
        )
        instances = sorted(self._instances(name), key=lambda i: i["DBInstanceIdentifier"] == writer)
        for instance in instances:
            if instance["DBInstanceStatus"] not in USABLE:
                return StepOutcome.wait(
                    f"instance '{instance['DBInstanceIdentifier']}' is '{instance['DBInstanceStatus']}'"
                )
        for instance in instances:
            if instance_pending_reboot(cluster, instance):
                with aws_errors(f"reboot instance '{instance['DBInstanceIdentifier']}'"):
                    self._client.reboot_db_instance(DBInstanceIdentifier=instance["DBInstanceIdentifier"])
                return StepOutcome.wait(f"rebooted '{instance['DBInstanceIdentifier']}' to apply its parameter groups")
        return StepOutcome.next()

    @step("modify_instance")
    def _modify_instance(self, name: str, step: dict[str, Any]) -> StepOutcome:
        instance = describe_db_instance(self._client, step["instance_id"])
        pending = (instance.get("PendingModifiedValues") or {}).get("DBInstanceClass")
        if step["instance_class"] in (instance["DBInstanceClass"], pending):
            return StepOutcome.next()
        with aws_errors(f"change the class of instance '{step['instance_id']}'"):
            self._client.modify_db_instance(
                DBInstanceIdentifier=step["instance_id"],
                DBInstanceClass=step["instance_class"],
                ApplyImmediately=step["apply_immediately"],
            )
        return StepOutcome.next()

    @step("failover")
    def _failover(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        writer = next((m for m in c.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None)
        if writer and writer["DBInstanceIdentifier"] == step["instance_id"]:
            return StepOutcome.next()
        if c["Status"] == "failing-over":
            return StepOutcome.next()
        with aws_errors(f"fail Aurora cluster '{name}' over to '{step['instance_id']}'"):
            self._client.failover_db_cluster(DBClusterIdentifier=name, TargetDBInstanceIdentifier=step["instance_id"])
        return StepOutcome.next()

    @step("wait_writer")
    def _wait_writer(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        writer = next((m for m in c.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None)
        if c["Status"] in USABLE and writer and writer["DBInstanceIdentifier"] == step["instance_id"]:
            return StepOutcome.next()
        return StepOutcome.wait(f"cluster is '{c['Status']}', waiting for '{step['instance_id']}' to become the writer")

    @step("delete_instance")
    def _delete_instance(self, name: str, step: dict[str, Any]) -> StepOutcome:
        try:
            instance = describe_db_instance(self._client, step["instance_id"])
        except ClusterNotFound:
            return StepOutcome.next()
        if instance["DBInstanceStatus"] == "deleting":
            return StepOutcome.next()
        c = self._cluster(name)
        writer = next((m for m in c.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None)
        if writer and writer["DBInstanceIdentifier"] == step["instance_id"] and len(c["DBClusterMembers"]) > 1:
            # Never delete the serving writer of a cluster that has others: that would force an
            # unplanned failover. Wait for the planned one to land.
            return StepOutcome.wait(f"'{step['instance_id']}' is still the writer; waiting for the failover")
        with aws_errors(f"delete instance '{step['instance_id']}'"):
            self._client.delete_db_instance(DBInstanceIdentifier=step["instance_id"])
        return StepOutcome.next()
