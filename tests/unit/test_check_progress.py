"""Redshift Data API statements that never finish (moto's never do): the wait says what it waits for,
ends at ``data_api_timeout_seconds`` exactly, and names the statement that did not finish."""

from __future__ import annotations

import re

import boto3
import pytest

from dbscale.core.errors import OperationTimeout
from dbscale.core.scaling import Check, ProvisionScaling
from tests.fakes import FakeClock
from tests.fakes.fleet import create_redshift


@pytest.fixture
def sales(boto_session: boto3.Session) -> boto3.Session:
    create_redshift(boto_session.client("redshift"), "sales", "ra3.xlplus", 2)
    return boto_session


@pytest.mark.parametrize("timeout", [2.0, 30.0, 61.0])
def test_the_wait_is_reported_bounded_and_names_the_unfinished_statement(sales, timeout):
    clock = FakeClock()
    start = clock.now()
    said: list[str] = []
    checks = [
        Check.redshift_slow_percentage("sales", 10, 10),
        Check.redshift_utilization("sales", True, "memory", 80, 10),
    ]
    scaling = ProvisionScaling(session=sales, clock=clock, data_api_timeout_seconds=timeout, on_wait=said.append)
    results = scaling.evaluate(checks)
    assert clock.now() - start == pytest.approx(timeout)  # not a poll interval more
    assert said, "the wait said nothing"
    waited = [int(re.search(r": (\d+) s of ", line).group(1)) for line in said]  # type: ignore[union-attr]
    assert waited == sorted(waited) and waited[-1] <= timeout
    assert all(line.startswith("waiting for 2 Redshift Data API statements on 'sales' (") for line in said)
    assert "the slow-query share (SYS_QUERY_HISTORY)" in said[0]
    assert "the memory check's spilled queries (SYS_QUERY_DETAIL)" in said[0]
    for result, what in zip(
        results,
        ("the slow-query share (SYS_QUERY_HISTORY)", "the memory check's spilled queries (SYS_QUERY_DETAIL)"),
        strict=True,
    ):
        assert result.verdict is None and result.note == "no data (query unfinished)"
        assert f"statement for {what} on cluster 'sales' did not finish within {timeout:g} s (statement " in (
            result.reason
        )


def test_the_single_form_raises_naming_the_statement(sales):
    scaling = ProvisionScaling(
        redshift_cluster_name="sales", session=sales, clock=FakeClock(), data_api_timeout_seconds=5
    )
    with pytest.raises(OperationTimeout) as stopped:
        scaling.get_redshift_slow_percentage_result(10, 10)
    assert "statement for the slow-query share (SYS_QUERY_HISTORY) on cluster 'sales' did not finish within 5 s" in (
        str(stopped.value)
    )
