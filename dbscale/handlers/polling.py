"""Polling across invocations: one EventBridge rule per in-flight request, holding a small, bounded
poll state, and handed from invocation to invocation by a lease so that exactly one of them checks
(and answers) at any time and no gap opens between them.

The rule's target Input is an *envelope*: the request's routing fields (ResponseURL included: a poll
must be able to answer), the properties a poll needs (resource types drop those only the first
invocation uses, such as ``Tags``), the resource's state, and the lease (``lease_until``, ``holder``).
It must stay under EventBridge's 8,192-character Input limit; a larger one is refused before any
rule is made. The rule and its Lambda permission are removed as soon as the request is answered; if
removal is denied, the target is overwritten by a tombstone without the ResponseURL (later firings
retry the clean-up and answer nothing), or else the rule is disabled, so a later firing can never
answer twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from dbscale.core.aws import aws_errors, client
from dbscale.core.errors import AwsError, DbscaleError

LOG = logging.getLogger("dbscale")

POLL_RULE_PREFIX = "dbscale-poll-"
"""Every EventBridge rule and Lambda permission the runtime creates starts with this."""
RULE_SCHEDULE = "rate(1 minute)"
RULE_PERIOD_SECONDS = 60.0
"""How often the poll rule fires (EventBridge's shortest rate)."""
INPUT_MAX_CHARS = 8192
"""EventBridge's limit on a target's constant Input (characters)."""
ENVELOPE_KEY = "dbscale-poll"
ENVELOPE_VERSION = 2
TARGET_ID = "dbscale-poll"
REQUEST_FIELDS = ("RequestType", "ResponseURL", "StackId", "RequestId", "LogicalResourceId", "ResourceType")


class PollStateTooLarge(DbscaleError):
    """The poll envelope would exceed EventBridge's Input limit."""


def poll_name(stack_id: str, logical_id: str, request_id: str) -> str:
    """A deterministic EventBridge rule name / permission id for one request (37 characters)."""
    digest = hashlib.sha256(f"{stack_id}|{logical_id}|{request_id}".encode())
    return POLL_RULE_PREFIX + digest.hexdigest()[:24]


def is_envelope(event: dict[str, Any]) -> bool:
    """True for an event delivered by a poll rule (not by CloudFormation)."""
    return isinstance(event, dict) and event.get(ENVELOPE_KEY) == ENVELOPE_VERSION


def make_envelope(
    rule: str,
    request_fields: dict[str, Any],
    physical_id: str | None,
    properties: dict[str, Any],
    state: dict[str, Any],
    *,
    lease_until: float,
    holder: str,
) -> dict[str, Any]:
    """The poll rule's target Input for one request."""
    return {
        ENVELOPE_KEY: ENVELOPE_VERSION,
        "RequestId": request_fields["RequestId"],
        "rule": rule,
        "request": {**{k: request_fields[k] for k in REQUEST_FIELDS}, "PhysicalResourceId": physical_id},
        "properties": properties,
        "state": state,
        "lease_until": lease_until,
        "holder": holder,
    }


def tombstone(request_id: str, rule: str) -> dict[str, Any]:
    """What replaces the envelope once the request is answered (no ResponseURL, no state)."""
    return {ENVELOPE_KEY: ENVELOPE_VERSION, "RequestId": request_id, "rule": rule, "answered": True}


class PollRule:
    """The EventBridge rule and Lambda permission that re-invoke the function for one request."""

    def __init__(self, name: str, session: Any, function_name: str, function_arn: str) -> None:
        self.name = name
        self._session = session
        self._function_name = function_name
        self._function_arn = function_arn
        self.installed = False

    def _events(self) -> Any:
        return client("events", self._session)

    def _lambda(self) -> Any:
        return client("lambda", self._session)

    @staticmethod
    def _input(envelope: dict[str, Any]) -> str:
        text = json.dumps(envelope, separators=(",", ":"))
        if len(text) > INPUT_MAX_CHARS:
            raise PollStateTooLarge(
                f"the poll state is {len(text)} characters, over EventBridge's {INPUT_MAX_CHARS}-character "
                "limit for a rule target's Input; shorten the longest property values"
            )
        return text

    def install(self, envelope: dict[str, Any]) -> None:
        """Create the rule, allow it to invoke the function, then point it at the function.

        On failure whatever was made is removed again and the error raised (as AwsError)."""
        text = self._input(envelope)  # before anything is made: a too-large state makes nothing
        try:
            with aws_errors(f"create the poll rule {self.name}"):
                rule_arn = self._events().put_rule(
                    Name=self.name,
                    ScheduleExpression=RULE_SCHEDULE,
                    State="ENABLED",
                    Description=f"dbscale polls {envelope['request']['LogicalResourceId']}"[:512],
                )["RuleArn"]
            self.installed = True
            self._allow(str(rule_arn))
            self._put(text)
        except DbscaleError:
            self.remove()
            raise

    def _allow(self, rule_arn: str) -> None:
        try:
            with aws_errors(f"allow the poll rule {self.name} to invoke the function"):
                self._lambda().add_permission(
                    FunctionName=self._function_name,
                    StatementId=self.name,
                    Action="lambda:InvokeFunction",
                    Principal="events.amazonaws.com",
                    SourceArn=rule_arn,
                )
        except AwsError as err:
            if err.code != "ResourceConflictException":  # a retried invocation finds it in place
                raise

    def _put(self, text: str) -> None:
        with aws_errors(f"save the poll state in rule {self.name}"):
            target = {"Id": TARGET_ID, "Arn": self._function_arn, "Input": text}
            response = self._events().put_targets(Rule=self.name, Targets=[target])
        if response.get("FailedEntryCount"):
            entry = (response.get("FailedEntries") or [{}])[0]
            code = str(entry.get("ErrorCode") or "PutTargetsFailed")
            raise AwsError(
                f"could not save the poll state in rule {self.name}: {code}: {entry.get('ErrorMessage')}", code=code
            )

    def save(self, envelope: dict[str, Any]) -> None:
        """Replace the target's Input with ``envelope`` (raises AwsError / PollStateTooLarge)."""
        self._put(self._input(envelope))

    def read(self) -> dict[str, Any] | None:
        """The target's current Input, or None when the rule or its target is gone."""
        try:
            with aws_errors(f"read the poll rule {self.name}"):
                targets = self._events().list_targets_by_rule(Rule=self.name)["Targets"]
        except AwsError as err:
            if err.code == "ResourceNotFoundException":
                return None
            raise
        for target in targets:
            if target.get("Id") == TARGET_ID:
                loaded = json.loads(target.get("Input") or "{}")
                return loaded if isinstance(loaded, dict) else None
        return None

    def remove(self, request_id: str | None = None) -> bool:
        """Remove the target, the rule and the permission. True when no firing can deliver the request again.

        When the target cannot be removed it is overwritten by a tombstone (``request_id`` given),
        or else the rule is disabled; failures are logged, never raised: tearing down must not turn
        an answer into another one."""
        events = self._events
        gone = self._try("remove the poll target", lambda: events().remove_targets(Rule=self.name, Ids=[TARGET_ID]))
        if gone:
            self._try("delete the poll rule", lambda: self._events().delete_rule(Name=self.name))
        else:
            # The tombstone keeps the rule firing, and each firing tries the clean-up again, so the rule
            # goes away once the fault passes; only when even that fails is the rule disabled.
            if request_id is not None:
                text = json.dumps(tombstone(request_id, self.name))
                gone = self._try("overwrite the poll target", lambda: self._put(text))
            if not gone:
                gone = self._try("disable the poll rule", lambda: self._events().disable_rule(Name=self.name))
        self._try(
            "remove the poll permission",
            lambda: self._lambda().remove_permission(FunctionName=self._function_name, StatementId=self.name),
        )
        if not gone:
            LOG.error("poll rule %s could not be removed, overwritten or disabled; remove it by hand", self.name)
        return gone

    @staticmethod
    def _try(what: str, call: Any) -> bool:
        try:
            with aws_errors(what):
                call()
            return True
        except AwsError as err:
            if err.code == "ResourceNotFoundException":
                return True
            LOG.warning("could not %s: %s", what, err.code)
            return False
        except DbscaleError as err:
            LOG.warning("could not %s: %s", what, err)
            return False
