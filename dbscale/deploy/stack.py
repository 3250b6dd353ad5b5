"""Deploy, update and delete the providers' CloudFormation stack, and package it for a pipeline.

What ``dbscale providers deploy`` does, in order, each step safe to repeat:

1. the code bucket: given (used as it is), or ``dbscale-providers-<account>-<region>``, made on first
   use private (all public access blocked, bucket-owner objects), encrypted (SSE-S3) and TLS-only (a
   policy denying every request without ``aws:SecureTransport``);
2. the code bundle and the rendered template go to the bucket under their content hashes (nothing
   is uploaded twice; the template is sent by URL: at ~52 KB compact it is over CloudFormation's
   51,200-byte limit for a template body);
3. a change set (CREATE or UPDATE) is made and described; one with no changes is deleted and the
   deploy ends there; ``execute=False`` stops after describing it;
4. the change set is executed and the stack's events are reported as they come until the stack
   settles; a failure names the first resource that failed and why.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbscale.core.aws import aws_errors, client
from dbscale.core.clock import SYSTEM_CLOCK, Clock, utc_stamp
from dbscale.core.errors import InvalidState, OperationFailed, OperationTimeout
from dbscale.core.guardrails import Guardrails

from .bucket import BUCKET_TAG, CodeBucket
from .bundle import Bundle, build_bundle
from .caller import OnSession
from .events import Change, StackEvent, StackWatcher
from .exports import check_exports_free, exports_of, importers
from .template import (
    CODE_PARAMETERS,
    DEFAULT_PREFIX,
    DEFAULT_STACK_NAME,
    render_template,
    template_body,
)

STACK_TAG = BUCKET_TAG
"""The tag that marks a stack (and a code bucket) as made by ``dbscale providers deploy``."""
CHANGE_SET_DESCRIPTION = "dbscale providers deploy"
"""How the change sets dbscale makes describe themselves (what a stack under review is recognised by)."""
DEFAULT_TIMEOUT_SECONDS = 30 * 60.0
DEFAULT_POLL_SECONDS = 5.0
TEMPLATE_KEY_PREFIX = "dbscale-providers/templates/"
_SETTLED_OK = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"})
# A create that failed leaves an empty stack that can only be deleted.
_DEAD_ON_ARRIVAL = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED"})
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


@dataclass
class DeployResult:
    """What a deploy did: the stack, whether anything changed, its exports (export name -> value)."""

    stack_name: str
    bucket: str
    code_key: str
    status: str = ""
    stack_id: str = ""
    change_set: str = ""
    changes: list[Change] = field(default_factory=list)
    changed: bool = False
    executed: bool = False
    exports: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class PackageResult:
    """What ``package`` wrote: the template file, the local copy of the bundle, and where the bundle is in S3."""

    template_file: Path
    bundle_file: Path
    bucket: str
    code_key: str
    uploaded: bool


@dataclass
class DeleteResult:
    """What a delete did (``deleted`` False when there was no stack) and what it deliberately kept."""

    stack_name: str
    deleted: bool
    kept: list[str] = field(default_factory=list)


EventCallback = Callable[[StackEvent], None]
StepCallback = Callable[[str], None]


def _ignore(_: Any) -> None:
    return None


class ProvidersDeployment(OnSession):
    """The providers' stack in one account and region (those of ``session``; default session).

    :param stack_name: the stack's name. Default ``dbscale-providers``.
    :param clock: time source for polling and the timeout (default: the system clock).
    :param poll_seconds: how often the stack's events are read while it changes. Default 5 s.
    """

    def __init__(
        self,
        session: Any = None,
        *,
        stack_name: str = DEFAULT_STACK_NAME,
        clock: Clock = SYSTEM_CLOCK,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
    ) -> None:
        self._session = session
        self.stack_name = stack_name
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._watcher = StackWatcher(lambda: self._client("cloudformation"), stack_name, clock, poll_seconds)

    # --- clients and identity ----------------------------------------------------------------

    def _client(self, service: str) -> Any:
        return client(service, self._session)

    @property
    def bucket(self) -> CodeBucket:
        """The code bucket of this account and region."""
        return CodeBucket(self._session, account=self.account, region=self.region)

    def default_bucket(self) -> str:
        """The code bucket made when none is given: ``dbscale-providers-<account>-<region>``."""
        return self.bucket.default_name()

    # --- deploy ------------------------------------------------------------------------------

    def deploy(
        self,
        *,
        prefix: str = DEFAULT_PREFIX,
        guardrails: Guardrails | None = None,
        bucket: str | None = None,
        execute: bool = True,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        on_step: StepCallback = _ignore,
        on_event: EventCallback = _ignore,
        on_changes: Callable[[list[Change]], None] = _ignore,
        bundle: Bundle | None = None,
    ) -> DeployResult:
        """Create or update the stack for ``prefix`` and ``guardrails`` (default strict) through a change set.

        Raises InvalidRequest for a bad prefix or guardrails (before any AWS call), InvalidState when
        the stack is busy or stuck, OperationFailed when CloudFormation rolls back, OperationTimeout
        after ``timeout_seconds`` (default 30 min; the stack goes on changing in CloudFormation).
        """
        template = render_template(prefix=prefix, guardrails=guardrails)  # validates before any call
        stack = self._describe_stack()
        change_type = self._change_type(stack, on_step=on_step, on_event=on_event, timeout_seconds=timeout_seconds)
        check_exports_free(self._client("cloudformation"), stack)
        code = bundle or build_bundle()
        store = self.bucket
        bucket_name = store.ensure(bucket, on_step=on_step)
        result = DeployResult(stack_name=self.stack_name, bucket=bucket_name, code_key=code.s3_key)
        if store.upload(bucket_name, code.s3_key, code.data, "application/zip"):
            on_step(f"uploaded the provider code ({len(code.data) / 1024:.0f} KiB) to s3://{bucket_name}/{code.s3_key}")
        body = template_body(template)
        template_key = f"{TEMPLATE_KEY_PREFIX}{hashlib.sha256(body.encode()).hexdigest()[:32]}.json"
        store.upload(bucket_name, template_key, body.encode(), "application/json")
        # Named by time and a random part: two deploys in one second must not collide.
        result.change_set = f"dbscale-{utc_stamp(self._clock)}-{uuid.uuid4().hex[:8]}"
        on_step(f"making change set {result.change_set} ({change_type}) for stack {self.stack_name}")
        cfn = self._client("cloudformation")
        result.stack_id = self._create_change_set(
            StackName=self.stack_name,
            ChangeSetName=result.change_set,
            ChangeSetType=change_type,
            TemplateURL=store.template_url(bucket_name, template_key),
            Parameters=[
                {"ParameterKey": CODE_PARAMETERS[0], "ParameterValue": bucket_name},
                {"ParameterKey": CODE_PARAMETERS[1], "ParameterValue": code.s3_key},
            ],
            Capabilities=["CAPABILITY_IAM"],
            Tags=[{"Key": STACK_TAG[0], "Value": STACK_TAG[1]}],
            Description=f"{CHANGE_SET_DESCRIPTION} (prefix '{prefix}')",
            # Retries of this call (botocore's, after a lost answer) are the same request to AWS.
            ClientToken=result.change_set,
        )
        status, reason, result.changes = wait_for_change_set(
            cfn,
            self.stack_name,
            result.change_set,
            clock=self._clock,
            poll_seconds=self._poll_seconds,
            timeout_seconds=timeout_seconds,
        )
        if status == "FAILED":
            return self._unchanged(result, stack, reason)
        result.changed = True
        on_changes(result.changes)
        if not execute:
            result.status = "REVIEW"
            result.notes.append(
                f"change set {result.change_set} made and not executed; run it with: aws cloudformation "
                f"execute-change-set --stack-name {self.stack_name} --change-set-name {result.change_set}"
            )
            return result
        since = self._watcher.latest_event_id()
        self._execute(result.change_set)
        result.executed = True
        final = self._watcher.watch(since, timeout_seconds, on_event, ok=_SETTLED_OK)
        result.status = str(final.get("StackStatus", ""))
        result.stack_id = str(final.get("StackId", result.stack_id))
        result.exports = exports_of(final)
        return result

    def _unchanged(self, result: DeployResult, stack: dict[str, Any] | None, reason: str) -> DeployResult:
        """After a change set failed: delete it; ``result`` when it failed for having nothing to
        change (the stack already matches), else OperationFailed with CloudFormation's ``reason``."""
        empty = any(text in reason for text in _NO_CHANGES)
        what = "empty" if empty else "failed"
        with aws_errors(f"delete the {what} change set '{result.change_set}' (cloudformation:DeleteChangeSet)"):
            self._client("cloudformation").delete_change_set(StackName=self.stack_name, ChangeSetName=result.change_set)
        if not empty:
            raise OperationFailed(f"change set {result.change_set} for stack '{self.stack_name}' failed: {reason}")
        result.status = str(stack.get("StackStatus", "")) if stack else ""
        result.exports = exports_of(stack or {})
        result.notes.append("no changes: the stack already matches")
        return result

    def _create_change_set(self, **request: Any) -> str:
        """CreateChangeSet (idempotent through its ClientToken); the stack id."""
        with aws_errors(f"make a change set for stack '{self.stack_name}' (cloudformation:CreateChangeSet)"):
            made = self._client("cloudformation").create_change_set(**request)
        return str(made.get("StackId", ""))

    def _execute(self, change_set: str) -> None:
        """ExecuteChangeSet, idempotent through its ClientRequestToken: a retry whose first attempt
        AWS carried out is answered as that attempt was."""
        with aws_errors(f"execute change set '{change_set}' (cloudformation:ExecuteChangeSet)"):
            self._client("cloudformation").execute_change_set(
                StackName=self.stack_name, ChangeSetName=change_set, ClientRequestToken=change_set
            )

    def _change_type(
        self, stack: dict[str, Any] | None, *, on_step: StepCallback, on_event: EventCallback, timeout_seconds: float
    ) -> str:
        """CREATE or UPDATE for the stack as it is; a stack whose create failed is deleted first."""
        if stack is None:
            return "CREATE"
        status = str(stack["StackStatus"])
        self._require_ours(stack)
        if status == "REVIEW_IN_PROGRESS":
            # A first change set made (--no-execute) and never executed: the stack holds nothing but
            # that change set, which a new one replaces.
            on_step(f"stack '{self.stack_name}' holds only an unexecuted change set: replacing it")
            self._delete_and_wait(stack, timeout_seconds, on_event)
            return "CREATE"
        if status.endswith("_IN_PROGRESS"):
            raise InvalidState(
                f"stack '{self.stack_name}' is {status}: wait for it to settle, then run the command again"
            )
        if status in _DEAD_ON_ARRIVAL:
            on_step(
                f"stack '{self.stack_name}' is {status} (its create failed and it holds nothing): deleting it first"
            )
            self._delete_and_wait(stack, timeout_seconds, on_event)
            return "CREATE"
        if status in ("UPDATE_ROLLBACK_FAILED", "DELETE_FAILED"):
            hint = (
                "continue the rollback (aws cloudformation continue-update-rollback)"
                if status == "UPDATE_ROLLBACK_FAILED"
                else "delete it again (dbscale providers delete) after fixing what the failed event names"
            )
            raise InvalidState(f"stack '{self.stack_name}' is {status}: {hint}, then deploy again")
        return "UPDATE"

    def _require_ours(self, stack: dict[str, Any]) -> None:
        tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
        if tags.get(STACK_TAG[0]) != STACK_TAG[1] and not self._made_by_our_change_set(stack):
            raise InvalidState(
                f"stack '{self.stack_name}' exists and was not made by dbscale providers deploy (no tag "
                f"{STACK_TAG[0]}={STACK_TAG[1]}): pass --stack-name with another name"
            )

    def _made_by_our_change_set(self, stack: dict[str, Any]) -> bool:
        """A stack under review (REVIEW_IN_PROGRESS) may not carry its change set's tags yet: its
        change set's description says whether dbscale made it."""
        if stack.get("StackStatus") != "REVIEW_IN_PROGRESS":
            return False
        with aws_errors(f"list the change sets of stack '{self.stack_name}' (cloudformation:ListChangeSets)"):
            summaries = self._client("cloudformation").list_change_sets(StackName=str(stack["StackId"]))["Summaries"]
        return bool(summaries) and all(
            str(c.get("Description", "")).startswith(CHANGE_SET_DESCRIPTION) for c in summaries
        )

    def _describe_stack(self) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            stacks = self._client("cloudformation").describe_stacks(StackName=self.stack_name)["Stacks"]
        except ClientError as err:
            error = err.response.get("Error", {})
            if error.get("Code") == "ValidationError" and "does not exist" in str(error.get("Message", "")):
                return None
            with aws_errors(f"describe stack '{self.stack_name}' (cloudformation:DescribeStacks)"):
                raise
        return dict(stacks[0]) if stacks else None

    def delete(
        self, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS, on_event: EventCallback = _ignore
    ) -> DeleteResult:
        """Delete the stack (none: nothing to do). Refused while another stack imports one of its
        ServiceTokens. Kept: the providers' log groups (retained by the template) and the code bucket."""
        stack = self._describe_stack()
        result = DeleteResult(stack_name=self.stack_name, deleted=False)
        if stack is None:
            return result
        self._require_ours(stack)
        status = str(stack["StackStatus"])
        if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
            raise InvalidState(f"stack '{self.stack_name}' is {status}: wait for it to settle, then delete it")
        users = importers(self._client("cloudformation"), stack)
        if users:
            listed = "; ".join(f"{name} (imported by {', '.join(stacks)})" for name, stacks in sorted(users.items()))
            raise InvalidState(
                f"stack '{self.stack_name}' cannot be deleted while other stacks use its ServiceTokens: {listed}. "
                "Delete those stacks (or their dbscale resources) first"
            )
        self._delete_and_wait(stack, timeout_seconds, on_event)
        result.deleted = True
        result.kept = [
            "the providers' log groups (kept for their retention period)",
            f"the code bucket (default name {self.default_bucket()})",
        ]
        return result

    def _delete_and_wait(self, stack: dict[str, Any], timeout_seconds: float, on_event: EventCallback) -> None:
        stack_id = str(stack.get("StackId", self.stack_name))
        since = self._watcher.latest_event_id(stack_id)
        with aws_errors(f"delete stack '{self.stack_name}' (cloudformation:DeleteStack)"):
            self._client("cloudformation").delete_stack(StackName=stack_id)
        self._watcher.watch(since, timeout_seconds, on_event, ok=frozenset({"DELETE_COMPLETE"}), stack_ref=stack_id)

    # --- package -------------------------------------------------------------------------------

    def package(
        self,
        *,
        bucket: str,
        out_dir: Path,
        prefix: str = DEFAULT_PREFIX,
        guardrails: Guardrails | None = None,
        bundle: Bundle | None = None,
    ) -> PackageResult:
        """Upload the code bundle to ``bucket`` (which must exist) and write the template that points
        at it, and a copy of the bundle, into ``out_dir``: for teams that deploy with their own pipeline."""
        render_template(prefix=prefix, guardrails=guardrails)  # validates before any call
        code = bundle or build_bundle()
        store = self.bucket
        store.ensure(bucket)
        uploaded = store.upload(bucket, code.s3_key, code.data, "application/zip")
        template = render_template(prefix=prefix, guardrails=guardrails, code=(bucket, code.s3_key))
        out_dir.mkdir(parents=True, exist_ok=True)
        template_file = out_dir / "dbscale-providers.template.json"
        template_file.write_text(json.dumps(template, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        bundle_file = out_dir / Path(code.s3_key).name
        bundle_file.write_bytes(code.data)
        return PackageResult(
            template_file=template_file, bundle_file=bundle_file, bucket=bucket, code_key=code.s3_key, uploaded=uploaded
        )


def wait_for_change_set(
    cfn: Any, stack_name: str, name: str, *, clock: Clock, poll_seconds: float, timeout_seconds: float
) -> tuple[str, str, list[Change]]:
    """(status, reason, changes) of change set ``name`` once it is made or has failed."""
    deadline = clock.now() + timeout_seconds
    while True:
        with aws_errors(f"describe change set '{name}' (cloudformation:DescribeChangeSet)"):
            described = cfn.describe_change_set(StackName=stack_name, ChangeSetName=name)
        status = str(described.get("Status", ""))
        if status in ("CREATE_COMPLETE", "FAILED"):
            changes = [
                Change(
                    action=str(c["ResourceChange"].get("Action", "")),
                    logical_id=str(c["ResourceChange"].get("LogicalResourceId", "")),
                    resource_type=str(c["ResourceChange"].get("ResourceType", "")),
                    replacement=str(c["ResourceChange"].get("Replacement", "")),
                )
                for c in described.get("Changes", [])
                if "ResourceChange" in c
            ]
            return status, str(described.get("StatusReason", "")), changes
        if clock.now() >= deadline:
            raise OperationTimeout(f"change set {name} was still {status} after {timeout_seconds:.0f} s")
        clock.sleep(min(poll_seconds, 2.0))


# --- delete --------------------------------------------------------------------------------
