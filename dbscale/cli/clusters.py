"""Cluster commands: status, plan, rescale, pause, resume, wait, check."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from ..core.errors import ClusterNotFound, ClusterNotOwned, InvalidRequest
from ..core.fleet import DEFAULT_ROLE_NAME, DEFAULT_WORKERS
from ..core.plan import RescalePlan
from . import dry_run, errors, fleet, fleet_changes, progress
from .output import age, console, minutes, money, print_json, regions, session, tags, wants_json
from .plan_view import print_plan

if TYPE_CHECKING:
    from ..core.operations_view import RunningOperation

Region = Annotated[
    str | None,
    typer.Option("--region", help="AWS region (default: the global --region, AWS_DEFAULT_REGION or the profile's)."),
]
Regions = Annotated[
    list[str] | None,
    typer.Option("--region", "--regions", help="Region to cover; repeat for more, or give a comma list."),
]
AllRegions = Annotated[bool, typer.Option("--all-regions", help="Every region with Redshift and RDS.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Force = Annotated[bool, typer.Option("--force", help="Change a cluster dbscale did not create.")]
NoWait = Annotated[bool, typer.Option("--no-wait", help="Start the operation, print it as JSON and return.")]
Timeout = Annotated[str, typer.Option("--timeout", help="Stop watching after this long (e.g. 3h); AWS goes on.")]
Poll = Annotated[float, typer.Option("--poll", help="Seconds between polls.", min=0.1)]
Save = Annotated[Path | None, typer.Option("--save", help="Operation file (default: under ~/.local/state/dbscale).")]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Print the plan (what dbscale plan prints) and change nothing.")
]
PlanJson = Annotated[bool, typer.Option("--json", help="Print the --dry-run plan as JSON.")]

# How the commands name the core's arguments, for error messages (dbscale.cli.errors).
REDSHIFT_OPTIONS = {"new_cluster_size": "--nodes", "new_instance_type": "--node-type", "resize_type": "--resize-type"}
AURORA_OPTIONS = {
    "new_instance_type": "--instance-class",
    "new_reader_count": "--readers",
    "new_serverless_v2_capacity[0]": "--min-acu",
    "new_serverless_v2_capacity[1]": "--max-acu",
}

Name = Annotated[str, typer.Argument(metavar="NAME", help="Cluster identifier.")]

plan_app = typer.Typer(help="What a rescale would do, its expected duration and unavailable window; changes nothing.")
rescale_app = typer.Typer(help="Rescale a cluster, with a live progress display.")


StateMachines = Annotated[
    list[str] | None,
    typer.Option(
        "--state-machine",
        metavar="ARN",
        help="Look for running long operations only in this Step Functions state machine; repeat for more "
        "(default: every state machine named *-operations in the regions covered).",
    ),
]


def status(
    region: Regions = None,
    all_regions: AllRegions = False,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Only clusters with tag KEY=VALUE.")] = None,
    state_machine: StateMachines = None,
    prices_file: Annotated[
        Path | None, typer.Option("--prices", metavar="FILE", help="Prices from this file (prices refresh --out).")
    ] = None,
    json: Json = False,
    accounts: fleet.Accounts = None,
    role_name: fleet.RoleName = DEFAULT_ROLE_NAME,
    external_id: fleet.ExternalId = None,
    max_workers: fleet.MaxWorkers = DEFAULT_WORKERS,
) -> int | None:
    """Every Redshift provisioned cluster and Aurora cluster: engine, shape, state, hourly cost, owner,
    and the long operation a dbscale custom resource runs on it (its Step Functions execution); with
    --accounts, in every account, with totals by account and the accounts or regions that failed."""
    from ..core.advisor import discover
    from ..core.operations_view import fleet_operations, state_machine_region
    from ..core.pricing import price_book

    for arn in state_machine or []:
        state_machine_region(arn)  # a mistyped ARN is refused before any AWS call
    across = fleet.options(accounts, role_name, external_id, max_workers)
    covered = regions(region, all_regions)
    if across is not None:
        return fleet.status(across, covered, fleet.StatusShown(tags(tag), state_machine, prices_file, json, _in_flight))
    found = discover(covered, sessions=lambda r: session(r), tags=tags(tag))
    prices = price_book(covered, use_api=False, file=prices_file)
    pending = progress.unfinished()
    running = fleet_operations(covered, sessions=lambda r: session(r), state_machine_arns=state_machine)
    others = running.others((c.region, c.name) for c in found)
    now = time.time()
    if wants_json(json):
        clusters = [
            _json_row(c.to_dict(prices), pending.get((c.region, c.service, c.name)), running, now) for c in found
        ]
        print_json(
            {
                "regions": covered,
                "prices": prices.summary(),
                "clusters": clusters,
                "long_operations": {"other": [o.to_dict(now) for o in others], "notes": list(running.notes)},
            }
        )
        return None
    table = Table(title=f"dbscale status ({', '.join(covered)})")
    for column in ("region", "cluster", "engine", "shape", "state", "$/hour", "managed by dbscale", "in flight"):
        table.add_column(column, justify="right" if column == "$/hour" else "left", overflow="fold")
    links: list[tuple[str, RunningOperation]] = []
    for c in found:
        long_operation = running.for_cluster(c.region, c.name)
        if long_operation is not None:
            links.append((c.name, long_operation))
        table.add_row(
            c.region,
            c.name,
            c.engine,
            c.shape,
            c.status,
            money(c.hourly_usd(prices)),
            ("yes" + (f" (stack {c.stack})" if c.stack else "")) if c.managed else "no",
            _in_flight(c.in_flight, pending.get((c.region, c.service, c.name)), long_operation, now),
        )
    console.print(table)
    console.print(f"{len(found)} clusters. Prices: {prices.summary()}", style="dim")
    links += [(o.physical_id or "(no resource id yet)", o) for o in others]
    if links:
        console.print("Long operations (Step Functions executions of the custom resources):")
        for name, operation in links:
            where = f"{name} ({operation.region})" if len(covered) > 1 else name
            # One line each, never wrapped, so the console link stays whole for the terminal to open.
            console.print(
                f"  {where}: {_describe(operation, now)}: {operation.console_url or operation.execution_arn}",
                markup=False,
                soft_wrap=True,
            )
    for note in running.notes:
        console.print(f"note: {note}", style="dim", markup=False, soft_wrap=True)
    return None


def _json_row(data: dict[str, Any], operation: dict[str, Any] | None, running: Any, now: float) -> dict[str, Any]:
    """A cluster's ``status --json`` row: ``data`` with dbscale's unfinished ``operation`` and the long
    operation ``running`` has on it."""
    long_operation = running.for_cluster(data["region"], data["name"])
    data["dbscale_operation"] = operation
    data["long_operation"] = long_operation.to_dict(now) if long_operation else None
    return data


def _in_flight(
    aws_status: str | None, operation: dict[str, Any] | None, long_operation: RunningOperation | None, now: float
) -> str:
    parts = [aws_status] if aws_status else []
    if operation:
        parts.append(f"{operation['step']}: dbscale wait {operation['operation_file']}")
    if long_operation:
        parts.append(_describe(long_operation, now))
    return "; ".join(parts)


def _describe(operation: RunningOperation, now: float) -> str:
    """``Update Warehouse (stack prod), started 2h05m ago``."""
    text = f"{operation.request_type or 'request'} {operation.logical_id or '?'}"
    if operation.stack_name:
        text += f" (stack {operation.stack_name})"
    seconds = operation.age_seconds(now)
    return text + ("" if seconds is None else f", started {age(seconds)} ago")


@plan_app.command("redshift")
def plan_redshift(
    name: Name,
    nodes: Annotated[int | None, typer.Option("--nodes", help="New node count.")] = None,
    node_type: Annotated[str | None, typer.Option("--node-type", help="New node type.")] = None,
    resize_type: Annotated[str, typer.Option("--resize-type", help="auto, elastic or classic.")] = "auto",
    region: Region = None,
    json: Json = False,
) -> None:
    """Plan a Redshift resize."""
    from ..core.redshift import RedshiftProvisioning

    errors.name_options(REDSHIFT_OPTIONS)
    if nodes is None and node_type is None:
        raise InvalidRequest("pass --nodes and/or --node-type", field="nodes")
    prov = _existing(RedshiftProvisioning, name, region)
    print_plan(prov.plan_rescale(nodes, new_instance_type=node_type, resize_type=resize_type), json)


def _acu(min_acu: float | None, max_acu: float | None) -> tuple[float, float] | None:
    if (min_acu is None) != (max_acu is None):
        raise InvalidRequest("pass both --min-acu and --max-acu", field="min_acu" if min_acu is None else "max_acu")
    return None if min_acu is None or max_acu is None else (min_acu, max_acu)


MinAcu = Annotated[float | None, typer.Option("--min-acu", help="Serverless v2 minimum ACUs (0 = auto-pause).")]
MaxAcu = Annotated[float | None, typer.Option("--max-acu", help="Serverless v2 maximum ACUs.")]
Deferred = Annotated[bool, typer.Option("--deferred", help="Apply class changes in the maintenance window.")]


@plan_app.command("aurora")
def plan_aurora(
    name: Name,
    instance_class: Annotated[str | None, typer.Option("--instance-class", help="New instance class.")] = None,
    readers: Annotated[int | None, typer.Option("--readers", help="New reader count.")] = None,
    min_acu: MinAcu = None,
    max_acu: MaxAcu = None,
    deferred: Deferred = False,
    region: Region = None,
    json: Json = False,
) -> None:
    """Plan an Aurora instance class, reader or ACU change."""
    from ..core.aurora import RdsProvisioning

    errors.name_options(AURORA_OPTIONS)
    acu = _acu(min_acu, max_acu)
    if instance_class is None and readers is None and acu is None:
        raise InvalidRequest("pass --instance-class, --readers or --min-acu/--max-acu", field="instance_class")
    prov = _existing(RdsProvisioning, name, region)
    plan = prov.plan_rescale(
        not deferred, new_instance_type=instance_class, new_reader_count=readers, new_serverless_v2_capacity=acu
    )
    print_plan(plan, json)


def _existing(kind: Any, name: str, region: str | None) -> Any:
    """Provisioning for an existing cluster (the CLI never creates one)."""
    made = session(region)
    try:
        return kind.open(name, session=made)
    except ClusterNotFound:
        raise ClusterNotFound(f"no {kind._label} '{name}' in {made.region_name}") from None


def _owned(prov: Any, force: bool) -> None:
    if prov.adopted and not force:
        raise ClusterNotOwned(
            f"{prov._label} '{prov.cluster_name}' was not created by dbscale; pass --force to change it anyway"
        )


def _dry_run(plan: RescalePlan, json: bool, region: str | None, option: str = "") -> None:
    """``--dry-run``: the plan, what the preflight finds in it (exit 2 if anything), and that nothing
    was changed."""
    problems = dry_run.plan_problems(plan, session(region), option)
    if wants_json(json):
        print_json({**plan.to_dict(), "dry_run": True, "problems": [vars(p) for p in problems]})
    else:
        print_plan(plan, False)
        dry_run.print_problems(problems)
        console.print("dry run: nothing was changed (run it without --dry-run to do it)")
    if problems:
        raise typer.Exit(errors.INVALID)


def _run(op: Any, region: str | None, no_wait: bool, timeout: str, poll: float, save: Path | None) -> None:
    """Start ``op``: save its file, follow it live (or print it as JSON with ``--no-wait``)."""
    limit = minutes(timeout, option="timeout")
    code = progress.start(
        op,
        str(session(region).region_name),
        wait=not no_wait,
        timeout_minutes=limit,
        poll_seconds=poll,
        save_to=save,
    )
    if code:
        raise typer.Exit(code)


@rescale_app.command("redshift")
def rescale_redshift(
    name: Name,
    nodes: Annotated[int | None, typer.Option("--nodes", help="New node count.")] = None,
    node_type: Annotated[str | None, typer.Option("--node-type", help="New node type.")] = None,
    resize_type: Annotated[str, typer.Option("--resize-type", help="auto, elastic or classic.")] = "auto",
    region: Region = None,
    force: Force = False,
    no_wait: NoWait = False,
    timeout: Timeout = "3h",
    poll: Poll = 15.0,
    save: Save = None,
    dry_run: DryRun = False,
    json: PlanJson = False,
    accounts: fleet_changes.Accounts = None,
    role_name: fleet.RoleName = DEFAULT_ROLE_NAME,
    external_id: fleet.ExternalId = None,
    regions: fleet_changes.Regions = None,
    yes: fleet_changes.Yes = False,
) -> None:
    """Resize a Redshift cluster (elastic when AWS allows it); with --accounts, in every account (--yes)."""
    from ..core.redshift import RedshiftProvisioning

    errors.name_options(REDSHIFT_OPTIONS)
    if nodes is None and node_type is None:
        raise InvalidRequest("pass --nodes and/or --node-type", field="nodes")
    minutes(timeout, option="timeout")  # a bad --timeout is refused before anything else
    across = fleet_changes.Across(accounts, role_name, external_id, regions, yes, force, dry_run, json, region, save)
    wanted = {"new_instance_type": node_type, "resize_type": resize_type}
    across.apply(name, fleet_changes.Change(fleet_changes.opener(RedshiftProvisioning), (nodes,), wanted))
    prov = _existing(RedshiftProvisioning, name, region)
    _owned(prov, force)
    if dry_run:
        _dry_run(prov.plan_rescale(nodes, new_instance_type=node_type, resize_type=resize_type), json, region)
        return
    _run(
        prov.rescale(nodes, new_instance_type=node_type, resize_type=resize_type, wait=False),
        region,
        no_wait,
        timeout,
        poll,
        save,
    )


@rescale_app.command("aurora")
def rescale_aurora(
    name: Name,
    instance_class: Annotated[str | None, typer.Option("--instance-class", help="New instance class.")] = None,
    readers: Annotated[int | None, typer.Option("--readers", help="New reader count.")] = None,
    min_acu: MinAcu = None,
    max_acu: MaxAcu = None,
    deferred: Deferred = False,
    region: Region = None,
    force: Force = False,
    no_wait: NoWait = False,
    timeout: Timeout = "1h",
    poll: Poll = 15.0,
    save: Save = None,
    dry_run: DryRun = False,
    json: PlanJson = False,
    accounts: fleet_changes.Accounts = None,
    role_name: fleet.RoleName = DEFAULT_ROLE_NAME,
    external_id: fleet.ExternalId = None,
    regions: fleet_changes.Regions = None,
    yes: fleet_changes.Yes = False,
) -> None:
    """Change an Aurora cluster's instance class (one failover), readers or ACU range; with --accounts, in
    every account (--yes)."""
    from ..core.aurora import RdsProvisioning

    errors.name_options(AURORA_OPTIONS)
    acu = _acu(min_acu, max_acu)
    if instance_class is None and readers is None and acu is None:
        raise InvalidRequest("pass --instance-class, --readers or --min-acu/--max-acu", field="instance_class")
    minutes(timeout, option="timeout")  # a bad --timeout is refused before anything else
    wanted = {"new_instance_type": instance_class, "new_reader_count": readers, "new_serverless_v2_capacity": acu}
    across = fleet_changes.Across(accounts, role_name, external_id, regions, yes, force, dry_run, json, region, save)
    across.apply(name, fleet_changes.Change(fleet_changes.opener(RdsProvisioning), (not deferred,), wanted))
    prov = _existing(RdsProvisioning, name, region)
    _owned(prov, force)
    if dry_run:
        plan = prov.plan_rescale(
            not deferred, new_instance_type=instance_class, new_reader_count=readers, new_serverless_v2_capacity=acu
        )
        _dry_run(plan, json, region, "--readers" if readers is not None else "--instance-class")
        return
    op = prov.rescale(
        not deferred,
        new_instance_type=instance_class,
        new_reader_count=readers,
        new_serverless_v2_capacity=acu,
        wait=False,
    )
    _run(op, region, no_wait, timeout, poll, save)


def provisioning_for(name: str, region: str | None) -> Any:
    """Redshift or Aurora provisioning for ``name``, whichever exists."""
    return provisioning_in(name, session(region))


def provisioning_in(name: str, made: Any) -> Any:
    """Redshift or Aurora provisioning for ``name`` in the session ``made``, whichever exists."""
    from ..core.aurora import RdsProvisioning
    from ..core.redshift import RedshiftProvisioning

    for kind in (RedshiftProvisioning, RdsProvisioning):
        try:
            return kind.open(name, session=made)
        except ClusterNotFound:
            continue
    raise ClusterNotFound(f"no Redshift or Aurora cluster '{name}' in {made.region_name}")


def _pause(
    name: Name,
    paused: bool,
    region: str | None,
    force: bool,
    no_wait: bool,
    timeout: str,
    poll: float,
    save: Path | None,
    dry_run: bool = False,
    json: bool = False,
) -> None:
    """Pause (``paused``) or resume the cluster, or with ``dry_run`` print the plan."""
    minutes(timeout, option="timeout")  # a bad --timeout is refused before anything else
    prov = provisioning_for(name, region)
    _owned(prov, force)
    if dry_run:
        _dry_run(prov.plan_rescale(new_paused=paused), json, region)
        return
    _run(prov.rescale(new_paused=paused, wait=False), region, no_wait, timeout, poll, save)


def pause(
    name: Name,
    region: Region = None,
    force: Force = False,
    no_wait: NoWait = False,
    timeout: Timeout = "1h",
    poll: Poll = 15.0,
    save: Save = None,
    dry_run: DryRun = False,
    json: PlanJson = False,
    accounts: fleet_changes.Accounts = None,
    role_name: fleet.RoleName = DEFAULT_ROLE_NAME,
    external_id: fleet.ExternalId = None,
    regions: fleet_changes.Regions = None,
    yes: fleet_changes.Yes = False,
) -> None:
    """Pause a Redshift cluster or stop an Aurora cluster; with --accounts, in every account (--yes)."""
    across = fleet_changes.Across(accounts, role_name, external_id, regions, yes, force, dry_run, json, region, save)
    across.apply(name, fleet_changes.Change(provisioning_in, kwargs={"new_paused": True}))
    _pause(name, True, region, force, no_wait, timeout, poll, save, dry_run, json)


def resume(
    name: Name,
    region: Region = None,
    force: Force = False,
    no_wait: NoWait = False,
    timeout: Timeout = "1h",
    poll: Poll = 15.0,
    save: Save = None,
    dry_run: DryRun = False,
    json: PlanJson = False,
    accounts: fleet_changes.Accounts = None,
    role_name: fleet.RoleName = DEFAULT_ROLE_NAME,
    external_id: fleet.ExternalId = None,
    regions: fleet_changes.Regions = None,
    yes: fleet_changes.Yes = False,
) -> None:
    """Resume a paused Redshift cluster or start a stopped Aurora cluster; with --accounts, in every
    account (--yes)."""
    across = fleet_changes.Across(accounts, role_name, external_id, regions, yes, force, dry_run, json, region, save)
    across.apply(name, fleet_changes.Change(provisioning_in, kwargs={"new_paused": False}))
    _pause(name, False, region, force, no_wait, timeout, poll, save, dry_run, json)


def wait(
    operation_file: Annotated[
        Path, typer.Argument(metavar="OPERATION-FILE", help="The file rescale/pause/resume/clone saved.")
    ],
    timeout: Timeout = "3h",
    poll: Poll = 15.0,
) -> None:
    """Follow an operation saved earlier (after Ctrl-C or --no-wait) until it is done."""
    code = progress.resume(operation_file, timeout_minutes=minutes(timeout, option="timeout"), poll_seconds=poll)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.add_typer(plan_app, name="plan")
    app.add_typer(rescale_app, name="rescale")
    app.command()(pause)
    app.command()(resume)
    app.command()(wait)


__all__ = ["errors", "register"]
