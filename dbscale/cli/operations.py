"""``dbscale operations``: the operation files rescale, pause, resume and clone save, listed and discarded.

An operation file (see :mod:`dbscale.cli.progress`) is what ``dbscale wait FILE`` follows and what
``dbscale status`` shows as in flight. They live in ``<state dir>/operations`` (``$DBSCALE_STATE_DIR``,
else ``$XDG_STATE_HOME/dbscale``, else ``~/.local/state/dbscale``); a file written with ``--save PATH``
elsewhere is not listed, but ``discard PATH`` removes it. Discarding only deletes the file: it changes
nothing in AWS, where a running resize or pause goes on.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..core.errors import InvalidRequest
from .output import age, console, print_json, state_dir, wants_json
from .progress import FILE_FORMAT

operations_app = typer.Typer(
    help="The operation files rescale/pause/resume/clone saved (what dbscale wait follows): list them, "
    "or discard one. Discarding changes nothing in AWS.",
    invoke_without_command=True,
)

_ENGINES = {"redshift": "redshift", "aurora": "aurora", "clones": "aurora (clone)"}


@dataclass(frozen=True)
class OperationFile:
    """One operation file as listed: ``state`` is ``in flight``, ``done`` or ``failed``; ``started``
    is epoch seconds (when the operation began), ``step`` e.g. ``2/3 wait_resized``."""

    path: Path
    region: str
    service: str
    cluster: str
    description: str
    step: str
    state: str
    started: float
    failure: str | None
    account: str | None = None
    """The account of a change across accounts (``--accounts``); None: the caller's own (not recorded)."""

    @property
    def engine(self) -> str:
        """``redshift``, ``aurora`` or ``aurora (clone)``."""
        return _ENGINES.get(self.service, self.service)

    def age_seconds(self, now: float) -> float:
        """Seconds since the operation started (never negative)."""
        return max(0.0, now - self.started)

    def to_dict(self, now: float) -> dict[str, Any]:
        """The JSON of ``dbscale operations --json``; ``now`` (epoch seconds) gives ``age_seconds``."""
        return {
            "path": str(self.path),
            "account": self.account,
            "region": self.region,
            "cluster": self.cluster,
            "engine": self.engine,
            "description": self.description,
            "step": self.step,
            "state": self.state,
            "started": datetime.fromtimestamp(self.started, tz=timezone.utc).isoformat(timespec="seconds"),
            "age_seconds": round(self.age_seconds(now)),
            "failure": self.failure,
        }


def read(path: Path) -> OperationFile | None:
    """The operation file at ``path``, or None when it is no dbscale operation file (not JSON, another
    format, damaged)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
            return None
        op = data["operation"]
        steps = op["steps"]
        index = int(op["index"])
        failure = op.get("failure")
        if failure is not None:
            state = "failed"
        elif index >= len(steps):
            state = "done"
        else:
            state = "in flight"
        shown = min(index, len(steps) - 1)
        step = f"{shown + 1}/{len(steps)} {steps[shown]['action']}" if steps else "0/0"
        return OperationFile(
            path=path,
            region=str(data["region"]),
            service=str(op["service"]),
            cluster=str(op["cluster_name"]),
            description=str(op.get("description", "")),
            step=step if state != "done" else f"{len(steps)}/{len(steps)} done",
            state=state,
            started=float(op["started_at"]),
            failure=None if failure is None else str(failure),
            account=str(data["account"]["id"]) if data.get("account") else None,
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def folder() -> Path:
    """Where operation files are saved by default: ``<state dir>/operations``."""
    return state_dir() / "operations"


def listed() -> list[OperationFile]:
    """Every operation file in :func:`folder`, oldest first (files of other formats are skipped)."""
    found = [f for p in sorted(folder().glob("*.json")) if (f := read(p)) is not None]
    return sorted(found, key=lambda f: (f.started, str(f.path)))


@operations_app.callback()
def operations(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the operation files (cluster, engine, step, state, age, path), oldest first."""
    if ctx.invoked_subcommand is not None:
        return
    show(json_output)


@operations_app.command("list")
def list_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the operation files (the same as ``dbscale operations``)."""
    show(json_output)


def show(json_output: bool) -> None:
    """Print :func:`listed` as a table, or as JSON (``{"folder": ..., "operations": [...]}``)."""
    files = listed()
    now = time.time()
    if wants_json(json_output):
        print_json({"folder": str(folder()), "operations": [f.to_dict(now) for f in files]})
        return
    if not files:
        console.print(f"no operation files in {folder()}", markup=False, soft_wrap=True)
        return
    table = Table(title=f"dbscale operation files ({folder()})")
    accounts = any(f.account for f in files)  # the column only when a change across accounts saved a file
    for column in ("cluster", "engine", *(["account"] if accounts else []), "region", "step", "state", "age", "path"):
        table.add_column(column, overflow="fold")
    for f in files:
        where = [f.account or "(yours)"] if accounts else []
        table.add_row(f.cluster, f.engine, *where, f.region, f.step, f.state, age(f.age_seconds(now)), str(f.path))
    console.print(table)
    pending = sum(1 for f in files if f.state == "in flight")
    console.print(
        f"{len(files)} file{'' if len(files) == 1 else 's'}, {pending} in flight: dbscale wait PATH follows one, "
        "dbscale operations discard PATH|CLUSTER removes one",
        style="dim",
        markup=False,
    )


@operations_app.command("discard")
def discard(
    target: Annotated[
        str, typer.Argument(metavar="FILE|CLUSTER", help="An operation file, or the cluster whose file to remove.")
    ],
    region: Annotated[
        str | None, typer.Option("--region", help="With a cluster name: only its files in this region.")
    ] = None,
) -> None:
    """Remove one operation file. It changes nothing in AWS: a resize or pause it started goes on.

    A cluster name must match exactly one file (in the default folder); with several, pass the path."""
    chosen = _choose(target, region)
    chosen.path.unlink()
    running = (
        ": if the operation is running there, it goes on (dbscale status shows the cluster's state)"
        if chosen.state == "in flight"
        else ""
    )
    console.print(
        f"discarded {chosen.path}: {chosen.description} ({chosen.cluster}, {chosen.region}, step {chosen.step}, "
        f"{chosen.state}). Nothing was changed in AWS{running}.",
        markup=False,
        soft_wrap=True,
    )


def _choose(target: str, region: str | None) -> OperationFile:
    """The one operation file ``target`` names: a path to one, else the only file of that cluster."""
    if any(mark in target for mark in "/.~\\"):  # a path: cluster identifiers have none of these
        path = Path(target).expanduser()
        found = read(path) if path.is_file() else None
        if found is None:
            detail = "no such file" if not path.exists() else "not a dbscale operation file; left alone"
            raise InvalidRequest(f"{path}: {detail}")
        return found
    name = target.lower()  # cluster identifiers are case-insensitive (AWS keeps them in lower case)
    matches = [f for f in listed() if f.cluster.lower() == name and (region is None or f.region == region)]
    where = f" in {region}" if region else ""
    if not matches:
        raise InvalidRequest(
            f"no operation file for cluster '{target}'{where} in {folder()} (dbscale operations lists them)"
        )
    if len(matches) > 1:
        listing = "; ".join(f"{f.path} ({f.region}, {f.step}, {f.state})" for f in matches)
        raise InvalidRequest(
            f"{len(matches)} operation files for cluster '{target}'{where}, nothing discarded: pass one path: {listing}"
        )
    return matches[0]


def register(app: typer.Typer) -> None:
    app.add_typer(operations_app, name="operations")
