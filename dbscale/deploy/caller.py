"""Where ``dbscale providers`` runs: the session's region and the caller's account."""

from __future__ import annotations

from typing import Any

from dbscale.core.aws import aws_errors, client
from dbscale.core.errors import InvalidRequest


def region_of(session: Any) -> str:
    """The region of ``session`` (None: the default session); InvalidRequest when none is configured."""
    region = client("cloudformation", session).meta.region_name
    if not region:
        raise InvalidRequest("no AWS region: pass --region or set AWS_DEFAULT_REGION", field="region")
    return str(region)


def account_of(session: Any) -> str:
    """The account id of ``session``'s credentials (sts:GetCallerIdentity)."""
    with aws_errors("find the caller's account (sts:GetCallerIdentity)"):
        return str(client("sts", session).get_caller_identity()["Account"])
