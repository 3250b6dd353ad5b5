"""The one exception hierarchy of dbscale. Handlers map it to FAILED responses in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class DbscaleError(Exception):
    """Base of every error dbscale raises. ``str(err)`` is a sentence a human can act on."""


class InvalidRequest(DbscaleError):
    """The caller asked for something invalid; nothing was changed in AWS.

    ``field`` names the offending argument or property when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class GuardrailViolation(InvalidRequest):
    """The request asks for an insecure setting the provider's guardrails refuse (see
    :mod:`dbscale.core.guardrails`); ``guardrail`` names the policy field that would allow it."""

    def __init__(self, message: str, *, field: str | None = None, guardrail: str) -> None:
        super().__init__(message, field=field)
        self.guardrail = guardrail


class ClusterNotFound(DbscaleError):
    """The named cluster (or instance) does not exist."""


class ClusterAlreadyExists(DbscaleError):
    """A cluster of that identifier exists and adoption was not asked for."""


class ClusterNotOwned(DbscaleError):
    """The cluster was not created by dbscale, so dbscale refuses to delete it without ``force``."""


class InvalidState(DbscaleError):
    """The cluster is in a state that does not allow the operation (e.g. mid-resize)."""


class DeletionProtected(InvalidState):
    """The cluster has deletion protection on: AWS refuses to delete it until it is turned off."""


class OperationFailed(DbscaleError):
    """A long operation ended in a state it cannot recover from."""


class OperationTimeout(DbscaleError):
    """A long operation did not finish before its deadline. The operation may still be running in AWS."""

    def __init__(self, message: str, *, operation: Any = None) -> None:
        super().__init__(message)
        self.operation = operation


class OperationStopped(DbscaleError):
    """This invocation may make no further change: it has answered already, or a newer request for
    the same resource has taken the operation over. Nothing was sent to AWS."""


class AwsError(DbscaleError):
    """An AWS API call failed. ``code`` keeps the AWS error code (e.g. ``ClusterQuotaExceeded``)."""

    def __init__(self, message: str, *, code: str, operation_name: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.operation_name = operation_name


class StatementFailed(DbscaleError):
    """The database refused a SQL statement; the message names the migration or user and the
    database's own error (never a password: statements that carry one are not quoted)."""


class DatabaseResuming(DbscaleError):
    """An auto-paused Aurora Serverless v2 cluster is waking up; the same call succeeds shortly."""


class MigrationChanged(DbscaleError):
    """An applied migration file no longer matches the checksum recorded when it ran."""


@dataclass(frozen=True)
class Problem:
    """One thing a request refers to that does not exist or does not fit, found before anything
    was created: ``property`` names it, ``message`` says what is wrong, ``hint`` what to do."""

    property: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class PreflightFailed(InvalidRequest):
    """The preflight (:mod:`dbscale.core.preflight`) found ``problems`` in what the request refers
    to; nothing was created or changed. One problem keeps its property as ``field``; several are
    listed together, each with its property."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        if len(problems) == 1:
            super().__init__(str(problems[0]), field=problems[0].property)
        else:
            listed = "; ".join(f"{p.property}: {p}" for p in problems)
            super().__init__(f"{len(problems)} problems, nothing was created or changed: {listed}")
