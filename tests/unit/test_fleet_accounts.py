"""``--accounts`` parsing (ids, files with comments, ``org``) and the sessions it leads to: a role
assumed once per account, renewed before it expires, the caller's own account read directly."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

from dbscale.core.errors import InvalidRequest
from dbscale.core.fleet import AccountSessions, organization_accounts, parse_accounts, resolve_accounts
from dbscale.core.fleet.sessions import session_name
from tests.fakes.accounts import HOME

A, B, C = "111111111111", "222222222222", "333333333333"


def ids(*values: str) -> tuple[str, ...]:
    return parse_accounts(values).ids


def test_ids_comma_or_space_separated_repeated_values_in_order():
    assert ids(f"{B},{A}  {C}") == (B, A, C)
    assert ids(A, f" {C} ,", B) == (A, C, B)


def test_a_file_one_or_more_ids_a_line_with_comments(tmp_path: Path):
    listed = tmp_path / "accounts.txt"
    listed.write_text(f"# production\n{A}  # payments\n\n{B}, {C}\n   # retired: 444444444444\n")
    assert ids(f"@{listed}") == (A, B, C)
    assert ids(str(listed)) == (A, B, C)  # a path without @ is read too
    assert ids("999999999999", f"@{listed}") == ("999999999999", A, B, C)


@pytest.mark.parametrize(
    ("values", "says"),
    [
        (["12345"], "12-digit AWS account ids, got '12345'"),
        (["1111111111111"], "got '1111111111111'"),
        (["abcdefghijkl"], "got 'abcdefghijkl'"),
        ([f"{A};{B}"], f"got '{A};{B}'"),
        ([""], "got an empty value"),
        ([" , "], "needs account ids"),
        ([A, f"{B},{A}"], f"names {A} twice (in the command line and the command line)"),
        (["org", A], "give it alone"),
        (["@/nonexistent/accounts.txt"], "cannot be read"),
        (["accounts.txt"], "got 'accounts.txt'"),  # not a file: never guessed
    ],
)
def test_bad_values_are_refused_naming_accounts(values, says):
    with pytest.raises(InvalidRequest) as refused:
        parse_accounts(values)
    assert refused.value.field == "accounts" and says in str(refused.value)


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing yet\n  # still nothing\n"])
def test_an_empty_file_is_refused(tmp_path: Path, text: str):
    listed = tmp_path / "accounts.txt"
    listed.write_text(text)
    with pytest.raises(InvalidRequest, match="lists no account id"):
        parse_accounts([f"@{listed}"])


def test_an_id_twice_names_both_places(tmp_path: Path):
    listed = tmp_path / "accounts.txt"
    listed.write_text(f"{A}\n{B}\n")
    with pytest.raises(InvalidRequest, match=rf"names {B} twice \(in the command line and {listed}:2\)"):
        parse_accounts([B, f"@{listed}"])


def test_org_lists_the_organizations_active_accounts(boto_session: boto3.Session):
    assert parse_accounts(["ORG"]).organization
    organizations = boto_session.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    made = [
        organizations.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]["AccountId"]
        for name in ("dev", "prod", "old")
    ]
    organizations.close_account(AccountId=made[2])
    listed = organization_accounts(boto_session)
    assert listed == tuple(sorted([HOME, made[0], made[1]]))
    assert resolve_accounts(parse_accounts(["org"]), boto_session) == listed
    assert resolve_accounts(parse_accounts([A]), boto_session) == (A,)


def test_roles_are_assumed_once_per_account_and_renewed_before_they_expire(boto_session, monkeypatch):
    sessions = AccountSessions(lambda region: boto3.Session(region_name=region), role_name="Reader")
    assert sessions.start() == HOME
    own = sessions.session(HOME, "eu-west-1").get_credentials().access_key
    assert own == os.environ["AWS_ACCESS_KEY_ID"]  # the caller's own credentials, no role
    asked: list[str] = []
    real = sessions.assume

    def short(account: str) -> dict[str, str]:
        asked.append(account)
        answer = real(account)
        if len(asked) == 1:  # the first credentials are about to expire; the renewed ones last an hour
            answer["expiry_time"] = (datetime.now(timezone.utc) + timedelta(seconds=60)).isoformat()
        return answer

    monkeypatch.setattr(sessions, "assume", short)
    for region in ("us-east-1", "eu-west-1"):
        made = sessions.session(A, region)
        assert made.client("sts").get_caller_identity()["Account"] == A
    assert sessions.session(A, "eu-west-1") is made  # one session per account and region
    assert asked == [A, A]  # assumed once for both regions, renewed once (at the first use near expiry)
    assert sessions.role_arn(A) == f"arn:aws:iam::{A}:role/Reader"
    assert session_name().startswith("dbscale") and len(session_name()) <= 64
    started = time.monotonic()
    sessions.session(B, "us-east-1").get_credentials().get_frozen_credentials()
    assert asked[-1] == B and time.monotonic() - started < 5


def test_sessions_and_their_clients_are_freed_with_the_account_sessions(boto_session):
    # dbscale.core.aws caches clients per session weakly: the role's credentials (held by the
    # session) must not hold the AccountSessions (which holds the session), or nothing is ever freed.
    import gc
    import weakref

    from dbscale.core.aws import client

    sessions = AccountSessions(lambda region: boto3.Session(region_name=region), role_name="Reader")
    made = sessions.session(A, "us-east-1")
    assert client("sts", made).get_caller_identity()["Account"] == A
    gone = weakref.ref(made), weakref.ref(sessions)
    del made, sessions
    gc.collect()
    assert [ref() for ref in gone] == [None, None]
