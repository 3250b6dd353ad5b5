"""``dbscale check``: every scaling check on one cluster, with its numbers and verdict."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.table import Table

from ..core.errors import ClusterNotFound, InvalidRequest
from ..core.fleet import DEFAULT_ROLE_NAME, DEFAULT_WORKERS, Target
from . import errors
from .clusters import AllRegions, Json, Name, Region, provisioning_for, provisioning_in
from .fleet import (
    Accounts,
    ExternalId,
    FleetOptions,
    MaxWorkers,
    RoleName,
    accounts_of,
    exit_code,
    options,
    print_failures,
    print_totals,
    read,
    targets_json,
)
from .output import console, minutes, print_json, regions, session, wants_json


def _every_5_seconds() -> Any:
    """A callback printing what ``check`` waits for on stderr (stdout keeps the result): at once, when
    the statements' status changes, else at most every 5 s."""
    from .output import err_console

    last: list[Any] = [-5.0, ""]

    def say(text: str) -> None:
        what = text.rsplit(":", 1)[0]  # without the time waited
        if what != last[1] or time.monotonic() - last[0] >= 5.0:
            last[:] = [time.monotonic(), what]
            err_console.print(text, markup=False, soft_wrap=True, style="dim")

    return say


def scaling_checks(
    prov: Any, name: str, high: float, low: float, slow_seconds: float, latency_ms: float, span: float
) -> list[Any]:
    """Every scaling check of the cluster ``prov`` provisions (over ``span`` minutes)."""
    from ..core.scaling import UTILIZATION_TYPES, Check

    checks: list[Check] = []
    if prov.service == "redshift":
        for kind in UTILIZATION_TYPES:
            checks += [
                Check.redshift_utilization(name, True, kind, high, span),
                Check.redshift_utilization(name, False, kind, low, span),
            ]
        checks.append(Check.redshift_slow_percentage(name, slow_seconds, span))
    else:
        writer = prov.instance_type
        for kind in UTILIZATION_TYPES:
            node_type = writer if kind == "memory" else None
            checks += [
                Check.aurora_utilization(name, True, kind, high, span, node_type),
                Check.aurora_utilization(name, False, kind, low, span, node_type),
            ]
        checks += [Check.aurora_slow(name, latency_ms, span), Check.aurora_slow_percentage(name, slow_seconds, span)]
    return checks


def check(
    name: Name,
    window: Annotated[str, typer.Option("--window", help="How far back to look (e.g. 10m, 1h).")] = "10m",
    high: Annotated[float, typer.Option("--high", help="Overused above this percent.")] = 80.0,
    low: Annotated[float, typer.Option("--low", help="Underused below this percent.")] = 20.0,
    slow_seconds: Annotated[float, typer.Option("--slow-seconds", help="A query is slow past this.")] = 60.0,
    latency_ms: Annotated[float, typer.Option("--latency-ms", help="Aurora is slow past this latency.")] = 100.0,
    query_timeout: Annotated[
        str,
        typer.Option(
            "--query-timeout", help="Longest wait for Redshift Data API statements (e.g. 60s); progress on stderr."
        ),
    ] = "30s",
    region: Region = None,
    json: Json = False,
    accounts: Accounts = None,
    role_name: RoleName = DEFAULT_ROLE_NAME,
    external_id: ExternalId = None,
    max_workers: MaxWorkers = DEFAULT_WORKERS,
    fleet_regions: Annotated[
        list[str] | None,
        typer.Option("--regions", help="With --accounts: the regions to look in (a comma list, or repeat)."),
    ] = None,
    all_regions: AllRegions = False,
) -> int:
    """Every scaling check on one cluster, with its numbers and verdict; with --accounts, on the
    cluster of that name in every account and region that has one."""
    from ..core.scaling import ProvisionScaling

    span = minutes(window, option="window")
    timeout = minutes(query_timeout, option="query_timeout") * 60
    across = options(accounts, role_name, external_id, max_workers)
    limits = (high, low, slow_seconds, latency_ms, span)
    if across is not None:
        covered = regions(fleet_regions or ([region] if region else None), all_regions)
        return _check_fleet(across, covered, name, limits, timeout, wants_json(json))
    if fleet_regions or all_regions:
        raise InvalidRequest(
            "regions and --all-regions are for --accounts; check one region with --region", field="regions"
        )
    prov = provisioning_for(name, region)
    checks = scaling_checks(prov, name, *limits)
    scaling = ProvisionScaling(session=session(region), data_api_timeout_seconds=timeout, on_wait=_every_5_seconds())
    results = scaling.evaluate(checks)
    if wants_json(json):
        print_json([r.to_dict() for r in results])
        return errors.OK
    table = Table(title=f"scaling checks for {name} over {window}")
    for column in ("check", "value", "threshold", "verdict", "datapoints", "reason"):
        table.add_column(column, overflow="fold")
    for c, r in zip(checks, results, strict=True):
        table.add_row(*_cells(c, r))
    console.print(table)
    return errors.OK


def _cells(c: Any, r: Any) -> tuple[str, ...]:
    """A check's row: its label, value, threshold, verdict, datapoints and reason."""
    label = r.check + (f" {c.utilization_type} {'over' if c.check_overused else 'under'}" if c.utilization_type else "")
    verdict = "no data" if r.verdict is None else ("YES" if r.verdict else "no")
    value = "" if r.value is None else f"{r.value:,.4g}{r.unit and ' ' + r.unit}"
    return label, value, f"{r.comparison} {r.threshold:g}", verdict, str(r.datapoints), r.reason


def _check_fleet(
    across: FleetOptions, covered: list[str], name: str, limits: tuple[float, ...], timeout: float, as_json: bool
) -> int:
    """``check NAME --accounts``: the checks of the cluster ``name`` wherever it is; the targets
    without it are listed as such, the failed ones under failures."""
    from ..core.scaling import ProvisionScaling

    def one(target: Target, made: Any) -> list[tuple[Any, Any]] | None:
        try:
            prov = provisioning_in(name, made)
        except ClusterNotFound:
            return None
        checks = scaling_checks(prov, name, *limits)
        scaling = ProvisionScaling(session=made, data_api_timeout_seconds=timeout, on_wait=_every_5_seconds())
        return list(zip(checks, scaling.evaluate(checks), strict=True))

    run = read(across, covered, one)
    found = [(t, pairs) for t, pairs in run.results if pairs is not None]
    if not found and not run.failures:
        raise ClusterNotFound(f"no Redshift or Aurora cluster '{name}' in the accounts and regions covered")
    rows = [{**t.to_dict(), **r.to_dict(), "verdict_text": _cells(c, r)[3]} for t, pairs in found for c, r in pairs]
    totals = {t.account: {"checks": 0, "yes": 0} for t, _ in found}
    for row in rows:
        totals[row["account"]]["checks"] += 1
        totals[row["account"]]["yes"] += row.pop("verdict_text") == "YES"
    if as_json:
        data: dict[str, Any] = {"cluster": name, "accounts": accounts_of(run), "regions": covered}
        data["targets"] = targets_json(run, lambda pairs: 0 if pairs is None else len(pairs))
        print_json(
            {**data, "results": rows, "failures": [f.to_dict() for f in run.failures], "totals_by_account": totals}
        )
        return exit_code(run)
    table = Table(title=f"scaling checks for {name} in {len(totals)} accounts")
    for column in ("account", "region", "check", "value", "threshold", "verdict", "datapoints", "reason"):
        table.add_column(column, overflow="fold")
    for t, pairs in found:
        for c, r in pairs:
            table.add_row(t.account, t.region, *_cells(c, r))
    console.print(table)
    print_totals(
        "totals by account", ("checks", "YES"), {a: (str(n["checks"]), str(n["yes"])) for a, n in totals.items()}
    )
    absent = [t for t, pairs in run.results if pairs is None]
    if absent:
        console.print(
            f"no '{name}' in: {', '.join(f'{t.account} {t.region}' for t in absent)}", style="dim", soft_wrap=True
        )
    print_failures(run.failures)
    return exit_code(run)


def register(app: typer.Typer) -> None:
    """Add ``dbscale check`` to ``app``."""
    app.command()(check)
