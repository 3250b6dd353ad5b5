"""Pieces both cluster constructs share: validation wrapping, identifiers, networking, keys, tags.

Nothing here defines a rule of its own about what a valid cluster is: every check calls
``dbscale.core.validation`` so the constructs, the handlers and the core reject exactly the same
inputs with the same words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from aws_cdk import Annotations, Names, RemovalPolicy, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct, IConstruct

from dbscale.core.errors import InvalidRequest
from dbscale.core.validation import validate_cluster_identifier

T = TypeVar("T")

# CloudFormation gives a custom resource at most one hour (ServiceTimeout is capped at 3600 s);
# the handler reads the same number from its properties and answers before it.
SERVICE_TIMEOUT_SECONDS = 3600


class InvalidConstructProps(ValueError):
    """A dbscale construct was given input the service would reject; raised while the app is built.

    ``path`` is the construct path (``Stack/Warehouse``), ``field`` the offending keyword argument.
    The message starts with the path so the failing construct is obvious in a large app.
    """

    def __init__(self, path: str, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.field = field


# How CDK encodes tokens in plain values: strings carry "${Token[...]}" ("#{Token[...]}" inside
# encoded lists), numbers are doubles around -1.888e289. Checking here avoids a round trip to node
# per value (Token.is_unresolved), which adds up in synth time.
_NUMBER_TOKEN_BELOW = -1e289


def is_token(value: object) -> bool:
    """True when ``value`` is a CDK token (a parameter, an import ...) known only at deploy time."""
    if value is None or isinstance(value, (bool, int)):
        return False
    if isinstance(value, str):
        return "${Token[" in value or "#{Token[" in value
    if isinstance(value, float):
        return value < _NUMBER_TOKEN_BELOW
    return bool(Token.is_unresolved(value))


def unresolved(*values: object) -> bool:
    """True when any value is a token, so its check must wait for deploy time (the handler's)."""
    return any(is_token(value) for value in values)


def checked(scope: IConstruct, check: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a ``dbscale.core.validation`` function; re-raise its InvalidRequest with the construct path."""
    try:
        return check(*args, **kwargs)
    except InvalidRequest as err:
        raise InvalidConstructProps(scope.node.path, str(err), field=err.field) from None


def fail(scope: IConstruct, message: str, *, field: str | None = None) -> InvalidConstructProps:
    """An InvalidConstructProps for a construct-only rule (one that has no meaning outside CDK)."""
    return InvalidConstructProps(scope.node.path, message, field=field)


def warn(scope: IConstruct, key: str, message: str) -> None:
    """A synth-time warning that ``cdk synth`` prints and ``Validations``/``--strict`` can act on."""
    Annotations.of(scope).add_warning_v2(f"dbscale:{key}", message)


def cluster_identifier(scope: Construct, given: str | None) -> str:
    """The cluster identifier: ``given`` (validated) or one derived from the construct's unique id.

    The derived identifier is the stack name and construct path plus a hash of the full path,
    lowercased: stable across deploys (it depends only on the path), unique per stack, at most
    63 characters, and valid for both Redshift and Aurora.
    """
    if given is not None:
        if unresolved(given):
            return given
        return checked(scope, validate_cluster_identifier, given, field="cluster_identifier")
    raw = Names.unique_resource_name(scope, max_length=63, separator="-").lower()
    # unique_resource_name keeps letters and digits per path component; collapse what is left so
    # the result obeys the shared identifier rule (a letter first, single hyphens, none last).
    name = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "", raw)).strip("-")
    if not name[:1].isalpha():
        name = ("db-" + name)[:63].rstrip("-")
    return checked(scope, validate_cluster_identifier, name, field="cluster_identifier")


def private_subnets(scope: Construct, vpc: ec2.IVpc, selection: ec2.SubnetSelection | None) -> ec2.SelectedSubnets:
    """Select the subnets for the cluster; refuse any selection that contains a public subnet.

    The default selection is the VPC's private subnets (with egress, else isolated). A VPC that has
    only public subnets therefore fails here rather than putting a database on the internet.
    """
    # jsii takes a struct argument as keyword arguments.
    fields = ("availability_zones", "one_per_az", "subnet_filters", "subnet_group_name", "subnets", "subnet_type")
    given = {f: getattr(selection, f) for f in fields if selection is not None and getattr(selection, f) is not None}
    selected = _select_subnets(vpc, given)
    if selected.has_public:
        raise fail(
            scope,
            "vpc_subnets selects public subnets; dbscale clusters are private only: select "
            "PRIVATE_WITH_EGRESS or PRIVATE_ISOLATED subnets",
            field="vpc_subnets",
        )
    if not selected.subnet_ids:
        raise fail(scope, "vpc_subnets selects no subnets", field="vpc_subnets")
    return selected


# Selections already made, per VPC: select_subnets is a pure function of the VPC and the selection,
# and its answer costs seven round trips to node (the call, then jsii reads the returned struct
# field by field). Clusters of a stack usually share the VPC and the default selection.
_SELECTIONS: dict[int, tuple[ec2.IVpc, dict[tuple[tuple[str, Any], ...], ec2.SelectedSubnets]]] = {}


def _select_subnets(vpc: ec2.IVpc, given: dict[str, Any]) -> ec2.SelectedSubnets:
    """``vpc.select_subnets(**given)``, made once per VPC and selection of plain values."""
    key = tuple(sorted((f, tuple(v) if isinstance(v, list) else v) for f, v in given.items()))
    if not all(isinstance(v, (str, bool, int, ec2.SubnetType)) or _strings(v) for _, v in key):
        return vpc.select_subnets(**given)  # subnet objects or filters: not cached
    entry = _SELECTIONS.get(id(vpc))
    if entry is None or entry[0] is not vpc:
        entry = _SELECTIONS[id(vpc)] = (vpc, {})
    if key not in entry[1]:
        entry[1][key] = vpc.select_subnets(**given)
    return entry[1][key]


def _strings(value: object) -> bool:
    return isinstance(value, tuple) and all(isinstance(item, str) for item in value)


def security_groups(
    scope: Construct, vpc: ec2.IVpc, given: list[ec2.ISecurityGroup] | None, description: str
) -> list[ec2.ISecurityGroup]:
    """``given``, or one new security group with no inbound and no outbound rules.

    Nothing can reach the cluster until the app says so (``cluster.connections.allow_from``), and
    the cluster cannot open connections out of the VPC unless allowed (secure by default).
    """
    if given:
        return list(given)
    return [ec2.SecurityGroup(scope, "SecurityGroup", vpc=vpc, description=description, allow_all_outbound=False)]


def encryption_key(scope: Construct, given: kms.IKey | None, description: str) -> kms.IKey:
    """``given``, or a new customer managed key with yearly rotation, kept when the stack is deleted.

    The key is retained because snapshots (final or retained clusters) outlive the stack and are
    unreadable without it.
    """
    if given is not None:
        return given
    return kms.Key(
        scope,
        "Key",
        description=description,
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN,
    )


def skip_final_snapshot(scope: Construct, removal_policy: RemovalPolicy) -> bool:
    """Map a removal policy to the handler's SkipFinalSnapshot (and warn on DESTROY)."""
    if removal_policy == RemovalPolicy.DESTROY:
        warn(
            scope,
            "removalPolicyDestroy",
            "removal_policy is DESTROY: deleting this construct or its stack deletes the cluster "
            "without a final snapshot and its data cannot be recovered",
        )
        return True
    return False


def retained(removal_policy: RemovalPolicy) -> bool:
    """True when the cluster must outlive its stack (and so must everything it uses)."""
    return removal_policy in (RemovalPolicy.RETAIN, RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
