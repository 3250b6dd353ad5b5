"""The command line in-process on moto: the error mapping, exit codes, --debug, --force, operation files."""

from __future__ import annotations

import json

import pytest

from dbscale.cli import errors, main
from tests.fakes.fleet import create_redshift


def dbscale(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stopped:
        main(list(args))
    out, err = capsys.readouterr()
    return int(stopped.value.code or 0), out, err


@pytest.fixture
def clusters(boto_session, monkeypatch, tmp_path):
    monkeypatch.setenv("DBSCALE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DBSCALE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")
    redshift = boto_session.client("redshift")
    create_redshift(redshift, "sales", "ra3.xlplus", 4)
    create_redshift(redshift, "legacy", "dc2.large", 2, managed=False)
    return redshift


def test_bad_input_names_the_option_and_exits_2(clusters, capsys):
    code, _, err = dbscale(capsys, "plan", "redshift", "sales", "--nodes", "0")
    assert code == errors.INVALID
    assert err.strip() == (
        "dbscale: error: new_cluster_size must be a whole number of at least 1, got 0 (check --nodes)"
    )
    code, _, err = dbscale(capsys, "check", "sales", "--window", "ten")
    assert code == errors.INVALID and "(check --window)" in err and "10m" in err
    code, _, err = dbscale(capsys, "plan", "redshift")
    assert code == 2 and "Missing argument 'NAME'" in err


def test_debug_shows_the_traceback(clusters, capsys):
    code, _, err = dbscale(capsys, "plan", "redshift", "nope", "--nodes", "2")
    assert code == errors.NOT_FOUND and "Traceback" not in err and len(err.strip().splitlines()) == 1
    code, _, err = dbscale(capsys, "--debug", "plan", "redshift", "nope", "--nodes", "2")
    assert code == errors.NOT_FOUND and "Traceback (most recent call last)" in err


def test_no_region_is_a_clear_error(clusters, capsys, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION")
    code, _, err = dbscale(capsys, "status")
    assert code == errors.INVALID and "no AWS region: pass --region" in err


def test_force_is_needed_for_a_cluster_dbscale_did_not_create(clusters, capsys):
    code, _, err = dbscale(capsys, "rescale", "redshift", "legacy", "--nodes", "3", "--no-wait")
    assert code == errors.NOT_OWNED and "--force" in err
    assert clusters.describe_clusters(ClusterIdentifier="legacy")["Clusters"][0]["NumberOfNodes"] == 2
    code, out, _ = dbscale(capsys, "rescale", "redshift", "legacy", "--nodes", "3", "--no-wait", "--force")
    assert code == errors.OK
    saved = json.loads(out)
    assert saved["operation"]["steps"][0]["action"] == "resize"
    assert json.loads(open(saved["operation_file"]).read())["operation"]["index"] >= 1


def test_a_damaged_operation_file_is_refused(clusters, capsys, tmp_path):
    broken = tmp_path / "op.json"
    broken.write_text("{}")
    code, _, err = dbscale(capsys, "wait", str(broken))
    assert code == errors.INVALID and "not a dbscale operation file" in err
    code, _, err = dbscale(capsys, "wait", str(tmp_path / "missing.json"))
    assert code == errors.INVALID and "cannot read operation file" in err


def test_exit_codes_cover_the_core_errors():
    from dbscale.core import errors as core

    assert errors.exit_code(core.OperationTimeout("x")) == errors.TIMEOUT
    assert errors.exit_code(core.OperationFailed("x")) == errors.FAILED
    assert errors.exit_code(core.InvalidState("x")) == errors.BUSY
    assert errors.exit_code(core.AwsError("x", code="Throttling")) == errors.AWS
    assert errors.exit_code(core.ClusterAlreadyExists("x")) == errors.CONFLICT
    assert errors.exit_code(ValueError("x")) == errors.UNEXPECTED
