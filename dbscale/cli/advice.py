"""``dbscale advise`` and ``dbscale prices refresh``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..core.errors import InvalidRequest
from .clusters import AllRegions, Regions
from .output import console, money, print_json, regions, session, tags

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
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json (as every read command).")] = False,
) -> None:
    """Utilization, idle hours and savings for every cluster, with the reasons in numbers."""
    from ..core.advisor import advise as run
    from ..core.pricing import price_book

    if as_json:
        if output_format is Format.html:
            raise InvalidRequest("--json and --format html ask for two outputs: pick one", field="json")
        output_format = Format.json

    if out is not None and output_format is not Format.html:
        raise InvalidRequest("--out is for --format html", field="out")
    covered = regions(region, all_regions)
    prices = price_book(covered, session=session(covered[0]), use_api=not offline)
    fleet = run(covered, days=days, prices=prices, sessions=lambda r: session(r), tags=tags(tag))
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


@prices_app.command("refresh")
def refresh(
    region: Regions = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of the package's snapshot.")] = None,
) -> None:
    """Rebuild the price snapshot from the AWS Price List API."""
    from ..core.pricing import refresh_snapshot

    book = refresh_snapshot(region or None, session=session(None), out=out)
    console.print(f"snapshot rebuilt for {', '.join(sorted(book.regions))}: {book.summary()}")


def register(app: typer.Typer) -> None:
    app.command()(advise)
    app.add_typer(prices_app, name="prices")
