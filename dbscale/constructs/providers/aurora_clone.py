"""``AuroraCloneProvider``: the provider of ``Custom::AuroraClone``, and the IAM grants for full
copies of a source that it shares with ``ClonePoolMaintenance``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from aws_cdk import Stack
from constructs import Construct, IConstruct

from dbscale.core.clones import CLONE_OF_TAG_KEY, COPY_OF_TAG_KEY, copy_identifier_prefix

from .._support import is_token
from ..arns import instance_prefix
from .rds import IS_A_CLONE, IS_A_COPY, RdsProvider, created_as, request_tag

Grant = tuple[str, list[str], list[str], "dict[str, Any] | None"]  # statement id, actions, resource ARNs, condition

# Instances use the engine's default DB parameter and option groups (only referenced).
DEFAULT_INSTANCE_GROUPS = ("pg:default.*", "og:default:*")


def copy_grants(arn: Callable[[str, str], str], *, source: str, copies: str, groups: list[str]) -> list[Grant]:
    """What making, and deleting, full copies of ``source`` takes in IAM.

    ``source`` is the source's identifier (or a pattern), ``copies`` what every copy's identifier
    starts with (:func:`dbscale.core.clones.copy_identifier_prefix`), ``groups`` the ARNs of the
    subnet and cluster parameter groups the copies are restored into (the source's).
    A copy is a snapshot of the source (``<copy>-seed``), restored, given one instance
    (``<copy>-1``); the seed is deleted once the copy is ready, the copy when it is obsolete.
    """
    seeds = [arn("rds", f"cluster-snapshot:{copies}*")]
    copy_clusters = [arn("rds", f"cluster:{copies}*")]
    return [
        (
            "CopySources",
            ["rds:CreateDBClusterSnapshot", "rds:DescribeDBClusterSnapshots"],
            [arn("rds", f"cluster:{source}")],
            None,
        ),
        ("ReadCopySeeds", ["rds:DescribeDBClusterSnapshots", "rds:RestoreDBClusterFromSnapshot"], seeds, None),
        # Seeds and copies are created tagged 'dbscale:copy-of', and only what carries it is deleted:
        # a cluster or snapshot that merely matches the name pattern stays out of reach.
        (
            "CreateCopySeeds",
            ["rds:CreateDBClusterSnapshot", "rds:AddTagsToResource"],
            seeds,
            created_as(COPY_OF_TAG_KEY),
        ),
        ("DeleteCopySeeds", ["rds:DeleteDBClusterSnapshot"], seeds, IS_A_COPY),
        (
            "CreateCopies",
            ["rds:RestoreDBClusterFromSnapshot", "rds:AddTagsToResource"],
            copy_clusters,
            created_as(COPY_OF_TAG_KEY),
        ),
        ("ManageCopies", ["rds:CreateDBInstance", "rds:DeleteDBCluster"], copy_clusters, IS_A_COPY),
        # Copy instances are created tagged 'dbscale:copy-of' (their cluster's kind tag) and only
        # instances carrying it are deleted.
        (
            "CreateCopyInstances",
            ["rds:CreateDBInstance", "rds:AddTagsToResource"],
            [arn("rds", f"db:{copies}*")],
            created_as(COPY_OF_TAG_KEY),
        ),
        ("DeleteCopyInstances", ["rds:DeleteDBInstance"], [arn("rds", f"db:{copies}*")], IS_A_COPY),
        (
            "CopyGroups",
            ["rds:RestoreDBClusterFromSnapshot", "rds:CreateDBInstance"],
            [*groups, *(arn("rds", g) for g in DEFAULT_INSTANCE_GROUPS)],
            None,
        ),
    ]


class AuroraCloneProvider(RdsProvider):
    """The provider of ``Custom::AuroraClone`` (handler ``dbscale.handlers.aurora_clone.handler``).

    The per-stack singleton (``AuroraCloneProvider.of(scope)``) may clone only the sources of the
    ``AuroraClone`` constructs registered with it, into their clone names, and make and delete only
    those sources' copies. A standalone provider (``cluster_identifier_prefix``) may clone sources
    whose identifiers start with ``source_identifier_prefix`` (default: the same prefix) into
    clones whose identifiers start with ``cluster_identifier_prefix``.

    :param source_identifier_prefix: standalone providers: the clusters whose identifiers start with
        this may be cloned (and copied). Default None: the ``cluster_identifier_prefix``.
    """

    resource_type = "Custom::AuroraClone"
    handler_name = "dbscale.handlers.aurora_clone.handler"
    singleton_id = "DbscaleAuroraCloneProvider"

    # Clones are created tagged 'dbscale:clone-of' and only what carries it is changed or deleted:
    # a cluster the Aurora provider made is out of reach even when its name matches.
    _CLONE_ACTIONS: ClassVar[list[str]] = [*RdsProvider._CHANGE_ACTIONS, "rds:DeleteDBCluster"]
    # A clone of the source or of a copy: RestoreDBClusterToPointInTime authorizes on both clusters.
    _ORIGIN_ACTIONS: ClassVar[list[str]] = ["rds:RestoreDBClusterToPointInTime"]
    _GROUP_ACTIONS: ClassVar[list[str]] = [
        "rds:RestoreDBClusterToPointInTime",
        "rds:ModifyDBCluster",
        "rds:CreateDBInstance",
        "rds:ModifyDBInstance",
    ]

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster_identifier_prefix: str | None = None,
        source_identifier_prefix: str | None = None,
        **kwargs: Any,
    ) -> None:
        # Read by _grant_prefix, which the base class calls from its __init__.
        self._source_prefix_given = source_identifier_prefix
        super().__init__(scope, id, cluster_identifier_prefix=cluster_identifier_prefix, **kwargs)

    def _grant_fixed(self) -> None:
        # Clones are counted by clone group across every cluster of the account and region.
        self._allow(
            "CountClones",
            ["rds:DescribeDBClusters", "rds:DescribeDBInstances"],
            [self._arn("rds", "cluster:*"), self._arn("rds", "db:*")],
        )
        self._allow("ReadCopySnapshots", ["rds:DescribeDBClusterSnapshots"], [self._arn("rds", "cluster-snapshot:*")])
        # The TLS guardrail reads the source's cluster parameter group (its clone runs with it).
        self._allow("ReadSourceParameters", ["rds:DescribeDBClusterParameters"], [self._arn("rds", "cluster-pg:*")])
        self._grant_rds_common(
            [
                f"Resource::{self._nag_arn('rds', 'cluster:*')}",
                f"Resource::{self._nag_arn('rds', 'db:*')}",
                f"Resource::{self._nag_arn('rds', 'cluster-snapshot:*')}",
                f"Resource::{self._nag_arn('rds', 'cluster-pg:*')}",
            ],
            "clones are counted by clone group, which takes describing every cluster and instance, a "
            "source's copies are found by listing its manual snapshots, and the TLS guardrail reads the "
            "source's cluster parameter group, whichever it is (all read only)",
        )

    def _grant_cluster(self, identifier: str, *, subnet_group_name: str, parameter_group_name: str | None) -> None:
        raise NotImplementedError("AuroraCloneProvider registers clones with register_clone()")

    def register_clone(
        self,
        resource: IConstruct,
        clone_identifier: str,
        *,
        source: str,
        groups: list[str],
        wildcard_groups: list[str],
        key_arn: str | None,
    ) -> None:
        """Let the role make clone ``clone_identifier`` of ``source`` (and copies of ``source``).

        ``groups``: ARNs of the subnet and cluster parameter groups the source (hence its clones
        and copies) uses, ``wildcard_groups`` the ones among them that are patterns; ``key_arn``:
        the source's storage key, None when unknown (then any key, only via RDS for RDS grants).
        """
        copies = copy_identifier_prefix(source) if not is_token(source) else f"{source}-copy-"
        self._grant_scope(
            sources=[source],
            copies=copies,
            clone=clone_identifier,
            instances=instance_prefix(clone_identifier),
            groups=groups,
        )
        findings = [
            self._nag_arn("rds", f"cluster-snapshot:{copies}*"),
            self._nag_arn("rds", f"cluster:{copies}*"),
            self._nag_arn("rds", f"db:{copies}*"),
            self._nag_arn("rds", f"db:{instance_prefix(clone_identifier)}*"),
            self._nag_arn("rds", f"cluster-snapshot:{clone_identifier}*"),
            *(self._nag_arn("rds", g) for g in DEFAULT_INSTANCE_GROUPS),
            *(self._nag_arn("rds", g.split(":", 5)[5]) for g in wildcard_groups),
        ]
        if key_arn is not None:
            self._grant_key(key_arn, via_service=False)
        else:
            self._grant_key(self._arn("kms", "key/*"), via_service=True)
            findings.append(self._nag_arn("kms", "key/*"))
        self._acknowledge(
            [f"Resource::{f}" for f in findings],
            "copies ('<source>-copy-<time>'), their seed snapshots, instances ('<cluster>-<n>') and final "
            "snapshots are named by the handler at run time: each grant covers only names derived from this "
            "clone's or its source's identifier; default groups are only referenced; a source given by name "
            "has subnet groups, parameter groups and keys unknown at synth time (keys only via RDS for RDS)",
        )
        if Stack.of(resource) is self._stack:
            resource.node.add_dependency(self.policy)

    def _grant_prefix(self, prefix: str) -> None:
        sources = self._source_prefix_given if self._source_prefix_given is not None else prefix
        groups = [self._arn("rds", "subgrp:*"), self._arn("rds", "cluster-pg:*")]
        self._grant_scope(sources=[f"{sources}*"], copies=sources, clone=f"{prefix}*", instances=prefix, groups=groups)
        self._grant_key(self._arn("kms", "key/*"), via_service=True)
        patterns = {
            f"cluster:{sources}*",
            f"cluster:{prefix}*",
            f"db:{sources}*",
            f"db:{prefix}*",
            f"cluster-snapshot:{sources}*",
            f"cluster-snapshot:{prefix}*",
            "subgrp:*",
            "cluster-pg:*",
            *DEFAULT_INSTANCE_GROUPS,
        }
        self._acknowledge(
            [f"Resource::{self._nag_arn('rds', p)}" for p in sorted(patterns)]
            + [f"Resource::{self._nag_arn('kms', 'key/*')}"],
            f"a standalone provider serves templates unknown at synth time: sources and their copies are "
            f"limited to the '{sources}' identifier prefix, clones to '{prefix}'; subnet, parameter and default "
            "groups are only referenced; keys are usable only through RDS for RDS grants",
        )

    def _grant_scope(self, *, sources: list[str], copies: str, clone: str, instances: str, groups: list[str]) -> None:
        """Grants to clone ``sources`` (or their copies) into ``clone`` and to manage the clone."""
        for sid, actions, resources, condition in copy_grants(
            self._arn, source=sources[0], copies=copies, groups=groups
        ):
            self._allow(sid, actions, resources, condition)
        self._allow(
            "CloneOrigins",
            self._ORIGIN_ACTIONS,
            [*(self._arn("rds", f"cluster:{s}") for s in sources), self._arn("rds", f"cluster:{copies}*")],
            {"Null": {request_tag(CLONE_OF_TAG_KEY): "false"}},
        )
        clones = [self._arn("rds", f"cluster:{clone}")]
        self._allow(
            "CreateClones",
            ["rds:RestoreDBClusterToPointInTime", "rds:AddTagsToResource"],
            clones,
            created_as(CLONE_OF_TAG_KEY),
        )
        self._allow("ManageClones", self._CLONE_ACTIONS, clones, IS_A_CLONE)
        instance_arns = [self._arn("rds", f"db:{instances}*")]
        self._allow("CreateCloneInstances", self._INSTANCE_CREATE_ACTIONS, instance_arns, created_as(CLONE_OF_TAG_KEY))
        self._allow("ChangeCloneInstances", self._INSTANCE_CHANGE_ACTIONS, instance_arns, IS_A_CLONE)
        final = clone if clone.endswith("*") else f"{clone}*"
        self._allow("CloneFinalSnapshots", self._SNAPSHOT_ACTIONS, [self._arn("rds", f"cluster-snapshot:{final}")])
        self._allow("CloneGroups", self._GROUP_ACTIONS, groups)
