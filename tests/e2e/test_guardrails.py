"""Issue 12, item 3 through the handlers: a provider refuses the insecure settings its guardrails do
not allow, before anything is made, naming the property and the guardrail; allowed ones go through."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.e2e.harness import CloudFormation
from tests.e2e.test_aurora_clone import PROPS as CLONE_PROPS
from tests.e2e.test_aurora_clone import cfn, fake, rds  # noqa: F401 (fixtures)
from tests.fakes.clones import AuroraCloneFake

REDSHIFT = {"ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus", "NumberOfNodes": "2"}
AURORA = {"ClusterIdentifier": "orders", "InstanceClass": "db.r6g.large"}


def _redshift_clusters() -> list[str]:
    return [c["ClusterIdentifier"] for c in boto3.client("redshift").describe_clusters()["Clusters"]]


def _aurora_clusters() -> list[str]:
    return [c["DBClusterIdentifier"] for c in boto3.client("rds").describe_db_clusters()["DBClusters"]]


@pytest.mark.parametrize(
    ("props", "field", "guardrail"),
    [
        ({**REDSHIFT, "Encrypted": "false"}, "Encrypted", "allow_unencrypted"),
        ({**REDSHIFT, "PubliclyAccessible": "true"}, "PubliclyAccessible", "allow_public_access"),
    ],
    ids=["unencrypted", "public"],
)
def test_redshift_insecure_create_is_refused_with_nothing_made(
    redshift_cfn: CloudFormation, props: dict[str, Any], field: str, guardrail: str
) -> None:
    result = redshift_cfn.send(redshift_cfn.event("Create", "Custom::RedshiftCluster", props))
    assert result.status == "FAILED"
    assert result.reason.startswith(f"Invalid property {field}:"), result.reason
    assert f"guardrail '{guardrail}'" in result.reason and "Nothing was changed" in result.reason
    assert result.physical_id.startswith("DBSCALE-NOT-CREATED-")
    assert _redshift_clusters() == []
    deleted = redshift_cfn.send(
        redshift_cfn.event("Delete", "Custom::RedshiftCluster", props, physical_id=result.physical_id)
    )
    assert deleted.status == "SUCCESS", deleted.reason


def test_aurora_unencrypted_create_is_refused_with_nothing_made(aurora_cfn: CloudFormation) -> None:
    props = {**AURORA, "StorageEncrypted": "false"}
    result = aurora_cfn.send(aurora_cfn.event("Create", "Custom::AuroraCluster", props))
    assert result.status == "FAILED" and "guardrail 'allow_unencrypted'" in result.reason, result.reason
    assert result.reason.startswith("Invalid property StorageEncrypted:")
    assert result.physical_id.startswith("DBSCALE-NOT-CREATED-")
    assert _aurora_clusters() == []


def test_allowed_by_the_provider_policy_goes_through(redshift_cfn: CloudFormation, allow_guardrails: Any) -> None:
    allow_guardrails(allow_public_access=True)
    props = {**REDSHIFT, "PubliclyAccessible": "true"}
    result = redshift_cfn.send(redshift_cfn.event("Create", "Custom::RedshiftCluster", props))
    assert result.status == "SUCCESS", result.reason
    assert boto3.client("redshift").describe_clusters()["Clusters"][0]["PubliclyAccessible"] is True


def test_public_access_as_an_in_place_update_is_refused_and_changes_nothing(redshift_cfn: CloudFormation) -> None:
    made = redshift_cfn.send(redshift_cfn.event("Create", "Custom::RedshiftCluster", REDSHIFT))
    assert made.status == "SUCCESS", made.reason
    public = {**REDSHIFT, "PubliclyAccessible": "true"}
    update = redshift_cfn.event(
        "Update", "Custom::RedshiftCluster", public, physical_id=made.physical_id, old_properties=REDSHIFT
    )
    result = redshift_cfn.send(update)
    assert result.status == "FAILED" and "allow_public_access" in result.reason, result.reason
    assert result.physical_id == made.physical_id
    assert boto3.client("redshift").describe_clusters()["Clusters"][0]["PubliclyAccessible"] is False


def _public_cluster_on_a_now_strict_provider(
    redshift_cfn: CloudFormation, allow_guardrails: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Any], Any]:
    """A public cluster made while the provider allowed it; then the provider is redeployed strict."""
    allow_guardrails(allow_public_access=True)
    public = {**REDSHIFT, "PubliclyAccessible": "true"}
    made = redshift_cfn.send(redshift_cfn.event("Create", "Custom::RedshiftCluster", public))
    assert made.status == "SUCCESS", made.reason
    monkeypatch.delenv("DBSCALE_GUARDRAILS")
    return public, made


def test_a_setting_the_stack_already_runs_with_does_not_fail_an_unrelated_update(
    redshift_cfn: CloudFormation, allow_guardrails: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    public, made = _public_cluster_on_a_now_strict_provider(redshift_cfn, allow_guardrails, monkeypatch)
    tagged = {**public, "Tags": [{"Key": "team", "Value": "data"}]}
    update = redshift_cfn.event(
        "Update", "Custom::RedshiftCluster", tagged, physical_id=made.physical_id, old_properties=public
    )
    assert redshift_cfn.send(update).status == "SUCCESS"


@pytest.mark.parametrize(("prefixes", "allowed"), [((), False), (("legacy-",), False), (("ware",), True)])
def test_adoption_only_for_listed_prefixes(
    redshift_cfn: CloudFormation, allow_guardrails: Any, prefixes: tuple[str, ...], allowed: bool
) -> None:
    boto3.client("redshift").create_cluster(
        ClusterIdentifier="warehouse", NodeType="ra3.xlplus", NumberOfNodes=2, MasterUsername="admin",
        MasterUserPassword="Passw0rd!Passw0rd", ClusterType="multi-node",
    )  # fmt: skip
    allow_guardrails(adopt_prefixes=prefixes, allow_unencrypted=True, allow_tls_off=True)
    result = redshift_cfn.send(
        redshift_cfn.event("Create", "Custom::RedshiftCluster", {**REDSHIFT, "AdoptExisting": "true"})
    )
    if allowed:
        assert result.status == "SUCCESS" and result.data["Adopted"] == "true", result.reason
    else:
        assert result.status == "FAILED" and "guardrail 'adopt_prefixes'" in result.reason, result.reason
        assert result.physical_id.startswith("DBSCALE-NOT-CREATED-")
        deleted = redshift_cfn.send(
            redshift_cfn.event("Delete", "Custom::RedshiftCluster", REDSHIFT, physical_id=result.physical_id)
        )
        assert deleted.status == "SUCCESS"
    assert _redshift_clusters() == ["warehouse"]


def test_a_malformed_policy_fails_creates_instead_of_allowing(
    redshift_cfn: CloudFormation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBSCALE_GUARDRAILS", '{"allow_public": true}')
    result = redshift_cfn.send(redshift_cfn.event("Create", "Custom::RedshiftCluster", REDSHIFT))
    assert result.status == "FAILED" and "DBSCALE_GUARDRAILS" in result.reason
    assert _redshift_clusters() == []


@pytest.mark.parametrize("allowed", [False, True], ids=["refused", "allowed"])
def test_a_clone_of_an_unencrypted_source_needs_allow_unencrypted(
    cfn: CloudFormation,  # noqa: F811
    fake: AuroraCloneFake,  # noqa: F811
    rds: Any,  # noqa: F811
    allow_guardrails: Any,
    allowed: bool,
) -> None:
    fake.make_source(rds, "prod", encrypted=False)
    if allowed:
        allow_guardrails(allow_unencrypted=True)
    result = cfn.send(cfn.event("Create", "Custom::AuroraClone", CLONE_PROPS, logical_id="Clone"))
    names = sorted(c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"])
    if allowed:
        assert result.status == "SUCCESS", result.reason
        assert len(names) == 2
    else:
        assert result.status == "FAILED", result.reason
        assert result.reason.startswith("Invalid property SourceClusterId:") and "allow_unencrypted" in result.reason
        assert result.physical_id.startswith("DBSCALE-NOT-CREATED-")
        assert names == ["prod"]


def test_adopting_a_cluster_that_runs_insecure_settings_is_refused(
    redshift_cfn: CloudFormation, allow_guardrails: Any
) -> None:
    boto3.client("redshift").create_cluster(
        ClusterIdentifier="warehouse", NodeType="ra3.xlplus", NumberOfNodes=2, MasterUsername="admin",
        MasterUserPassword="Passw0rd!Passw0rd", ClusterType="multi-node", PubliclyAccessible=True,
    )  # fmt: skip
    allow_guardrails(adopt_prefixes=["ware"])  # adoption allowed, nothing insecure
    result = redshift_cfn.send(
        redshift_cfn.event("Create", "Custom::RedshiftCluster", {**REDSHIFT, "AdoptExisting": "true"})
    )
    assert result.status == "FAILED", result.reason
    assert result.reason.startswith("Invalid property AdoptExisting:")
    for found in ("unencrypted storage", "public access", "default.redshift-1.0"):
        assert found in result.reason
    assert result.physical_id.startswith("DBSCALE-NOT-CREATED-")
    c = boto3.client("redshift").describe_clusters()["Clusters"][0]
    assert "dbscale:cfn-stack-id" not in {t["Key"] for t in c.get("Tags", [])}  # not taken over


def test_rollback_of_a_failed_update_restores_a_grandfathered_setting(
    redshift_cfn: CloudFormation, allow_guardrails: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    public, made = _public_cluster_on_a_now_strict_provider(redshift_cfn, allow_guardrails, monkeypatch)
    typo = {**public, "NumberOfNodes": "two"}
    failed = redshift_cfn.send(
        redshift_cfn.event(
            "Update", "Custom::RedshiftCluster", typo, physical_id=made.physical_id, old_properties=public
        )
    )
    assert failed.status == "FAILED" and "NumberOfNodes" in failed.reason
    # CloudFormation's rollback: back to the old properties, with the typo as the old ones.
    rollback = redshift_cfn.send(
        redshift_cfn.event(
            "Update", "Custom::RedshiftCluster", public, physical_id=made.physical_id, old_properties=typo
        )
    )
    assert rollback.status == "SUCCESS", rollback.reason


def test_rollback_of_a_replacement_returns_to_a_grandfathered_cluster(
    redshift_cfn: CloudFormation, allow_guardrails: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    public, made = _public_cluster_on_a_now_strict_provider(redshift_cfn, allow_guardrails, monkeypatch)
    replaced = {**REDSHIFT, "ClusterIdentifier": "warehouse2"}
    new = redshift_cfn.send(
        redshift_cfn.event(
            "Update", "Custom::RedshiftCluster", replaced, physical_id=made.physical_id, old_properties=public
        )
    )
    assert new.status == "SUCCESS" and new.physical_id == "warehouse2", new.reason
    # A later resource failed: CloudFormation rolls back to the original cluster's properties.
    rollback = redshift_cfn.send(
        redshift_cfn.event(
            "Update", "Custom::RedshiftCluster", public, physical_id="warehouse2", old_properties=replaced
        )
    )
    assert rollback.status == "SUCCESS" and rollback.physical_id == "warehouse", rollback.reason


def test_a_clone_of_a_source_without_tls_needs_allow_tls_off(
    cfn: CloudFormation,  # noqa: F811
    fake: AuroraCloneFake,  # noqa: F811
    rds: Any,  # noqa: F811
) -> None:
    fake.make_source(rds, "prod", tls=False)
    result = cfn.send(cfn.event("Create", "Custom::AuroraClone", CLONE_PROPS, logical_id="Clone"))
    assert result.status == "FAILED", result.reason
    assert "guardrail 'allow_tls_off'" in result.reason and result.reason.startswith(
        "Invalid property SourceClusterId:"
    )
    assert sorted(c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]) == ["prod"]
