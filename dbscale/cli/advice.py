"""``dbscale advise`` and ``dbscale prices refresh``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from ..core.errors import InvalidRequest
from ..core.fleet import DEFAULT_ROLE_NAME, DEFAULT_WORKERS
from . import errors
from .clusters import AllRegions, Regions
from .fleet import (
    Accounts,
    ExternalId,
    MaxWorkers,
    RoleName,
    advice_json,
    advice_totals,
    merged_advice,
    print_failures,
    print_totals,
)
from .fleet import exit_code as fleet_exit_code
from .fleet import options as fleet_options
from .fleet import read as fleet_read
from .output import console, money, print_json, regions, session, split_regions, tags, wants_json

PricesFile = Annotated[
    Path | None,
    typer.Option(
        "--prices",
        metavar="FILE",
        help="Prices from this file (dbscale prices refresh --out FILE), not the API or the cache.",
    ),
]

if TYPE_CHECKING:
    from ..core.advisor import FleetAdvice

prices_app = typer.Typer(help="The prices dbscale uses (AWS Price List API, cache, shipped snapshot).")


class Format(str, Enum):
    table = "table"
    json = "json"
    html = "html"


def advise(
    region: Regions = None,
    all_regions: AllRegions = False,
    days: Annotated[float, typer.Option("--days", help="Window in days (1-63).")] = 14,
    output_format: Annotated[Format, typer.Option("--format", help="table, json or html.")] = Format.table,
    out: Annotated[Path | None, typer.Option("--out", help="Where --format html writes the report.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Only clusters with tag KEY=VALUE.")] = None,
    offline: Annotated[bool, typer.Option("--offline-prices", help="Use the cache and snapshot, not the API.")] = False,
    prices_file: PricesFile = None,
    tz: Annotated[
        str,
        typer.Option(
            "--tz",
            "--timezone",
            metavar="ZONE",
            help="IANA time zone of the pause schedules' crontab lines, e.g. Europe/Berlin.",
        ),
    ] = "UTC",
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json (as every read command).")] = False,
    accounts: Accounts = None,
    role_name: RoleName = DEFAULT_ROLE_NAME,
    external_id: ExternalId = None,
    max_workers: MaxWorkers = DEFAULT_WORKERS,
) -> int:
    """Utilization, idle hours and savings for every cluster, with the reasons in numbers, and the
    commands to act on each cluster's best recommendation (as printed: with --force where the cluster
    was not created by dbscale, crontab times in --tz); with --accounts, in every account, with totals
    by account and the accounts or regions that failed."""
    from ..core.advisor import advise as run
    from ..core.advisor.schedule import time_zone
    from ..core.pricing import price_book

    time_zone(tz)  # an unknown zone is refused before any AWS call
    if wants_json(as_json) and output_format is Format.table:
        as_json = True
    if as_json:
        if output_format is Format.html:
            raise InvalidRequest("--json and --format html ask for two outputs: pick one", field="json")
        output_format = Format.json

    if out is not None and output_format is not Format.html:
        raise InvalidRequest("--out is for --format html", field="out")
    covered = regions(region, all_regions)
    across = fleet_options(accounts, role_name, external_id, max_workers)
    prices = price_book(covered, session=session(covered[0]), use_api=not offline, file=prices_file)

    def one(where: list[str], sessions: Any) -> FleetAdvice:
        return run(where, days=days, prices=prices, sessions=sessions, tags=tags(tag), tz=tz)

    read = None if across is None else fleet_read(across, covered, lambda t, made: one([t.region], lambda r: made))
    fleet = one(covered, lambda r: session(r)) if read is None else merged_advice(read, covered, days, prices)
    code = errors.OK if read is None else fleet_exit_code(read)
    if output_format is Format.json:
        data = fleet.to_dict()
        if read is not None:
            data.update(advice_json(read, data["clusters"]))
        print_json(data)
        return code
    if output_format is Format.html:
        from ..core.advisor.report import write_html_report

        path = write_html_report(fleet, out or Path("dbscale-advice.html"), failures=read.failures if read else ())
        console.print(
            f"wrote {path}: {len(fleet.clusters)} clusters, {money(fleet.monthly_saving_usd)}/month to save. "
            f"Prices: {prices.summary()}"
        )
    else:
        _print_table(fleet, covered, days, accounts=read is not None)
        _print_actions(fleet)
        if read is not None and any(c.best for c in fleet.clusters):
            console.print(
                "The commands act in the account of the credentials they run with: run each with a --profile "
                "for the cluster's account (dbscale changes no cluster across accounts).",
                style="dim",
            )
    if read is not None:
        print_totals("totals by account", ("clusters", "$/month now", "saves $/month"), advice_totals(read, fleet))
        print_failures(read.failures)
    return code


def _print_table(fleet: FleetAdvice, covered: list[str], days: float, *, accounts: bool) -> None:
    """The clusters' advice, one row each (with the account with ``--accounts``), and the total."""
    table = Table(title=f"dbscale advise: {', '.join(covered)}, last {days:g} days")
    columns = ("cluster", "shape", "CPU mean/p95", "idle h/wk", "$/month now", "best", "saves $/month", "why")
    for column in ("account", *columns) if accounts else columns:
        table.add_column(column, overflow="fold")
    for c in fleet.clusters:
        best = c.best
        cpu = c.usage.cpu
        cells = (
            f"{c.usage.cluster.name} ({c.usage.cluster.region})",
            c.usage.cluster.shape,
            "n/a" if cpu is None else f"{cpu.mean:.0f}% / {cpu.p95:.0f}%",
            str(len(c.usage.idle_hours)),
            money(c.monthly_usd),
            best.title if best else "keep",
            money(best.monthly_saving_usd if best else 0.0),
            best.reason if best else "",
        )
        table.add_row(*((str(c.usage.cluster.account), *cells) if accounts else cells))
    console.print(table)
    console.print(
        f"total: {money(fleet.monthly_usd)}/month now, {money(fleet.monthly_saving_usd)}/month to save "
        f"(each cluster's best recommendation; --format json lists them all). "
        f"{fleet.metrics_read} metrics in {fleet.cloudwatch_calls} GetMetricData calls. "
        f"Prices: {fleet.prices.summary()}",
        style="dim",
    )


def _print_actions(fleet: Any) -> None:
    """The dbscale commands of every recommendation that saves something, per cluster, one per line and
    never wrapped (to copy them whole), with what their ownership and time zone mean."""
    printed = False
    for c in fleet.clusters:
        cluster = c.usage.cluster
        runnable = [r for r in c.recommendations if r.monthly_saving_usd > 0 and "dbscale " in r.action]
        for rec in runnable:
            if not printed:
                console.print("Commands, as printed (crontab lines: paste into crontab -e):")
                printed = True
            where = f"{cluster.account} {cluster.region}" if cluster.account else cluster.region
            console.print(
                f"  {cluster.name} ({where}): {rec.title}, saves {money(rec.monthly_saving_usd)}/month",
                markup=False,
                soft_wrap=True,
            )
            for line in rec.action.splitlines():
                console.print(f"    {line}", markup=False, soft_wrap=True, highlight=False)
            for note in rec.assumptions:
                if note.startswith(("times are", f"'{cluster.name}' was not created")):
                    console.print(f"    # {note}", markup=False, soft_wrap=True, style="dim")


@prices_app.command("refresh")
def refresh(
    region: Regions = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write here instead (default: $DBSCALE_PRICES, else prices.json in $XDG_CACHE_HOME/dbscale or "
            "~/.cache/dbscale, which advise and status read); use such a file with --prices FILE.",
        ),
    ] = None,
) -> None:
    """Rebuild the price snapshot from the AWS Price List API, into the user's cache directory, where
    advise and status find it (the newer of it and the shipped snapshot, per region)."""
    from ..core.pricing import refresh_snapshot, refreshed_path

    target = out or refreshed_path()
    book = refresh_snapshot(split_regions(region), session=session(None), out=target)
    used = "advise and status use it when the API cannot answer" if out is None else f"use it with --prices {target}"
    console.print(
        f"wrote {target}: {', '.join(sorted(book.regions))}, {book.summary()}; {used}",
        markup=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command()(advise)
    app.add_typer(prices_app, name="prices")
