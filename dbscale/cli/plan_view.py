"""A rescale plan on the terminal: what ``dbscale plan``, ``--dry-run`` and the plans of a change
across accounts (``--accounts``) print."""

from __future__ import annotations

from rich.table import Table

from ..core.plan import RescalePlan
from .output import console, print_json, wants_json


def print_plan(plan: RescalePlan, json: bool) -> None:
    """The plan as a table and its windows, or as JSON."""
    if wants_json(json):
        print_json(plan.to_dict())
        return
    low, high = plan.duration_minutes
    ro = plan.read_only_minutes
    wu = plan.write_unavailable_minutes
    console.print(f"[bold]{plan.description}[/bold]: {plan.method} ({plan.reason})")
    table = Table()
    for column in ("#", "step", "minutes", "database meanwhile"):
        table.add_column(column)
    for i, step in enumerate(plan.steps, 1):
        table.add_row(str(i), step.description, f"{step.min_minutes:g}-{step.max_minutes:g}", step.availability)
    if plan.steps:
        console.print(table)
    console.print(
        f"expected duration {low:g}-{high:g} min; read-only {ro[0]:g}-{ro[1]:g} min; "
        f"writes unavailable {wu[0]:g}-{wu[1]:g} min (AWS's documented figures; --json names each step's source)"
    )
    for note in plan.notes:
        console.print(f"note: {note}", style="dim")
    if not plan.changes:
        console.print("nothing to change")
