"""``AuroraClone``: a copy-on-write clone of an Aurora cluster, and its provider ``AuroraCloneProvider``.

The clone is one ``Custom::AuroraClone`` resource (handler ``dbscale.handlers.aurora_clone.handler``,
see ``docs/clones.md``): a clone of the source while it has a free clone slot, else of a fresh
full copy of it, else (with ``copy_ok``) of a new copy. The clone lives in the source's VPC, with
the source's subnet group, security groups and cluster parameter group.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from aws_cdk import Duration, Names, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, IConstruct

from dbscale.core.clones import copy_identifier_prefix, iso, validate_clone_request
from dbscale.core.limits import CLUSTER_IDENTIFIER_MAX_LENGTH

from ._cluster import _ClusterBase
from ._support import checked, fail, unresolved
from .aurora import AuroraCluster
from .provider import ClusterProvider

# validate_clone_request's argument names -> this construct's keyword arguments (for messages).
_FIELDS = {
    "source_cluster_id": "source",
    "clone_cluster_id": "cluster_identifier",
    "max_copy_age_hours": "max_copy_age",
    "serverless_v2_min_acu": "serverless_v2_min_capacity",
    "serverless_v2_max_acu": "serverless_v2_max_capacity",
}

Grant = tuple[str, list[str], list[str]]  # statement id, actions, resource ARNs

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
    return [
        (
            "CopySources",
            ["rds:CreateDBClusterSnapshot", "rds:DescribeDBClusterSnapshots"],
            [arn("rds", f"cluster:{source}")],
        ),
        (
            "CopySeedSnapshots",
            [
                "rds:CreateDBClusterSnapshot",
                "rds:DescribeDBClusterSnapshots",
                "rds:RestoreDBClusterFromSnapshot",
                "rds:DeleteDBClusterSnapshot",
                "rds:AddTagsToResource",
            ],
            [arn("rds", f"cluster-snapshot:{copies}*")],
        ),
        (
            "Copies",
            [
                "rds:RestoreDBClusterFromSnapshot",
                "rds:CreateDBInstance",
                "rds:DeleteDBCluster",
                "rds:AddTagsToResource",
            ],
            [arn("rds", f"cluster:{copies}*")],
        ),
        (
            "CopyInstances",
            ["rds:CreateDBInstance", "rds:DeleteDBInstance", "rds:AddTagsToResource"],
            [arn("rds", f"db:{copies}*")],
        ),
        (
            "CopyGroups",
            ["rds:RestoreDBClusterFromSnapshot", "rds:CreateDBInstance"],
            [*groups, *(arn("rds", g) for g in DEFAULT_INSTANCE_GROUPS)],
        ),
    ]


def source_groups(arn: Callable[[str, str], str], source: AuroraCluster | None) -> tuple[list[str], list[str]]:
    """ARNs of the subnet and cluster parameter groups clones and copies of ``source`` use, and
    the ones among them that are wildcards (a source given by name: its groups are unknown here)."""
    if source is None:
        wild = [arn("rds", "subgrp:*"), arn("rds", "cluster-pg:*")]
        return wild, wild
    groups = [arn("rds", f"subgrp:{source.subnet_group.ref}")]
    if source.parameter_group is not None:
        return [*groups, arn("rds", f"cluster-pg:{source.parameter_group.ref}")], []
    return [*groups, arn("rds", "cluster-pg:default.*")], [arn("rds", "cluster-pg:default.*")]


def source_name(scope: IConstruct, source: object) -> tuple[str, AuroraCluster | None]:
    """The source's identifier, and the source construct when it is a dbscale ``AuroraCluster``."""
    if isinstance(source, AuroraCluster):
        return source.cluster_identifier, source
    if isinstance(source, str):
        return source, None
    raise fail(
        scope, f"source must be an AuroraCluster or a cluster identifier, got {type(source).__name__}", field="source"
    )


class AuroraCloneProvider(ClusterProvider):
    """The provider of ``Custom::AuroraClone`` (handler ``dbscale.handlers.aurora_clone.handler``).

    The per-stack singleton (``AuroraCloneProvider.of(scope)``) may clone only the sources of the
    ``AuroraClone`` constructs registered with it, into their clone names, and make and delete only
    those sources' copies. A standalone provider (``cluster_identifier_prefix``) may clone sources
    whose identifiers start with ``source_identifier_prefix`` (default: the same prefix) into
    clones whose identifiers start with ``cluster_identifier_prefix``.
    """

    resource_type = "Custom::AuroraClone"
    handler_name = "dbscale.handlers.aurora_clone.handler"
    singleton_id = "DbscaleAuroraCloneProvider"
    service = "rds"

    _CLONE_ACTIONS: ClassVar[list[str]] = [
        "rds:RestoreDBClusterToPointInTime",
        "rds:ModifyDBCluster",
        "rds:FailoverDBCluster",
        "rds:StartDBCluster",
        "rds:DeleteDBCluster",
        "rds:CreateDBInstance",
        "rds:AddTagsToResource",
        "rds:RemoveTagsFromResource",
        "rds:ListTagsForResource",
    ]
    _INSTANCE_ACTIONS: ClassVar[list[str]] = [
        "rds:CreateDBInstance",
        "rds:ModifyDBInstance",
        "rds:DeleteDBInstance",
        "rds:AddTagsToResource",
        "rds:RemoveTagsFromResource",
        "rds:ListTagsForResource",
    ]
    # DeleteDBCluster with FinalSnapshot authorizes on the snapshot too; CopyTagsToSnapshot tags it.
    _SNAPSHOT_ACTIONS: ClassVar[list[str]] = [
        "rds:CreateDBClusterSnapshot",
        "rds:DeleteDBCluster",
        "rds:AddTagsToResource",
    ]
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
        self._allow(
            "ManagedMasterUserSecret",
            [
                "secretsmanager:CreateSecret",
                "secretsmanager:TagResource",
                "secretsmanager:DescribeSecret",
                "secretsmanager:UpdateSecret",
                "secretsmanager:RotateSecret",
                "secretsmanager:DeleteSecret",
            ],
            [self._arn("secretsmanager", "secret:rds!*")],
        )
        # Clones are counted by clone group across every cluster of the account and region.
        self._allow(
            "CountClones",
            ["rds:DescribeDBClusters", "rds:DescribeDBInstances"],
            [self._arn("rds", "cluster:*"), self._arn("rds", "db:*")],
        )
        self._allow("NoResourceLevelActions", ["secretsmanager:GetRandomPassword"], ["*"])
        self._grant_service_linked_role("rds.amazonaws.com", "AWSServiceRoleForRDS")
        self._acknowledge(
            [
                f"Resource::{self._nag_arn('secretsmanager', 'secret:rds!*')}",
                f"Resource::{self._nag_arn('rds', 'cluster:*')}",
                f"Resource::{self._nag_arn('rds', 'db:*')}",
                "Resource::*",
            ],
            "the clone's master user secret is created by RDS under the 'rds!' prefix with a generated name; "
            "clones are counted by clone group, which takes describing every cluster and instance (read only); "
            "secretsmanager:GetRandomPassword supports no resource-level permissions",
        )

    def _grant_cluster(self, identifier: str, *, subnet_group_name: str, parameter_group_name: str | None) -> None:
        raise NotImplementedError("AuroraCloneProvider registers clones with register_clone()")

    def register_clone(
        self, resource: IConstruct, clone_identifier: str, *, source: str, source_cluster: AuroraCluster | None
    ) -> None:
        """Let the role make clone ``clone_identifier`` of ``source`` (and copies of ``source``)."""
        copies = copy_identifier_prefix(source) if not unresolved(source) else f"{source}-copy-"
        groups, wild_groups = source_groups(self._arn, source_cluster)
        self._grant_scope(
            sources=[source],
            copies=copies,
            clone=clone_identifier,
            instances=self._instance_prefix(clone_identifier),
            groups=groups,
        )
        findings = [
            self._nag_arn("rds", f"cluster-snapshot:{copies}*"),
            self._nag_arn("rds", f"cluster:{copies}*"),
            self._nag_arn("rds", f"db:{copies}*"),
            self._nag_arn("rds", f"db:{self._instance_prefix(clone_identifier)}*"),
            self._nag_arn("rds", f"cluster-snapshot:{clone_identifier}*"),
            *(self._nag_arn("rds", g) for g in DEFAULT_INSTANCE_GROUPS),
            *(self._nag_arn("rds", g.split(":", 5)[5]) for g in wild_groups),
        ]
        if source_cluster is not None:
            self._grant_key(source_cluster.encryption_key.key_arn, via_service=False)
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
        for sid, actions, resources in copy_grants(self._arn, source=sources[0], copies=copies, groups=groups):
            self._allow(sid, actions, resources)
        self._allow(
            "CloneOrigins",
            self._ORIGIN_ACTIONS,
            [*(self._arn("rds", f"cluster:{s}") for s in sources), self._arn("rds", f"cluster:{copies}*")],
        )
        self._allow("Clones", self._CLONE_ACTIONS, [self._arn("rds", f"cluster:{clone}")])
        self._allow("CloneInstances", self._INSTANCE_ACTIONS, [self._arn("rds", f"db:{instances}*")])
        final = clone if clone.endswith("*") else f"{clone}*"
        self._allow("CloneFinalSnapshots", self._SNAPSHOT_ACTIONS, [self._arn("rds", f"cluster-snapshot:{final}")])
        self._allow("CloneGroups", self._GROUP_ACTIONS, groups)


class AuroraClone(_ClusterBase):
    """A copy-on-write clone of an Aurora cluster, with one writer instance (see ``docs/clones.md``).

    Clones are disposable: by default the clone is deleted **without a final snapshot** when it is
    removed from the app or its stack is deleted. The clone uses the source's VPC, subnet group,
    security groups and cluster parameter group; it gets a master password of its own in Secrets
    Manager when the source's password is managed (always so for a dbscale ``AuroraCluster``).

    :param source: the cluster to clone: an ``AuroraCluster`` (the clone then waits for it, and
        its groups and key scope the provider's IAM) or the identifier of an existing cluster.
    :param instance_class: the class of the clone's writer, e.g. ``db.r6g.large`` or
        ``db.serverless`` (then the source's ACU range unless the capacities are given).
    :param copy_ok: when neither the source nor a fresh copy has a free clone slot, make a new
        full copy of the source and clone that. Default False: the deploy fails, naming what it
        found. A copy takes as long as a snapshot and restore of the whole database.
    :param copy_created_since: a copy is usable only when newer than this (ISO-8601 string or
        datetime). Default None: no such bound.
    :param max_copy_age: a copy older than this is not used. Default None: any age.
    :param cluster_identifier: the clone's identifier. Default: derived from the construct's
        unique id and the source, so a new source replaces the clone.
    :param purge_obsolete_copies: delete copies older than the age bounds that have no clones
        when the clone is created. Default False.
    :param max_clones_per_source: clone slots per source or copy. Default None: 15, the number of
        copy-on-write clones AWS allows (beyond it AWS silently makes slow full copies).
    :param copy_instance_class: the class of a new copy's instance. Default: the source writer's.
    :param serverless_v2_min_capacity: with ``db.serverless``: minimum ACUs. Default: the source's.
    :param serverless_v2_max_capacity: with ``db.serverless``: maximum ACUs. Default: the source's.
    :param removal_policy: DESTROY (default) deletes the clone without a final snapshot; SNAPSHOT
        takes one; RETAIN leaves the clone in place.
    :param wait_for_completion: the deploy waits until the clone's writer is available. Default True.
    """

    _metric_namespace = "AWS/RDS"
    _metric_dimension = "DBClusterIdentifier"

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source: AuroraCluster | str,
        instance_class: str,
        copy_ok: bool = False,
        copy_created_since: datetime | str | None = None,
        max_copy_age: Duration | None = None,
        cluster_identifier: str | None = None,
        purge_obsolete_copies: bool = False,
        max_clones_per_source: int | None = None,
        copy_instance_class: str | None = None,
        serverless_v2_min_capacity: float | None = None,
        serverless_v2_max_capacity: float | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        wait_for_completion: bool = True,
    ) -> None:
        super().__init__(scope, id, AuroraCloneProvider.resource_type)
        source_id, source_cluster = source_name(self, source)
        self.source = source_cluster
        self.source_cluster_identifier = source_id
        since = iso(copy_created_since) if isinstance(copy_created_since, datetime) else copy_created_since
        max_age_hours = None if max_copy_age is None else max_copy_age.to_hours(integral=False)
        self._cluster_identifier = self._identifier(cluster_identifier, source_id)
        values = {
            "source_cluster_id": source_id,
            "instance_class": instance_class,
            "clone_cluster_id": self._cluster_identifier,
            "copy_instance_class": copy_instance_class,
            "copy_created_since": since,
            "max_copy_age_hours": max_age_hours,
            "max_clones_per_source": max_clones_per_source,
            "serverless_v2_min_acu": serverless_v2_min_capacity,
            "serverless_v2_max_acu": serverless_v2_max_capacity,
        }
        if not unresolved(*values.values()):
            checked(self, validate_clone_request, fields=_FIELDS, **values)

        provider = AuroraCloneProvider.of(self)
        self.provider = provider
        resource = self._create_resource(
            provider,
            {
                "SourceClusterId": source_id,
                "InstanceClass": instance_class,
                "CloneClusterIdentifier": self._cluster_identifier,
                "CopyOk": copy_ok,
                "CopyCreatedSince": since,
                "MaxCopyAgeHours": max_age_hours,
                "PurgeObsoleteCopies": purge_obsolete_copies,
                "MaxClonesPerSource": max_clones_per_source,
                "CopyInstanceClass": copy_instance_class,
                "ServerlessV2MinCapacity": serverless_v2_min_capacity,
                "ServerlessV2MaxCapacity": serverless_v2_max_capacity,
                "FinalSnapshot": removal_policy == RemovalPolicy.SNAPSHOT,
                "WaitForCompletion": wait_for_completion,
            },
            removal_policy=removal_policy,
            retain_with_cluster=[],
        )
        if source_cluster is not None:
            resource.node.add_dependency(source_cluster.resource)
        provider.register_clone(resource, self._cluster_identifier, source=source_id, source_cluster=source_cluster)

        self._endpoint_value = self._endpoint("Endpoint.Address")
        self._read_endpoint_value = rds.Endpoint(
            self._att("ReadEndpoint.Address"), Token.as_number(resource.get_att("Endpoint.Port"))
        )
        self._secret = self._managed_secret()
        if source_cluster is not None:
            # The clone has the source's security groups and port: the same network access.
            self._connections_value = source_cluster.connections

    def _identifier(self, given: str | None, source_id: str) -> str:
        if given is not None:
            return given
        # The construct's unique name plus a hash of the source: stable across deploys, and a new
        # source gives a new name, so CloudFormation replaces the clone instead of failing.
        digest = hashlib.sha256(source_id.encode()).hexdigest()[:8]
        room = CLUSTER_IDENTIFIER_MAX_LENGTH - len(digest) - 1
        base = Names.unique_resource_name(self, max_length=room, separator="-").lower()
        base = "-".join(part for part in "".join(c if c.isalnum() else "-" for c in base).split("-") if part)
        if not base[:1].isalpha():
            base = f"clone-{base}"[:room].rstrip("-")
        return f"{base}-{digest}"

    # --- attributes ---------------------------------------------------------------------------

    @property
    def connections(self) -> ec2.Connections:
        """Network access to the clone: the source's security groups (the clone shares them, so a
        rule added here opens the source too). Only known when ``source`` is an ``AuroraCluster``."""
        if self.source is None:
            raise fail(
                self,
                "the clone of a cluster given by name has that cluster's security groups, which are unknown "
                "here: manage its network access on the source's security groups",
                field="source",
            )
        return self._connections_value

    @property
    def cluster_identifier(self) -> str:
        """The clone's identifier."""
        return self._cluster_identifier

    @property
    def cluster_endpoint(self) -> rds.Endpoint:
        """The clone's writer endpoint (address and port)."""
        return self._endpoint_value

    @property
    def cluster_read_endpoint(self) -> rds.Endpoint:
        """The clone's reader endpoint (the writer, as the clone has no readers)."""
        return self._read_endpoint_value

    @property
    def cloned_from(self) -> str:
        """The cluster the clone was made from: the source, or a copy of it (``ClonedFrom``)."""
        return self._att("ClonedFrom")

    @property
    def cluster_arn(self) -> str:
        """The clone's ARN (``ClusterArn`` attribute)."""
        return self._att("ClusterArn")

    @property
    def secret(self) -> secretsmanager.ISecret:
        """The clone's own master user secret (RDS creates and rotates it; the password is never
        seen by dbscale). Empty ARN when the source's password is not managed in Secrets Manager."""
        return self._secret

    def metric_freeable_memory(self, **props: Any) -> cloudwatch.Metric:
        """Freeable memory, bytes (Average over 5 minutes)."""
        return self.metric("FreeableMemory", **props)
