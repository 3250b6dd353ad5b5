"""Sessions in many accounts: the caller's own account as it is, every other one through an IAM
role assumed with STS (``arn:<partition>:iam::<account>:role/<role name>``), once per account, with
credentials that renew themselves when a run outlives them."""

from __future__ import annotations

import getpass
import re
import threading
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ..aws import aws_errors, client, share_model_loader
from ..errors import AwsError, DbscaleError, InvalidRequest

if TYPE_CHECKING:
    import boto3

SessionFactory = Callable[[str], "boto3.Session"]
"""Makes the boto3 session for one region (of one account)."""

DEFAULT_ROLE_NAME = "OrganizationAccountAccessRole"
"""The role AWS Organizations creates in the accounts it creates (administrator access): the default
of ``--role-name`` because it is there; a read-only role of your own is better (docs/fleet.md)."""
ROLE_SECONDS = 3600
"""How long each set of assumed-role credentials lasts (STS's default); they renew before expiry."""
_ROLE_NAME = re.compile(r"^[\w+=,.@/-]{1,64}$")
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
_SESSION_CHARACTERS = re.compile(r"[^\w+=,.@-]")


class RoleNotAssumed(AwsError):
    """STS refused the role in one account (denied, no such role, an external id that does not
    match) or could not be reached: nothing in that account was read."""


def session_name() -> str:
    """``dbscale-<local user>`` (the RoleSessionName: CloudTrail shows who read), at most 64 characters."""
    try:
        user = _SESSION_CHARACTERS.sub("-", getpass.getuser())
    except (OSError, KeyError):
        user = ""
    return ("dbscale-" + user)[:64] if user else "dbscale"


def check_role(role_name: str, external_id: str | None) -> None:
    """Refuse a role name or an external id IAM would refuse, before any AWS call."""
    if not _ROLE_NAME.match(role_name) or role_name.startswith("/") or role_name.endswith("/"):
        raise InvalidRequest(f"role_name must be an IAM role name (or path/name), got {role_name!r}", field="role_name")
    if external_id is not None and not _EXTERNAL_ID.match(external_id):
        raise InvalidRequest("external_id must be 2-1224 letters, digits or +=,.@:/-_ characters", field="external_id")


class _Provided:
    """A botocore credential provider that always answers with one credentials object (shared by the
    sessions of one account, so that it is assumed, and renewed, once for all its regions)."""

    METHOD = "dbscale-assume-role"
    CANONICAL_NAME = "dbscale-assume-role"

    def __init__(self, credentials: Any) -> None:
        self.credentials = credentials

    def load(self) -> Any:
        return self.credentials


class AccountSessions:
    """Session factories per account: ``home`` (region -> session) for the caller's own account, an
    assumed ``role_name`` (with ``external_id`` when given) for every other one. ``prepare(session,
    account)`` is called once on each session made (e.g. to count or log its calls). Thread-safe: each
    account's role is assumed once, whichever worker asks first; a refusal is remembered and raised
    again for each of its regions without asking STS again."""

    def __init__(
        self,
        home: SessionFactory,
        *,
        role_name: str = DEFAULT_ROLE_NAME,
        external_id: str | None = None,
        role_session_name: str | None = None,
        prepare: Callable[[boto3.Session, str], None] | None = None,
        sts_region: str | None = None,
    ) -> None:
        check_role(role_name, external_id)
        self.home = home
        self.role_name = role_name
        self.external_id = external_id
        self.role_session_name = role_session_name or session_name()
        self.prepare = prepare
        self.sts_region = sts_region
        self.lock = threading.Lock()
        self.sts: Any = None
        self.identity: dict[str, str] = {}
        self.credentials: dict[str, Any] = {}
        self.refusals: dict[str, DbscaleError] = {}
        self.account_locks: dict[str, threading.Lock] = {}
        self.sessions: dict[tuple[str, str], boto3.Session] = {}

    def start(self) -> str:
        """Ask STS who the caller is (once); returns the caller's account id. Call before the workers."""
        with self.lock:
            if not self.identity:
                base = self.home(self.sts_region) if self.sts_region else self.home("us-east-1")
                self.sts = client("sts", base)
                with aws_errors("find the caller's account (STS GetCallerIdentity)"):
                    answer = self.sts.get_caller_identity()
                self.identity = {"account": str(answer["Account"]), "arn": str(answer["Arn"])}
            return self.identity["account"]

    @property
    def partition(self) -> str:
        """``aws``, ``aws-cn`` or ``aws-us-gov``: the caller's, from its ARN."""
        return self.identity.get("arn", "arn:aws:").split(":")[1] or "aws"

    def role_arn(self, account: str) -> str:
        """The role assumed in ``account``."""
        return f"arn:{self.partition}:iam::{account}:role/{self.role_name}"

    def session(self, account: str, region: str) -> boto3.Session:
        """The session for ``account`` in ``region`` (made once). Raises :class:`RoleNotAssumed` when
        the account's role cannot be assumed."""
        home = self.start()
        key = (account, region)
        with self.lock:
            made = self.sessions.get(key)
        if made is not None:
            return made
        made = self.home(region) if account == home else self.assumed(account, region)
        if self.prepare is not None:
            self.prepare(made, account)
        with self.lock:
            return self.sessions.setdefault(key, made)

    def factory(self, account: str) -> SessionFactory:
        """Region -> session in ``account`` (what :func:`dbscale.core.advisor.discover` takes)."""
        return lambda region: self.session(account, region)

    def assumed(self, account: str, region: str) -> boto3.Session:
        """A new session in ``region`` with ``account``'s assumed-role credentials."""
        import boto3
        import botocore.session

        credentials = self.role_credentials(account)
        core = share_model_loader(botocore.session.get_session())
        core.get_component("credential_provider").insert_before("env", _Provided(credentials))
        return boto3.Session(botocore_session=core, region_name=region)

    def role_credentials(self, account: str) -> Any:
        """``account``'s refreshable credentials: assumed on first use, renewed by botocore before they
        expire (a run longer than :data:`ROLE_SECONDS` goes on)."""
        with self.lock:
            lock = self.account_locks.setdefault(account, threading.Lock())
        with lock:
            if account in self.refusals:
                raise self.refusals[account]
            if account not in self.credentials:
                from botocore.credentials import RefreshableCredentials

                # Weakly: the credentials live in the sessions made, which dbscale.core.aws caches
                # clients for in a WeakKeyDictionary; a strong reference back to self (which holds
                # those sessions) would keep every session, client and service model alive forever.
                owner = weakref.ref(self)
                sts, request = self.sts, self.assume_request(account)

                def fetch() -> dict[str, str]:
                    sessions = owner()
                    return sessions.assume(account) if sessions is not None else assume_role(sts, request)

                try:
                    self.credentials[account] = RefreshableCredentials.create_from_metadata(
                        metadata=fetch(), refresh_using=fetch, method=_Provided.METHOD
                    )
                except DbscaleError as err:
                    self.refusals[account] = err
                    raise
            return self.credentials[account]

    def assume_request(self, account: str) -> dict[str, Any]:
        """The AssumeRole parameters for ``account``."""
        params: dict[str, Any] = {
            "RoleArn": self.role_arn(account),
            "RoleSessionName": self.role_session_name,
            "DurationSeconds": ROLE_SECONDS,
        }
        if self.external_id is not None:
            params["ExternalId"] = self.external_id
        return params

    def assume(self, account: str) -> dict[str, str]:
        """One STS AssumeRole into ``account``, as botocore's credential metadata."""
        return assume_role(self.sts, self.assume_request(account))


def assume_role(sts: Any, params: dict[str, Any]) -> dict[str, str]:
    """One STS AssumeRole (``params``: its parameters) with the ``sts`` client, as botocore's
    credential metadata; a refusal is :class:`RoleNotAssumed`."""
    arn = params["RoleArn"]
    try:
        with aws_errors(f"assume role {arn}"):
            answer = sts.assume_role(**params)["Credentials"]
    except AwsError as err:
        raise RoleNotAssumed(str(err), code=err.code, operation_name=err.operation_name) from None
    expiry = answer.get("Expiration") or datetime.now(timezone.utc) + timedelta(seconds=ROLE_SECONDS)
    return {
        "access_key": str(answer["AccessKeyId"]),
        "secret_key": str(answer["SecretAccessKey"]),
        "token": str(answer["SessionToken"]),
        "expiry_time": expiry.isoformat() if isinstance(expiry, datetime) else str(expiry),
    }
