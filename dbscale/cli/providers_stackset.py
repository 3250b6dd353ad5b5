"""``dbscale providers deploy|delete --stackset`` and ``dbscale providers stage``: the providers in
every account and region of some organizational units (a service-managed StackSet)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from . import errors
from .output import console, err_console, print_json, session, settings, split_regions, wants_json

if TYPE_CHECKING:
    from ..core.autoscale import AutoscalePolicy
    from ..core.guardrails import Guardrails
    from ..deploy.stackset import InstanceProblem


StackSetName = Annotated[
    str | None,
    typer.Option(
        "--stackset",
        help="Deploy to every account of --ous in every region of --regions through this service-managed StackSet.",
    ),
]
Ous = Annotated[
    list[str] | None,
    typer.Option("--ous", help="With --stackset: organizational unit ids (ou-..., or the root r-...), comma list."),
]
Regions = Annotated[
    list[str] | None, typer.Option("--regions", help="With --stackset: the regions of every account (comma list).")
]
FailureTolerance = Annotated[
    int, typer.Option("--failure-tolerance", help="With --stackset: % of accounts per region that may fail.")
]
MaxConcurrent = Annotated[
    int, typer.Option("--max-concurrent", help="With --stackset: % of accounts per region deployed at once.")
]
RetainStacks = Annotated[
    bool,
    typer.Option(
        "--retain-stacks-on-account-removal/--delete-stacks-on-account-removal",
        help="With --stackset: keep an account's providers stack when it leaves the OUs.",
    ),
]
AutoscalePoliciesFile = Annotated[
    Path | None,
    typer.Option(
        "--autoscale-policies",
        help="With --stackset: also a tag autoscaler in every account and region, under the policies of this "
        'JSON file ({"<policy>": {<AutoscalePolicy fields>}}; clusters join with the tag dbscale:autoscale=<policy>).',
    ),
]
Location = tuple[str | None, str | None]
"""(--region, --profile)."""


def _step(message: str) -> None:
    err_console.print(f"- {message}", markup=False, highlight=False)


def stackset_deployment(name: str, call_as: str, location: Location) -> Any:
    """The StackSet ``name`` administered from ``location``'s region (sessions per target region of its profile)."""
    from ..deploy.stackset import StackSetDeployment

    region, profile = location
    if profile:
        settings.profile = profile
    return StackSetDeployment(session(region), name=name, call_as=call_as, regional=session)


def _listed(values: list[str] | None) -> list[str]:
    return split_regions(values) or []


def _problems(failed: list[InstanceProblem]) -> None:
    table = Table("account", "region", "status", "reason", title="stack instances not CURRENT")
    for problem in failed:
        table.add_row(problem.account, problem.region, problem.status, problem.reason or "-")
    err_console.print(table)


def read_autoscale_policies(path: Path) -> dict[str, AutoscalePolicy]:
    """The policies of the JSON file ``path``, checked as the tag autoscaler's handler checks its
    document (InvalidRequest naming the file and the policy key), before any AWS call."""
    from ..core.errors import InvalidRequest
    from ..deploy.autoscaler_template import check_autoscale_policies

    where = f"--autoscale-policies {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidRequest(f"{where}: cannot read it: {err}", field="autoscale_policies") from None
    try:
        return check_autoscale_policies(text, where=where)
    except InvalidRequest as err:  # the field is the option; the message names the file and the key
        raise InvalidRequest(str(err), field="autoscale_policies") from None


def deploy_stackset(
    name: str,
    *,
    ous: list[str] | None,
    regions: list[str] | None,
    call_as: str,
    prefix: str,
    guardrails: Guardrails,
    preferences: tuple[int, int],
    retain_stacks: bool,
    location: Location,
    timeout_seconds: float,
    json: bool,
    autoscale_policies: Path | None = None,
) -> None:
    """Deploy the StackSet; exit FAILED (6) listing the instances that are not CURRENT.
    ``preferences``: (failure tolerance %, max concurrent %); ``autoscale_policies``: a policy file
    (the tag autoscaler is deployed too)."""
    from ..deploy.stackset_template import OperationPreferences

    policies = read_autoscale_policies(autoscale_policies) if autoscale_policies is not None else None
    deployment = stackset_deployment(name, call_as, location)
    settings.interrupted = (
        f"StackSet {name}'s operation goes on in CloudFormation: run `dbscale providers deploy --stackset {name} ...` "
        "again to see its instances"
    )
    result = deployment.deploy(
        ous=_listed(ous),
        regions=_listed(regions),
        prefix=prefix,
        guardrails=guardrails,
        preferences=OperationPreferences(
            failure_tolerance_percentage=preferences[0], max_concurrent_percentage=preferences[1]
        ),
        retain_stacks_on_account_removal=retain_stacks,
        timeout_seconds=timeout_seconds,
        on_step=_step,
        autoscale_policies=policies,
    )
    settings.interrupted = None
    if wants_json(json):
        print_json({**vars(result), "failed": [vars(p) for p in result.failed]})
    else:
        state = "made" if result.created else "updated" if result.updated else "unchanged"
        console.print(
            f"StackSet {result.name}: {state}; {result.instances} instances, {len(result.failed)} not current",
            markup=False,
        )
        for note in result.notes:
            console.print(note, markup=False)
    if result.failed:
        _problems(result.failed)
        err_console.print(
            "fix what the reasons name, then run the same command again (it retries the failed instances "
            "through an update), or see them with `aws cloudformation list-stack-instances "
            f"--stack-set-name {name}`",
            markup=False,
        )
        raise typer.Exit(errors.FAILED)


def delete_stackset(name: str, *, call_as: str, location: Location, timeout_seconds: float, json: bool) -> None:
    """Delete the StackSet's instances and the StackSet."""
    deployment = stackset_deployment(name, call_as, location)
    settings.interrupted = f"the delete of StackSet {name}'s instances goes on in CloudFormation"
    result = deployment.delete(timeout_seconds=timeout_seconds, on_step=_step)
    settings.interrupted = None
    if wants_json(json):
        print_json(vars(result))
        return
    if not result.deleted:
        console.print(f"no StackSet {name}: nothing to delete", markup=False)
        return
    console.print(f"deleted StackSet {name} and its instances; kept: {'; '.join(result.kept)}", markup=False)


def stage(regions: list[str] | None, *, location: Location, json: bool) -> None:
    """Put the code bundle into the organization-readable bucket of every region (for ``ProvidersStackSet``)."""
    from ..deploy.stackset_template import check_regions

    deployment = stackset_deployment("dbscale-providers", "SELF", location)
    staged = deployment.stage(check_regions(_listed(regions)), on_step=_step)
    if wants_json(json):
        print_json(staged)
        return
    console.print(
        f"code bundle {staged['code_key']} in {', '.join(staged['buckets'].values())}; ProvidersStackSet's "
        f"defaults read it (code_bucket_prefix '{staged['bucket_prefix']}')",
        markup=False,
    )
