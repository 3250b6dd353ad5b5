"""Fixtures the clone and clone-pool unit tests share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.fakes import SlowAws
from tests.fakes.clones import AuroraCloneFake


@pytest.fixture
def fake(slow_aws: SlowAws, boto_session: boto3.Session) -> Iterator[AuroraCloneFake]:
    """Aurora clone groups, the copy-on-write limit and snapshot timing on top of moto."""
    with AuroraCloneFake(slow_aws) as installed:
        yield installed


@pytest.fixture
def rds(boto_session: boto3.Session) -> Any:
    return boto_session.client("rds")
