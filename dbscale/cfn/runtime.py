"""The runtime: every custom resource type keeps CloudFormation's contract through this one layer.

What it guarantees, and how (the flows themselves are in :mod:`dbscale.cfn.invocation`):

* **One answer per delivery, on its own ResponseURL.** Each Lambda invocation gets a fresh
  invocation object; nothing of one invocation reaches the next except through the operation
  document. The answer is sent at most once per invocation (a lock), with bounded retries and time
  (:mod:`dbscale.cfn.answer`); an answer that could not be delivered is retried by the
  operation's execution until CloudFormation's deadline. An event without a usable ResponseURL is
  logged and not acted on; one with an unknown ``RequestType`` is FAILED.
* **The right PhysicalResourceId.** Before a call that may create something, a resource records
  the identifier in its state; every FAILED answer from then on carries it, so CloudFormation's
  rollback Delete finds the cluster. A Create that made nothing answers a marker the Delete knows.
* **Bounded time; the watchdog and the work agree.** AWS calls are bounded (connect/read timeouts,
  attempts). A delivery's watchdog answers FAILED just before the Lambda timeout if the invocation
  has neither answered nor handed over, and from then on the invocation can make no change (every
  AWS call that could change something is refused: :func:`dbscale.core.aws.guard_changes`).
* **Long operations on Step Functions.** A request not finished within its first invocation is
  handed to one Standard workflow execution named from the request (:mod:`dbscale.cfn.workflow`):
  its check task checks every few seconds, answers and signals, and retries a transient error or an
  undelivered answer for as long as the other side can still accept it. The newest request for a
  physical resource stops the executions of older ones before it acts; a stopped operation makes no
  further change and sends nothing.
* **No secrets in logs.** The raw event is never logged, and library loggers (botocore, boto3,
  urllib3) are capped at WARNING even when the function's environment sets DEBUG.
* **One error mapping**: :func:`~dbscale.cfn.answer.failure_reason` turns :class:`~dbscale.core.errors.DbscaleError`
  into a FAILED Reason a human can act on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dbscale.core.aws import limit_call_time
from dbscale.core.clock import SYSTEM_CLOCK, Clock

from .invocation import Invocation
from .resource import ResourceType

if TYPE_CHECKING:
    import boto3

LOG = logging.getLogger("dbscale")
LOG.addHandler(logging.NullHandler())

POLL_SECONDS = 5.0
"""How often an invocation re-checks a running operation (seconds)."""
CALL_CONNECT_TIMEOUT, CALL_READ_TIMEOUT, CALL_ATTEMPTS = 5.0, 15.0, 4
"""AWS call bounds inside an invocation: at most ~85 s per call, retries and backoff included."""
CAPPED_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")
"""Library loggers that print credentials, the raw event or presigned URLs at DEBUG."""


class Provider:
    """A Lambda entry point for one resource type: ``handler = Provider(MyType()).handle``.

    ``session``, ``clock``, ``ssl_verify``, ``poll_seconds`` and ``state_machine_arn`` (default: the
    ``DBSCALE_STATE_MACHINE_ARN`` environment variable, else the function's own
    ``<function name>-operations``) can be replaced (tests, private CAs).
    """

    def __init__(self, resource: ResourceType[Any]) -> None:
        self.resource = resource
        self.session: boto3.Session | None = None
        self.clock: Clock = SYSTEM_CLOCK
        self.ssl_verify: bool | str | None = None
        self.poll_seconds = POLL_SECONDS
        self.state_machine_arn: str | None = None

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any] | None:
        """The Lambda handler: None for a CloudFormation delivery, the operation document for a check."""
        cap_library_loggers()
        limit_call_time(
            connect_timeout=CALL_CONNECT_TIMEOUT, read_timeout=CALL_READ_TIMEOUT, total_max_attempts=CALL_ATTEMPTS
        )
        return Invocation(self, event, context).run()


def cap_library_loggers() -> None:
    """Keep libraries that log secrets at DEBUG at WARNING, whatever the root logger's level."""
    for name in CAPPED_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
