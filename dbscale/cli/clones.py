"""Clone commands: ``dbscale clone`` and ``dbscale pool status|maintain``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from . import progress
from .clusters import Json, NoWait, Poll, Region, Save, Timeout
from .output import console, minutes, print_json, session

pool_app = typer.Typer(help="The clone pool: full copies kept ready for when a source has no free clone slot.")

MaxCopyAge = Annotated[str | None, typer.Option("--max-copy-age", help="A copy older than this is stale (e.g. 24h).")]
MinSpare = Annotated[int, typer.Option("--min-spare", help="Clone slots to keep free.", min=0)]


def _age(text: str | None) -> timedelta | None:
    return None if text is None else timedelta(minutes=minutes(text, option="max_copy_age"))


def _copies(copies: Any) -> list[dict[str, Any]]:
    return [
        {
            "cluster_id": c.cluster_id,
            "created_at": c.created_at.isoformat(),
            "age_hours": round(c.age_hours, 2),
            "status": c.status,
            "clones": c.clones,
            "free_slots": c.free_slots,
            "fresh": c.fresh,
            "ready": c.ready,
        }
        for c in copies
    ]


def clone(
    source: str,
    clone_name: Annotated[str, typer.Argument(metavar="CLONE")],
    instance_class: Annotated[str, typer.Option("--instance-class", help="The clone's writer class.")],
    max_copy_age: MaxCopyAge = None,
    copy_ok: Annotated[bool, typer.Option("--copy-ok", help="Make a full copy when no slot is free (slow).")] = False,
    purge: Annotated[bool, typer.Option("--purge-obsolete-copies", help="Delete stale copies with no clones.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be done; change nothing.")] = False,
    region: Region = None,
    json: Json = False,
    no_wait: NoWait = False,
    timeout: Timeout = "2h",
    poll: Poll = 15.0,
    save: Save = None,
) -> None:
    """Make CLONE, a copy-on-write clone of SOURCE or of a fresh copy of it."""
    from ..core.clones import provision_clone

    made = session(region)
    plan = provision_clone(
        source,
        clone_name,
        instance_class=instance_class,
        max_copy_age=_age(max_copy_age),
        copy_ok=copy_ok,
        purge_obsolete_copies=purge,
        dry_run=dry_run,
        session=made,
        wait=False,
    )
    described = {
        "source": plan.source_cluster_id,
        "clone": plan.clone_cluster_id,
        "action": plan.action,
        "cloned_from": plan.cloned_from,
        "reason": plan.reason,
        "source_clones": plan.source_clones,
        "max_clones_per_source": plan.max_clones_per_source,
        "new_copy_id": plan.new_copy_id,
        "purged_copies": list(plan.purged_copies),
        "copies": _copies(plan.copies),
        "dry_run": plan.dry_run,
    }
    if dry_run or plan.operation is None:
        if json:
            print_json(described)
        else:
            console.print(f"{plan.action}: {plan.reason}")
        return
    if not no_wait:
        console.print(f"{plan.action}: {plan.reason}")
    code = progress.start(
        plan.operation,
        str(made.region_name),
        wait=not no_wait,
        timeout_minutes=minutes(timeout, option="timeout"),
        poll_seconds=poll,
        save_to=save,
    )
    if code:
        raise typer.Exit(code)


def _pool(source: str, min_spare: int, max_copy_age: str | None, region: str | None) -> Any:
    from ..core.clones import ClonePool

    return ClonePool(source, min_spare_slots=min_spare, max_copy_age=_age(max_copy_age), session=session(region))


@pool_app.command("status")
def pool_status(
    source: str,
    min_spare: MinSpare = 0,
    max_copy_age: MaxCopyAge = None,
    region: Region = None,
    json: Json = False,
) -> None:
    """The source's clones and free slots, every copy with its age and clones, the spare total."""
    found = _pool(source, min_spare, max_copy_age, region).status()
    data = {
        "source": found.source_cluster_id,
        "source_clones": found.source_clones,
        "source_free_slots": found.source_free_slots,
        "max_clones_per_source": found.max_clones_per_source,
        "spare_slots": found.spare_slots,
        "min_spare_slots": found.min_spare_slots,
        "short_of": found.short_of,
        "copies": _copies(found.copies),
    }
    if json:
        print_json(data)
        return
    console.print(
        f"{source}: {found.source_clones}/{found.max_clones_per_source} clones, {found.spare_slots} spare slots "
        f"(want {found.min_spare_slots}, short of {found.short_of})"
    )
    table = Table()
    for column in ("copy", "age h", "status", "clones", "free", "fresh", "ready"):
        table.add_column(column)
    for c in found.copies:
        table.add_row(
            c.cluster_id, f"{c.age_hours:.1f}", c.status, str(c.clones), str(c.free_slots), str(c.fresh), str(c.ready)
        )
    if found.copies:
        console.print(table)


@pool_app.command("maintain")
def pool_maintain(
    source: str,
    min_spare: MinSpare = 1,
    max_copy_age: MaxCopyAge = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report the decisions; change nothing.")] = False,
    region: Region = None,
    json: Json = False,
) -> None:
    """Bring the pool to --min-spare free slots: make copies, delete stale ones (each step started once)."""
    outcome = _pool(source, min_spare, max_copy_age, region).maintain(dry_run=dry_run)
    decisions = [{"action": d.action, "cluster_id": d.cluster_id, "reason": d.reason} for d in outcome.decisions]
    if json:
        print_json({"dry_run": dry_run, "spare_slots": outcome.status.spare_slots, "decisions": decisions})
        return
    for d in decisions:
        console.print(f"{d['action']} {d['cluster_id']}: {d['reason']}")
    if not decisions:
        console.print("nothing to do")


def register(app: typer.Typer) -> None:
    app.command(name="clone")(clone)
    app.add_typer(pool_app, name="pool")
