"""Deploy, update and delete the providers' CloudFormation stack, and package it for a pipeline.

What ``dbscale providers deploy`` does, in order, each step safe to repeat:

1. the code bucket: given (used as it is), or ``dbscale-providers-<account>-<region>``, made on first
   use private (all public access blocked, bucket-owner objects), encrypted (SSE-S3) and TLS-only (a
   policy denying every request without ``aws:SecureTransport``);
2. the code bundle and the rendered template go to the bucket under their content hashes (nothing
   is uploaded twice; the template is sent by URL: at ~70 KB it is over CloudFormation's 51,200-byte
   limit for a template body);
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
from datetime import datetime
from pathlib import Path
from typing import Any

from dbscale.core.aws import aws_errors, client
from dbscale.core.clock import SYSTEM_CLOCK, Clock, utc_stamp
from dbscale.core.errors import InvalidRequest, InvalidState, OperationFailed, OperationTimeout
from dbscale.core.guardrails import Guardrails

from .bundle import Bundle, build_bundle
from .template import (
    CODE_PARAMETERS,
    DEFAULT_PREFIX,
    DEFAULT_STACK_NAME,
    render_template,
    template_body,
)

STACK_TAG = ("dbscale:stack", "providers")
"""The tag that marks a stack (and a code bucket) as made by ``dbscale providers deploy``."""
DEFAULT_TIMEOUT_SECONDS = 30 * 60.0
DEFAULT_POLL_SECONDS = 5.0
TEMPLATE_KEY_PREFIX = "dbscale-providers/templates/"
_SETTLED_OK = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"})
_SETTLED_FAILED = frozenset(
    {
        "CREATE_FAILED",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
        "UPDATE_FAILED",
        "DELETE_FAILED",
        "IMPORT_ROLLBACK_COMPLETE",
        "IMPORT_ROLLBACK_FAILED",
    }
)
# A create that failed leaves an empty stack that can only be deleted.
_DEAD_ON_ARRIVAL = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED"})
_EXECUTED_CODES = frozenset(
    {"ChangeSetNotFoundException", "ChangeSetNotFound", "InvalidChangeSetStatusException", "InvalidChangeSetStatus"}
)
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


@dataclass(frozen=True)
class StackEvent:
    """One stack event, as CloudFormation reports it."""

    timestamp: datetime
    logical_id: str
    resource_type: str
    status: str
    reason: str = ""

    @property
    def failed(self) -> bool:
        """True for a resource or stack that failed (``*_FAILED``)."""
        return self.status.endswith("_FAILED")


@dataclass(frozen=True)
class Change:
    """One row of a change set: ``Add``, ``Modify`` or ``Remove`` of a resource; ``replacement``
    is CloudFormation's True, False or Conditional for a Modify."""

    action: str
    logical_id: str
    resource_type: str
    replacement: str = ""


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


class ProvidersDeployment:
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
        self._account: str | None = None

    # --- clients and identity ----------------------------------------------------------------

    def _client(self, service: str) -> Any:
        return client(service, self._session)

    @property
    def region(self) -> str:
        """The region the stack is deployed in (the session's); InvalidRequest when none is configured."""
        region = self._client("cloudformation").meta.region_name
        if not region:
            raise InvalidRequest("no AWS region: pass --region or set AWS_DEFAULT_REGION", field="region")
        return str(region)

    @property
    def account(self) -> str:
        """The caller's account id (one STS call, then cached)."""
        if self._account is None:
            with aws_errors("find the caller's account (sts:GetCallerIdentity)"):
                self._account = str(self._client("sts").get_caller_identity()["Account"])
        return self._account

    def default_bucket(self) -> str:
        """The code bucket made when none is given: ``dbscale-providers-<account>-<region>``."""
        return f"dbscale-providers-{self.account}-{self.region}"

    # --- the code bucket ---------------------------------------------------------------------

    def ensure_bucket(self, bucket: str | None = None, *, on_step: StepCallback = _ignore) -> str:
        """``bucket`` when given (it must exist and is not changed), else the default bucket, made
        private, encrypted and TLS-only on first use (and those settings re-applied every time)."""
        s3 = self._client("s3")
        if bucket is not None:
            self._require_bucket(bucket)
            return bucket
        name = self.default_bucket()
        from botocore.exceptions import ClientError

        try:
            s3.head_bucket(Bucket=name)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            if code not in ("404", "NoSuchBucket", "NotFound"):
                raise self._bucket_error(name, err) from None
            on_step(f"making the code bucket {name} (private, encrypted, TLS only)")
            create: dict[str, Any] = {"Bucket": name, "ObjectOwnership": "BucketOwnerEnforced"}
            if self.region != "us-east-1":
                create["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            with aws_errors(f"make the code bucket '{name}' (s3:CreateBucket)"):
                s3.create_bucket(**create)
        self._secure_bucket(name)
        return name

    def _require_bucket(self, bucket: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self._client("s3").head_bucket(Bucket=bucket)
        except ClientError as err:
            raise self._bucket_error(bucket, err) from None

    @staticmethod
    def _bucket_error(bucket: str, err: Any) -> InvalidRequest:
        code = str(err.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            return InvalidRequest(
                f"--bucket '{bucket}' does not exist: make it first, or leave --bucket out", field="bucket"
            )
        if code in ("403", "AccessDenied", "Forbidden"):
            return InvalidRequest(
                f"bucket '{bucket}' is not readable with these credentials (HeadBucket: HTTP 403): it belongs to "
                "another account or the caller lacks s3:ListBucket; pass --bucket with a bucket of this account",
                field="bucket",
            )
        return InvalidRequest(f"bucket '{bucket}': HeadBucket failed with {code or err}", field="bucket")

    def _secure_bucket(self, name: str) -> None:
        s3 = self._client("s3")
        with aws_errors(f"block public access to the code bucket '{name}' (s3:PutPublicAccessBlock)"):
            s3.put_public_access_block(
                Bucket=name,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
        with aws_errors(f"encrypt the code bucket '{name}' (s3:PutBucketEncryption)"):
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
        with aws_errors(f"require TLS on the code bucket '{name}' (s3:PutBucketPolicy)"):
            s3.put_bucket_policy(Bucket=name, Policy=json.dumps(tls_only_policy(name, partition_of(self.region))))
        with aws_errors(f"tag the code bucket '{name}' (s3:PutBucketTagging)"):
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": STACK_TAG[0], "Value": STACK_TAG[1]}]})

    def upload(self, bucket: str, key: str, data: bytes, content_type: str) -> bool:
        """Put ``data`` at ``key`` unless it is there already (keys are content hashes); True when uploaded."""
        from botocore.exceptions import ClientError

        s3 = self._client("s3")
        try:
            s3.head_object(Bucket=bucket, Key=key)
            return False
        except ClientError as err:
            if str(err.response.get("Error", {}).get("Code", "")) not in ("404", "NoSuchKey", "NotFound"):
                with aws_errors(f"read s3://{bucket}/{key} (s3:HeadObject)"):
                    raise
        with aws_errors(f"upload s3://{bucket}/{key} (s3:PutObject)"):
            s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        return True

    def template_url(self, bucket: str, key: str) -> str:
        """The HTTPS URL CloudFormation reads a template from."""
        suffix = "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"
        return f"https://{bucket}.s3.{self.region}.{suffix}/{key}"

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
        code = bundle or build_bundle()
        bucket_name = self.ensure_bucket(bucket, on_step=on_step)
        result = DeployResult(stack_name=self.stack_name, bucket=bucket_name, code_key=code.s3_key)
        if self.upload(bucket_name, code.s3_key, code.data, "application/zip"):
            on_step(f"uploaded the provider code ({len(code.data) / 1024:.0f} KiB) to s3://{bucket_name}/{code.s3_key}")
        body = template_body(template)
        template_key = f"{TEMPLATE_KEY_PREFIX}{hashlib.sha256(body.encode()).hexdigest()[:32]}.json"
        self.upload(bucket_name, template_key, body.encode(), "application/json")
        # Named by time and a random part: two deploys in one second must not collide.
        result.change_set = f"dbscale-{utc_stamp(self._clock)}-{uuid.uuid4().hex[:8]}"
        on_step(f"making change set {result.change_set} ({change_type}) for stack {self.stack_name}")
        cfn = self._client("cloudformation")
        result.stack_id = self._create_change_set(
            StackName=self.stack_name,
            ChangeSetName=result.change_set,
            ChangeSetType=change_type,
            TemplateURL=self.template_url(bucket_name, template_key),
            Parameters=[
                {"ParameterKey": CODE_PARAMETERS[0], "ParameterValue": bucket_name},
                {"ParameterKey": CODE_PARAMETERS[1], "ParameterValue": code.s3_key},
            ],
            Capabilities=["CAPABILITY_IAM"],
            Tags=[{"Key": STACK_TAG[0], "Value": STACK_TAG[1]}],
            Description=f"dbscale providers deploy (prefix '{prefix}')",
        )
        status, reason, result.changes = self._wait_for_change_set(result.change_set, timeout_seconds)
        if status == "FAILED":
            if any(text in reason for text in _NO_CHANGES):
                with aws_errors(f"delete the empty change set '{result.change_set}' (cloudformation:DeleteChangeSet)"):
                    cfn.delete_change_set(StackName=self.stack_name, ChangeSetName=result.change_set)
                result.status = str(stack.get("StackStatus", "")) if stack else ""
                result.exports = _exports(stack or {})
                result.notes.append("no changes: the stack already matches")
                return result
            raise OperationFailed(f"change set {result.change_set} for stack '{self.stack_name}' failed: {reason}")
        result.changed = True
        on_changes(result.changes)
        if not execute:
            result.status = "REVIEW"
            result.notes.append(
                f"change set {result.change_set} made and not executed; run it with: aws cloudformation "
                f"execute-change-set --stack-name {self.stack_name} --change-set-name {result.change_set}"
            )
            return result
        since = self._latest_event_id()
        self._execute(result.change_set)
        result.executed = True
        final = self._watch(since, timeout_seconds, on_event, ok=_SETTLED_OK)
        result.status = str(final.get("StackStatus", ""))
        result.stack_id = str(final.get("StackId", result.stack_id))
        result.exports = _exports(final)
        return result

    def _create_change_set(self, **request: Any) -> str:
        """CreateChangeSet; the stack id. A retry whose first attempt AWS carried out (its answer lost)
        finds the change set there (AlreadyExistsException): that one is ours, named uniquely."""
        from botocore.exceptions import ClientError

        cfn = self._client("cloudformation")
        try:
            return str(cfn.create_change_set(**request).get("StackId", ""))
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            if code in ("AlreadyExistsException", "AlreadyExists"):
                with aws_errors(f"describe change set '{request['ChangeSetName']}' (cloudformation:DescribeChangeSet)"):
                    found = cfn.describe_change_set(
                        StackName=request["StackName"], ChangeSetName=request["ChangeSetName"]
                    )
                return str(found.get("StackId", ""))
            with aws_errors(f"make a change set for stack '{self.stack_name}' (cloudformation:CreateChangeSet)"):
                raise

    def _execute(self, change_set: str) -> None:
        """ExecuteChangeSet; a retry whose first attempt AWS carried out (its answer lost) finds the
        change set gone or executing, which is success when the stack is changing or changed."""
        from botocore.exceptions import ClientError

        action = f"execute change set '{change_set}' (cloudformation:ExecuteChangeSet)"
        try:
            self._client("cloudformation").execute_change_set(StackName=self.stack_name, ChangeSetName=change_set)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            stack = self._describe_stack() if code in _EXECUTED_CODES else None
            status = str(stack.get("StackStatus", "")) if stack else ""
            if status and status != "REVIEW_IN_PROGRESS" and not status.endswith("ROLLBACK_COMPLETE"):
                return
            with aws_errors(action):
                raise

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
        if tags.get(STACK_TAG[0]) != STACK_TAG[1]:
            raise InvalidState(
                f"stack '{self.stack_name}' exists and was not made by dbscale providers deploy (no tag "
                f"{STACK_TAG[0]}={STACK_TAG[1]}): pass --stack-name with another name"
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

    def _wait_for_change_set(self, name: str, timeout_seconds: float) -> tuple[str, str, list[Change]]:
        cfn = self._client("cloudformation")
        deadline = self._clock.now() + timeout_seconds
        while True:
            with aws_errors(f"describe change set '{name}' (cloudformation:DescribeChangeSet)"):
                described = cfn.describe_change_set(StackName=self.stack_name, ChangeSetName=name)
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
            if self._clock.now() >= deadline:
                raise OperationTimeout(f"change set {name} was still {status} after {timeout_seconds:.0f} s")
            self._clock.sleep(min(self._poll_seconds, 2.0))

    # --- events --------------------------------------------------------------------------------

    def _events(self, stack_ref: str, since: str | None) -> list[dict[str, Any]]:
        """The stack's events newer than event id ``since`` (all when None), oldest first."""
        cfn = self._client("cloudformation")
        newer: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            request: dict[str, Any] = {"StackName": stack_ref}
            if token:
                request["NextToken"] = token
            with aws_errors(f"read the events of stack '{self.stack_name}' (cloudformation:DescribeStackEvents)"):
                page = cfn.describe_stack_events(**request)
            for event in page.get("StackEvents", []):  # newest first
                if since is not None and event.get("EventId") == since:
                    return newer[::-1]
                newer.append(event)
            token = page.get("NextToken")
            if not token:
                return newer[::-1]

    def _latest_event_id(self, stack_ref: str | None = None) -> str | None:
        cfn = self._client("cloudformation")
        with aws_errors(f"read the events of stack '{self.stack_name}' (cloudformation:DescribeStackEvents)"):
            events = cfn.describe_stack_events(StackName=stack_ref or self.stack_name).get("StackEvents", [])
        return str(events[0]["EventId"]) if events else None

    def _watch(
        self,
        since: str | None,
        timeout_seconds: float,
        on_event: EventCallback,
        *,
        ok: frozenset[str],
        stack_ref: str | None = None,
    ) -> dict[str, Any]:
        """Report events until the stack settles; the settled stack, or OperationFailed/OperationTimeout."""
        ref = stack_ref or self.stack_name
        deadline = self._clock.now() + timeout_seconds
        first_failure: StackEvent | None = None
        while True:
            for raw in self._events(ref, since):
                since = str(raw["EventId"])
                event = _stack_event(raw)
                if event.failed and event.reason and first_failure is None:
                    first_failure = event
                on_event(event)
            with aws_errors(f"describe stack '{self.stack_name}' (cloudformation:DescribeStacks)"):
                stack = dict(self._client("cloudformation").describe_stacks(StackName=ref)["Stacks"][0])
            status = str(stack["StackStatus"])
            if status in ok:
                return stack
            if status in _SETTLED_FAILED:
                cause = (
                    f": {first_failure.logical_id} ({first_failure.resource_type}) {first_failure.status}: "
                    f"{first_failure.reason}"
                    if first_failure
                    else ""
                )
                raise OperationFailed(f"stack '{self.stack_name}' ended {status}{cause}")
            if self._clock.now() >= deadline:
                raise OperationTimeout(
                    f"stack '{self.stack_name}' was still {status} after {timeout_seconds:.0f} s; CloudFormation goes "
                    "on with it: run the command again to watch it settle"
                )
            self._clock.sleep(self._poll_seconds)

    # --- delete --------------------------------------------------------------------------------

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
        users = self._importers(stack)
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

    def _importers(self, stack: dict[str, Any]) -> dict[str, list[str]]:
        from botocore.exceptions import ClientError

        cfn = self._client("cloudformation")
        users: dict[str, list[str]] = {}
        for export in _exports(stack):
            try:
                stacks = cfn.list_imports(ExportName=export).get("Imports", [])
            except ClientError as err:
                if "is not imported by any stack" in str(err.response.get("Error", {}).get("Message", "")):
                    continue
                with aws_errors(f"list the stacks importing '{export}' (cloudformation:ListImports)"):
                    raise
            if stacks:
                users[export] = [str(s) for s in stacks]
        return users

    def _delete_and_wait(self, stack: dict[str, Any], timeout_seconds: float, on_event: EventCallback) -> None:
        stack_id = str(stack.get("StackId", self.stack_name))
        since = self._latest_event_id(stack_id)
        with aws_errors(f"delete stack '{self.stack_name}' (cloudformation:DeleteStack)"):
            self._client("cloudformation").delete_stack(StackName=stack_id)
        self._watch(since, timeout_seconds, on_event, ok=frozenset({"DELETE_COMPLETE"}), stack_ref=stack_id)

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
        self._require_bucket(bucket)
        uploaded = self.upload(bucket, code.s3_key, code.data, "application/zip")
        template = render_template(prefix=prefix, guardrails=guardrails, code=(bucket, code.s3_key))
        out_dir.mkdir(parents=True, exist_ok=True)
        template_file = out_dir / "dbscale-providers.template.json"
        template_file.write_text(json.dumps(template, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        bundle_file = out_dir / Path(code.s3_key).name
        bundle_file.write_bytes(code.data)
        return PackageResult(
            template_file=template_file, bundle_file=bundle_file, bucket=bucket, code_key=code.s3_key, uploaded=uploaded
        )


def partition_of(region: str) -> str:
    """The ARN partition of ``region`` (``aws``, ``aws-cn``, ``aws-us-gov``)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def tls_only_policy(bucket: str, partition: str = "aws") -> dict[str, Any]:
    """A bucket policy denying every request to ``bucket`` and its objects that is not sent over TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def _stack_event(raw: dict[str, Any]) -> StackEvent:
    return StackEvent(
        timestamp=raw["Timestamp"],
        logical_id=str(raw.get("LogicalResourceId", "")),
        resource_type=str(raw.get("ResourceType", "")),
        status=str(raw.get("ResourceStatus", "")),
        reason=str(raw.get("ResourceStatusReason", "") or ""),
    )


def _exports(stack: dict[str, Any]) -> dict[str, str]:
    return {str(o["ExportName"]): str(o["OutputValue"]) for o in stack.get("Outputs", []) or [] if o.get("ExportName")}
