"""``AuroraClone``: a copy-on-write clone of an Aurora cluster (its provider: ``AuroraCloneProvider``).

The clone is one ``Custom::AuroraClone`` resource (handler ``dbscale.handlers.aurora_clone.handler``,
see ``docs/clones.md``): a clone of the source while it has a free clone slot, else of a fresh
full copy of it, else (with ``copy_ok``) of a new copy. The clone lives in the source's VPC, with
the source's subnet group, security groups and cluster parameter group.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aws_cdk import Duration, Names, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from constructs import Construct, IConstruct

from dbscale.cfn.signal import AURORA_CLONE_SIGNAL_ATTRIBUTES as SIGNAL_ATTRIBUTES
from dbscale.core.clones import iso, validate_clone_request
from dbscale.core.limits import CLUSTER_IDENTIFIER_MAX_LENGTH

from ._support import checked, fail, unresolved
from .aurora import AuroraBase, AuroraCluster
from .long_operations import LongOperations
from .providers import AuroraCloneProvider

# validate_clone_request's argument names -> this construct's keyword arguments (for messages).
_FIELDS = {
    "source_cluster_id": "source",
    "clone_cluster_id": "cluster_identifier",
    "max_copy_age_hours": "max_copy_age",
    "serverless_v2_min_acu": "serverless_v2_min_capacity",
    "serverless_v2_max_acu": "serverless_v2_max_capacity",
}


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


def age_hours(age: Duration | timedelta | None) -> float | None:
    """A copy age limit in hours (a ``Duration`` or a ``timedelta``; None stays None)."""
    if age is None:
        return None
    if isinstance(age, timedelta):
        return age.total_seconds() / 3600
    return age.to_hours(integral=False)


def source_name(scope: IConstruct, source: object) -> tuple[str, AuroraCluster | None]:
    """The source's identifier, and the source construct when it is a dbscale ``AuroraCluster``."""
    if isinstance(source, AuroraCluster):
        return source.cluster_identifier, source
    if isinstance(source, str):
        return source, None
    raise fail(
        scope, f"source must be an AuroraCluster or a cluster identifier, got {type(source).__name__}", field="source"
    )


class AuroraClone(AuroraBase):
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
    :param max_copy_age: a copy older than this is not used (``Duration`` or ``timedelta``).
        Default None: any age.
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
    :param long_operations: ``LongOperations(timeout=...)`` lets a deploy wait for a clone that takes
        longer than the custom resource's one-hour limit (a copy-first clone: snapshot and restore of
        the whole database), up to 12 hours, through a wait condition (see
        ``docs/long-operations.md``). The clone's endpoints, ARN and secret are then read from the
        wait condition's data: whatever uses them waits for the finished clone. Needs
        ``wait_for_completion=True``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source: AuroraCluster | str,
        instance_class: str,
        copy_ok: bool = False,
        copy_created_since: datetime | str | None = None,
        max_copy_age: Duration | timedelta | None = None,
        cluster_identifier: str | None = None,
        purge_obsolete_copies: bool = False,
        max_clones_per_source: int | None = None,
        copy_instance_class: str | None = None,
        serverless_v2_min_capacity: float | None = None,
        serverless_v2_max_capacity: float | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        wait_for_completion: bool = True,
        long_operations: LongOperations | None = None,
    ) -> None:
        super().__init__(scope, id, AuroraCloneProvider.resource_type)
        source_id, source_cluster = source_name(self, source)
        self.source = source_cluster
        self.source_cluster_identifier = source_id
        since = iso(copy_created_since) if isinstance(copy_created_since, datetime) else copy_created_since
        max_age_hours = age_hours(max_copy_age)
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
            long_operations=long_operations,
        )
        if source_cluster is not None:
            resource.node.add_dependency(source_cluster.resource)
        groups, wildcard_groups = source_groups(provider._arn, source_cluster)
        provider.register_clone(
            resource,
            self._cluster_identifier,
            source=source_id,
            groups=groups,
            wildcard_groups=wildcard_groups,
            key_arn=source_cluster.encryption_key.key_arn if source_cluster is not None else None,
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

    def _att(self, name: str) -> str:
        """With long operations, the attributes a new clone only has once it is finished come from the
        completion signal's data (the early answer does not carry them); the rest as for clusters."""
        if self._completion is not None and name in SIGNAL_ATTRIBUTES:
            if name not in self._atts:
                self._atts[name] = self._completion.signalled(SIGNAL_ATTRIBUTES.index(name))
            return self._atts[name]
        return super()._att(name)

    def _port_attribute(self) -> Any:
        return self._att("Endpoint.Port") if self._completion is not None else super()._port_attribute()

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
    def cloned_from(self) -> str:
        """The cluster the clone was made from: the source, or a copy of it (``ClonedFrom``)."""
        return self._att("ClonedFrom")
