"""The advisor's HTML report: one self-contained file (plotly.js inline, no network needed).

A summary table, then per cluster a heatmap of CPU by hour of week and a bar chart of monthly cost
now vs with each recommendation. plotly is imported only here, when a report is written.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..fleet import Failure
    from . import ClusterAdvice, FleetAdvice

_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#1d2330}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #ccd;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#eef}
td.num{text-align:right;font-variant-numeric:tabular-nums}
section{margin-top:2.5rem;border-top:2px solid #dde;padding-top:1rem}
.charts{display:flex;flex-wrap:wrap;gap:1rem}
.chart{width:560px;height:340px}
pre{background:#f5f5fa;padding:.5rem;white-space:pre-wrap}
.muted{color:#667}
"""


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def _summary(fleet: FleetAdvice) -> str:
    rows = []
    # The account column only when the fleet spans accounts (advise --accounts).
    accounts = len({c.usage.cluster.account for c in fleet.clusters}) > 1
    for i, c in enumerate(fleet.clusters):
        info = c.usage.cluster
        best = c.best
        cpu = c.usage.cpu
        rows.append(
            "<tr>"
            + (f"<td>{html.escape(str(info.account))}</td>" if accounts else "")
            + f"<td><a href='#c{i}'>{html.escape(info.name)}</a></td><td>{html.escape(info.region)}</td>"
            f"<td>{html.escape(info.engine)}</td><td>{html.escape(info.shape)}</td><td>{html.escape(info.status)}</td>"
            f"<td class='num'>{'n/a' if cpu is None else f'{cpu.mean:.1f} / {cpu.p95:.1f}'}</td>"
            f"<td class='num'>{len(c.usage.idle_hours)}</td>"
            f"<td class='num'>{_money(c.monthly_usd)}</td>"
            f"<td>{html.escape(best.title) if best else 'keep as is'}</td>"
            f"<td class='num'>{_money(best.monthly_saving_usd if best else 0.0)}</td>"
            "</tr>"
        )
    return (
        "<table id='summary'><thead><tr>"
        + ("<th>account</th>" if accounts else "")
        + "<th>cluster</th><th>region</th><th>engine</th><th>shape</th><th>status</th>"
        "<th>CPU % mean / p95</th><th>idle h/week</th><th>cost/month now</th><th>best recommendation</th>"
        "<th>saving/month</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _figures(index: int, advice: ClusterAdvice) -> list[tuple[str, dict[str, Any]]]:
    import plotly.graph_objects as go

    usage = advice.usage
    grid = [[usage.by_hour_of_week[d * 24 + h] for h in range(24)] for d in range(7)]
    heatmap = go.Figure(
        go.Heatmap(
            z=grid,
            x=[f"{h:02d}" for h in range(24)],
            y=_DAYS,
            colorscale="Blues",
            zmin=0,
            zmax=100,
            colorbar={"title": {"text": "CPU %"}},
            hovertemplate="%{y} %{x}:00 UTC: %{z:.1f}% CPU<extra></extra>",
        )
    )
    heatmap.update_layout(
        title={"text": "CPU by hour of week (UTC)"},
        yaxis={"autorange": "reversed"},
        margin={"l": 50, "r": 10, "t": 40, "b": 30},
    )
    names = ["now"]
    costs = [advice.monthly_usd or 0.0]
    for rec in advice.recommendations:
        if rec.monthly_saving_usd != 0:
            names.append(rec.kind)
            costs.append(max(0.0, (advice.monthly_usd or 0.0) - rec.monthly_saving_usd))
    bars = go.Figure(go.Bar(x=names, y=costs, marker={"color": ["#556"] + ["#2a7"] * (len(names) - 1)}))
    bars.update_layout(
        title={"text": "Monthly cost now vs recommended (USD)"},
        margin={"l": 50, "r": 10, "t": 40, "b": 60},
    )
    return [(f"heat{index}", heatmap.to_plotly_json()), (f"cost{index}", bars.to_plotly_json())]


def _cluster_section(index: int, advice: ClusterAdvice) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    info = advice.usage.cluster
    u = advice.usage.to_dict()

    def stat(name: str, unit: str) -> str:
        s = u[name]
        return "n/a" if s is None else f"mean {s['mean']:.1f}{unit}, p95 {s['p95']:.1f}{unit}, max {s['max']:.1f}{unit}"

    recs = "".join(
        f"<tr><td>{html.escape(r.title)}</td><td class='num'>{_money(r.monthly_saving_usd)}</td>"
        f"<td>{html.escape(r.reason)}"
        + (f"<pre>{html.escape(r.action)}</pre>" if r.action else "")
        + (
            "<ul class='muted'>" + "".join(f"<li>{html.escape(a)}</li>" for a in r.assumptions) + "</ul>"
            if r.assumptions
            else ""
        )
        + "</td></tr>"
        for r in advice.recommendations
    )
    figures = _figures(index, advice)
    charts = "".join(f"<div class='chart' id='{fid}'></div>" for fid, _ in figures)
    body = (
        f"<section id='c{index}'><h2>{html.escape(info.name)} <span class='muted'>({html.escape(info.region)}, "
        f"{html.escape(info.engine)}, {html.escape(info.shape)})</span></h2>"
        f"<p>CPU: {stat('cpu_percent', '%')}; memory: {stat('memory_percent', '%')}; "
        f"disk: {stat('disk_percent', '%')}; "
        f"connections: {stat('connections', '')}; ran {u['running_hours']} of {u['window_hours']} h; "
        f"idle hours of the week: {len(advice.usage.idle_hours)}.</p>"
        + ("".join(f"<p class='muted'>{html.escape(n)}</p>" for n in advice.usage.notes))
        + f"<div class='charts'>{charts}</div>"
        + (
            "<table><thead><tr><th>recommendation</th><th>saving/month</th><th>why (numbers) and how</th></tr>"
            f"</thead><tbody>{recs}</tbody></table>"
            if recs
            else "<p>No recommendation: the cluster fits its load.</p>"
        )
        + "</section>"
    )
    return body, figures


def _failures(failures: Sequence[Failure]) -> str:
    """The accounts and regions that could not be read (advise --accounts), or nothing."""
    if not failures:
        return ""
    items = "".join(
        f"<li>{html.escape(f.target.account)} {html.escape(f.target.region)}: {html.escape(f.kind)}: "
        f"{html.escape(f.message)}</li>"
        for f in failures
    )
    return f"<h2>Not read ({len(failures)})</h2><ul id='failures'>{items}</ul>"


def html_report(fleet: FleetAdvice, failures: Sequence[Failure] = ()) -> str:
    """The report as one HTML document with plotly.js inline (usable offline); ``failures`` lists the
    accounts and regions that could not be read."""
    from plotly.offline import get_plotlyjs
    from plotly.utils import PlotlyJSONEncoder

    sections = []
    figures: list[tuple[str, dict[str, Any]]] = []
    for i, advice in enumerate(fleet.clusters):
        body, figs = _cluster_section(i, advice)
        sections.append(body)
        figures += figs
    data = json.dumps([{"id": fid, "figure": fig} for fid, fig in figures], cls=PlotlyJSONEncoder)
    data = data.replace("</", "<\\/")  # a "</script>" inside the JSON must not end the block
    header = (
        f"<h1>dbscale cost advice</h1><p>Generated {html.escape(fleet.generated_at)} for "
        f"{html.escape(', '.join(fleet.regions))} over the last {fleet.days:g} days; "
        f"{len(fleet.clusters)} clusters, {_money(fleet.monthly_usd)}/month now, up to "
        f"<b>{_money(fleet.monthly_saving_usd)}/month</b> saved (each cluster's best recommendation).</p>"
        f"<p id='prices'>Prices: {html.escape(fleet.prices.summary())}. {html.escape(fleet.prices.provenance)}</p>"
        f"<p class='muted'>CloudWatch: {fleet.metrics_read} metrics in {fleet.cloudwatch_calls} "
        "GetMetricData calls.</p>"
    )
    # Figures are drawn by one small script from a JSON block: no inline event handlers, nothing fetched.
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>dbscale cost advice</title>"
        f"<style>{_STYLE}</style><script>{get_plotlyjs()}</script></head><body>"
        + header
        + _summary(fleet)
        + _failures(failures)
        + "".join(sections)
        + f"<script id='figures' type='application/json'>{data}</script>"
        + "<script>for (const f of JSON.parse(document.getElementById('figures').textContent)) {"
        "Plotly.newPlot(f.id, f.figure.data, f.figure.layout, {displaylogo: false, responsive: true});}"
        "document.body.dataset.rendered = 'yes';</script></body></html>"
    )


def write_html_report(fleet: FleetAdvice, path: str | Path, failures: Sequence[Failure] = ()) -> Path:
    """Write :func:`html_report` to ``path``; returns the path."""
    target = Path(path)
    target.write_text(html_report(fleet, failures), encoding="utf-8")
    return target
