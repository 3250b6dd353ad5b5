"""e2e fixtures: a TLS response server on 127.0.0.1, and CloudFormation drivers for each handler
wired to moto with slow transitions on the simulated clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import trustme

from dbscale.handlers import aurora_cluster, redshift_cluster
from tests.e2e.harness import CloudFormation, ResponseServer, wired
from tests.fakes import FakeClock, SlowAws


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, str]:
    ca = trustme.CA()
    path = Path(tmp_path_factory.mktemp("ca")) / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, str(path)


@pytest.fixture(scope="session")
def response_server(tls_ca: tuple[trustme.CA, str]) -> Iterator[ResponseServer]:
    server = ResponseServer(tls_ca[0])
    yield server
    server.close()


def _driver(
    module: Any, server: ResponseServer, ca_file: str, session: boto3.Session, clock: FakeClock
) -> Iterator[CloudFormation]:
    with wired(module, server, ca_file, session, clock) as cfn:
        yield cfn


@pytest.fixture
def provider_env(slow_aws: SlowAws, boto_session: boto3.Session) -> SlowAws:
    """moto with slow transitions on the shared simulated clock."""
    return slow_aws


@pytest.fixture
def redshift_cfn(
    provider_env: SlowAws,
    response_server: ResponseServer,
    tls_ca: tuple[trustme.CA, str],
    boto_session: boto3.Session,
    fake_clock: FakeClock,
) -> Iterator[CloudFormation]:
    yield from _driver(redshift_cluster, response_server, tls_ca[1], boto_session, fake_clock)


@pytest.fixture
def aurora_cfn(
    provider_env: SlowAws,
    response_server: ResponseServer,
    tls_ca: tuple[trustme.CA, str],
    boto_session: boto3.Session,
    fake_clock: FakeClock,
) -> Iterator[CloudFormation]:
    yield from _driver(aurora_cluster, response_server, tls_ca[1], boto_session, fake_clock)
