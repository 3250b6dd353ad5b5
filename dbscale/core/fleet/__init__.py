"""The fleet across accounts: which accounts (``--accounts``), a session in each (an assumed role),
and reading every (account, region) target from one process with a bounded pool of workers, each
target's failure reported with the others' results (docs/fleet.md).

    from dbscale.core.fleet import AccountSessions, fan_out, parse_accounts, targets
    sessions = AccountSessions(lambda region: boto3.Session(region_name=region), role_name="DbscaleRead")
    run = fan_out(lambda target, session: discover([target.region], sessions=lambda r: session),
                  targets(parse_accounts(["111111111111,222222222222"]).ids, ["us-east-1"]), sessions=sessions)
"""

from __future__ import annotations

from .accounts import ORGANIZATION, AccountSelection, organization_accounts, parse_accounts, resolve_accounts
from .fanout import (
    DEFAULT_WORKERS,
    FAILURE_KINDS,
    CallCounter,
    Failure,
    FleetRun,
    Outcome,
    Target,
    check_workers,
    classify,
    fan_out,
    targets,
)
from .sessions import DEFAULT_ROLE_NAME, AccountSessions, RoleNotAssumed, SessionFactory, check_role

__all__ = [
    "DEFAULT_ROLE_NAME",
    "DEFAULT_WORKERS",
    "FAILURE_KINDS",
    "ORGANIZATION",
    "AccountSelection",
    "AccountSessions",
    "CallCounter",
    "Failure",
    "FleetRun",
    "Outcome",
    "RoleNotAssumed",
    "SessionFactory",
    "Target",
    "check_role",
    "check_workers",
    "classify",
    "fan_out",
    "organization_accounts",
    "parse_accounts",
    "resolve_accounts",
    "targets",
]
