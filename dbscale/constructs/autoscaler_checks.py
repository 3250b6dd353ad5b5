"""What the ``Autoscaler`` checks at synth time: that its policy fits each cluster's declared node type
or instance class (else the app fails to build), and whether the declared sizes are within its
bounds and the clusters declared ``autoscaled=True`` (else a warning says what would happen)."""

from __future__ import annotations

from constructs import Construct

from dbscale.core.autoscale import AutoscalePolicy
from dbscale.core.errors import InvalidRequest
from dbscale.core.limits import AURORA_SERVERLESS_INSTANCE_CLASS

from ._support import fail, is_token, warn
from .aurora import AuroraCluster
from .redshift import RedshiftCluster
from .scaling_alarms import declared


def _check_autoscaled(scope: Construct, cluster: Construct) -> None:
    if getattr(cluster, "autoscaled", None) is not True:
        warn(
            scope,
            "clusterNotAutoscaled",
            f"{cluster.node.path} is not declared with autoscaled=True: the next deploy that updates it sets "
            "its size back to the declared one, undoing the autoscaler",
        )


def check_redshift_fits(scope: Construct, policy: AutoscalePolicy, cluster: RedshiftCluster) -> None:
    """Fail when ``policy`` cannot autoscale ``cluster``'s declared node type; warn when its declared
    size is outside the policy's bounds."""
    _check_autoscaled(scope, cluster)
    node_type = declared(cluster, "node_type", "NodeType")
    nodes = declared(cluster, "number_of_nodes", "NumberOfNodes")
    if not isinstance(node_type, str) or is_token(node_type):
        return
    try:
        low, high = policy.redshift_bounds(node_type)
    except InvalidRequest as err:
        raise fail(scope, f"policy does not fit {cluster.node.path} ({node_type}): {err}", field=err.field) from None
    if isinstance(nodes, int) and not is_token(nodes) and not low <= nodes <= high:
        warn(
            scope,
            "declaredSizeOutsideBounds",
            f"{cluster.node.path} declares {nodes} nodes, outside the policy's {low}-{high}: the autoscaler "
            "brings it within the bounds",
        )


def check_aurora_fits(scope: Construct, policy: AutoscalePolicy, cluster: AuroraCluster) -> None:
    """Fail when ``policy`` leaves nothing to change on ``cluster``; warn when its declared size is
    outside the policy's bounds."""
    _check_autoscaled(scope, cluster)
    p = policy
    instance_class = declared(cluster, "instance_class", "InstanceClass")
    if not isinstance(instance_class, str) or is_token(instance_class):
        return
    path = cluster.node.path
    if instance_class == AURORA_SERVERLESS_INSTANCE_CLASS:
        if p.aurora_acu_range is None and not p.manages_readers:
            raise fail(
                scope,
                f"{path} is Serverless v2: set policy.aurora_acu_range (and/or reader bounds) to autoscale it",
                field="policy",
            )
        max_acu = declared(cluster, "serverless_v2_max_capacity", "ServerlessV2MaxCapacity")
        if (
            p.aurora_acu_range is not None
            and isinstance(max_acu, (int, float))
            and not is_token(max_acu)
            and not p.aurora_acu_range[0] <= max_acu <= p.aurora_acu_range[1]
        ):
            warn(
                scope,
                "declaredSizeOutsideBounds",
                f"{path} declares a maximum of {max_acu:g} ACU, outside policy.aurora_acu_range",
            )
    elif instance_class not in p.aurora_instance_classes:
        if not p.manages_readers:
            raise fail(
                scope,
                f"{path} runs {instance_class}, which is not on policy.aurora_instance_classes, and the policy "
                "sets no reader bounds: there is nothing the autoscaler could change",
                field="policy",
            )
        warn(scope, "classNotOnLadder", f"{path} runs {instance_class}, not on the ladder: only readers change")
    readers = declared(cluster, "reader_count", "ReaderCount")
    if (
        p.manages_readers
        and isinstance(readers, int)
        and not is_token(readers)
        and p.aurora_min_readers is not None
        and p.aurora_max_readers is not None
        and not p.aurora_min_readers <= readers <= p.aurora_max_readers
    ):
        warn(scope, "declaredSizeOutsideBounds", f"{path} declares {readers} readers, outside the policy's bounds")


def declared_paused(cluster: Construct) -> bool:
    """The cluster is declared paused (a literal ``paused=True``)."""
    return declared(cluster, "paused", "Paused") is True
