"""Redshift provisioned clusters: get-or-create, rescale (elastic or classic), pause, resume, delete."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .aws import aws_errors, checked_tag_changes, client, final_snapshot_name, tag_dict, tag_list, tags_include
from .clock import SYSTEM_CLOCK, Clock
from .errors import AwsError, ClusterAlreadyExists, ClusterNotFound, ClusterNotOwned, InvalidRequest, InvalidState
from .limits import (
    CREATED_BY_TAG_KEY,
    CREATED_BY_TAG_VALUE,
    REDSHIFT_DEFAULT_PORT,
    REDSHIFT_NODE_TYPES,
    REDSHIFT_RESIZE_TYPES,
)
from .operation import Operation, StepOutcome
from .validation import (
    validate_cluster_identifier,
    validate_redshift_node_type,
    validate_redshift_nodes,
    validate_resize_type,
)

if TYPE_CHECKING:
    import boto3

RESIZE_TYPES = REDSHIFT_RESIZE_TYPES
# States a change may start from; anything else is an operation in flight.
_SETTLED = frozenset({"available", "paused"})
# States no amount of waiting fixes: a human has to look.
_BROKEN = frozenset(
    {
        "hardware-failure",
        "incompatible-hsm",
        "incompatible-network",
        "incompatible-parameters",
        "incompatible-restore",
        "storage-full",
    }
)
# Create options dbscale sets itself or refuses (no password ever passes through dbscale).
_RESERVED_OPTIONS = frozenset({"ClusterIdentifier", "NodeType", "NumberOfNodes", "ClusterType"})
_FORBIDDEN_OPTIONS = frozenset({"MasterUserPassword", "ManageMasterPassword"})


@dataclass(frozen=True)
class ConnectionInfo:
    """How to reach a cluster. The password stays in Secrets Manager under ``secret_arn``."""

    host: str | None
    port: int | None
    database: str | None
    user: str | None
    secret_arn: str | None
    reader_host: str | None = None


@dataclass(frozen=True)
class ResizePlan:
    """The resize dbscale will ask for and why: ``method`` is ``"elastic"`` or ``"classic"``."""

    method: str
    reason: str


def choose_resize(
    current_type: str, current_nodes: int, new_type: str, new_nodes: int, resize_type: str = "auto"
) -> ResizePlan:
    """Choose elastic or classic resize for a node type/count change, following AWS's rules.

    AWS (Amazon Redshift Management Guide, "Resizing a cluster" -> "Elastic resize",
    https://docs.aws.amazon.com/redshift/latest/mgmt/resizing-cluster.html): elastic resize of the
    node count grows it up to 2x (4x for ra3.4xlarge and ra3.16xlarge) and shrinks it to 1/2 (1/4
    for ra3.xlplus, ra3.4xlarge and ra3.16xlarge), up to the elastic maximum of the node type; it is
    not available to or from a single-node cluster. Elastic resize can also change the node type
    (e.g. DC2 to RA3) when AWS can map the slices, which AWS decides at request time, so ``auto``
    picks classic (always allowed) for a node type change and ``resize_type="elastic"`` tries it.
    Nothing resizes back to DC2. ``resize_type="elastic"`` on a count change elastic resize cannot
    do raises :class:`InvalidRequest` naming the allowed counts.
    """
    validate_resize_type(resize_type)
    if new_type != current_type and new_type.startswith("dc2.") and not current_type.startswith("dc2."):
        raise InvalidRequest(
            f"{current_type} cannot be resized to {new_type}: AWS does not resize back to DC2",
            field="new_instance_type",
        )
    if resize_type == "classic":
        return ResizePlan("classic", "classic resize requested")
    spec = REDSHIFT_NODE_TYPES[current_type]
    shrink = spec.elastic_shrink_factor or spec.elastic_factor
    low = max(math.ceil(current_nodes / shrink), 2)
    high = min(current_nodes * spec.elastic_factor, spec.elastic_max_nodes)
    why_not: str | None = None
    if current_nodes == 1 or new_nodes == 1:
        why_not = "elastic resize is not available to or from a single-node cluster"
    elif new_type != current_type:
        if resize_type == "elastic":
            return ResizePlan("elastic", f"elastic node type change {current_type} -> {new_type} requested")
        why_not = f"a node type change ({current_type} -> {new_type}) uses classic resize unless elastic is forced"
    elif not low <= new_nodes <= high:
        why_not = f"elastic resize of a {current_nodes}-node {current_type} cluster allows {low} to {high} nodes"
    if why_not is None:
        return ResizePlan("elastic", f"{current_nodes} -> {new_nodes} nodes is within elastic bounds")
    if resize_type == "elastic":
        raise InvalidRequest(f"cannot force elastic resize: {why_not}", field="resize_type")
    return ResizePlan("classic", why_not)


class RedshiftProvisioning:
    """A Redshift provisioned cluster: adopted when it exists, created when it does not.

    ``initial_instance_type``/``initial_cluster_size`` are used only to create a missing cluster;
    without them a missing cluster raises :class:`ClusterNotFound`. ``create_options`` are extra
    ``CreateCluster`` parameters in AWS's own names (``ClusterSubnetGroupName``,
    ``VpcSecurityGroupIds``, ``KmsKeyId``, ``Tags`` ...). Defaults: database ``dev``, user
    ``admin``, encrypted, not publicly accessible, port 5439, master password generated and kept by
    AWS in Secrets Manager. ``wait`` (default True) waits for a new cluster to become available,
    at most ``timeout_minutes`` (default 60); with ``wait=False`` the creation is left in
    ``self.pending_operation``.
    """

    service = "redshift"

    def __init__(
        self,
        cluster_name: str,
        initial_instance_type: str | None = None,
        initial_cluster_size: int | None = None,
        *,
        session: boto3.Session | None = None,
        clock: Clock | None = None,
        wait: bool = True,
        timeout_minutes: float = 60,
        **create_options: Any,
    ) -> None:
        self._name = validate_cluster_identifier(cluster_name)
        self._session = session
        self._clock = clock or SYSTEM_CLOCK
        self._client = client("redshift", session)
        self.pending_operation: Operation | None = None
        wants_create = initial_instance_type is not None or initial_cluster_size is not None
        if wants_create:
            if initial_instance_type is None or initial_cluster_size is None:
                raise InvalidRequest(
                    "pass both initial_instance_type and initial_cluster_size to create a cluster",
                    field="initial_instance_type" if initial_instance_type is None else "initial_cluster_size",
                )
            validate_redshift_nodes(
                initial_instance_type,
                initial_cluster_size,
                node_type_field="initial_instance_type",
                count_field="initial_cluster_size",
            )
            options = self._create_options(create_options)
        try:
            self._describe()
            return
        except ClusterNotFound:
            if not wants_create:
                raise ClusterNotFound(
                    f"Redshift cluster '{cluster_name}' does not exist; pass initial_instance_type "
                    "and initial_cluster_size to create it"
                ) from None
        assert initial_instance_type is not None and initial_cluster_size is not None
        try:
            with aws_errors(f"create Redshift cluster '{cluster_name}'"):
                self._client.create_cluster(
                    ClusterIdentifier=cluster_name,
                    NodeType=initial_instance_type,
                    NumberOfNodes=initial_cluster_size,
                    ClusterType="single-node" if initial_cluster_size == 1 else "multi-node",
                    **options,
                )
        except AwsError as err:
            # A retried CreateCluster whose first attempt went through (a timeout or 5xx after AWS
            # accepted it) answers ClusterAlreadyExists: the cluster carrying exactly our tags is ours.
            if err.code not in ("ClusterAlreadyExists", "ClusterAlreadyExistsFault"):
                raise
            if not tags_include(tag_dict(self._describe().get("Tags")), tag_dict(options["Tags"])):
                raise ClusterAlreadyExists(f"Redshift cluster '{cluster_name}' already exists") from None
        self.pending_operation = self._operation(
            [{"action": "wait_available"}],
            f"create Redshift cluster '{cluster_name}' ({initial_cluster_size} x {initial_instance_type})",
        )
        if wait:
            self.pending_operation.wait(timeout_minutes=timeout_minutes)

    @staticmethod
    def _create_options(create_options: dict[str, Any]) -> dict[str, Any]:
        for key in create_options:
            if key in _FORBIDDEN_OPTIONS:
                raise InvalidRequest(
                    f"{key} is not accepted: dbscale lets AWS generate the master password and keep "
                    "it in Secrets Manager",
                    field=key,
                )
            if key in _RESERVED_OPTIONS:
                raise InvalidRequest(f"{key} is set by dbscale from its own arguments", field=key)
        tags = tag_dict(create_options.pop("Tags", None)) if "Tags" in create_options else {}
        tags[CREATED_BY_TAG_KEY] = CREATED_BY_TAG_VALUE
        return {
            "MasterUsername": "admin",
            "DBName": "dev",
            "Encrypted": True,
            "PubliclyAccessible": False,
            "Port": REDSHIFT_DEFAULT_PORT,
            **create_options,
            "ManageMasterPassword": True,
            "Tags": tag_list(tags),
        }

    # --- state, read fresh from AWS -------------------------------------------------------

    def _describe(self) -> dict[str, Any]:
        return describe_cluster(self._client, self._name)

    @property
    def cluster_name(self) -> str:
        return self._name

    @property
    def instance_type(self) -> str:
        """The node type, e.g. ``ra3.xlplus``."""
        return str(self._describe()["NodeType"])

    @property
    def cluster_size(self) -> int:
        """The number of nodes."""
        return int(self._describe()["NumberOfNodes"])

    @property
    def status(self) -> str:
        """AWS's ClusterStatus, e.g. ``available``, ``resizing``, ``paused``."""
        return str(self._describe()["ClusterStatus"])

    @property
    def paused(self) -> bool:
        """True when the cluster is paused (not while it is pausing)."""
        return self.status == "paused"

    @property
    def adopted(self) -> bool:
        """True when dbscale did not create the cluster (so it will not delete it without force)."""
        return tag_dict(self._describe().get("Tags")).get(CREATED_BY_TAG_KEY) != CREATED_BY_TAG_VALUE

    @property
    def tags(self) -> dict[str, str]:
        """The cluster's tags."""
        return tag_dict(self._describe().get("Tags"))

    def __repr__(self) -> str:
        try:
            c = self._describe()
        except Exception:  # a repr must not raise
            return f"RedshiftProvisioning(cluster_name={self._name!r})"
        return (
            f"RedshiftProvisioning(cluster_name={self._name!r}, instance_type={c['NodeType']!r}, "
            f"cluster_size={c['NumberOfNodes']}, status={c['ClusterStatus']!r}, "
            f"adopted={tag_dict(c.get('Tags')).get(CREATED_BY_TAG_KEY) != CREATED_BY_TAG_VALUE})"
        )

    def describe(self) -> dict[str, Any]:
        """The cluster as DescribeClusters returns it (no secret values are in it)."""
        return self._describe()

    def connection_info(self) -> ConnectionInfo:
        """Endpoint, database, user and the ARN of the AWS-managed secret (never a password)."""
        c = self._describe()
        endpoint = c.get("Endpoint") or {}
        return ConnectionInfo(
            host=endpoint.get("Address"),
            port=endpoint.get("Port"),
            database=c.get("DBName"),
            user=c.get("MasterUsername"),
            secret_arn=c.get("MasterPasswordSecretArn"),
        )

    # --- changes ----------------------------------------------------------------------------

    def rescale(
        self,
        new_cluster_size: int | None = None,
        new_paused: bool | None = None,
        new_instance_type: str | None = None,
        *,
        resize_type: str = "auto",
        wait: bool = True,
        timeout_minutes: float = 180,
        after_pending: bool = False,
    ) -> Operation:
        """Bring the cluster to a node count, node type and paused state; None keeps the current one.

        A paused cluster that must be resized is resumed first and paused again afterwards when
        ``new_paused`` is True (or left None). ``resize_type`` is ``auto`` (elastic when AWS allows
        it, see :func:`choose_resize`), ``elastic`` or ``classic``. With ``wait`` (default True) it
        waits at most ``timeout_minutes`` (default 180: classic resize of a large cluster takes
        hours) and raises :class:`OperationTimeout` then; with ``wait=False`` it returns the started
        :class:`Operation` to poll. A cluster mid-operation raises :class:`InvalidState` unless
        ``after_pending`` is True, in which case the plan first waits for it to settle. Nothing to
        change returns an operation that is already done.
        """
        validate_resize_type(resize_type)
        if new_instance_type is not None:
            validate_redshift_node_type(new_instance_type, field="new_instance_type")
        if new_cluster_size is not None:
            if isinstance(new_cluster_size, bool) or not isinstance(new_cluster_size, int) or new_cluster_size < 1:
                raise InvalidRequest(
                    f"new_cluster_size must be a whole number of at least 1, got {new_cluster_size!r}",
                    field="new_cluster_size",
                )
            if new_instance_type is not None:
                validate_redshift_nodes(
                    new_instance_type,
                    new_cluster_size,
                    node_type_field="new_instance_type",
                    count_field="new_cluster_size",
                    elastic=resize_type != "classic",
                )
        c: dict[str, Any] | None = self._describe()
        assert c is not None
        status = str(c["ClusterStatus"])
        steps: list[dict[str, Any]] = []
        if status not in _SETTLED:
            if not after_pending:
                raise InvalidState(
                    f"Redshift cluster '{self._name}' is '{status}'; wait until it is available or "
                    "paused before changing it"
                )
            steps.append({"action": "wait_settled"})
            c = None  # the settled state is unknown until then: plan on what is asked
        current_type = str(c["NodeType"]) if c else None
        current_nodes = int(c["NumberOfNodes"]) if c else None
        target_type = new_instance_type if new_instance_type is not None else current_type
        target_nodes = new_cluster_size if new_cluster_size is not None else current_nodes
        if c is not None:
            assert target_type is not None and target_nodes is not None
            validate_redshift_nodes(
                target_type,
                target_nodes,
                node_type_field="new_instance_type",
                count_field="new_cluster_size",
                elastic=resize_type != "classic",
            )
            steps += self._plan(c, target_type, target_nodes, new_paused, resize_type)
        else:
            steps.append(
                {
                    "action": "replan",
                    "node_type": new_instance_type,
                    "number_of_nodes": new_cluster_size,
                    "paused": new_paused,
                    "resize_type": resize_type,
                }
            )
        parts = []
        if new_instance_type is not None or new_cluster_size is not None:
            parts.append(f"resize to {target_nodes or '?'} x {target_type or '?'}")
        if new_paused is not None:
            parts.append("pause" if new_paused else "resume")
        op = self._operation(steps, f"{' and '.join(parts) or 'no change'} for Redshift cluster '{self._name}'")
        if wait:
            op.wait(timeout_minutes=timeout_minutes)
        return op

    def _plan(
        self,
        c: dict[str, Any],
        target_type: str,
        target_nodes: int,
        new_paused: bool | None,
        resize_type: str,
    ) -> list[dict[str, Any]]:
        return plan_rescale(c, target_type, target_nodes, new_paused, resize_type)

    def modify_settings(self, **params: Any) -> None:
        """Apply ``ModifyCluster`` parameters (AWS names, e.g. ``VpcSecurityGroupIds``, ``Port``) now.

        The call returns when AWS accepts it; the cluster may be ``modifying`` for a while after.
        """
        for key in params:
            if key in _FORBIDDEN_OPTIONS or key in ("MasterUserPassword", "NodeType", "NumberOfNodes", "ClusterType"):
                raise InvalidRequest(f"{key} cannot be changed through modify_settings", field=key)
        if params:
            with aws_errors(f"modify Redshift cluster '{self._name}'"):
                self._client.modify_cluster(ClusterIdentifier=self._name, **params)

    def update_tags(self, add: dict[str, str], remove: list[str] | tuple[str, ...] = ()) -> None:
        """Add or overwrite the tags ``add`` and delete the keys in ``remove`` (dbscale's own tag is kept)."""
        c = self._describe()
        arn = cluster_arn(self._session, c, self._name)
        remove = checked_tag_changes(add, remove)
        with aws_errors(f"tag Redshift cluster '{self._name}'"):
            if add:
                self._client.create_tags(ResourceName=arn, Tags=tag_list(add))
            if remove:
                self._client.delete_tags(ResourceName=arn, TagKeys=list(remove))

    def delete(
        self,
        *,
        final_snapshot: bool = True,
        force: bool = False,
        wait: bool = True,
        snapshot_identifier: str | None = None,
        timeout_minutes: float = 60,
    ) -> Operation:
        """Delete the cluster, by default after a final snapshot ``<cluster>-final-<UTC timestamp>``.

        Refuses (:class:`ClusterNotOwned`) to delete a cluster dbscale did not create unless
        ``force``. A cluster that does not exist is a no-op (an operation that is already done).
        ``wait``/``timeout_minutes`` (default 60) as for :meth:`rescale`.
        """
        try:
            c = self._describe()
        except ClusterNotFound:
            return self._operation([], f"delete Redshift cluster '{self._name}' (already gone)")
        if tag_dict(c.get("Tags")).get(CREATED_BY_TAG_KEY) != CREATED_BY_TAG_VALUE and not force:
            raise ClusterNotOwned(
                f"Redshift cluster '{self._name}' was not created by dbscale; pass force=True to delete it"
            )
        snapshot = None
        if final_snapshot:
            snapshot = final_snapshot_name(self._name, self._clock, snapshot_identifier)
        op = self._operation(
            [{"action": "delete", "final_snapshot": snapshot}, {"action": "wait_deleted"}],
            f"delete Redshift cluster '{self._name}'"
            + (f" with final snapshot '{snapshot}'" if snapshot else " without a final snapshot"),
        )
        if wait:
            op.wait(timeout_minutes=timeout_minutes)
        return op

    def _operation(self, steps: list[dict[str, Any]], description: str) -> Operation:
        return Operation(
            "redshift", self._name, steps, description=description, session=self._session, clock=self._clock
        )


def describe_cluster(redshift: Any, cluster_name: str) -> dict[str, Any]:
    """DescribeClusters for one cluster; :class:`ClusterNotFound` when it does not exist."""
    with aws_errors(f"describe Redshift cluster '{cluster_name}'"):
        clusters = redshift.describe_clusters(ClusterIdentifier=cluster_name)["Clusters"]
    if not clusters:
        raise ClusterNotFound(f"Redshift cluster '{cluster_name}' does not exist")
    cluster: dict[str, Any] = clusters[0]
    return cluster


def cluster_arn(session: boto3.Session | None, cluster: dict[str, Any], cluster_name: str) -> str:
    """The cluster's ARN (newer API versions return ``ClusterNamespaceArn`` only, so build it)."""
    sts = client("sts", session)
    with aws_errors("look up the AWS account"):
        account = sts.get_caller_identity()["Account"]
    region = sts.meta.region_name
    partition = sts.meta.partition
    return f"arn:{partition}:redshift:{region}:{account}:cluster:{cluster_name}"


def plan_rescale(
    c: dict[str, Any], target_type: str, target_nodes: int, new_paused: bool | None, resize_type: str
) -> list[dict[str, Any]]:
    """The steps that take a settled cluster ``c`` to the target shape and paused state."""
    paused_now = c["ClusterStatus"] == "paused"
    paused_after = paused_now if new_paused is None else new_paused
    must_resize = (target_type, target_nodes) != (c["NodeType"], int(c["NumberOfNodes"]))
    steps: list[dict[str, Any]] = []
    if must_resize:
        plan = choose_resize(c["NodeType"], int(c["NumberOfNodes"]), target_type, target_nodes, resize_type)
        if plan.method == "classic":
            # Counts only elastic resize reaches (RA3 beyond its create maximum) are out of reach now.
            validate_redshift_nodes(
                target_type, target_nodes, node_type_field="new_instance_type", count_field="new_cluster_size"
            )
        if paused_now:
            steps += [{"action": "resume"}, {"action": "wait_available"}]
        steps += [
            {
                "action": "resize",
                "node_type": target_type,
                "number_of_nodes": target_nodes,
                "classic": plan.method == "classic",
                "reason": plan.reason,
            },
            {"action": "wait_resized", "node_type": target_type, "number_of_nodes": target_nodes},
        ]
        if paused_after:
            steps += [{"action": "pause"}, {"action": "wait_paused"}]
    elif paused_after and not paused_now:
        steps += [{"action": "pause"}, {"action": "wait_paused"}]
    elif paused_now and not paused_after:
        steps += [{"action": "resume"}, {"action": "wait_available"}]
    return steps


class RedshiftSteps:
    """Runs the steps of Redshift operations. Each step checks the cluster before acting."""

    def __init__(self, *, session: boto3.Session | None = None, clock: Clock | None = None) -> None:
        self._client = client("redshift", session)

    def run(self, cluster_name: str, step: dict[str, Any]) -> StepOutcome:
        action = step["action"]
        args = {k: v for k, v in step.items() if k != "action"}
        method = getattr(self, f"_{action}", None)
        if method is None:
            return StepOutcome.fail(f"unknown Redshift step '{action}'")
        outcome: StepOutcome = method(cluster_name, step, **args)
        return outcome

    def _cluster(self, name: str) -> dict[str, Any]:
        return describe_cluster(self._client, name)

    @staticmethod
    def _broken(c: dict[str, Any]) -> str | None:
        status = c["ClusterStatus"]
        if status in _BROKEN or c.get("ClusterAvailabilityStatus") == "Failed":
            return f"the cluster is '{status}' and needs attention in the Redshift console"
        return None

    def _wait_settled(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        if (broken := self._broken(c)) is not None:
            return StepOutcome.fail(broken)
        if c["ClusterStatus"] in _SETTLED:
            return StepOutcome.next()
        return StepOutcome.wait(f"waiting for the running '{c['ClusterStatus']}' operation to finish")

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

    def _planned(self, name: str, step: dict[str, Any], **_: Any) -> StepOutcome:
        remaining = step["steps"]
        while remaining:
            outcome = self.run(name, remaining[0])
            if outcome.kind != "next":
                return outcome
            remaining.pop(0)
        return StepOutcome.next()

    def _resume(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        if c["ClusterStatus"] == "paused":
            with aws_errors(f"resume Redshift cluster '{name}'"):
                self._client.resume_cluster(ClusterIdentifier=name)
        return StepOutcome.next()

    def _pause(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        if c["ClusterStatus"] in ("paused", "pausing"):
            return StepOutcome.next()
        if c["ClusterStatus"] != "available":
            return StepOutcome.wait(f"waiting for '{c['ClusterStatus']}' to finish before pausing")
        with aws_errors(f"pause Redshift cluster '{name}'"):
            self._client.pause_cluster(ClusterIdentifier=name)
        return StepOutcome.next()

    def _wait_available(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        if (broken := self._broken(c)) is not None:
            return StepOutcome.fail(broken)
        if c["ClusterStatus"] == "available":
            return StepOutcome.next()
        return StepOutcome.wait(f"cluster is '{c['ClusterStatus']}', waiting for 'available'")

    def _wait_paused(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        if (broken := self._broken(c)) is not None:
            return StepOutcome.fail(broken)
        if c["ClusterStatus"] == "paused":
            return StepOutcome.next()
        return StepOutcome.wait(f"cluster is '{c['ClusterStatus']}', waiting for 'paused'")

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

    def _wait_resized(self, name: str, step: dict[str, Any], *, node_type: str, number_of_nodes: int) -> StepOutcome:
        c = self._cluster(name)
        if (broken := self._broken(c)) is not None:
            return StepOutcome.fail(broken)
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

    def _delete(self, name: str, step: dict[str, Any], *, final_snapshot: str | None) -> StepOutcome:
        try:
            c = self._cluster(name)
        except ClusterNotFound:
            return StepOutcome.next()
        status = c["ClusterStatus"]
        if status in ("deleting", "final-snapshot"):
            return StepOutcome.next()
        if status not in _SETTLED:
            return StepOutcome.wait(f"waiting for '{status}' to finish before deleting")
        kwargs: dict[str, Any] = {"ClusterIdentifier": name}
        if final_snapshot:
            kwargs["FinalClusterSnapshotIdentifier"] = final_snapshot
        else:
            kwargs["SkipFinalClusterSnapshot"] = True
        with aws_errors(f"delete Redshift cluster '{name}'"):
            self._client.delete_cluster(**kwargs)
        return StepOutcome.next()

    def _wait_deleted(self, name: str, step: dict[str, Any]) -> StepOutcome:
        try:
            c = self._cluster(name)
        except ClusterNotFound:
            return StepOutcome.next()
        return StepOutcome.wait(f"cluster is '{c['ClusterStatus']}', waiting for it to be deleted")
