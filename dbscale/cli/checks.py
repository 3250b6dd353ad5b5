"""``dbscale check``: every scaling check on one cluster, with its numbers and verdict."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.table import Table

from .clusters import Json, Name, Region, provisioning_for
from .output import console, minutes, print_json, session, wants_json


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
) -> None:
    """Every scaling check on one cluster, with its numbers and verdict."""
    from ..core.scaling import UTILIZATION_TYPES, Check, ProvisionScaling

    span = minutes(window, option="window")
    prov = provisioning_for(name, region)
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
    timeout = minutes(query_timeout, option="query_timeout") * 60
    scaling = ProvisionScaling(session=session(region), data_api_timeout_seconds=timeout, on_wait=_every_5_seconds())
    results = scaling.evaluate(checks)
    if wants_json(json):
        print_json([r.to_dict() for r in results])
        return
    table = Table(title=f"scaling checks for {name} over {window}")
    for column in ("check", "value", "threshold", "verdict", "datapoints", "reason"):
        table.add_column(column, overflow="fold")
    for c, r in zip(checks, results, strict=True):
        label = r.check + (
            f" {c.utilization_type} {'over' if c.check_overused else 'under'}" if c.utilization_type else ""
        )
        verdict = "no data" if r.verdict is None else ("YES" if r.verdict else "no")
        value = "" if r.value is None else f"{r.value:,.4g}{r.unit and ' ' + r.unit}"
        table.add_row(label, value, f"{r.comparison} {r.threshold:g}", verdict, str(r.datapoints), r.reason)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``dbscale check`` to ``app``."""
    app.command()(check)
