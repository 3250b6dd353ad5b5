"""``--accounts``: ``status``, ``advise`` and ``check`` across accounts and regions, read from this
one process by a bounded pool of workers (docs/fleet.md). A target (an account in a region) that
fails is listed under failures and makes the exit code :data:`~dbscale.cli.errors.PARTIAL`; the
others are printed. These read commands never change anything; ``rescale|pause|resume --accounts``
(:mod:`dbscale.cli.fleet_changes`) use the same reading to find the cluster, then change it only
with ``--yes``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.table import Table

from ..core.fleet import DEFAULT_ROLE_NAME, DEFAULT_WORKERS, Failure, FleetRun, Target
from . import errors
from .output import console, log_call, money, print_json, session, settings, wants_json

if TYPE_CHECKING:
    import boto3

T = TypeVar("T")

Accounts = Annotated[
    list[str] | None,
    typer.Option(
        "--accounts",
        metavar="IDS|@FILE|org",
        help="Read these accounts too: 12-digit ids (comma or space separated; repeat for more), @FILE (one id "
        "a line, # comments), or org (the organization's ACTIVE accounts). Each other account is read through "
        "--role-name; the caller's own account directly. Read commands only.",
    ),
]
RoleName = Annotated[
    str,
    typer.Option(
        "--role-name",
        help="With --accounts: the role to assume in each other account (best: a read-only role of your own).",
    ),
]
ExternalId = Annotated[
    str | None, typer.Option("--external-id", help="With --accounts: the external id the roles' trust policy asks.")
]
MaxWorkers = Annotated[
    int, typer.Option("--max-workers", help="With --accounts: accounts x regions read at once (1-64).")
]


@dataclass(frozen=True)
class FleetOptions:
    """The ``--accounts`` options of a read command."""

    accounts: list[str] | None = None
    role_name: str = DEFAULT_ROLE_NAME
    external_id: str | None = None
    max_workers: int = DEFAULT_WORKERS

    @property
    def given(self) -> bool:
        """``--accounts`` was given: the command reads the fleet."""
        return self.accounts is not None

    def refuse_extras(self) -> None:
        """Without ``--accounts``, its companion options mean nothing: refuse them rather than ignore them."""
        from ..core.errors import InvalidRequest

        extras = {
            "role_name": self.role_name != DEFAULT_ROLE_NAME,
            "external_id": self.external_id is not None,
            "max_workers": self.max_workers != DEFAULT_WORKERS,
        }
        for name, set_ in extras.items():
            if set_:
                raise InvalidRequest(f"{name} is for --accounts (reading many accounts)", field=name)


def options(
    accounts: list[str] | None, role_name: str, external_id: str | None, max_workers: int
) -> FleetOptions | None:
    """The ``--accounts`` options of a read command, or None without ``--accounts`` (then refusing
    its companion options)."""
    given = FleetOptions(accounts, role_name, external_id, max_workers)
    if not given.given:
        given.refuse_extras()
        return None
    return given


def _debug(made: boto3.Session, account: str) -> None:
    """``--debug``: log the calls of an assumed-role session too (the caller's sessions already do)."""
    if settings.debug:
        made.events.register("provide-client-params", log_call, unique_id="dbscale-cli-debug")


def read(options: FleetOptions, covered: list[str], work: Callable[[Target, boto3.Session], T]) -> FleetRun[T]:
    """``work`` on every account of ``options`` in every region of ``covered``, at most
    ``--max-workers`` at once; the command line is checked before any AWS call."""
    from ..core.fleet import (
        AccountSessions,
        check_role,
        check_workers,
        fan_out,
        parse_accounts,
        resolve_accounts,
        targets,
    )

    selection = parse_accounts(options.accounts or [])
    check_role(options.role_name, options.external_id)
    check_workers(options.max_workers)
    sessions = AccountSessions(
        lambda region: session(region),
        role_name=options.role_name,
        external_id=options.external_id,
        prepare=_debug,
        sts_region=covered[0],
    )
    sessions.start()
    accounts = resolve_accounts(selection, sessions.home(covered[0]))
    return fan_out(work, targets(accounts, covered), sessions=sessions, max_workers=options.max_workers)


def print_failures(failures: list[Failure]) -> None:
    """The failed targets, one line each, never wrapped: account, region, kind, AWS's message."""
    if not failures:
        return
    console.print(f"failures ({len(failures)}): these were not read; the rest above is complete", style="bold")
    for f in failures:
        console.print(f"  {f.target.account} {f.target.region}: {f.kind}: {f.message}", markup=False, soft_wrap=True)


def exit_code(run: FleetRun[Any]) -> int:
    """:data:`~dbscale.cli.errors.PARTIAL` when a target failed, else OK."""
    return errors.PARTIAL if run.failures else errors.OK


def targets_json(run: FleetRun[Any], count: Callable[[Any], int]) -> list[dict[str, Any]]:
    """Every target, with ``count(value)`` rows read, or the kind of its failure."""
    return [
        {
            **o.target.to_dict(),
            "rows": None if o.failure else count(o.value),
            "failure": o.failure.kind if o.failure else None,
        }
        for o in run.outcomes
    ]


def print_totals(title: str, columns: tuple[str, ...], rows: Mapping[str, Sequence[str]]) -> None:
    """A small table: one row per account (``rows``: account -> cells)."""
    table = Table(title=title)
    for column in ("account", *columns):
        table.add_column(column, justify="left" if column == "account" else "right")
    for account, cells in rows.items():
        table.add_row(account, *cells)
    console.print(table)


def accounts_of(run: FleetRun[Any]) -> list[str]:
    """The accounts covered, in order."""
    return list(dict.fromkeys(t.account for t in run.targets))


@dataclass(frozen=True)
class StatusShown:
    """What ``status`` shows (its options) and how it words a cluster's "in flight" cell."""

    tags: dict[str, str]
    state_machines: list[str] | None
    prices_file: Path | None
    as_json: bool
    in_flight: Callable[[str | None, dict[str, Any] | None, Any, float], str]


def status(options: FleetOptions, covered: list[str], shown: StatusShown) -> int:
    """``dbscale status --accounts``: every cluster of every account and region, totals by account,
    the failed targets; returns the exit code."""
    from dataclasses import replace

    from ..core.advisor import discover
    from ..core.operations_view import fleet_operations
    from ..core.pricing import price_book

    def one(target: Target, made: boto3.Session) -> tuple[list[Any], Any]:
        machines = None
        if shown.state_machines is not None:  # an ARN names its account: ask each account for its own
            machines = [arn for arn in shown.state_machines if arn.split(":")[4:5] == [target.account]]
        found = discover([target.region], sessions=lambda r: made, tags=shown.tags)
        running = fleet_operations([target.region], sessions=lambda r: made, state_machine_arns=machines)
        return [replace(c, account=target.account) for c in found], running

    run = read(options, covered, one)
    prices = price_book(covered, use_api=False, file=shown.prices_file)
    rows = _status_rows(run, prices, shown.in_flight)
    totals = totals_json(run, (data for data, _ in rows), ("hourly_usd",), digits=4)
    if wants_json(shown.as_json):
        print_json(
            {
                "accounts": accounts_of(run),
                "regions": covered,
                "prices": prices.summary(),
                "targets": targets_json(run, lambda value: len(value[0])),
                "clusters": [data for data, _ in rows],
                "failures": [f.to_dict() for f in run.failures],
                "totals_by_account": totals,
            }
        )
        return exit_code(run)
    table = Table(title=f"dbscale status ({len(accounts_of(run))} accounts; {', '.join(covered)})")
    for column in ("account", "region", "cluster", "engine", "shape", "state", "$/hour", "managed by dbscale"):
        table.add_column(column, justify="right" if column == "$/hour" else "left", overflow="fold")
    table.add_column("in flight", overflow="fold")
    for data, in_flight_text in rows:
        managed = ("yes" + (f" (stack {data['stack']})" if data["stack"] else "")) if data["managed"] else "no"
        table.add_row(
            *(str(data[key]) for key in ("account", "region", "name", "engine", "shape", "status")),
            money(data["hourly_usd"]),
            managed,
            in_flight_text,
        )
    console.print(table)
    cells = {a: (str(int(t["clusters"])), money(t["hourly_usd"])) for a, t in totals.items()}
    print_totals("totals by account", ("clusters", "$/hour"), cells)
    console.print(
        f"{len(rows)} clusters in {len(run.results)} account-regions. Prices: {prices.summary()}", style="dim"
    )
    for _, (_, running) in run.results:
        for note in running.notes:
            console.print(f"note: {note}", style="dim", markup=False, soft_wrap=True)
    print_failures(run.failures)
    return exit_code(run)


def _status_rows(
    run: FleetRun[Any], prices: Any, in_flight: Callable[[str | None, dict[str, Any] | None, Any, float], str]
) -> list[tuple[dict[str, Any], str]]:
    """Each cluster as ``status --json`` prints it, with its account, and its "in flight" cell, in
    target order."""
    from . import progress

    pending = progress.unfinished()  # operation files of this machine: the caller's own account only
    now = time.time()
    rows: list[tuple[dict[str, Any], str]] = []
    for target, (found, running) in run.results:
        for c in found:
            data = c.to_dict(prices)
            mine = pending.get((c.region, c.service, c.name)) if target.account == run.home else None
            long_operation = running.for_cluster(c.region, c.name)
            data["dbscale_operation"] = mine
            data["long_operation"] = long_operation.to_dict(now) if long_operation else None
            rows.append((data, in_flight(c.in_flight, mine, long_operation, now)))
    return rows


def totals_json(
    run: FleetRun[Any], rows: Iterable[dict[str, Any]], keys: tuple[str, ...], digits: int = 2
) -> dict[str, dict[str, float]]:
    """Per account read (at least one region), in order: the number of ``rows`` as ``clusters``, and
    the sum of each of ``keys`` (None counts 0), rounded to ``digits``."""
    zero = {"clusters": 0, **dict.fromkeys(keys, 0.0)}
    totals: dict[str, dict[str, float]] = {target.account: dict(zero) for target, _ in run.results}
    for row in rows:
        into = totals.setdefault(row["account"], dict(zero))
        into["clusters"] += 1
        for key in keys:
            into[key] = round(into[key] + (row.get(key) or 0.0), digits)
    return totals


def merged_advice(run: FleetRun[Any], covered: list[str], days: float, prices: Any) -> Any:
    """One :class:`~dbscale.core.advisor.FleetAdvice` of every target's, each cluster with its account."""
    from dataclasses import replace

    from ..core.advisor import FleetAdvice

    clusters = []
    calls = metrics = 0
    generated = ""
    for target, advice in run.results:
        calls += advice.cloudwatch_calls
        metrics += advice.metrics_read
        generated = generated or advice.generated_at
        for c in advice.clusters:
            cluster = replace(c.usage.cluster, account=target.account)
            clusters.append(replace(c, usage=replace(c.usage, cluster=cluster)))
    if not generated:
        from ..core.clock import SYSTEM_CLOCK, utc_datetime

        generated = utc_datetime(SYSTEM_CLOCK).strftime("%Y-%m-%dT%H:%M:%SZ")
    return FleetAdvice(tuple(clusters), tuple(covered), float(days), generated, prices, calls, metrics)


def advice_json(run: FleetRun[Any], clusters: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``advise --json`` adds with ``--accounts``: the accounts, targets, failures and totals by
    account of ``clusters`` (the advice's JSON rows)."""
    rows = [
        {
            "account": c["cluster"]["account"],
            "monthly_usd_now": c["monthly_usd_now"],
            "best_monthly_saving_usd": c["best_monthly_saving_usd"],
        }
        for c in clusters
    ]
    return {
        "accounts": accounts_of(run),
        "targets": targets_json(run, lambda advice: len(advice.clusters)),
        "failures": [f.to_dict() for f in run.failures],
        "totals_by_account": totals_json(run, rows, ("monthly_usd_now", "best_monthly_saving_usd")),
    }


def advice_totals(run: FleetRun[Any], advice: Any) -> dict[str, tuple[str, ...]]:
    """The cells of ``advise``'s totals by account: clusters, cost per month now, best savings."""
    rows = [
        {"account": c.usage.cluster.account, "now": c.monthly_usd, "saves": c.best.monthly_saving_usd if c.best else 0}
        for c in advice.clusters
    ]
    totals = totals_json(run, rows, ("now", "saves"))
    return {a: (str(int(t["clusters"])), money(t["now"]), money(t["saves"])) for a, t in totals.items()}
