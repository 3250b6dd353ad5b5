"""The test-side fake AWS layer: moto plus the gaps dbscale needs filled, a simulated clock,
timed status transitions, throttling faults and an API call recorder. Never imported by product code."""

from __future__ import annotations

from .clock import DEFAULT_START, FakeClock
from .faults import (
    BackoffOnClock,
    FailingCalls,
    LostResponses,
    NthCallFault,
    StrictEventBridge,
    ThrottleInjector,
    error_response,
    throttling_response,
)
from .moto_shims import ResizeRecord, ShimObsolete, attach_managed_secret, install_moto_shims
from .patching import Patcher
from .recorder import AwsCall, AwsCallRecorder
from .sessions import fresh_session
from .stepfunctions import SharedClock, StepFunctionsSim
from .transitions import AURORA_CLUSTER, AURORA_INSTANCE, GONE, REDSHIFT_CLUSTER, TABLES, SlowAws, Transition

__all__ = [
    "AURORA_CLUSTER",
    "AURORA_INSTANCE",
    "DEFAULT_START",
    "GONE",
    "REDSHIFT_CLUSTER",
    "TABLES",
    "AwsCall",
    "AwsCallRecorder",
    "BackoffOnClock",
    "FailingCalls",
    "FakeClock",
    "LostResponses",
    "NthCallFault",
    "Patcher",
    "StrictEventBridge",
    "ResizeRecord",
    "SharedClock",
    "ShimObsolete",
    "SlowAws",
    "StepFunctionsSim",
    "ThrottleInjector",
    "Transition",
    "attach_managed_secret",
    "fresh_session",
    "install_moto_shims",
    "throttling_response",
]
