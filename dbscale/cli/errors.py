"""Exit codes and the one mapping from core errors to one-line CLI errors.

| code | meaning |
|---|---|
| 0 | done |
| 1 | unexpected error (a bug: rerun with ``--debug`` and report it) |
| 2 | invalid command line or request (:class:`InvalidRequest`); nothing was changed |
| 3 | cluster not found |
| 4 | refused: the cluster was not created by dbscale (pass ``--force``) |
| 5 | the cluster is busy or in a state that does not allow it (:class:`InvalidState`) |
| 6 | the operation failed in AWS (:class:`OperationFailed`) |
| 7 | the operation did not finish in time; it may still be running (``dbscale wait FILE``) |
| 8 | AWS error: credentials, region, endpoint, permissions, throttling |
| 9 | conflict: the cluster already exists, or no clone slot is free |
| 130 | interrupted (Ctrl-C); a started operation keeps running (``dbscale wait FILE``) |
"""

from __future__ import annotations

from typing import Any

from ..core.errors import (
    AwsError,
    ClusterAlreadyExists,
    ClusterNotFound,
    ClusterNotOwned,
    DbscaleError,
    InvalidRequest,
    InvalidState,
    OperationFailed,
    OperationTimeout,
)

OK = 0
UNEXPECTED = 1
INVALID = 2
NOT_FOUND = 3
NOT_OWNED = 4
BUSY = 5
FAILED = 6
TIMEOUT = 7
AWS = 8
CONFLICT = 9
INTERRUPTED = 130

# Core argument names -> the command-line options that set them.
_OPTIONS = {
    "new_cluster_size": "--nodes",
    "new_instance_type": "--node-type / --instance-class",
    "new_reader_count": "--readers",
    "new_serverless_v2_capacity": "--min-acu/--max-acu",
    "new_serverless_v2_capacity[0]": "--min-acu",
    "new_serverless_v2_capacity[1]": "--max-acu",
    "resize_type": "--resize-type",
    "instance_class": "--instance-class",
    "cluster_identifier": "the cluster name",
    "source_cluster_id": "SOURCE",
    "clone_cluster_id": "CLONE",
}

_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (InvalidRequest, INVALID),
    (ClusterNotFound, NOT_FOUND),
    (ClusterNotOwned, NOT_OWNED),
    (InvalidState, BUSY),
    (OperationFailed, FAILED),
    (OperationTimeout, TIMEOUT),
    (ClusterAlreadyExists, CONFLICT),
    (AwsError, AWS),
)


def exit_code(err: BaseException) -> int:
    """The exit code for an error (see the module docstring)."""
    for kind, code in _CODES:
        if isinstance(err, kind):
            return code
    if type(err).__name__ == "CloneSlotUnavailable":
        return CONFLICT
    if _is_botocore(err):
        return AWS
    if isinstance(err, DbscaleError):
        return FAILED
    return UNEXPECTED


def message(err: BaseException) -> str:
    """One line naming what went wrong and what to do."""
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, InvalidRequest) and err.field:
        text = f"{text} (check {_OPTIONS.get(err.field, '--' + err.field.replace('_', '-'))})"
    if _is_botocore(err):
        name = type(err).__name__
        if name == "NoRegionError":
            return "no AWS region: pass --region or set AWS_REGION (or a profile's region)"
        if name in ("NoCredentialsError", "PartialCredentialsError"):
            return "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        if name in ("EndpointConnectionError", "ConnectTimeoutError"):
            return f"cannot reach AWS: {text} (check AWS_ENDPOINT_URL, the network or the region)"
        return f"AWS error: {text}"
    if exit_code(err) == UNEXPECTED:
        return f"unexpected error ({type(err).__name__}): {text}; rerun with --debug for the traceback"
    return text


def _is_botocore(err: Any) -> bool:
    return type(err).__module__.startswith("botocore")
