"""Where ``dbscale providers`` runs: the session's region and the caller's account."""

from __future__ import annotations

import functools
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


class OnSession:
    """What a deployment knows of where it runs: :attr:`region` (the session's) and :attr:`account`
    (the caller's, one STS call, then cached). Subclasses set ``_session``."""

    _session: Any

    @property
    def region(self) -> str:
        """The session's region; InvalidRequest when none is configured."""
        return region_of(self._session)

    @functools.cached_property
    def account(self) -> str:
        """The caller's account id (one sts:GetCallerIdentity call, then cached)."""
        return account_of(self._session)
