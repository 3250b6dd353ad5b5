"""``rescale|pause|resume NAME --accounts``: one change across accounts, safe by default (docs/fleet.md).

The cluster NAME is looked for in every target (account x region) with the read fan-out of
:mod:`dbscale.cli.fleet`; the plan of every cluster found is printed (what ``--dry-run`` prints), with
its account and region, then the targets where NAME is absent and those that failed. Without
``--yes`` nothing is changed: the command ends with :data:`~dbscale.cli.errors.INVALID` and says how
many clusters ``--yes`` would change. With ``--yes`` each cluster found is changed in its account's
session, one target at a time: a change is not a read, so it is not fanned out (an error the first
change shows, such as a role that may read but not modify, is seen before the next starts, and the
changes reach AWS in the order printed). A failure is reported and the others go on; any failure ends
with :data:`~dbscale.cli.errors.PARTIAL`.

Changes across accounts do not wait: each is started (AWS accepted its first call) and saved to an
operation file that records its account and role, which ``dbscale wait FILE`` assumes again to follow
it and ``dbscale operations`` lists. Following several hour-long resizes one after another from one
shell would hold the last one back by hours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..core.errors import ClusterNotFound, ClusterNotOwned, InvalidRequest, Problem
from ..core.fleet import DEFAULT_ROLE_NAME, Failure, FleetRun, Target, classify
from ..core.plan import RescalePlan
from . import errors, fleet, progress
from .dry_run import plan_problems, print_problems
from .output import console, err_console, print_json, regions, wants_json
from .plan_view import print_plan

if TYPE_CHECKING:
    import boto3

Accounts = Annotated[
    list[str] | None,
    typer.Option(
        "--accounts",
        metavar="IDS|@FILE|org",
        help="Change the cluster NAME in these accounts (as for status --accounts): prints the plan for every "
        "cluster found; changes them, one at a time and without waiting, only with --yes.",
    ),
]
Regions = Annotated[
    list[str] | None,
    typer.Option(
        "--regions", help="With --accounts: the regions to look in (repeat, or a comma list; default: --region's)."
    ),
]
Yes = Annotated[bool, typer.Option("--yes", help="With --accounts: apply the plans printed to every cluster found.")]

Opener = Callable[[str, "boto3.Session"], Any]
"""(NAME, session) -> the provisioning of the cluster NAME there (raises ClusterNotFound when it is absent)."""


def opener(kind: Any) -> Opener:
    """The :data:`Opener` of a provisioning class (``RedshiftProvisioning``, ``RdsProvisioning``)."""
    return lambda name, made: kind.open(name, session=made)


@dataclass(frozen=True)
class Change:
    """What the command does to each cluster: ``plan_rescale(*args, **kwargs)`` to plan it,
    ``rescale(*args, **kwargs, wait=False)`` to start it."""

    opener: Opener
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def option(self) -> str:
        """The option that adds Aurora instances, for the preflight's message (as ``--dry-run``)."""
        return "--readers" if self.kwargs.get("new_reader_count") is not None else "--instance-class"


@dataclass(frozen=True)
class Found:
    """The cluster in one target: its provisioning (in that account's session), plan and preflight."""

    target: Target
    provisioning: Any
    plan: RescalePlan
    problems: list[Problem]


@dataclass(frozen=True)
class Applied:
    """A change started in one target (its operation file and first status), or its failure."""

    target: Target
    path: Path | None = None
    status: str = ""
    failure: Failure | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.target.to_dict(),
            "operation_file": str(self.path) if self.path else None,
            "status": self.status or None,
            "failure": self.failure.to_dict() if self.failure else None,
        }


@dataclass(frozen=True)
class Across:
    """The ``--accounts`` options of a command that changes a cluster, and the command's own options
    that matter across accounts (``region``: the default region; ``save``: refused)."""

    accounts: list[str] | None
    role_name: str = DEFAULT_ROLE_NAME
    external_id: str | None = None
    regions: list[str] | None = None
    yes: bool = False
    force: bool = False
    dry_run: bool = False
    as_json: bool = False
    region: str | None = None
    save: Path | None = None

    def apply(self, name: str, change: Change) -> None:
        """Without ``--accounts``, nothing (refusing its companion options); with it, the change
        across accounts, ending the command with its exit code."""
        if self.accounts is None:
            extras = {
                "role_name": self.role_name != DEFAULT_ROLE_NAME,
                "external_id": self.external_id is not None,
                "regions": self.regions is not None,
                "yes": self.yes,
            }
            for option, given in extras.items():
                if given:
                    raise InvalidRequest(
                        f"{option} is for --accounts (changing a cluster in many accounts)", field=option
                    )
            return
        if self.save is not None:
            raise InvalidRequest("save is one file: --accounts saves one file per cluster itself", field="save")
        raise typer.Exit(change_across(self, name, change))


def change_across(across: Across, name: str, change: Change) -> int:
    """Look for ``name`` in every target, print every plan, and (``--yes``) start each change; returns
    the exit code."""
    covered = regions(across.regions or ([across.region] if across.region else None), False)
    options = fleet.FleetOptions(across.accounts, across.role_name, across.external_id)

    def look(target: Target, made: boto3.Session) -> Found | None:
        try:
            prov = change.opener(name, made)
        except ClusterNotFound:
            return None
        if prov.adopted and not across.force:
            raise ClusterNotOwned(f"'{name}' was not created by dbscale; pass --force to change it anyway")
        plan = prov.plan_rescale(*change.args, **change.kwargs)
        return Found(target, prov, plan, plan_problems(plan, made, change.option))

    run = fleet.read(options, covered, look)
    found = [value for _, value in run.results if value is not None]
    absent = [target for target, value in run.results if value is None]
    applied = [start(f, run.home, across, change) for f in found] if across.yes and not across.dry_run else []
    show(name, run, found, absent, applied, across)
    if not found:
        return errors.PARTIAL if run.failures else errors.NOT_FOUND
    if across.dry_run:
        return errors.INVALID if any(f.problems for f in found) else fleet.exit_code(run)
    if not across.yes:
        clusters = f"{len(found)} cluster{'' if len(found) == 1 else 's'}"
        err_console.print(
            f"nothing was changed: add --yes to apply this plan to {clusters}",
            markup=False,
            soft_wrap=True,
        )
        return errors.INVALID
    return errors.PARTIAL if run.failures or any(a.failure for a in applied) else errors.OK


def start(found: Found, home: str | None, across: Across, change: Change) -> Applied:
    """Start the change on one cluster in its account's session and save its operation file (with
    the account and the role that ``dbscale wait`` assumes again); its failure is returned."""
    target = found.target
    account = {
        "id": target.account,
        "role_name": None if target.account == home else across.role_name,
        "external_id": None if target.account == home else across.external_id,
    }
    try:
        op = found.provisioning.rescale(*change.args, wait=False, **change.kwargs)
        # One file per account and region: the same cluster name in several accounts starts within a second.
        default = progress.default_path(op)
        path = default.with_name(f"{default.stem}-{target.account}-{target.region}.json")
        result = progress.begin(op, target.region, path, account)
    except Exception as err:  # this cluster's failure, reported with the others
        return Applied(target, failure=classify(target, err))
    return Applied(target, path, result.reason)


def show(
    name: str, run: FleetRun[Any], found: list[Found], absent: list[Target], applied: list[Applied], across: Across
) -> None:
    """The plans, the targets where ``name`` is absent, the failures and the changes started, as text
    or JSON."""
    if wants_json(across.as_json):
        print_json(
            {
                "cluster": name,
                "accounts": fleet.accounts_of(run),
                "regions": list(dict.fromkeys(t.region for t in run.targets)),
                "dry_run": across.dry_run,
                "applied": bool(applied),
                "plans": [
                    {**f.target.to_dict(), "plan": f.plan.to_dict(), "problems": [vars(p) for p in f.problems]}
                    for f in found
                ],
                "absent": [t.to_dict() for t in absent],
                "failures": [f.to_dict() for f in run.failures],
                "changes": [a.to_dict() for a in applied],
            }
        )
        return
    console.print(f"'{name}' found in {len(found)} of {len(run.targets)} account-regions", style="bold", markup=False)
    for f in found:
        console.print(f"\n{f.target.account} {f.target.region}:", style="bold", markup=False)
        print_plan(f.plan, False)
        print_problems(f.problems)
    if absent:
        where = ", ".join(f"{t.account} {t.region}" for t in absent)
        console.print(f"absent ({len(absent)}): {where}", markup=False, soft_wrap=True)
    fleet.print_failures(run.failures)
    if across.dry_run:
        console.print("dry run: nothing was changed (run it with --yes, without --dry-run, to do it)")
    if applied:
        print_applied(applied)


def print_applied(applied: list[Applied]) -> None:
    """One line per change started or failed, then how to follow them."""
    failed = [a for a in applied if a.failure]
    console.print(f"changes ({len(applied) - len(failed)} started, {len(failed)} failed), one at a time:", style="bold")
    for a in applied:
        where = f"{a.target.account} {a.target.region}"
        if a.failure:
            console.print(f"  {where}: failed: {a.failure.kind}: {a.failure.message}", markup=False, soft_wrap=True)
        else:
            console.print(f"  {where}: started ({a.status}): dbscale wait {a.path}", markup=False, soft_wrap=True)
    if len(failed) < len(applied):
        console.print(
            "not waited for: dbscale wait FILE follows each (in its account); dbscale operations lists them",
            style="dim",
        )
