"""Aurora clusters (PostgreSQL and MySQL, provisioned or Serverless v2): get-or-create, rolling
instance-class changes, readers, ACU range, stop/start, delete.

:class:`RdsProvisioning` (``provisioning``) is the cluster, made of ``state`` (reading it), ``changes``
(rescale, settings) and ``provisioning`` (open, create, delete; the create call is in ``create``);
:class:`AuroraSteps` (``steps``, on ``instance_steps`` for the instances) runs the steps of its
operations; ``plan_rescale`` (``rescale``) plans a rescale; ``describe`` reads clusters and instances;
``settings`` holds AWS's rules for cluster and instance settings.
"""

from __future__ import annotations

from .describe import (
    INSTANCE_KIND_TAG_KEYS,
    describe_db_cluster,
    describe_db_instance,
    instance_identifier,
    pending_reboot,
)
from .provisioning import RdsProvisioning
from .rescale import plan_rescale
from .steps import AuroraSteps

__all__ = [
    "INSTANCE_KIND_TAG_KEYS",
    "AuroraSteps",
    "RdsProvisioning",
    "describe_db_cluster",
    "describe_db_instance",
    "instance_identifier",
    "pending_reboot",
    "plan_rescale",
]
