"""``dbscale advise`` and ``dbscale prices refresh``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..core.errors import InvalidRequest
from .clusters import AllRegions, Regions
from .output import console, money, print_json, regions, session, tags, wants_json

PricesFile = Annotated[
    Path | None,
    typer.Option(
        "--prices",
        metavar="FILE",
        help="Prices from this file (dbscale prices refresh --out FILE), not the API or the cache.",
    ),
]

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
) -> None:
    """Utilization, idle hours and savings for every cluster, with the reasons in numbers, and the
    commands to act on each cluster's best recommendation (as printed: with --force where the cluster
    was not created by dbscale, crontab times in --tz)."""
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
    prices = price_book(covered, session=session(covered[0]), use_api=not offline, file=prices_file)
    fleet = run(covered, days=days, prices=prices, sessions=lambda r: session(r), tags=tags(tag), tz=tz)
    if output_format is Format.json:
        print_json(fleet.to_dict())
        return
    if output_format is Format.html:
        from ..core.advisor.report import write_html_report

        path = write_html_report(fleet, out or Path("dbscale-advice.html"))
        console.print(
            f"wrote {path}: {len(fleet.clusters)} clusters, {money(fleet.monthly_saving_usd)}/month to save. "
            f"Prices: {prices.summary()}"
        )
        return
    table = Table(title=f"dbscale advise: {', '.join(covered)}, last {days:g} days")
    for column in ("cluster", "shape", "CPU mean/p95", "idle h/wk", "$/month now", "best", "saves $/month", "why"):
        table.add_column(column, overflow="fold")
    for c in fleet.clusters:
        best = c.best
        cpu = c.usage.cpu
        table.add_row(
            f"{c.usage.cluster.name} ({c.usage.cluster.region})",
            c.usage.cluster.shape,
            "n/a" if cpu is None else f"{cpu.mean:.0f}% / {cpu.p95:.0f}%",
            str(len(c.usage.idle_hours)),
            money(c.monthly_usd),
            best.title if best else "keep",
            money(best.monthly_saving_usd if best else 0.0),
            best.reason if best else "",
        )
    console.print(table)
    console.print(
        f"total: {money(fleet.monthly_usd)}/month now, {money(fleet.monthly_saving_usd)}/month to save "
        f"(each cluster's best recommendation; --format json lists them all). "
        f"{fleet.metrics_read} metrics in {fleet.cloudwatch_calls} GetMetricData calls. Prices: {prices.summary()}",
        style="dim",
    )
    _print_actions(fleet)


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
            console.print(
                f"  {cluster.name} ({cluster.region}): {rec.title}, saves {money(rec.monthly_saving_usd)}/month",
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
    book = refresh_snapshot(region or None, session=session(None), out=target)
    used = "advise and status use it when the API cannot answer" if out is None else f"use it with --prices {target}"
    console.print(
        f"wrote {target}: {', '.join(sorted(book.regions))}, {book.summary()}; {used}",
        markup=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command()(advise)
    app.add_typer(prices_app, name="prices")
