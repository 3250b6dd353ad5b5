"""The ``dbscale`` command line end to end: moto_server on 127.0.0.1, clusters and metric series made with
boto3, the installed console script run with AWS_ENDPOINT_URL; JSON, exit codes, the live progress
display in a pseudo-terminal, and the HTML report in headless Chromium."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from dbscale.cli import errors
from dbscale.core.operation import Operation
from tests.fakes.fleet import (
    create_aurora,
    create_redshift,
    hours_before,
    now_utc,
    office_hours,
    put_aurora_load,
    put_redshift_load,
)
from tests.fakes.server import moto_server
from tests.needs import missing

REPO = Path(__file__).resolve().parents[2]
GIB = 1024**3
DAYS = 3  # moto_server answers GetMetricData in time quadratic in the datapoints: keep them few


def dbscale_command() -> list[str]:
    """The installed console script when it runs this checkout's code, else ``python -m dbscale.cli``."""
    script = Path(sys.executable).parent / "dbscale"
    if script.exists():
        origin = subprocess.run(
            [sys.executable, "-c", "import dbscale.cli, sys; sys.stdout.write(dbscale.cli.__file__)"],
            cwd="/",
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        if origin and Path(origin).resolve().is_relative_to(REPO):
            return [str(script)]
    return [sys.executable, "-m", "dbscale.cli"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """moto_server with a small fleet: 'sales' (4 x ra3.xlplus, office hours), 'legacy' (not made by
    dbscale) and 'wiki' (Aurora, quiet), each with 7 days of hourly metrics."""
    with moto_server() as endpoint:
        tmp = tmp_path_factory.mktemp("cli")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
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
            COLUMNS="200",
            PYTHONPATH=str(REPO),
        )
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        rs, rds, cw = (session.client(s, endpoint_url=endpoint) for s in ("redshift", "rds", "cloudwatch"))
        create_redshift(rs, "sales", "ra3.xlplus", 4)
        create_redshift(rs, "legacy", "dc2.large", 2, managed=False)
        wiki = create_aurora(rds, "wiki", "db.r6g.large")
        stamps = hours_before(now_utc(), DAYS * 24)
        put_redshift_load(cw, "sales", stamps, office_hours(20.0))
        put_aurora_load(cw, "wiki", wiki[0], stamps, office_hours(10.0, 3), 12 * GIB)
        yield {"env": env, "tmp": tmp, "redshift": rs}


def run(server: dict[str, Any], *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*dbscale_command(), *args],
        cwd=REPO,
        env=env or server["env"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_status_lists_the_fleet_as_json(server):
    done = run(server, "status", "--json")
    assert done.returncode == 0, done.stderr
    clusters = {c["name"]: c for c in json.loads(done.stdout)["clusters"]}
    assert set(clusters) == {"sales", "legacy", "wiki"}
    assert (clusters["sales"]["managed"], clusters["sales"]["stack"]) == (True, "demo-stack")
    assert clusters["legacy"]["managed"] is False
    assert clusters["sales"]["hourly_usd"] == pytest.approx(4 * 1.086)
    assert clusters["wiki"]["shape"] == "db.r6g.large"
    assert "snapshot 2026-11-25" in json.loads(done.stdout)["prices"]


def test_status_shows_a_custom_resources_running_operation_with_its_console_link(server):
    from dbscale.cfn import workflow

    stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/demo-stack/7a1c6a40-8f3e-11ef-9a46-0a8f2b3c4d5e"
    sfn = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1").client(
        "stepfunctions", endpoint_url=server["redshift"].meta.endpoint_url
    )
    machine = sfn.create_state_machine(
        name=workflow.state_machine_name("demo-provider"),
        definition=json.dumps(workflow.definition("arn:aws:lambda:us-east-1:123456789012:function:demo-provider")),
        roleArn="arn:aws:iam::123456789012:role/states",
    )["stateMachineArn"]
    fields = {
        "RequestType": "Update",
        "ResponseURL": "https://cfn-response.example/x?X-Amz-Signature=do-not-show",
        "StackId": stack_id,
        "RequestId": "r-1",
        "LogicalResourceId": "Wiki",
        "ResourceType": "Custom::AuroraCluster",
    }
    document = workflow.operation_document(fields, "wiki", {}, {"started": time.time() - 90, "physical_id": "wiki"})
    execution = sfn.start_execution(
        stateMachineArn=machine, name=workflow.execution_name(stack_id, "Wiki", "r-1"), input=json.dumps(document)
    )["executionArn"]
    try:
        done = run(server, "status")
        assert done.returncode == 0, done.stderr
        assert (
            "  wiki: Update Wiki (stack demo-stack), started 1m ago: https://us-east-1.console.aws.amazon.com/"
            f"states/home?region=us-east-1#/v2/executions/details/{execution}\n"
        ) in done.stdout
        assert "do-not-show" not in done.stdout
    finally:
        sfn.stop_execution(executionArn=execution)


def test_plan_says_duration_and_window_without_changing_anything(server):
    done = run(server, "plan", "redshift", "sales", "--nodes", "2", "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert (plan["method"], plan["duration_minutes"], plan["read_only_minutes"]) == ("elastic", [10, 15], [10, 15])
    assert server["redshift"].describe_clusters(ClusterIdentifier="sales")["Clusters"][0]["NumberOfNodes"] == 4


def test_errors_are_one_line_with_documented_exit_codes(server):
    missing = run(server, "plan", "redshift", "nope", "--nodes", "2")
    assert missing.returncode == errors.NOT_FOUND
    assert missing.stderr.strip() == "dbscale: error: no Redshift cluster 'nope' in us-east-1"
    refused = run(server, "pause", "legacy", "--no-wait")
    assert refused.returncode == errors.NOT_OWNED
    assert refused.stderr.strip().endswith("was not created by dbscale; pass --force to change it anyway")


def test_no_wait_prints_the_operation_and_wait_finishes_it(server):
    started = run(server, "pause", "sales", "--no-wait")
    assert started.returncode == 0, started.stderr
    printed = json.loads(started.stdout)
    assert printed["operation"]["steps"][0] == {"action": "pause"}
    waited = run(server, "wait", printed["operation_file"], "--poll", "0.2")
    assert waited.returncode == 0, waited.stderr
    assert "done: pause for Redshift cluster 'sales'" in waited.stdout
    resumed = run(server, "resume", "sales", "--poll", "0.2")
    assert resumed.returncode == 0, resumed.stderr


def test_global_options_dry_run_and_completion_through_the_installed_script(server):
    env = {**server["env"], "AWS_DEFAULT_REGION": "eu-west-1"}
    done = run(
        server,
        "--region",
        "us-east-1",
        "--output",
        "json",
        "rescale",
        "redshift",
        "sales",
        "--nodes",
        "2",
        "--dry-run",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["dry_run"] is True
    assert server["redshift"].describe_clusters(ClusterIdentifier="sales")["Clusters"][0]["NumberOfNodes"] == 4
    missing = run(server, "pause", "sales", "--dry-run", env=env)  # eu-west-1: the environment's region
    assert missing.returncode == errors.NOT_FOUND and "eu-west-1" in missing.stderr
    script = run(server, "completion", "bash")
    assert script.returncode == 0 and "_DBSCALE_COMPLETE=complete_bash" in script.stdout
    completed = run(
        server,
        env={**server["env"], "_DBSCALE_COMPLETE": "complete_bash", "COMP_WORDS": "dbscale pa", "COMP_CWORD": "1"},
    )
    assert completed.stdout.split() == ["pause"]


@pytest.mark.parametrize("columns", ["24", "60"])
def test_output_outside_a_terminal_is_never_wrapped(server, columns):
    narrow = {**server["env"], "COLUMNS": columns}
    done = run(server, "plan", "redshift", "sales", "--nodes", "2", env=narrow)
    assert done.returncode == 0, done.stderr
    assert "│ elastic resize to 2 x ra3.xlplus (4 -> 2 nodes is within elastic bounds) │" in done.stdout
    status = run(server, "status", env=narrow)
    rows = [line for line in status.stdout.splitlines() if "│ sales" in line or "│ us-east-1" in line]
    assert any("│ sales " in row and "ra3.xlplus" in row and "$4.34" in row for row in rows), status.stdout
    shown = run(server, "--help", env=narrow)
    assert "docs/" not in shown.stdout and "dbscale COMMAND --help" in shown.stdout


def test_ctrl_c_in_a_read_command_says_nothing_was_changed(server):
    # moto_server never finishes a Data API statement: check waits on them; --debug shows when.
    proc = subprocess.Popen(
        [*dbscale_command(), "--debug", "check", "sales", "--query-timeout", "60s"],
        cwd=REPO,
        env=server["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        seen = ""
        deadline = time.monotonic() + 60
        while "DescribeStatement" not in seen and time.monotonic() < deadline:
            seen += proc.stderr.readline()
        assert "DescribeStatement" in seen, seen
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == errors.INTERRUPTED
    assert err.splitlines()[-1] == "interrupted: nothing was changed" and out == ""


def test_advise_json_and_html(server):
    done = run(server, "advise", "--days", str(DAYS), "--format", "json")
    assert done.returncode == 0, done.stderr
    fleet = json.loads(done.stdout)
    alias = run(server, "advise", "--days", str(DAYS), "--json")  # the alias every read command takes
    assert alias.returncode == 0, alias.stderr
    assert {c["cluster"]["name"] for c in json.loads(alias.stdout)["clusters"]} == {
        c["cluster"]["name"] for c in fleet["clusters"]
    }
    both = run(server, "advise", "--json", "--format", "html")
    assert both.returncode != 0 and "--json and --format html" in both.stderr
    assert fleet["cloudwatch_get_metric_data_calls"] == 1
    assert "snapshot 2026-11-25" in fleet["prices"]["summary"]
    by_name = {c["cluster"]["name"]: c for c in fleet["clusters"]}
    kinds = {r["kind"] for r in by_name["sales"]["recommendations"]}
    assert {"pause-schedule", "right-size", "redshift-serverless"} <= kinds
    assert by_name["wiki"]["usage"]["idle_hours_of_week"]


@pytest.fixture(scope="module")
def report(server: dict[str, Any]) -> Path:
    out = server["tmp"] / "report.html"
    done = run(server, "advise", "--days", str(DAYS), "--format", "html", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stdout.replace("\n", "")
    return out


def _read_until(fd: int, needles: tuple[str, ...], seconds: float) -> str:
    seen = ""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not all(n in seen for n in needles):
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536).decode(errors="replace")
            except OSError:
                break
    return seen


def test_progress_display_in_a_terminal_and_ctrl_c_leaves_the_operation_running(server):
    # An operation that cannot finish by itself: wait for 'sales' (available) to be paused.
    op = Operation("redshift", "sales", [{"action": "wait_paused"}], description="watch sales")
    path = server["tmp"] / "state" / "watch.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": "dbscale-operation/1", "region": "us-east-1", "operation": op.to_dict()}))
    master, slave = pty.openpty()
    fcntl_size = struct.pack("HHHH", 40, 160, 0, 0)
    import fcntl

    fcntl.ioctl(slave, termios.TIOCSWINSZ, fcntl_size)
    env = {**server["env"], "TERM": "xterm-256color"}
    env.pop("COLUMNS", None)
    proc = subprocess.Popen(
        [*dbscale_command(), "wait", str(path), "--poll", "0.3"],
        cwd=REPO,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    try:
        shown = _read_until(master, ("1/1 wait_paused", "elapsed 1 s watching"), 30)
        assert "watch sales" in shown
        assert "cluster is 'available', waiting for 'paused'" in shown
        assert "1/1 wait_paused" in shown and "elapsed 1 s watching" in shown
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's foreground group
        rest = _read_until(master, ("dbscale wait",), 20)
        assert proc.wait(timeout=20) == errors.INTERRUPTED
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    # One line, even in a terminal 160 columns wide: the terminal folds it, the text holds the command whole.
    assert "still running in AWS" in rest and f"Resume watching it with: dbscale wait {path}\r\n" in rest
    assert json.loads(path.read_text())["operation"]["steps"] == [{"action": "wait_paused"}]


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no network: the page must be self-contained
    "--window-size=1280,1600",
    "--virtual-time-budget=5000",
]


def chromium(page: Path, workdir: Path) -> tuple[str, list[str], Path]:
    """Load ``page`` in headless Chromium: the DOM after scripts ran, the console messages, a screenshot."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        missing("Chromium", "apt-get install chromium")
    shot = workdir / f"{page.stem}.png"
    done = subprocess.run(
        [
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={workdir / ('profile-' + page.stem)}",
            f"--screenshot={shot}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console, shot


def test_html_report_renders_in_headless_chromium_without_console_errors(server, report):
    assert report.stat().st_size > 1_000_000  # plotly.js is inline
    # The capture itself works: a page that logs an error is caught.
    control = server["tmp"] / "control.html"
    control.write_text("<html><body><script>console.error('control-error')</script></body></html>")
    _, messages, _ = chromium(control, server["tmp"])
    assert any("control-error" in m for m in messages)

    dom, messages, shot = chromium(report, server["tmp"])
    assert messages == []
    assert 'data-rendered="yes"' in dom
    assert dom.count('class="main-svg"') >= 2 * 3  # a heatmap and a bar chart per cluster, drawn
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
