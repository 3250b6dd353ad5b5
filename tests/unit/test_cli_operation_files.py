"""Operation files through the command line (in-process, on moto): none is kept for an operation that
failed before any change could reach AWS; ``dbscale operations`` lists them and ``dbscale operations
discard`` removes one, changing nothing in AWS.

Faults are answers made where botocore sends a request, in every session the CLI makes (botocore's
built-in handlers), so botocore parses them exactly as a real endpoint's."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.endpoint
import botocore.handlers
import pytest
from botocore.awsrequest import AWSResponse

from dbscale.cli import errors, main, progress
from dbscale.core import aws
from dbscale.core.operation import Operation
from tests.fakes import FakeClock
from tests.fakes.faults import FAULT_URL, BackoffOnClock, error_response
from tests.fakes.fleet import create_redshift
from tests.fakes.sessions import fresh_session

MOTO_500 = (
    b"<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n"
)


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


class Faults:
    """``fail("DescribeResize", after=1)``: every call of that operation after the first ``after`` gets
    an HTML 500 page (or ``code``: an AWS error with ``status``), before it reaches moto. With
    ``in_poll``, only the calls an operation's poll makes count (not the command's own look-ups)."""

    def __init__(self) -> None:
        self.rules: dict[str, tuple[int, str | None, int, bool]] = {}
        self.seen: dict[str, int] = {}

    def fail(
        self, operation: str, *, status: int = 500, code: str | None = None, after: int = 0, in_poll: bool = False
    ) -> None:
        self.rules[operation] = (status, code, after, in_poll)

    def __call__(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        rule = self.rules.get(operation)
        if rule is None:
            return None
        status, code, after, in_poll = rule
        if in_poll and aws._CHANGE_RECORD.get() is None:  # Operation.poll records the changes it sends
            return None
        self.seen[operation] = self.seen.get(operation, 0) + 1
        if self.seen[operation] <= after:
            return None
        if code is not None:
            return error_response(request, code, f"simulated {code}", status=status)
        request.url = FAULT_URL
        return AWSResponse(FAULT_URL, status, {"Content-Type": "text/html"}, _Body(MOTO_500))


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Faults:
    """Faults in every boto3 session made from now on (the CLI makes its own)."""
    made = Faults()
    handlers = [("before-send", made, botocore.handlers.REGISTER_FIRST), *botocore.handlers.BUILTIN_HANDLERS]
    monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS", handlers)
    monkeypatch.setattr(botocore.endpoint, "time", BackoffOnClock(FakeClock()))
    return made


@pytest.fixture
def state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("DBSCALE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DBSCALE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "state" / "operations"


@pytest.fixture
def sales(aws: None, state: Path) -> Any:
    """moto with 'sales', 2 x ra3.xlplus, made by dbscale."""
    redshift = fresh_session("us-east-1").client("redshift")
    create_redshift(redshift, "sales", "ra3.xlplus", 2)
    return redshift


def dbscale(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stopped:
        main(list(args))
    out, err = capsys.readouterr()
    return int(stopped.value.code or 0), out, err


def files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json")) if folder.exists() else []


# (the fault, whether a change may have reached AWS before the operation failed)
FIRST_POLL_FAULTS = [
    pytest.param({"operation": "DescribeResize"}, False, id="first-read-html-500"),
    pytest.param({"operation": "DescribeClusters", "in_poll": True}, False, id="step-read-html-500"),
    pytest.param(
        {"operation": "ResizeCluster", "code": "UnsupportedOperation", "status": 400}, False, id="change-refused"
    ),
    pytest.param({"operation": "ResizeCluster"}, True, id="change-answered-html-500"),
    pytest.param({"operation": "DescribeResize", "after": 1}, True, id="read-after-accepted-change"),
]


@pytest.mark.parametrize("no_wait", [False, True], ids=["follow", "no-wait"])
@pytest.mark.parametrize(("fault", "may_have_changed"), FIRST_POLL_FAULTS)
def test_a_file_is_kept_only_once_a_change_may_have_reached_aws(
    sales, state, faults, capsys, fault, may_have_changed, no_wait
):
    faults.fail(**fault)
    args = ["rescale", "redshift", "sales", "--nodes", "4", "--poll", "0.1"] + (["--no-wait"] if no_wait else [])
    code, _, err = dbscale(capsys, *args)
    assert code == errors.FAILED, err
    failed_call = fault["operation"]
    assert f": {failed_call}: " in err and "<" not in err
    kept = files(state)
    assert len(kept) == (1 if may_have_changed else 0), [p.name for p in kept]
    nodes = sales.describe_clusters(ClusterIdentifier="sales")["Clusters"][0]["NumberOfNodes"]
    assert (nodes == 4) is (fault == {"operation": "DescribeResize", "after": 1})
    code, out, _ = dbscale(capsys, "status", "--json")
    assert code == 0
    assert [c["dbscale_operation"] for c in json.loads(out)["clusters"]] == [None]  # nothing shown in flight
    code, out, _ = dbscale(capsys, "operations", "--json")
    listed = json.loads(out)["operations"]
    assert [(o["cluster"], o["state"]) for o in listed] == ([("sales", "failed")] if may_have_changed else [])


def test_the_failed_call_is_named_and_no_html_is_shown(sales, state, faults, capsys):
    faults.fail("DescribeResize")
    code, out, err = dbscale(capsys, "rescale", "redshift", "sales", "--nodes", "4", "--poll", "0.1")
    assert code == errors.FAILED
    assert err.strip().endswith(
        "could not describe the resize of Redshift cluster 'sales': "
        "DescribeResize: HTTP 500 from the endpoint (not implemented by this endpoint?)"
    )
    assert "<" not in out + err
    assert files(state) == []


def test_an_operation_that_succeeds_keeps_its_file(sales, state, faults, capsys):
    code, _, err = dbscale(capsys, "pause", "sales", "--no-wait")
    assert code == 0, err
    assert len(files(state)) == 1


# --- dbscale operations ----------------------------------------------------------------------------


def saved(
    folder: Path,
    name: str,
    cluster: str,
    *,
    service: str = "redshift",
    index: int = 0,
    failure: str | None = None,
    age: float = 0.0,
    region: str = "us-east-1",
) -> Path:
    op = Operation(
        service,
        cluster,
        [{"action": "resize", "number_of_nodes": 4}, {"action": "wait_resized"}],
        description=f"resize {cluster}",
        index=index,
        started_at=time.time() - age,
        failure=failure,
    )
    path = folder / name
    progress.save(op, region, path)
    return path


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, state: Path) -> list[str]:
    """The AWS calls made (there must be none): each one fails."""
    calls: list[str] = []

    def refuse(event_name: str = "", **_: Any) -> None:
        calls.append(event_name)
        raise RuntimeError(f"unexpected AWS call {event_name}")

    handlers = [("before-send", refuse, botocore.handlers.REGISTER_FIRST), *botocore.handlers.BUILTIN_HANDLERS]
    monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS", handlers)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return calls


def test_operations_lists_cluster_engine_step_state_age_and_path(state, no_aws, capsys):
    running = saved(state, "a.json", "sales", index=1, age=3700)
    failed = saved(state, "b.json", "wiki", service="aurora", failure="resize wiki failed", age=30)
    done = saved(state, "c.json", "copy", service="clones", index=2, age=90000)
    (state / "notes.json").write_text("{}")  # not an operation file: skipped
    code, out, err = dbscale(capsys, "operations", "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert listed["folder"] == str(state)
    rows = [(o["path"], o["cluster"], o["engine"], o["step"], o["state"]) for o in listed["operations"]]
    assert rows == [  # oldest first
        (str(done), "copy", "aurora (clone)", "2/2 done", "done"),
        (str(running), "sales", "redshift", "2/2 wait_resized", "in flight"),
        (str(failed), "wiki", "aurora", "1/2 resize", "failed"),
    ]
    ages = [o["age_seconds"] for o in listed["operations"]]
    assert 90000 <= ages[0] < 90010 and 3700 <= ages[1] < 3710 and 30 <= ages[2] < 40
    code, out, _ = dbscale(capsys, "operations")
    assert code == 0
    row = next(line for line in out.splitlines() if "sales" in line)
    for cell in ("redshift", "us-east-1", "2/2 wait_resized", "in flight", "1h01m", str(running)):
        assert cell in row
    assert "3 files, 1 in flight" in out
    code, out, _ = dbscale(capsys, "operations", "list", "--json")
    assert [o["path"] for o in json.loads(out)["operations"]] == [str(done), str(running), str(failed)]
    assert no_aws == []


def test_operations_with_no_files_says_where_it_looked(state, no_aws, capsys):
    code, out, _ = dbscale(capsys, "operations")
    assert code == 0 and out.strip() == f"no operation files in {state}"


@pytest.mark.parametrize("by", ["cluster", "CLUSTER", "path"])
def test_discard_removes_one_file_and_says_aws_is_unchanged(state, no_aws, capsys, by):
    target = saved(state, "a.json", "sales", index=1)
    other = saved(state, "b.json", "wiki")
    code, out, err = dbscale(
        capsys, "operations", "discard", {"cluster": "sales", "CLUSTER": "SALES"}.get(by, str(target))
    )
    assert code == 0, err
    assert not target.exists() and other.exists()
    assert out.startswith(f"discarded {target}: resize sales (sales, us-east-1, step 2/2 wait_resized, in flight).")
    assert "Nothing was changed in AWS: if the operation is running there, it goes on" in out
    assert no_aws == []


def test_discard_refuses_an_ambiguous_cluster_and_removes_nothing(state, no_aws, capsys):
    first = saved(state, "a.json", "sales")
    second = saved(state, "b.json", "sales", region="eu-west-1")
    code, _, err = dbscale(capsys, "operations", "discard", "sales")
    assert code == errors.INVALID
    assert "2 operation files for cluster 'sales', nothing discarded: pass one path" in err
    assert str(first) in err and str(second) in err
    assert first.exists() and second.exists()
    code, _, err = dbscale(capsys, "operations", "discard", "sales", "--region", "eu-west-1")
    assert code == 0, err
    assert first.exists() and not second.exists()


@pytest.mark.parametrize("target", ["nope", "notes.json", "missing.json"])
def test_discard_refuses_what_is_not_one_operation_file(state, no_aws, capsys, target, monkeypatch, tmp_path):
    saved(state, "a.json", "sales")
    (tmp_path / "notes.json").write_text('{"format": "something else"}')
    monkeypatch.chdir(tmp_path)
    code, _, err = dbscale(capsys, "operations", "discard", target)
    assert code == errors.INVALID
    expected = {
        "nope": "no operation file for cluster 'nope'",
        "notes.json": "notes.json: not a dbscale operation file; left alone",
        "missing.json": "missing.json: no such file",
    }[target]
    assert expected in err
    assert (tmp_path / "notes.json").exists() and len(files(state)) == 1


def test_discard_takes_a_file_saved_elsewhere(state, no_aws, capsys, tmp_path):
    elsewhere = saved(tmp_path, "mine.json", "sales", failure="it failed")
    code, out, _ = dbscale(capsys, "operations", "discard", str(elsewhere))
    assert code == 0 and not elsewhere.exists()
    assert out.strip().endswith("failed). Nothing was changed in AWS.")
