"""Redshift provisioned clusters: get-or-create, elastic or classic resize, pause/resume, settings, delete.

:class:`RedshiftProvisioning` (``provisioning``) is the cluster; :class:`RedshiftSteps` (``steps``)
runs the steps of its operations; ``plan_rescale`` and ``choose_resize`` (``rescale``) plan a
rescale by AWS's resize rules; ``describe`` reads clusters; ``settings`` holds AWS's rules for
cluster settings (maintenance, snapshots, logging, IAM roles, the TLS parameter group).
:class:`RedshiftProvisioning` is made of ``state`` (reading the cluster), ``changes`` (rescale and
settings) and ``provisioning`` (open, create, the seed's get-or-create constructor).
"""

from __future__ import annotations

from .describe import cluster_arn, describe_cluster
from .provisioning import RESIZE_TYPES, ConnectionInfo, RedshiftProvisioning
from .rescale import ResizePlan, choose_resize, plan_rescale
from .steps import RedshiftSteps

__all__ = [
    "RESIZE_TYPES",
    "ConnectionInfo",
    "RedshiftProvisioning",
    "RedshiftSteps",
    "ResizePlan",
    "choose_resize",
    "cluster_arn",
    "describe_cluster",
    "plan_rescale",
]
