"""The provisioning core: plain boto3, no CDK. Safe inside Lambda and on a laptop.

Names are imported lazily (PEP 562) so that ``import dbscale.core`` costs no more than boto3.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aurora import RdsProvisioning
    from .autoscale import AutoscalePolicy, Autoscaler, ClusterRef, Decision, Period, Thresholds
    from .clock import Clock, SystemClock
    from .clones import ClonePool, provision_clone
    from .errors import (
        AwsError,
        ClusterAlreadyExists,
        ClusterNotFound,
        ClusterNotOwned,
        DbscaleError,
        GuardrailViolation,
        InvalidRequest,
        InvalidState,
        OperationFailed,
        OperationTimeout,
    )
    from .guardrails import Guardrails
    from .operation import Operation, OperationStatus, PollResult
    from .plan import RescalePlan
    from .redshift import ConnectionInfo, RedshiftProvisioning
    from .scaling import Check, CheckResult, ProvisionScaling

_EXPORTS = {
    "RedshiftProvisioning": "redshift",
    "ConnectionInfo": "redshift",
    "RdsProvisioning": "aurora",
    "ProvisionScaling": "scaling",
    "Check": "scaling",
    "AutoscalePolicy": "autoscale",
    "Autoscaler": "autoscale",
    "ClusterRef": "autoscale",
    "Decision": "autoscale",
    "Thresholds": "autoscale",
    "Period": "autoscale",
    "ClonePool": "clones",
    "provision_clone": "clones",
    "CheckResult": "scaling",
    "Operation": "operation",
    "OperationStatus": "operation",
    "PollResult": "operation",
    "Clock": "clock",
    "SystemClock": "clock",
    "DbscaleError": "errors",
    "InvalidRequest": "errors",
    "ClusterNotFound": "errors",
    "ClusterAlreadyExists": "errors",
    "ClusterNotOwned": "errors",
    "InvalidState": "errors",
    "OperationFailed": "errors",
    "OperationTimeout": "errors",
    "AwsError": "errors",
    "RescalePlan": "plan",
    "Guardrails": "guardrails",
    "GuardrailViolation": "errors",
}

__all__ = [
    "AutoscalePolicy",
    "Autoscaler",
    "AwsError",
    "Check",
    "CheckResult",
    "Clock",
    "ClonePool",
    "ClusterAlreadyExists",
    "ClusterNotFound",
    "ClusterNotOwned",
    "ClusterRef",
    "ConnectionInfo",
    "DbscaleError",
    "Decision",
    "GuardrailViolation",
    "Guardrails",
    "InvalidRequest",
    "InvalidState",
    "Operation",
    "OperationFailed",
    "OperationStatus",
    "OperationTimeout",
    "Period",
    "PollResult",
    "ProvisionScaling",
    "RdsProvisioning",
    "RedshiftProvisioning",
    "RescalePlan",
    "SystemClock",
    "Thresholds",
    "provision_clone",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dbscale.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
