"""The installed ``dbscale`` script against a plain moto_server, as a new user tries it (issue 24): a call
moto does not implement (DescribeResize answers an HTML 500 page) is named, never shown as HTML, and
leaves no operation file; ``check`` says what it waits for and gives up on Data API statements that
never finish within ``--query-timeout``."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from dbscale.cli import errors
from tests.e2e.test_cli import REPO, dbscale_command
from tests.fakes.fleet import create_redshift
from tests.fakes.server import moto_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """moto_server with 'sales' (2 x ra3.xlplus, made by dbscale), nothing else."""
    with moto_server() as endpoint:
        tmp = tmp_path_factory.mktemp("moto-cli")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DBSCALE_"))}
        env.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
            DBSCALE_STATE_DIR=str(tmp / "state"),
            DBSCALE_CACHE_DIR=str(tmp / "cache"),
            PYTHONPATH=str(REPO),
        )
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        create_redshift(session.client("redshift", endpoint_url=endpoint), "sales", "ra3.xlplus", 2)
        yield {"env": env, "tmp": tmp}


def run(server: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*dbscale_command(), *args], cwd=REPO, env=server["env"], capture_output=True, text=True, timeout=120
    )


def test_an_unimplemented_call_is_named_and_leaves_no_operation_file(server):
    done = run(server, "rescale", "redshift", "sales", "--nodes", "4", "--poll", "0.2")
    assert done.returncode == errors.FAILED, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("dbscale: error: ") and last.endswith(
        "DescribeResize: HTTP 500 from the endpoint (not implemented by this endpoint?)"
    )
    assert "<" not in done.stdout + done.stderr
    assert not list((server["tmp"] / "state").rglob("*.json"))
    listed = run(server, "operations", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout)["operations"] == []
    status = run(server, "status", "--json")
    assert [c["dbscale_operation"] for c in json.loads(status.stdout)["clusters"]] == [None]


def test_check_says_what_it_waits_for_and_which_statement_did_not_finish(server):
    started = time.monotonic()
    done = run(server, "check", "sales", "--query-timeout", "2s", "--json")
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert "waiting for 3 Redshift Data API statements on 'sales'" in done.stderr  # moto never finishes them
    assert "the slow-query share (SYS_QUERY_HISTORY)" in done.stderr
    results = {(r["check"], r.get("utilization_type")): r for r in json.loads(done.stdout)}
    slow = next(r for (kind, _), r in results.items() if kind == "redshift_slow_percentage")
    assert slow["verdict"] is None
    assert (
        "statement for the slow-query share (SYS_QUERY_HISTORY) on cluster 'sales' did not finish within 2 s"
        in (slow["reason"])
    )
    assert took < 2 + 20  # bounded by --query-timeout, plus start-up
