"""``AuroraClusterProvider``: the provider of ``Custom::AuroraCluster``."""

from __future__ import annotations

from typing import Any, ClassVar

from dbscale.core.aurora.settings import owned_parameter_group_name
from dbscale.core.limits import CREATED_BY_TAG_KEY, CREATED_BY_TAG_VALUE

from .._support import is_token
from ..arns import instance_prefix
from .rds import (
    CREATED_AS_A_CLUSTER_INSTANCE,
    CREATED_WITH_DBSCALE_TAG,
    MADE_BY_THE_CLUSTER_PROVIDER,
    NOT_A_CLONE_OR_COPY,
    RdsProvider,
    resource_tag,
)

# Enhanced Monitoring's role is passed to RDS, and only to its monitoring service.
PASSED_TO_MONITORING: dict[str, Any] = {"StringEquals": {"iam:PassedToService": "monitoring.rds.amazonaws.com"}}
MADE_BY_DBSCALE: dict[str, Any] = {"StringEquals": {resource_tag(CREATED_BY_TAG_KEY): CREATED_BY_TAG_VALUE}}


class AuroraClusterProvider(RdsProvider):
    """The provider of ``Custom::AuroraCluster`` (handler ``dbscale.handlers.aurora_cluster.handler``)."""

    resource_type = "Custom::AuroraCluster"
    handler_name = "dbscale.handlers.aurora_cluster.handler"
    singleton_id = "DbscaleAuroraClusterProvider"

    # Creating or modifying a cluster or instance also authorizes on the groups it names.
    _REFERENCE_ACTIONS: ClassVar[list[str]] = [
        "rds:CreateDBCluster",
        "rds:ModifyDBCluster",
        "rds:CreateDBInstance",
        "rds:ModifyDBInstance",
    ]

    def _grant_fixed(self) -> None:
        # The handler lists a cluster's instances with a db-cluster-id filter, which IAM
        # authorizes against 'db:*' (read only).
        self._allow("DescribeInstancesByCluster", ["rds:DescribeDBInstances"], [self._arn("rds", "db:*")])
        # A major EngineVersion ('16') is resolved to the newest version AWS offers at create time;
        # DescribeDBEngineVersions has no resource type in IAM ('*' is the only form, read only).
        self._allow("ListEngineVersions", ["rds:DescribeDBEngineVersions"], ["*"])
        # Instances use the engine's default DB parameter and option groups (read-only references).
        self._allow(
            "DefaultGroups",
            self._REFERENCE_ACTIONS,
            [
                self._arn("rds", "pg:default.*"),
                self._arn("rds", "og:default:*"),
                self._arn("rds", "cluster-pg:default.*"),
            ],
        )
        self._grant_rds_common(
            [
                f"Resource::{self._nag_arn('rds', 'db:*')}",
                f"Resource::{self._nag_arn('rds', 'pg:default.*')}",
                f"Resource::{self._nag_arn('rds', 'og:default:*')}",
                f"Resource::{self._nag_arn('rds', 'cluster-pg:default.*')}",
            ],
            "DescribeDBInstances with a cluster filter is authorized on 'db:*' (read only); the engine's "
            "default parameter and option groups are only referenced, never changed; "
            "rds:DescribeDBEngineVersions has no resource type (read only)",
        )

    def _grant_instances(self, instances: str) -> None:
        """Create instances ``instances`` (an ARN pattern) tagged as this provider's, and change,
        reboot or delete them, but never a clone's or a copy's instance (the clone provider's)."""
        self._allow("CreateInstances", self._INSTANCE_CREATE_ACTIONS, [instances], CREATED_AS_A_CLUSTER_INSTANCE)
        self._allow(
            "ChangeInstances",
            [*self._INSTANCE_CHANGE_ACTIONS, "rds:RebootDBInstance"],
            [instances],
            NOT_A_CLONE_OR_COPY,
        )

    def grant_instance_options(
        self, *, instance_parameter_group_name: str | None, monitoring_role_arn: str | None
    ) -> None:
        """Let the role give instances the DB parameter group ``instance_parameter_group_name`` and
        pass ``monitoring_role_arn`` to RDS Enhanced Monitoring (a construct's own choices)."""
        if instance_parameter_group_name is not None:
            group = self._arn("rds", f"pg:{instance_parameter_group_name}")
            self._allow("InstanceParameterGroups", self._REFERENCE_ACTIONS, [group])
            self._allow("ReadInstanceParameterGroups", ["rds:DescribeDBParameterGroups"], [group])  # preflight
        if monitoring_role_arn is not None:
            self._allow("PassMonitoringRole", ["iam:PassRole"], [monitoring_role_arn], PASSED_TO_MONITORING)
            self._allow("ReadMonitoringRole", ["iam:GetRole"], [monitoring_role_arn])  # preflight: its trust

    def _grant_cluster(self, identifier: str, *, subnet_group_name: str, parameter_group_name: str | None) -> None:
        instances = instance_prefix(identifier)
        self._grant_clusters(self._arn("rds", f"cluster:{identifier}"))
        self._grant_instances(self._arn("rds", f"db:{instances}*"))
        self._allow(
            "FinalSnapshots", self._FINAL_SNAPSHOT_ACTIONS, [self._arn("rds", f"cluster-snapshot:{identifier}*")]
        )
        groups = [self._arn("rds", f"subgrp:{subnet_group_name}")]
        if parameter_group_name is not None:
            groups.append(self._arn("rds", f"cluster-pg:{parameter_group_name}"))
            # The TLS guardrail reads the group's parameters before the cluster is made or changed.
            self._allow(
                "ReadClusterParameters",
                ["rds:DescribeDBClusterParameters"],
                [self._arn("rds", f"cluster-pg:{parameter_group_name}")],
            )
        self._allow("ClusterGroups", self._REFERENCE_ACTIONS, groups)
        self._acknowledge(
            [
                f"Resource::{self._nag_arn('rds', f'db:{instances}*')}",
                f"Resource::{self._nag_arn('rds', f'cluster-snapshot:{identifier}*')}",
            ],
            "instances ('<cluster>-<n>') and final snapshots are named by the handler at run time; the "
            "grant covers only names derived from this cluster's identifier",
        )

    # A delete first checks that its final snapshot's name is free (nothing is deleted otherwise).
    _FINAL_SNAPSHOT_ACTIONS: ClassVar[list[str]] = [*RdsProvider._SNAPSHOT_ACTIONS, "rds:DescribeDBClusterSnapshots"]

    def _grant_clusters(self, clusters: str) -> None:
        """Create clusters ``clusters`` (an ARN or pattern) and change or delete them, but never a
        clone or a copy (the clone provider's); delete only those dbscale made."""
        self._allow("CreateClusters", ["rds:CreateDBCluster"], [clusters], CREATED_WITH_DBSCALE_TAG)
        self._allow("ReadClusters", ["rds:DescribeDBClusters"], [clusters])
        self._allow("ChangeClusters", [*self._CHANGE_ACTIONS, "rds:StopDBCluster"], [clusters], NOT_A_CLONE_OR_COPY)
        self._allow("DeleteClusters", ["rds:DeleteDBCluster"], [clusters], MADE_BY_THE_CLUSTER_PROVIDER)
        # The Data API switch (DatabaseBootstrap turns it on): no tag condition, as for reads.
        self._allow("DataApiSwitch", ["rds:EnableHttpEndpoint", "rds:DisableHttpEndpoint"], [clusters])

    def _nag_iam_prefix(self) -> str:
        """IAM ARNs have no region: ``arn:<AWS::Partition>:iam::<account>:`` as cdk-nag prints them."""
        account = "<AWS::AccountId>" if is_token(self._account) else self._account
        return f"arn:<AWS::Partition>:iam::{account}:"

    def _grant_prefix(self, prefix: str) -> None:
        self._grant_clusters(self._arn("rds", f"cluster:{prefix}*"))
        self._grant_instances(self._arn("rds", f"db:{prefix}*"))
        # Without a named cluster parameter group the handler makes '<cluster>-dbscale-tls' (TLS
        # required), tagged as dbscale's, and deletes it after the cluster; it reads any named one.
        owned = [self._arn("rds", f"cluster-pg:{owned_parameter_group_name(prefix + '*')}")]
        self._allow(
            "CreateOwnParameterGroups",
            ["rds:CreateDBClusterParameterGroup", "rds:AddTagsToResource"],
            owned,
            CREATED_WITH_DBSCALE_TAG,
        )
        self._allow(
            "ChangeOwnParameterGroups",
            ["rds:ModifyDBClusterParameterGroup", "rds:DeleteDBClusterParameterGroup"],
            owned,
            MADE_BY_DBSCALE,
        )
        self._allow(
            "ReadParameterGroups",
            ["rds:DescribeDBClusterParameterGroups", "rds:DescribeDBClusterParameters", "rds:ListTagsForResource"],
            [self._arn("rds", "cluster-pg:*")],
        )
        # Templates name their own instance parameter groups, and Enhanced Monitoring roles.
        self._allow("InstanceParameterGroups", self._REFERENCE_ACTIONS, [self._arn("rds", "pg:*")])
        # The preflight reads the groups and roles a request names before the first create.
        self._allow("ReadInstanceParameterGroups", ["rds:DescribeDBParameterGroups"], [self._arn("rds", "pg:*")])
        roles = f"arn:{self._partition}:iam::{self._account}:role/*"
        self._allow("PassMonitoringRole", ["iam:PassRole"], [roles], PASSED_TO_MONITORING)
        self._allow("ReadMonitoringRoles", ["iam:GetRole"], [roles])
        self._allow("FinalSnapshots", self._FINAL_SNAPSHOT_ACTIONS, [self._arn("rds", f"cluster-snapshot:{prefix}*")])
        # Templates name their own subnet and cluster parameter groups: referenced, never changed.
        self._allow(
            "ClusterGroups",
            self._REFERENCE_ACTIONS,
            [self._arn("rds", "subgrp:*"), self._arn("rds", "cluster-pg:*")],
        )
        self._grant_key(self._arn("kms", "key/*"), via_service=True)
        self._acknowledge(
            [
                f"Resource::{self._nag_arn('rds', f'cluster:{prefix}*')}",
                f"Resource::{self._nag_arn('rds', f'db:{prefix}*')}",
                f"Resource::{self._nag_arn('rds', f'cluster-snapshot:{prefix}*')}",
                f"Resource::{self._nag_arn('rds', 'subgrp:*')}",
                f"Resource::{self._nag_arn('rds', 'cluster-pg:*')}",
                f"Resource::{self._nag_arn('rds', 'cluster-pg:' + owned_parameter_group_name(prefix + '*'))}",
                f"Resource::{self._nag_arn('rds', 'pg:*')}",
                f"Resource::{self._nag_arn('iam', 'role/*').replace(self._nag_arn('iam', ''), self._nag_iam_prefix())}",
                f"Resource::{self._nag_arn('kms', 'key/*')}",
            ],
            f"a standalone provider serves templates unknown at synth time: clusters, instances and "
            f"snapshots are limited to the '{prefix}' identifier prefix; subnet and parameter groups are "
            "only referenced (its own TLS groups, named after the cluster and tagged, are the only ones it "
            "changes or deletes); monitoring roles can be passed only to RDS Enhanced Monitoring; keys are "
            "usable only through RDS for RDS grants",
        )
