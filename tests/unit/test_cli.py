"""The command line in-process on moto: the error mapping, exit codes, --debug, --force, operation files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dbscale.cli import errors
from tests.cli_runner import dbscale
from tests.fakes.fleet import create_redshift


@pytest.fixture
def clusters(boto_session, monkeypatch, tmp_path):
    monkeypatch.setenv("DBSCALE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DBSCALE_CACHE_DIR", str(tmp_path / "cache"))
    redshift = boto_session.client("redshift")
    create_redshift(redshift, "sales", "ra3.xlplus", 4)
    create_redshift(redshift, "legacy", "dc2.large", 2, managed=False)
    return redshift


def test_bad_input_names_the_option_and_exits_2(clusters, capsys):
    code, _, err = dbscale(capsys, "plan", "redshift", "sales", "--nodes", "0")
    assert code == errors.INVALID
    assert err.strip() == "dbscale: error: --nodes must be a whole number of at least 1, got 0"
    code, _, err = dbscale(capsys, "check", "sales", "--window", "ten")
    assert code == errors.INVALID and err.startswith("dbscale: error: --window must be a duration") and "10m" in err
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
    assert json.loads(Path(saved["operation_file"]).read_text())["operation"]["index"] >= 1


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


def test_check_reports_every_check_with_numbers(clusters, capsys, boto_session, fake_clock, monkeypatch):
    from datetime import datetime, timezone

    from tests.fakes.cloudwatch import minutes_before, put_constant

    end = datetime.fromtimestamp(__import__("time").time() // 60 * 60, tz=timezone.utc)
    cw = boto_session.client("cloudwatch")
    stamps = minutes_before(end, 30)
    put_constant(cw, "AWS/Redshift", "CPUUtilization", {"ClusterIdentifier": "sales"}, stamps, 91.0)
    put_constant(cw, "AWS/Redshift", "PercentageDiskSpaceUsed", {"ClusterIdentifier": "sales"}, stamps, 12.0)
    from tests.fakes import redshift_data

    with redshift_data.install():
        code, out, _ = dbscale(capsys, "check", "sales", "--window", "30m", "--json")
    assert code == errors.OK
    results = json.loads(out)
    assert len(results) == 7  # cpu, memory, disk over and under, and the slow-query share
    cpu_over, cpu_under = results[0], results[1]
    assert (cpu_over["value"], cpu_over["verdict"], cpu_over["threshold"]) == (91.0, True, 80.0)
    assert cpu_under["verdict"] is False
    disk_under = results[5]
    assert (disk_under["value"], disk_under["verdict"]) == (12.0, True)


def test_clone_dry_run_and_the_pool(fake, rds, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DBSCALE_STATE_DIR", str(tmp_path))
    fake.make_source(rds, "prod")
    code, out, _ = dbscale(
        capsys, "clone", "prod", "dev-1", "--instance-class", "db.r6g.large", "--dry-run", "--json"
    )
    assert code == errors.OK
    plan = json.loads(out)
    assert (plan["action"], plan["source_clones"], plan["dry_run"]) == ("clone-source", 0, True)
    code, out, _ = dbscale(capsys, "pool", "status", "prod", "--min-spare", "20", "--json")
    status = json.loads(out)
    assert (status["source_free_slots"], status["short_of"]) == (15, 5)
    code, out, _ = dbscale(
        capsys, "pool", "maintain", "prod", "--min-spare", "20", "--max-copy-age", "24h", "--dry-run", "--json"
    )
    assert code == errors.OK
    assert [d["action"] for d in json.loads(out)["decisions"]] == ["create-copy"]
    assert "dev-1" not in {c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]}


def test_status_shows_operations_dbscale_left_running(clusters, capsys, tmp_path, monkeypatch):
    from dbscale.core.operation import Operation

    folder = tmp_path / "state" / "operations"
    folder.mkdir(parents=True)
    running = Operation("redshift", "sales", [{"action": "pause"}, {"action": "wait_paused"}], description="pause")
    running.index = 1
    done = Operation("redshift", "legacy", [{"action": "pause"}], description="done", index=1)
    for name, op in (("a.json", running), ("b.json", done)):
        (folder / name).write_text(
            json.dumps({"format": "dbscale-operation/1", "region": "us-east-1", "operation": op.to_dict()})
        )
    (folder / "junk.json").write_text("not json")
    code, out, _ = dbscale(capsys, "status", "--json")
    assert code == errors.OK
    found = {c["name"]: c["dbscale_operation"] for c in json.loads(out)["clusters"]}
    assert found["legacy"] is None
    assert found["sales"] == {
        "operation_file": str(folder / "a.json"),
        "description": "pause",
        "step": "2/2 wait_paused",
    }
    from dbscale.cli.output import console

    monkeypatch.setattr(console, "_width", 250)  # the console was sized when first imported
    code, out, _ = dbscale(capsys, "status")
    assert "2/2 wait_paused: dbscale wait" in out


def test_version_prints_the_installed_version_and_exits_0(capsys):
    from importlib.metadata import version

    code, out, err = dbscale(capsys, "--version")
    assert (code, out.strip(), err) == (0, f"dbscale {version('dbscale')}", "")
