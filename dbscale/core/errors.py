"""The one exception hierarchy of dbscale. Handlers map it to FAILED responses in one place."""

from __future__ import annotations

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
