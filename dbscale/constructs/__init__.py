"""AWS CDK constructs for dbscale: ``RedshiftCluster``, ``AuroraCluster``, ``AuroraClone`` and their
providers, ``ScalingAlarms``, ``Autoscaler`` and ``ClonePoolMaintenance``.

    from dbscale.constructs import AuroraClone, AuroraCluster, RedshiftCluster

This is the only dbscale package that imports ``aws_cdk``; the core and the Lambda handlers never
do (it would cost the handler seconds of cold start), and nothing here is bundled into the Lambda.
The CDK is the ``cdk`` extra: ``pip install 'dbscale[cdk]'``.
"""

from __future__ import annotations

try:
    import aws_cdk as _aws_cdk  # noqa: F401
    import constructs as _constructs  # noqa: F401
except ImportError as missing:  # pragma: no cover - exercised by tests/e2e/test_installed_package.py
    raise ImportError(
        f"dbscale.constructs needs the AWS CDK ({missing.name} is not installed): pip install 'dbscale[cdk]'. "
        "The CLI, the core and `dbscale providers deploy` work without it."
    ) from missing

from dbscale.core.guardrails import Guardrails

from ._support import InvalidConstructProps
from .aurora import DEFAULT_ENGINE_VERSIONS, AuroraCluster
from .aurora_clone import AuroraClone
from .autoscaler import Autoscaler
from .clone_pool import NIGHTLY, ClonePoolMaintenance
from .database_bootstrap import DatabaseBootstrap, DatabaseUser
from .long_operations import LongOperations
from .providers import (
    AuroraCloneProvider,
    AuroraClusterProvider,
    ClusterProvider,
    DatabaseBootstrapProvider,
    RedshiftClusterProvider,
)
from .providers_stack import ProvidersStack
from .providers_stackset import ProvidersStackSet
from .redshift import RedshiftCluster
from .scaling_alarms import ALARM_SPECS, ScalingAlarms
from .tag_autoscaler import TagAutoscaler

__all__ = [
    "ALARM_SPECS",
    "DEFAULT_ENGINE_VERSIONS",
    "NIGHTLY",
    "AuroraClone",
    "AuroraCloneProvider",
    "AuroraCluster",
    "AuroraClusterProvider",
    "Autoscaler",
    "ClonePoolMaintenance",
    "ClusterProvider",
    "DatabaseBootstrap",
    "DatabaseBootstrapProvider",
    "DatabaseUser",
    "Guardrails",
    "InvalidConstructProps",
    "LongOperations",
    "ProvidersStack",
    "ProvidersStackSet",
    "RedshiftCluster",
    "RedshiftClusterProvider",
    "ScalingAlarms",
    "TagAutoscaler",
]
