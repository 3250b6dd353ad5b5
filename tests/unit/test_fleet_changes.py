"""``rescale|pause|resume NAME --accounts``: safe by default. In-process on moto with three accounts x
two regions (STS AssumeRole into the other two): every plan printed and no change call without
``--yes``; with it each cluster found changed in its own account, one failure reported while the
others go on (exit 10), the operation files carrying the account that ``dbscale wait`` acts in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from dbscale.cli import errors
from tests.cli_runner import dbscale
from tests.fakes.accounts import HOME, AccountFaults, account_session, install_account_faults
from tests.fakes.fleet import create_redshift

A, B = "111111111111", "222222222222"
ACCOUNTS = f"{HOME},{A},{B}"
REGIONS = "us-east-1,eu-west-1"
TARGETS = [(a, r) for a in (HOME, A, B) for r in ("us-east-1", "eu-west-1")]
# Where the Redshift cluster "wh" is: in each account once, never in HOME's eu-west-1.
HOLDERS = [(HOME, "us-east-1"), (A, "us-east-1"), (B, "eu-west-1")]
CHANGES = re.compile(r"^(Modify|Pause|Resume|Resize|Create|Delete|Start|Stop|Reboot)")


class Calls:
    """Every AWS call made after :func:`record` (account, region, operation), and calls to refuse."""

    def __init__(self, faults: AccountFaults) -> None:
        self.faults = faults
        self.made: list[tuple[str, str, str]] = []
        self.refuse: set[tuple[str, str]] = set()  # (account, operation) answered AccessDenied

    def changes(self) -> list[tuple[str, str, str]]:
        return [c for c in self.made if CHANGES.match(c[2])]


def record(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """The account faults of tests/fakes/accounts.py, and every call they let through recorded."""
    faults = install_account_faults(monkeypatch)
    calls = Calls(faults)
    faulty = BaseClient._make_api_call

    def call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        account = faults.account_of(self)
        if (account, operation) in calls.refuse:
            message = f"not authorized to perform: redshift:{operation}"
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": message}}, operation)
        calls.made.append((account, self.meta.region_name, operation))
        return faulty(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", call)
    return calls


def make_fleet(holders: list[tuple[str, str]], name: str = "wh") -> None:
    for account, region in holders:
        create_redshift(account_session(account, region).client("redshift"), name, "ra3.xlplus", 2)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("DBSCALE_STATE_DIR", str(tmp_path / "state"))
    with mock_aws():
        yield


@pytest.fixture
def calls(aws: None, monkeypatch: pytest.MonkeyPatch) -> Calls:
    make_fleet(HOLDERS)
    return record(monkeypatch)


def status(account: str, region: str) -> str:
    answer = account_session(account, region).client("redshift").describe_clusters(ClusterIdentifier="wh")
    return str(answer["Clusters"][0]["ClusterStatus"])


def planned(out: str) -> list[tuple[str, str]]:
    return [(p["account"], p["region"]) for p in json.loads(out)["plans"]]


def test_without_yes_every_plan_is_printed_and_nothing_changes(calls, capsys):
    code, out, err = dbscale(capsys, "pause", "wh", "--accounts", ACCOUNTS, "--regions", REGIONS)
    assert code == errors.INVALID
    assert "nothing was changed: add --yes to apply this plan to 3 clusters" in err
    for account, region in HOLDERS:
        assert f"{account} {region}:" in out
    assert f"absent (3): {HOME} eu-west-1, {A} eu-west-1, {B} us-east-1" in out
    code, out, _ = dbscale(
        capsys, "rescale", "redshift", "wh", "--nodes", "4", "--accounts", ACCOUNTS, "--regions", REGIONS, "--json"
    )
    assert code == errors.INVALID and planned(out) == HOLDERS
    assert all(p["plan"]["changes"] for p in json.loads(out)["plans"])
    code, out, _ = dbscale(capsys, "resume", "wh", "--accounts", ACCOUNTS, "--regions", REGIONS, "--dry-run")
    assert code == errors.OK and "dry run: nothing was changed" in out
    assert calls.changes() == []
    assert all(status(a, r) == "available" for a, r in HOLDERS)


def test_with_yes_every_cluster_found_is_paused_in_its_own_account(calls, capsys, tmp_path):
    code, out, err = dbscale(capsys, "pause", "wh", "--accounts", ACCOUNTS, "--regions", REGIONS, "--yes", "--json")
    assert code == errors.OK, err
    data = json.loads(out)
    assert planned(out) == HOLDERS and data["applied"] is True
    assert [(c["account"], c["region"], c["failure"]) for c in data["changes"]] == [(a, r, None) for a, r in HOLDERS]
    assert sorted(c for c in calls.changes()) == sorted((a, r, "PauseCluster") for a, r in HOLDERS)
    assert all(status(a, r) == "paused" for a, r in HOLDERS)
    files = [json.loads(Path(c["operation_file"]).read_text()) for c in data["changes"]]
    assert [f["account"] for f in files] == [
        {"id": HOME, "role_name": None, "external_id": None},
        {"id": A, "role_name": "OrganizationAccountAccessRole", "external_id": None},
        {"id": B, "role_name": "OrganizationAccountAccessRole", "external_id": None},
    ]
    code, out, _ = dbscale(capsys, "operations", "--json")
    assert sorted((o["account"], o["region"]) for o in json.loads(out)["operations"]) == sorted(HOLDERS)
    code, out, _ = dbscale(capsys, "operations")
    assert "account" in out and all(account in out for account in (HOME, A, B))
    # B's file is followed in B (HOME has no "wh" in eu-west-1): wait assumes the role the file names.
    before = calls.faults.assumed.get(B, 0)
    code, out, err = dbscale(capsys, "wait", data["changes"][2]["operation_file"], "--poll", "0.1", "--timeout", "1m")
    assert code == errors.OK, err
    assert "done:" in out and calls.faults.assumed[B] == before + 1


def test_rescale_with_yes_resizes_every_cluster_found(calls, capsys):
    args = ["rescale", "redshift", "wh", "--nodes", "4", "--accounts", ACCOUNTS, "--regions", REGIONS, "--yes"]
    code, out, err = dbscale(capsys, *args)
    assert code == errors.OK, err
    assert "changes (3 started, 0 failed)" in out and out.count("): dbscale wait ") == 3
    assert sorted(c for c in calls.changes()) == sorted((a, r, "ResizeCluster") for a, r in HOLDERS)


def test_a_denied_account_is_reported_and_the_others_are_changed(calls, capsys):
    calls.faults.denied.add(A)
    code, out, err = dbscale(capsys, "pause", "wh", "--accounts", ACCOUNTS, "--regions", REGIONS, "--yes")
    assert code == errors.PARTIAL, err
    assert f"{A} us-east-1: denied" in out and "changes (2 started, 0 failed)" in out
    calls.faults.denied.clear()  # to look
    assert status(HOME, "us-east-1") == status(B, "eu-west-1") == "paused"
    assert status(A, "us-east-1") == "available"


def test_a_change_refused_in_one_account_is_reported_and_the_rest_go_on(calls, capsys):
    calls.refuse.add((A, "PauseCluster"))  # the role may read, not pause
    code, out, err = dbscale(capsys, "pause", "wh", "--accounts", ACCOUNTS, "--regions", REGIONS, "--yes", "--json")
    assert code == errors.PARTIAL, err
    changes = {(c["account"], c["region"]): c for c in json.loads(out)["changes"]}
    failure = changes[(A, "us-east-1")]["failure"]
    assert failure["code"] == "OperationFailed" and "PauseCluster: AccessDenied" in failure["message"]
    assert changes[(A, "us-east-1")]["operation_file"] is None  # nothing reached AWS: nothing to follow
    assert status(HOME, "us-east-1") == status(B, "eu-west-1") == "paused"  # B was changed after A failed
    assert status(A, "us-east-1") == "available"


def test_absent_everywhere_is_not_found_and_clusters_dbscale_did_not_create_are_refused(calls, capsys):
    code, _, _ = dbscale(capsys, "pause", "nowhere", "--accounts", ACCOUNTS, "--regions", REGIONS, "--yes")
    assert code == errors.NOT_FOUND
    create_redshift(account_session(B, "us-east-1").client("redshift"), "theirs", "ra3.xlplus", 2, managed=False)
    calls.made.clear()
    code, out, _ = dbscale(capsys, "pause", "theirs", "--accounts", ACCOUNTS, "--regions", REGIONS, "--yes")
    assert code == errors.PARTIAL and "not created by dbscale; pass --force" in out
    assert calls.changes() == []


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["pause", "wh", "--yes"], "--yes"),
        (["resume", "wh", "--regions", "us-east-1"], "--regions"),
        (["rescale", "redshift", "wh", "--nodes", "3", "--external-id", "xyz"], "--external-id"),
        (["pause", "wh", "--accounts", A, "--save", "op.json"], "--save"),
        (["pause", "wh", "--accounts", "12345", "--yes"], "--accounts"),
    ],
)
def test_options_that_need_accounts_or_cannot_go_with_it_are_refused(aws, capsys, args, option):
    code, _, err = dbscale(capsys, *args)
    assert code == errors.INVALID and option in err, err


EXAMPLES = iter(range(1000))


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(holders=st.sets(st.sampled_from(TARGETS), min_size=1))
def test_each_account_holding_the_cluster_appears_once_in_the_plans(aws, monkeypatch, capsys, holders):
    name = f"wh-{next(EXAMPLES)}"  # moto keeps the clusters of earlier examples: a new name each
    make_fleet(sorted(holders), name)
    with monkeypatch.context() as patched:
        calls = record(patched)
        code, out, _ = dbscale(capsys, "pause", name, "--accounts", ACCOUNTS, "--regions", REGIONS, "--json")
    assert code == errors.INVALID
    assert planned(out) == [t for t in TARGETS if t in holders]  # each once, in target order
    assert len(json.loads(out)["absent"]) == len(TARGETS) - len(holders)
    assert calls.changes() == []
