"""``status``, ``advise`` and ``check`` across accounts (``--accounts``), in-process on moto with three
accounts x two regions: rows per account and region, totals by account, and a denied account or a
disabled region reported (in the output, the JSON and the exit code) while the rest prints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from dbscale.cli import errors
from tests.cli_runner import dbscale
from tests.fakes.accounts import HOME, AccountFaults, account_session, install_account_faults
from tests.fakes.fleet import create_aurora, create_redshift

A, B = "111111111111", "222222222222"
REGIONS = "us-east-1,eu-west-1"
ACCOUNTS = f"{HOME},{A},{B}"
# (account, region) -> clusters made there: Redshift "wh-<n>", Aurora "app" (the same name in each account).
LAYOUT = {
    (HOME, "us-east-1"): ["wh-1"],
    (HOME, "eu-west-1"): ["app"],
    (A, "us-east-1"): ["wh-2", "wh-3"],
    (A, "eu-west-1"): ["app"],
    (B, "us-east-1"): [],
    (B, "eu-west-1"): ["app", "wh-4"],
}


@pytest.fixture(scope="module")
def fleet() -> Iterator[None]:
    """The clusters of :data:`LAYOUT`, made once for the file: every test here only reads them."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
            env.setenv(name, value)
        env.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        with mock_aws():
            for (account, region), names in LAYOUT.items():
                made = account_session(account, region)
                for name in names:
                    if name.startswith("wh"):
                        create_redshift(made.client("redshift"), name, "ra3.xlplus", 2)
                    else:
                        create_aurora(made.client("rds"), name, "db.r6g.large")
            yield


@pytest.fixture
def accounts(fleet: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AccountFaults:
    """The fleet, with no fault yet (each test adds its own) and this test's own state directory."""
    monkeypatch.setenv("DBSCALE_STATE_DIR", str(tmp_path / "state"))
    return install_account_faults(monkeypatch)


def rows(out: str) -> list[tuple[str, str, str]]:
    return sorted((c["account"], c["region"], c["name"]) for c in json.loads(out)["clusters"])


def test_status_reads_every_account_and_region_into_one_table(accounts, capsys):
    code, out, err = dbscale(capsys, "status", "--accounts", ACCOUNTS, "--regions", REGIONS, "--json")
    assert code == errors.OK, err
    expected = sorted((a, r, n) for (a, r), names in LAYOUT.items() for n in names)
    assert rows(out) == expected
    data = json.loads(out)
    assert data["accounts"] == [HOME, A, B] and data["failures"] == []
    assert [(t["account"], t["region"], t["rows"]) for t in data["targets"]] == [
        (a, r, len(LAYOUT[(a, r)])) for a in (HOME, A, B) for r in ("us-east-1", "eu-west-1")
    ]
    assert {a: t["clusters"] for a, t in data["totals_by_account"].items()} == {HOME: 2, A: 3, B: 2}
    assert accounts.assumed == {A: 1, B: 1}  # once per account, whatever its regions; none for the caller's


def test_a_denied_account_and_a_disabled_region_are_reported_and_the_rest_prints(accounts, capsys):
    accounts.denied.add(A)
    accounts.disabled.add((B, "eu-west-1"))
    code, out, err = dbscale(capsys, "status", "--accounts", ACCOUNTS, "--regions", REGIONS, "--json")
    assert code == errors.PARTIAL, err
    data = json.loads(out)
    assert rows(out) == [(HOME, "eu-west-1", "app"), (HOME, "us-east-1", "wh-1")]
    failures = {(f["account"], f["region"]): (f["kind"], f["code"]) for f in data["failures"]}
    assert failures == {
        (A, "us-east-1"): ("denied", "AccessDenied"),
        (A, "eu-west-1"): ("denied", "AccessDenied"),
        (B, "eu-west-1"): ("region disabled", "UnrecognizedClientException"),
    }
    assert all("AssumeRole" in f["message"] for f in data["failures"] if f["account"] == A)
    assert accounts.assumed[A] == 1  # a refused role is not asked again for each region
    assert set(data["totals_by_account"]) == {HOME, B}  # B was read in us-east-1 (no cluster there)
    code, out, _ = dbscale(capsys, "status", "--accounts", ACCOUNTS, "--region", "us-east-1", "--region", "eu-west-1")
    assert code == errors.PARTIAL
    cells = [[cell.strip() for cell in line.split("│")][1:4] for line in out.splitlines()]
    assert [HOME, "us-east-1", "wh-1"] in cells and [HOME, "eu-west-1", "app"] in cells, out
    assert "totals by account" in out and "failures (3)" in out
    assert f"{A} us-east-1: denied: could not assume role" in out and f"{B} eu-west-1: region disabled:" in out


def test_advise_across_accounts_json_and_html_carry_the_same_rows(accounts, capsys, tmp_path):
    accounts.throttled.add((A, "us-east-1"))
    args = ["advise", "--accounts", ACCOUNTS, "--regions", REGIONS, "--days", "1", "--offline-prices"]
    code, out, err = dbscale(capsys, *args, "--json")
    assert code == errors.PARTIAL, err
    data = json.loads(out)
    found = sorted((c["cluster"]["account"], c["cluster"]["name"]) for c in data["clusters"])
    assert found == sorted([(A, "app"), (B, "app"), (B, "wh-4"), (HOME, "app"), (HOME, "wh-1")])
    assert [(f["account"], f["region"], f["kind"]) for f in data["failures"]] == [(A, "us-east-1", "throttled")]
    assert data["totals_by_account"][B]["clusters"] == 2
    report = tmp_path / "advice.html"
    code, out, _ = dbscale(capsys, *args, "--format", "html", "--out", str(report))
    assert code == errors.PARTIAL
    page = report.read_text()
    assert "<th>account</th>" in page and f"<td>{B}</td>" in page and "id='failures'" in page
    assert "throttled" in page and "totals by account" in out and f"{A} us-east-1: throttled" in out


def test_check_runs_on_the_cluster_of_that_name_in_every_account(accounts, capsys):
    accounts.denied.add(B)
    code, out, err = dbscale(capsys, "check", "app", "--accounts", f"{HOME} {A}, {B}", "--regions", REGIONS, "--json")
    assert code == errors.PARTIAL, err
    data = json.loads(out)
    assert {(r["account"], r["region"]) for r in data["results"]} == {(HOME, "eu-west-1"), (A, "eu-west-1")}
    assert set(data["totals_by_account"]) == {HOME, A}
    assert [f["account"] for f in data["failures"]] == [B, B]
    code, _, err = dbscale(capsys, "check", "nowhere", "--accounts", f"{HOME},{A}", "--regions", REGIONS)
    assert code == errors.NOT_FOUND and "no Redshift or Aurora cluster 'nowhere'" in err


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["status", "--accounts", "12345"], "--accounts"),
        (["status", "--accounts", f"{A},{A}"], "--accounts"),
        (["status", "--accounts", A, "--max-workers", "0"], "--max-workers"),
        (["status", "--accounts", A, "--role-name", "bad role"], "--role-name"),
        (["status", "--role-name", "Reader"], "--role-name"),
        (["advise", "--max-workers", "4"], "--max-workers"),
        (["check", "app", "--regions", REGIONS], "--regions"),
    ],
)
def test_bad_fleet_options_name_the_option_before_any_aws_call(capsys, args, option):
    code, _, err = dbscale(capsys, *args)
    assert code == errors.INVALID and option in err, err


def test_commands_that_change_a_cluster_take_accounts_only_with_yes_to_change(accounts, capsys):
    """Without --yes they print the plans and change nothing (tests/unit/test_fleet_changes.py has the rest)."""
    for args in (["pause", "app"], ["resume", "app"], ["rescale", "redshift", "wh-1", "--nodes", "3"]):
        code, _, err = dbscale(capsys, *args, "--accounts", A, "--regions", REGIONS, "--force")
        assert code in (errors.INVALID, errors.NOT_FOUND) and "No such option" not in err, err
        if code == errors.INVALID:
            assert "nothing was changed: add --yes" in err
