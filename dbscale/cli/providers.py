"""``dbscale providers deploy|package|delete|template``: the providers' stack without the repository or the CDK."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from ..core.errors import InvalidRequest
from .output import console, duration, err_console, minutes, print_json, session, settings, wants_json
from .providers_stackset import (
    AutoscalePoliciesFile,
    FailureTolerance,
    MaxConcurrent,
    Ous,
    Regions,
    RetainStacks,
    StackSetName,
    delete_stackset,
    deploy_stackset,
)
from .providers_stackset import stage as stage_code

if TYPE_CHECKING:
    from ..core.guardrails import Guardrails
    from ..deploy.events import Change, StackEvent
    from ..deploy.stack import DeployResult

providers_app = typer.Typer(
    help="The custom resource providers as a CloudFormation stack for plain templates: no repository, no CDK.",
    no_args_is_help=True,
)

Prefix = Annotated[
    str,
    typer.Option(
        "--prefix",
        help="The providers may manage only clusters whose identifiers start with this (their IAM scope); '' for any.",
    ),
]
GuardrailsOption = Annotated[
    str | None,
    typer.Option(
        "--guardrails",
        help="What templates may ask for beyond the secure defaults, as JSON or @FILE, "
        "e.g. '{\"allow_tls_off\": true}' (default: nothing).",
    ),
]
StackName = Annotated[str, typer.Option("--stack-name", help="The stack's name.")]
Region = Annotated[
    str | None, typer.Option("--region", help="AWS region (default: the global --region, AWS_DEFAULT_REGION).")
]
Profile = Annotated[str | None, typer.Option("--profile", help="AWS profile (default: the global --profile).")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
Timeout = Annotated[
    str, typer.Option("--timeout", help="Stop watching after this long (e.g. 30m); CloudFormation goes on.")
]
CallAs = Annotated[
    str,
    typer.Option(
        "--call-as", help="SELF (the management account) or DELEGATED_ADMIN (the StackSets delegated administrator)."
    ),
]


def _guardrails(text: str | None) -> Guardrails:
    from ..core.guardrails import Guardrails

    if text is None:
        return Guardrails()
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise InvalidRequest(f"--guardrails {path}: {err.strerror}", field="guardrails") from None
    try:
        return Guardrails.from_json(text)
    except InvalidRequest as err:
        message = str(err).replace("DBSCALE_GUARDRAILS", "--guardrails")
        raise InvalidRequest(message, field="guardrails") from None


def _deployment(region: str | None, profile: str | None, stack_name: str) -> Any:
    from ..deploy import ProvidersDeployment

    if profile:
        settings.profile = profile
    return ProvidersDeployment(session(region), stack_name=stack_name)


def _step(message: str) -> None:
    err_console.print(f"- {message}", markup=False, highlight=False)


def _event(event: StackEvent) -> None:
    reason = f"  {event.reason}" if event.reason else ""
    style = "red" if event.failed else None
    err_console.print(
        f"{event.timestamp:%H:%M:%S}  {event.status:<20} {event.resource_type:<34} {event.logical_id}{reason}",
        markup=False,
        highlight=False,
        style=style,
    )


def _changes(changes: list[Change]) -> None:
    table = Table("action", "resource", "type", "replacement", title="changes")
    for change in changes:
        table.add_row(change.action, change.logical_id, change.resource_type, change.replacement or "-")
    err_console.print(table)


@providers_app.command("deploy")
def deploy(
    prefix: Prefix = "dbscale-",
    guardrails: GuardrailsOption = None,
    bucket: Annotated[
        str | None,
        typer.Option(
            "--bucket", help="Existing S3 bucket for the code (default: dbscale-providers-ACCOUNT-REGION, made)."
        ),
    ] = None,
    stack_name: StackName = "dbscale-providers",
    no_execute: Annotated[
        bool, typer.Option("--no-execute", help="Make the change set and show it; do not execute it.")
    ] = False,
    stackset: StackSetName = None,
    ous: Ous = None,
    regions: Regions = None,
    call_as: CallAs = "SELF",
    failure_tolerance: FailureTolerance = 0,
    max_concurrent: MaxConcurrent = 25,
    retain_stacks: RetainStacks = True,
    autoscale_policies: AutoscalePoliciesFile = None,
    region: Region = None,
    profile: Profile = None,
    timeout: Timeout = "30m",
    json: Json = False,
) -> None:
    """Create or update the providers' stack through a change set, with live progress; prints the
    ServiceToken exports. With --stackset: the providers in every account and region of --ous and
    --regions (exit 6 listing the instances that failed), with --autoscale-policies the tag autoscaler too."""
    policy = _guardrails(guardrails)
    limit = minutes(timeout, option="timeout") * 60
    if stackset is None and (ous or regions or autoscale_policies):
        raise InvalidRequest("--ous, --regions and --autoscale-policies go with --stackset NAME", field="stackset")
    if stackset is not None:
        if bucket is not None or no_execute:
            raise InvalidRequest(
                "--stackset makes its own buckets and has no change set: drop --bucket and --no-execute"
            )
        return deploy_stackset(
            stackset,
            ous=ous,
            regions=regions,
            call_as=call_as,
            prefix=prefix,
            guardrails=policy,
            preferences=(failure_tolerance, max_concurrent),
            retain_stacks=retain_stacks,
            location=(region, profile),
            timeout_seconds=limit,
            json=json,
            autoscale_policies=autoscale_policies,
        )
    deployment = _deployment(region, profile, stack_name)
    settings.interrupted = (
        f"stack {stack_name} may go on changing in CloudFormation: watch it with "
        f"`aws cloudformation describe-stack-events --stack-name {stack_name}`, "
        "or run `dbscale providers deploy` again"
    )
    started = time.monotonic()
    result = deployment.deploy(
        prefix=prefix,
        guardrails=policy,
        bucket=bucket,
        execute=not no_execute,
        timeout_seconds=limit,
        on_step=_step,
        on_event=_event,
        on_changes=_changes,
    )
    settings.interrupted = None
    _print_deployed(result, time.monotonic() - started, json)


def _print_deployed(result: DeployResult, seconds: float, json: bool) -> None:
    if wants_json(json):
        print_json(
            {
                "stack_name": result.stack_name,
                "stack_id": result.stack_id,
                "status": result.status,
                "changed": result.changed,
                "executed": result.executed,
                "change_set": result.change_set,
                "changes": [vars(c) for c in result.changes],
                "bucket": result.bucket,
                "code_key": result.code_key,
                "exports": result.exports,
                "notes": result.notes,
            }
        )
        return
    for note in result.notes:
        console.print(note, markup=False)
    if result.exports:
        console.print(f"stack {result.stack_name}: {result.status} in {duration(seconds)}")
        exports = Table("export", "value", title="ServiceTokens (use with !ImportValue)")
        for name, value in sorted(result.exports.items()):
            exports.add_row(name, value)
        console.print(exports)


@providers_app.command("package")
def package(
    bucket: Annotated[str, typer.Option("--bucket", help="Existing S3 bucket to upload the code bundle to.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the template and a copy of the bundle.")],
    prefix: Prefix = "dbscale-",
    guardrails: GuardrailsOption = None,
    region: Region = None,
    profile: Profile = None,
    json: Json = False,
) -> None:
    """Upload the code to BUCKET and write a template that points at it, for your own pipeline
    (like `aws cloudformation package`)."""
    policy = _guardrails(guardrails)
    result = _deployment(region, profile, "dbscale-providers").package(
        bucket=bucket, out_dir=out, prefix=prefix, guardrails=policy
    )
    if wants_json(json):
        print_json({k: str(v) if isinstance(v, Path) else v for k, v in vars(result).items()})
        return
    state = "uploaded to" if result.uploaded else "already in"
    console.print(f"code bundle {state} s3://{result.bucket}/{result.code_key}", markup=False)
    console.print(f"template: {result.template_file}", markup=False)
    console.print(
        "deploy it with: aws cloudformation deploy --stack-name dbscale-providers --capabilities CAPABILITY_IAM "
        f"--template-file {result.template_file} --s3-bucket {result.bucket} --tags dbscale:stack=providers "
        "(--s3-bucket: the template is over CloudFormation's 51,200-byte limit for an inline body; the tag lets "
        "dbscale providers deploy and delete manage the stack later)",
        markup=False,
    )


@providers_app.command("delete")
def delete(
    stack_name: StackName = "dbscale-providers",
    stackset: Annotated[
        str | None, typer.Option("--stackset", help="Delete this StackSet's instances (their stacks) and the StackSet.")
    ] = None,
    call_as: CallAs = "SELF",
    region: Region = None,
    profile: Profile = None,
    timeout: Timeout = "30m",
    json: Json = False,
) -> None:
    """Delete the providers' stack (refused while a stack imports its ServiceTokens); keeps logs and the code bucket."""
    limit = minutes(timeout, option="timeout") * 60
    if stackset is not None:
        return delete_stackset(stackset, call_as=call_as, location=(region, profile), timeout_seconds=limit, json=json)
    deployment = _deployment(region, profile, stack_name)
    settings.interrupted = (
        f"the delete of stack {stack_name} may go on in CloudFormation: watch it with "
        f"`aws cloudformation describe-stack-events --stack-name {stack_name}`"
    )
    result = deployment.delete(timeout_seconds=limit, on_event=_event)
    settings.interrupted = None
    if wants_json(json):
        print_json(vars(result))
        return
    if not result.deleted:
        console.print(f"no stack {stack_name}: nothing to delete", markup=False)
        return
    console.print(f"deleted stack {stack_name}; kept: {'; '.join(result.kept)}", markup=False)


@providers_app.command("stage")
def stage(
    regions: Annotated[
        list[str], typer.Option("--regions", help="The regions to put the code bundle in (comma list).")
    ],
    region: Region = None,
    profile: Profile = None,
    json: Json = False,
) -> None:
    """Put the code bundle into an organization-readable bucket in each region, for the
    ProvidersStackSet construct (dbscale-providers-ACCOUNT-REGION)."""
    stage_code(regions, location=(region, profile), json=json)


@providers_app.command("template")
def template(
    prefix: Prefix = "dbscale-",
    guardrails: GuardrailsOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Print the providers' template for --prefix and --guardrails (the code location left as the
    CodeBucket/CodeKey parameters)."""
    import json as json_module

    from ..deploy import render_template

    text = json_module.dumps(
        render_template(prefix=prefix, guardrails=_guardrails(guardrails)), indent=1, sort_keys=True
    )
    if out is None:
        print_json(json_module.loads(text))
        return
    out.write_text(text + "\n", encoding="utf-8")
    console.print(f"template: {out}", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``dbscale providers ...`` to ``app``."""
    app.add_typer(providers_app, name="providers")
