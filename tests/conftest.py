"""Shared fixtures: fake AWS credentials, moto, a simulated clock, slow transitions, throttling
faults and an API call recorder (see tests/fakes/)."""

from __future__ import annotations

import functools
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.endpoint
import pytest
from moto import mock_aws

from tests.fakes import (
    AwsCallRecorder,
    BackoffOnClock,
    FailingCalls,
    FakeClock,
    LostResponses,
    SharedClock,
    SlowAws,
    StrictEventBridge,
    ThrottleInjector,
    install_moto_shims,
    moto_speed,
)
from tests.fakes.cloudformation import install_cloudformation_shims
from tests.fakes.sessions import fresh_session
from tests.needs import missing, summary_line

REGION = "us-east-1"

# No test reads or writes the user's own dbscale files (a refreshed price list, operation files):
# each test process gets fresh cache and state directories; a test that needs its own sets them.
os.environ.pop("DBSCALE_PRICES", None)
os.environ["DBSCALE_CACHE_DIR"] = tempfile.mkdtemp(prefix="dbscale-test-cache-")
os.environ["DBSCALE_STATE_DIR"] = tempfile.mkdtemp(prefix="dbscale-test-state-")

install_moto_shims()
install_cloudformation_shims()
moto_speed.install()


# How `make test` spreads tests over its two workers (pytest-xdist, `--dist loadfile` replaced by the
# scheduler below): tests that share an expensive set-up go to one worker together, so it is made
# once: every test that synthesizes a CDK app (one jsii runtime, the example app synthesized once for
# all its readers), those on the throwaway database servers, and a file with module-, class- or
# package-scoped fixtures. Every other test is a unit of its own, so that the long ones (hours of
# simulated polling) spread over both workers instead of queueing behind each other in one file.
# The largest units go first (xdist's default reordering), the many short tests fill the end.
SHARED_SETUP_GROUPS = {
    "cdk": (
        "tests/constructs/",
        "tests/audit/",
        "tests/examples/test_telemetry_app.py",
        "tests/e2e/test_provider_iam.py",
    ),
    "dbservers": ("tests/examples/", "tests/unit/test_bootstrap.py", "tests/e2e/test_database_bootstrap.py"),
}
_WIDE_FIXTURE = re.compile(r"""scope\s*=\s*["'](module|class|package)["']""")


@functools.cache
def _defines_wide_fixtures(path: Path) -> bool:
    try:
        return bool(_WIDE_FIXTURE.search(path.read_text()))
    except OSError:
        return True


@functools.cache
def _has_wide_fixtures(path: str) -> bool:
    """The test file, or a conftest.py on its way from the repository root, defines a fixture wider
    than a function (it might use it)."""
    root, relative = Path(__file__).parent.parent, Path(path)
    conftests = (root / directory / "conftest.py" for directory in relative.parents)
    return _defines_wide_fixtures(root / relative) or any(
        _defines_wide_fixtures(conftest) for conftest in conftests if conftest.exists()
    )


def scheduling_unit(nodeid: str) -> str:
    """The unit of work ``nodeid`` is sent to a worker in: a shared set-up group, its file, or itself."""
    path = nodeid.split("::", 1)[0]
    group = next((group for group, prefixes in SHARED_SETUP_GROUPS.items() if path.startswith(prefixes)), None)
    if group is not None:
        return group
    return path if _has_wide_fixtures(path) else nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """The scheduler for `--dist loadfile`: units from :func:`scheduling_unit` (xdist's own loadgroup
    marks no longer reach it under pytest 9.2, whose node ids xdist 3.8 cannot suffix)."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedSetupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return scheduling_unit(nodeid)

    return SharedSetupScheduling(config, log)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any) -> Iterator[None]:
    """The run's last word (after pytest's short summary, before its counts) on what it could not
    run for want of a server or browser."""
    yield
    reasons = []
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        if isinstance(longrepr, tuple) and len(longrepr) == 3:
            reasons.append(str(longrepr[2]))
    line = summary_line(reasons)
    if line:
        terminalreporter.write_line(line, yellow=True, bold=True)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and us-east-1 for every test; no profile, config file or endpoint override
    can point a test at a real account."""
    for name in list(os.environ):
        if name.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE", "AWS_WEB_IDENTITY")):
            monkeypatch.delenv(name)
        if name.startswith("AWS_CONTAINER_"):
            monkeypatch.delenv(name)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        # moto builds an EC2 backend for every Redshift/RDS backend; its default AMIs cost ~0.4 s each.
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    # A handler bounds every later AWS call of its process (limit_call_time): each test starts with
    # the defaults, as a fresh process does, whatever ran before it in this worker.
    from dbscale.core import aws as dbscale_aws

    monkeypatch.setattr(dbscale_aws, "_CALL_LIMITS", {})
    monkeypatch.setattr(dbscale_aws, "_RETRY_CONFIG", None)


@pytest.fixture
def aws() -> Iterator[None]:
    """moto's ``mock_aws`` active for the test: every AWS call is served in-process, state is fresh."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


@pytest.fixture
def fake_clock() -> FakeClock:
    """A simulated clock (implements dbscale's Clock) at 2025-01-15 12:00:00 UTC: a
    :class:`~tests.fakes.SharedClock`, a FakeClock that Step Functions executions in their own
    threads share with the test (a plain FakeClock for a test that runs none)."""
    return SharedClock()


@pytest.fixture
def slow_aws(aws: None, fake_clock: FakeClock) -> Iterator[SlowAws]:
    """Timed status transitions on ``fake_clock`` for moto's Redshift and Aurora resources."""
    with SlowAws(fake_clock) as slow:
        yield slow


@pytest.fixture
def _aws_call_recorder() -> AwsCallRecorder:
    return AwsCallRecorder()


@pytest.fixture
def _throttle_injector() -> ThrottleInjector:
    return ThrottleInjector(rate=0.0, seed=1234)


@pytest.fixture
def _lost_responses() -> LostResponses:
    return LostResponses()


@pytest.fixture
def _failing_calls() -> FailingCalls:
    return FailingCalls()


@pytest.fixture
def boto_session(
    aws: None,
    monkeypatch: pytest.MonkeyPatch,
    _aws_call_recorder: AwsCallRecorder,
    _throttle_injector: ThrottleInjector,
    _lost_responses: LostResponses,
    _failing_calls: FailingCalls,
) -> boto3.Session:
    """A boto3 session in us-east-1 under moto, with the call recorder and the (idle) throttle
    injector attached. It is also boto3's default session for the test, so code given no session
    goes through the same hooks. Pass it as ``session=`` to the core."""
    session = fresh_session(REGION)
    _aws_call_recorder.attach(session.events)
    _throttle_injector.attach(session.events)
    _lost_responses.attach(session.events)
    _failing_calls.attach(session.events)
    StrictEventBridge().attach(session.events)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)
    return session


@pytest.fixture
def aws_calls(boto_session: boto3.Session, _aws_call_recorder: AwsCallRecorder) -> AwsCallRecorder:
    """The API calls made through ``boto_session`` clients, by operation (``aws_calls.count("ResizeCluster")``)."""
    return _aws_call_recorder


@pytest.fixture
def throttle(
    boto_session: boto3.Session,
    _throttle_injector: ThrottleInjector,
    fake_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> ThrottleInjector:
    """Throttle 30% of ``boto_session`` requests (seeded, deterministic; set ``throttle.rate`` to
    change). botocore's retry backoff sleeps advance ``fake_clock`` instead of blocking."""
    _throttle_injector.rate = 0.3
    monkeypatch.setattr(botocore.endpoint, "time", BackoffOnClock(fake_clock))
    return _throttle_injector


@pytest.fixture
def lost_responses(
    boto_session: boto3.Session,
    _lost_responses: LostResponses,
    fake_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> LostResponses:
    """``lost_responses.lose("CreateCluster")``: the next CreateCluster through ``boto_session``
    takes effect in moto but its response is lost, so botocore retries it. Retry backoff sleeps
    advance ``fake_clock``."""
    monkeypatch.setattr(botocore.endpoint, "time", BackoffOnClock(fake_clock))
    return _lost_responses


@pytest.fixture
def failing_calls(
    boto_session: boto3.Session,
    _failing_calls: FailingCalls,
    fake_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> FailingCalls:
    """``failing_calls.fail("PutRule", "AccessDeniedException")``: that call fails before reaching
    moto, every attempt (or ``times``). Retry backoff sleeps advance ``fake_clock``."""
    monkeypatch.setattr(botocore.endpoint, "time", BackoffOnClock(fake_clock))
    return _failing_calls


# --- real database servers (tests/dbservers.py): one of each per test session, started on first use ---


def _server_or_skip(start: Any, what: str, install: str) -> Iterator[Any]:
    from tests.dbservers import ServerUnavailable

    try:
        context = start()
        server = context.__enter__()
    except ServerUnavailable as err:
        missing(what, install, str(err))
    try:
        yield server
    finally:
        context.__exit__(None, None, None)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A throwaway PostgreSQL server (skips, saying how to install one, when there is none)."""
    from tests.dbservers import INSTALL_POSTGRES
    from tests.dbservers import postgres_server as start

    yield from _server_or_skip(start, "a PostgreSQL server", INSTALL_POSTGRES)


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[Any]:
    """A throwaway MariaDB/MySQL server (skips, saying how to install one, when there is none)."""
    from tests.dbservers import INSTALL_MYSQL
    from tests.dbservers import mysql_server as start

    yield from _server_or_skip(start, "a MariaDB/MySQL server", INSTALL_MYSQL)


@pytest.fixture
def mysql_db(mysql_server: Any) -> Iterator[Any]:
    """The MariaDB server, emptied of every database and user the test made when it ends."""
    from tests.dbservers import reset_mysql

    reset_mysql(mysql_server)
    yield mysql_server
    reset_mysql(mysql_server)


@pytest.fixture
def postgres_db(postgres_server: Any) -> Iterator[Any]:
    """The PostgreSQL server, emptied of every schema and role the test made when it ends."""
    from tests.dbservers import reset_postgres

    reset_postgres(postgres_server)
    yield postgres_server
    reset_postgres(postgres_server)


@pytest.fixture(scope="session")
def example(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The repository's example app (app.py), synthesized once per test process (tests/cdk_app.py):
    the construct tests and the audit read the same cloud assembly."""
    from tests.cdk_app import synthesize_example

    return synthesize_example(tmp_path_factory.mktemp("example"))


@pytest.fixture
def allow_guardrails(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``allow_guardrails(allow_public_access=True, ...)`` deploys the providers with that policy
    (their ``DBSCALE_GUARDRAILS`` environment); without it they run with the strict default."""
    from dbscale.core.guardrails import GUARDRAILS_ENV, Guardrails

    def allow(**policy: Any) -> Guardrails:
        if "adopt_prefixes" in policy:
            policy["adopt_prefixes"] = tuple(policy["adopt_prefixes"])
        guardrails = Guardrails(**policy)
        monkeypatch.setenv(GUARDRAILS_ENV, guardrails.to_json())
        return guardrails

    return allow
