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
| 10 | partly read: some accounts or regions failed (listed under failures); the rest was printed |
| 130 | interrupted (Ctrl-C); a started operation keeps running (``dbscale wait FILE``) |
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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
PARTIAL = 10
INTERRUPTED = 130

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (OK, "done"),
    (UNEXPECTED, "unexpected error (rerun with --debug and report it)"),
    (INVALID, "invalid command line or request; nothing was changed"),
    (NOT_FOUND, "cluster not found"),
    (NOT_OWNED, "refused: the cluster was not created by dbscale (pass --force)"),
    (BUSY, "the cluster is busy or in a state that does not allow it"),
    (FAILED, "the operation failed in AWS"),
    (TIMEOUT, "not finished within --timeout; still running (dbscale wait FILE)"),
    (AWS, "AWS error: credentials, region, endpoint, permissions, throttling"),
    (CONFLICT, "conflict: the cluster already exists, or no clone slot is free"),
    (PARTIAL, "partly done: some accounts or regions were not read or changed (listed under failures)"),
    (INTERRUPTED, "interrupted (Ctrl-C); a started operation keeps running"),
)
"""Every exit code and its meaning, as ``dbscale --help`` lists them."""

# Core argument names -> the command-line options (or arguments) that set them. A command whose
# options name a core argument differently says so with name_options() (Redshift's --node-type and
# Aurora's --instance-class are both new_instance_type). tests/unit/test_cli_habits.py checks that
# every name here and every field the CLI raises is a real option or argument.
_OPTIONS: dict[str, str] = {
    "new_cluster_size": "--nodes",
    "new_instance_type": "--node-type",
    "new_reader_count": "--readers",
    "new_serverless_v2_capacity": "--min-acu/--max-acu",
    "new_serverless_v2_capacity[0]": "--min-acu",
    "new_serverless_v2_capacity[1]": "--max-acu",
    "resize_type": "--resize-type",
    "instance_class": "--instance-class",
    "copy_instance_class": "--instance-class",
    "cluster_identifier": "NAME",
    "source_cluster_id": "SOURCE",
    "clone_cluster_id": "CLONE",
    "operation_file": "OPERATION-FILE",
    "template": "TEMPLATE",
    "query_timeout": "--query-timeout",
    "max_copy_age": "--max-copy-age",
    "min_acu": "--min-acu",
    "max_acu": "--max-acu",
    "state_machine": "--state-machine",
    "timeout_minutes": "--timeout",
}
_command_options: dict[str, str] = {}


def name_options(options: Mapping[str, str]) -> None:
    """How the running command names core arguments (e.g. ``{"new_instance_type": "--instance-class"}``),
    for the messages of its errors."""
    _command_options.clear()
    _command_options.update(options)


def option_for(field: str) -> str:
    """The option or argument of the running command that sets the core argument ``field``."""
    return _command_options.get(field) or _OPTIONS.get(field) or "--" + field.replace("_", "-")


def _cli_names(text: str, field: str) -> str:
    """``text`` with the core's argument names replaced by the command's options: internal
    (snake_case) names wherever they appear, the error's own field where the message starts with it."""
    names = {**_OPTIONS, **_command_options}
    internal = sorted((name for name in names if "_" in name or "[" in name), key=len, reverse=True)
    if internal:
        pattern = re.compile(r"(?<![\w-])(" + "|".join(re.escape(name) for name in internal) + r")(?![\w\[])")
        text = pattern.sub(lambda found: option_for(found.group(1)), text)
    if field and text.startswith(field + " "):
        text = option_for(field) + text[len(field) :]
    return text


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
    if type(err).__name__ == "ProfileNotFound":
        return INVALID
    if _is_botocore(err):
        return AWS
    if isinstance(err, DbscaleError):
        return FAILED
    return UNEXPECTED


def message(err: BaseException) -> str:
    """One line naming what went wrong and what to do."""
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, InvalidRequest) and err.field:
        text = _cli_names(text, err.field)
        option = option_for(err.field)
        if option not in text:
            text = f"{text} (check {option})"
    if _is_botocore(err):
        name = type(err).__name__
        if name == "ProfileNotFound":
            return f"{text}: check --profile or AWS_PROFILE (profiles are in ~/.aws/config)"
        if name == "NoRegionError":
            return "no AWS region: pass --region or set AWS_DEFAULT_REGION (or a profile's region)"
        if name in ("NoCredentialsError", "PartialCredentialsError"):
            return "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        if name in ("EndpointConnectionError", "ConnectTimeoutError"):
            return f"cannot reach AWS: {text} (check AWS_ENDPOINT_URL, the network or the region)"
        from ..core.aws import translate  # names the failed call; an HTML page becomes its status

        translated = translate(err)
        return f"AWS error: {' '.join(str(translated).split()) if translated is not None else text}"
    if exit_code(err) == UNEXPECTED:
        return f"unexpected error ({type(err).__name__}): {text}; rerun with --debug for the traceback"
    return text


def _is_botocore(err: Any) -> bool:
    return type(err).__module__.startswith("botocore")
