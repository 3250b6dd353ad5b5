"""Aurora clusters (PostgreSQL and MySQL, provisioned or Serverless v2): get-or-create, rolling
instance-class changes, readers, ACU range, stop/start, delete.

:class:`RdsProvisioning` (``provisioning``) is the cluster; :class:`AuroraSteps` (``steps``) runs the
steps of its operations; ``plan_rescale`` (``rescale``) plans a rescale; ``describe`` reads clusters
and instances; ``settings`` holds AWS's rules for cluster and instance settings.
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

# The private helpers stay importable from here as before the package split (dbscale itself imports
# them from the module they live in).
from .describe import _BROKEN as _BROKEN  # isort: skip
from .describe import _INSTANCE_SUFFIX as _INSTANCE_SUFFIX  # isort: skip
from .describe import _SETTLED as _SETTLED  # isort: skip
from .describe import _USABLE as _USABLE  # isort: skip
from .describe import _acu as _acu  # isort: skip
from .describe import _members as _members  # isort: skip
from .describe import _next_numbers as _next_numbers  # isort: skip
from .describe import _pending_reboot as _pending_reboot  # isort: skip
from .provisioning import _FORBIDDEN_OPTIONS as _FORBIDDEN_OPTIONS  # isort: skip
from .provisioning import _RESERVED_OPTIONS as _RESERVED_OPTIONS  # isort: skip
from .provisioning import _RESTORE_OPTIONS as _RESTORE_OPTIONS  # isort: skip
from .provisioning import _restore_call as _restore_call  # isort: skip
from .steps import _SNAPSHOT_IDENTIFIER as _SNAPSHOT_IDENTIFIER  # isort: skip

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
