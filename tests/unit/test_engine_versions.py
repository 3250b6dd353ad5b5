"""Engine versions: a major version resolves to the newest version AWS offers for new clusters,
through DescribeDBEngineVersions (served by tests/fakes/engine_versions.py, which also makes
CreateDBCluster and ModifyDBCluster refuse a version that is not offered, as AWS does)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from dbscale.core import RdsProvisioning
from dbscale.core.engine_versions import (
    is_major_version,
    major_version,
    parameter_group_family,
    resolve_engine_version,
    satisfies,
)
from dbscale.core.errors import DbscaleError, InvalidRequest
from tests.fakes import AwsCallRecorder, FakeClock
from tests.fakes.engine_versions import DEFAULT_CATALOG, EngineVersion, EngineVersionCatalog


@pytest.fixture
def catalog(boto_session: boto3.Session) -> Iterator[EngineVersionCatalog]:
    with EngineVersionCatalog() as installed:
        yield installed


@pytest.fixture
def rds(boto_session: boto3.Session) -> Any:
    return boto_session.client("rds")


@pytest.mark.parametrize(
    ("engine", "version", "major", "family", "major_only"),
    [
        ("aurora-postgresql", "16", "16", "aurora-postgresql16", True),
        ("aurora-postgresql", "16.6", "16", "aurora-postgresql16", False),
        ("aurora-mysql", "8.0", "8.0", "aurora-mysql8.0", True),
        ("aurora-mysql", "8.0.mysql_aurora.3.08.0", "8.0", "aurora-mysql8.0", False),
    ],
)
def test_version_names(engine: str, version: str, major: str, family: str, major_only: bool) -> None:
    assert major_version(engine, version) == major
    assert parameter_group_family(engine, version) == family
    assert is_major_version(engine, version) is major_only


def test_a_major_resolves_to_the_newest_offered_version_of_that_major(catalog: EngineVersionCatalog, rds: Any) -> None:
    # 16.6 is deprecated in the catalog, 16.10 is newer than 16.8 (compared as numbers), 17.4 is another major.
    assert resolve_engine_version(rds, "aurora-postgresql", "16") == "16.10"
    assert resolve_engine_version(rds, "aurora-mysql", "8.0") == "8.0.mysql_aurora.3.10.0"
    assert catalog.describe_calls == 2


def test_a_full_version_or_none_is_used_as_given_without_asking_aws(
    catalog: EngineVersionCatalog, rds: Any, aws_calls: AwsCallRecorder
) -> None:
    assert resolve_engine_version(rds, "aurora-postgresql", "16.6") == "16.6"
    assert resolve_engine_version(rds, "aurora-mysql", "8.0.mysql_aurora.3.08.2") == "8.0.mysql_aurora.3.08.2"
    assert resolve_engine_version(rds, "aurora-postgresql", None) is None
    assert len(aws_calls) == 0


def test_a_major_aws_no_longer_offers_is_refused_naming_the_property(catalog: EngineVersionCatalog, rds: Any) -> None:
    with pytest.raises(InvalidRequest) as err:
        resolve_engine_version(rds, "aurora-postgresql", "14")
    assert err.value.field == "EngineVersion"
    assert "aurora-postgresql 14.x" in str(err.value)


def test_every_page_is_read(boto_session: boto3.Session, rds: Any) -> None:
    many = tuple(EngineVersion("aurora-postgresql", f"16.{n}", "aurora-postgresql16") for n in range(1, 131))
    with EngineVersionCatalog(many) as catalog:
        assert resolve_engine_version(rds, "aurora-postgresql", "16") == "16.130"
    assert catalog.describe_calls == 2  # 100 per page


def test_a_cluster_created_with_a_major_gets_the_newest_offered_version(
    catalog: EngineVersionCatalog, boto_session: boto3.Session, rds: Any, aws_calls: AwsCallRecorder
) -> None:
    RdsProvisioning("orders", initial_instance_type="db.r6g.large", engine_version="16", session=boto_session, clock=FakeClock(), wait=False)
    assert rds.describe_db_clusters(DBClusterIdentifier="orders")["DBClusters"][0]["EngineVersion"] == "16.10"
    assert aws_calls.params("CreateDBCluster")[0]["EngineVersion"] == "16.10"


def test_a_deprecated_full_version_is_sent_as_given_and_aws_refuses_it(
    catalog: EngineVersionCatalog, boto_session: boto3.Session
) -> None:
    with pytest.raises(DbscaleError) as err:
        RdsProvisioning("orders", initial_instance_type="db.r6g.large", engine_version="16.6", session=boto_session, clock=FakeClock())
    assert "Cannot find version 16.6" in str(err.value)


def test_a_major_the_cluster_already_runs_changes_nothing(
    catalog: EngineVersionCatalog, boto_session: boto3.Session, rds: Any, aws_calls: AwsCallRecorder
) -> None:
    cluster = RdsProvisioning("orders", initial_instance_type="db.r6g.large", engine_version="16.8", session=boto_session, clock=FakeClock())
    aws_calls.clear()
    cluster.modify_settings(EngineVersion="16")  # e.g. a template updated from "16.8" to "16"
    assert aws_calls.count("ModifyDBCluster") == 0
    cluster.modify_settings(EngineVersion="17")  # another major: resolved like at create time
    assert aws_calls.params("ModifyDBCluster")[0]["EngineVersion"] == "17.4"


def test_satisfies() -> None:
    assert satisfies("aurora-postgresql", "16", "16.8")
    assert not satisfies("aurora-postgresql", "17", "16.8")
    assert satisfies("aurora-postgresql", "16.8", "16.8")
    assert not satisfies("aurora-postgresql", "16.10", "16.8")
    assert satisfies("aurora-mysql", "8.0", "8.0.mysql_aurora.3.08.2")


def test_the_default_catalog_offers_each_default_major() -> None:
    """The constructs' default majors must resolve in the catalog the other tests use."""
    from dbscale.constructs.aurora import DEFAULT_ENGINE_VERSIONS

    for engine, major in DEFAULT_ENGINE_VERSIONS.items():
        assert any(
            v.engine == engine and v.status == "available" and major_version(engine, v.version) == major
            for v in DEFAULT_CATALOG
        )
