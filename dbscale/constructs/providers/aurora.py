"""``AuroraClusterProvider``: the provider of ``Custom::AuroraCluster``."""

from __future__ import annotations

from typing import ClassVar

from ._rds import CREATED_WITH_DBSCALE_TAG, MADE_BY_THE_CLUSTER_PROVIDER, NOT_A_CLONE_OR_COPY, _RdsProvider


class AuroraClusterProvider(_RdsProvider):
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

    def _grant_cluster(self, identifier: str, *, subnet_group_name: str, parameter_group_name: str | None) -> None:
        instances = self._instance_prefix(identifier)
        self._grant_clusters(self._arn("rds", f"cluster:{identifier}"))
        self._allow("Instances", self._INSTANCE_ACTIONS, [self._arn("rds", f"db:{instances}*")])
        self._allow(
            "FinalSnapshots", self._FINAL_SNAPSHOT_ACTIONS, [self._arn("rds", f"cluster-snapshot:{identifier}*")]
        )
        groups = [self._arn("rds", f"subgrp:{subnet_group_name}")]
        if parameter_group_name is not None:
            groups.append(self._arn("rds", f"cluster-pg:{parameter_group_name}"))
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
    _FINAL_SNAPSHOT_ACTIONS: ClassVar[list[str]] = [*_RdsProvider._SNAPSHOT_ACTIONS, "rds:DescribeDBClusterSnapshots"]

    def _grant_clusters(self, clusters: str) -> None:
        """Create clusters ``clusters`` (an ARN or pattern) and change or delete them, but never a
        clone or a copy (the clone provider's); delete only those dbscale made."""
        self._allow("CreateClusters", ["rds:CreateDBCluster"], [clusters], CREATED_WITH_DBSCALE_TAG)
        self._allow("ReadClusters", ["rds:DescribeDBClusters"], [clusters])
        self._allow("ChangeClusters", [*self._CHANGE_ACTIONS, "rds:StopDBCluster"], [clusters], NOT_A_CLONE_OR_COPY)
        self._allow("DeleteClusters", ["rds:DeleteDBCluster"], [clusters], MADE_BY_THE_CLUSTER_PROVIDER)
        # The Data API switch (DatabaseBootstrap turns it on): no tag condition, as for reads.
        self._allow("DataApiSwitch", ["rds:EnableHttpEndpoint", "rds:DisableHttpEndpoint"], [clusters])

    def _grant_prefix(self, prefix: str) -> None:
        self._grant_clusters(self._arn("rds", f"cluster:{prefix}*"))
        self._allow("Instances", self._INSTANCE_ACTIONS, [self._arn("rds", f"db:{prefix}*")])
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
                f"Resource::{self._nag_arn('kms', 'key/*')}",
            ],
            f"a standalone provider serves templates unknown at synth time: clusters, instances and "
            f"snapshots are limited to the '{prefix}' identifier prefix; subnet and parameter groups are "
            "only referenced; keys are usable only through RDS for RDS grants",
        )
