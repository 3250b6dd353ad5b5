"""Linters see inside the custom resources (issue 12, item 6).

The example app's custom resources and examples/raw-cloudformation.yaml's go through the real
handlers on moto; the calls they make are rendered as native CloudFormation resources
(tests/audit/render.py) and linted with cfn-lint (every region, informational checks included) and
the cdk-nag packs AwsSolutions, HIPAA Security, NIST 800-53 R5 and PCI DSS 3.2.1. Every finding must
be acknowledged in tests/audit/acknowledgements.py, and every acknowledgement must still match one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest

from tests.audit.acknowledgements import ACKNOWLEDGED, PENDING_PARITY, Key, triage, triage_with
from tests.audit.lint import cfn_lint_findings, nag_findings
from tests.audit.record import CustomResource, Recorded, References
from tests.audit.render import Renderer, Unrendered, render_example
from tests.fakes import AwsCall

pytestmark = pytest.mark.slow


@dataclass
class Audit:
    templates: dict[str, dict[str, Any]]
    cfn_lint: dict[Key, list[str]]
    nag: dict[Key, list[str]]

    @property
    def findings(self) -> set[Key]:
        return set(self.cfn_lint) | set(self.nag)


@pytest.fixture(scope="module")
def audit(example: Any) -> Audit:
    templates = render_example(example.outdir)  # the session's synthesized example app, read only
    return Audit(templates, cfn_lint_findings(templates), nag_findings(templates))


def _resources(audit: Audit, type_: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for template in audit.templates.values()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == type_
    }


def test_every_example_cluster_is_rendered_from_its_calls(audit: Audit) -> None:
    assert set(audit.templates) == {"DbscaleExample", "DbscaleDevClones", "RawCloudFormation"}
    clusters = _resources(audit, "AWS::Redshift::Cluster")
    assert set(clusters) == {"WarehouseCluster", "RawWarehouseCluster"}
    warehouse = clusters["WarehouseCluster"]["Properties"]
    assert warehouse["NodeType"] == "ra3.xlplus" and warehouse["NumberOfNodes"] == 2
    assert warehouse["Encrypted"] is True and warehouse["PubliclyAccessible"] is False
    assert warehouse["KmsKeyId"] == {"Ref": "DbscaleExampleWarehouseKey8DE8541CArn"}  # a reference, not moto's ARN
    assert clusters["WarehouseCluster"]["DeletionPolicy"] == "Snapshot"  # the handler's final snapshot
    aurora = _resources(audit, "AWS::RDS::DBCluster")
    assert set(aurora) == {"AppDbCluster", "DevCloneCluster", "RawAppDbCluster"}
    assert aurora["DevCloneCluster"]["Properties"]["RestoreType"] == "copy-on-write"
    assert aurora["DevCloneCluster"]["DeletionPolicy"] == "Delete"  # FinalSnapshot false
    instances = _resources(audit, "AWS::RDS::DBInstance")
    assert sorted(instances) == [
        "AppDbInstance1",
        "AppDbInstance2",
        "DevCloneInstance1",
        "RawAppDbInstance1",
        "RawAppDbInstance2",
    ]
    assert instances["AppDbInstance2"]["Properties"]["DBClusterIdentifier"] == {"Ref": "AppDbCluster"}


def test_rendered_templates_have_no_unacknowledged_findings(audit: Audit) -> None:
    uncovered, stale = triage(audit.findings)
    details = {**audit.cfn_lint, **audit.nag}
    assert not uncovered, (
        "unacknowledged findings (fix them, or add them with a reason to tests/audit/acknowledgements.py):\n"
        + "\n".join(f"{rule} {resource}: {details[(rule, resource)][0]}" for rule, resource in uncovered)
    )
    assert not stale, "acknowledgements that match no finding any more (delete them):\n" + "\n".join(stale)


def test_an_unencrypted_cluster_is_flagged(audit: Audit) -> None:
    """The check can fail: the rendered Warehouse with Encrypted false and PubliclyAccessible true."""
    example = copy.deepcopy(audit.templates["DbscaleExample"])
    warehouse = example["Resources"]["WarehouseCluster"]["Properties"]
    warehouse.update(Encrypted=False, PubliclyAccessible=True)
    del warehouse["KmsKeyId"]
    appdb = example["Resources"]["AppDbCluster"]["Properties"]
    appdb["StorageEncrypted"] = False
    del appdb["KmsKeyId"]
    found = set(nag_findings({"DbscaleExample": example})) - set(audit.nag)
    uncovered, _ = triage(found)
    expected = {
        ("AwsSolutions-RS6", "WarehouseCluster"),  # Encrypted false
        ("AwsSolutions-RS8", "WarehouseCluster"),  # PubliclyAccessible true
        ("HIPAA.Security-RedshiftClusterPublicAccess", "WarehouseCluster"),
        ("PCI.DSS.321-RedshiftClusterPublicAccess", "WarehouseCluster"),
        ("AwsSolutions-RDS2", "AppDbCluster"),  # StorageEncrypted false
        ("NIST.800.53.R5-RDSStorageEncrypted", "AppDbCluster"),
        ("PCI.DSS.321-RDSStorageEncrypted", "AppDbCluster"),
    }
    assert expected <= set(uncovered), sorted(r for r, _ in found)


def test_a_stale_acknowledgement_is_reported() -> None:
    findings = {("E3025", "DevCloneInstance1"), ("AwsSolutions-RDS10", "AppDbCluster")}
    tables = {"ACK": {("E3025", "DevCloneInstance1"): "why", ("I4010", "*"): "gone"}}
    uncovered, stale = triage_with(findings, tables)
    assert uncovered == [("AwsSolutions-RDS10", "AppDbCluster")]
    assert len(stale) == 1 and "I4010" in stale[0]


def test_every_acknowledgement_has_a_reason() -> None:
    for table in (ACKNOWLEDGED, PENDING_PARITY):
        for key, reason in table.items():
            assert len(reason) > 20, key
    assert not set(ACKNOWLEDGED) & set(PENDING_PARITY)


def _recorded(*calls: AwsCall) -> Recorded:
    resource = CustomResource("Test", "Thing12345678", "Thing", "Custom::RedshiftCluster", {})
    return Recorded(resource, list(calls), "SUCCESS", "")


def test_an_unmapped_parameter_fails_loudly() -> None:
    create = AwsCall("redshift", "CreateCluster", {"ClusterIdentifier": "c", "NodeType": "ra3.xlplus"})
    Renderer(References()).add(_recorded(create))  # known names render
    odd = AwsCall("redshift", "CreateCluster", {"ClusterIdentifier": "c", "NoSuchParameter": 1})
    with pytest.raises(Unrendered, match="NoSuchParameter"):
        Renderer(References()).add(_recorded(odd))
    with pytest.raises(Unrendered, match="ResetClusterParameterGroup"):
        Renderer(References()).add(_recorded(create, AwsCall("redshift", "ResetClusterParameterGroup", {})))


def test_parameters_the_parity_work_adds_render_without_changes() -> None:
    """Names that coincide render as they are; the listed exceptions fold into native shapes."""
    renderer = Renderer(References())
    renderer.add(
        _recorded(
            AwsCall(
                "redshift",
                "CreateCluster",
                {
                    "ClusterIdentifier": "c",
                    "ClusterParameterGroupName": "c",
                    "EnhancedVpcRouting": True,
                    "AutomatedSnapshotRetentionPeriod": 7,
                    "MasterPasswordSecretKmsKeyId": "k",
                },
            ),
            AwsCall(
                "redshift",
                "CreateClusterParameterGroup",
                {"ParameterGroupName": "c", "ParameterGroupFamily": "redshift-1.0", "Description": "d"},
            ),
            AwsCall(
                "redshift",
                "ModifyClusterParameterGroup",
                {
                    "ParameterGroupName": "c",
                    "Parameters": [{"ParameterName": "require_ssl", "ParameterValue": "true", "ApplyType": "static"}],
                },
            ),
            AwsCall(
                "redshift",
                "EnableLogging",
                {"ClusterIdentifier": "c", "LogDestinationType": "cloudwatch", "LogExports": ["useractivitylog"]},
            ),
            AwsCall("redshift", "ModifyClusterIamRoles", {"ClusterIdentifier": "c", "AddIamRoles": ["arn:r"]}),
        )
    )
    template = renderer.templates()["Test"]
    cluster = template["Resources"]["ThingCluster"]["Properties"]
    assert cluster["ClusterParameterGroupName"] == {"Ref": "ThingParameterGroup1"}
    assert cluster["LoggingProperties"] == {"LogDestinationType": "cloudwatch", "LogExports": ["useractivitylog"]}
    assert cluster["IamRoles"] == ["arn:r"] and cluster["EnhancedVpcRouting"] is True
    group = template["Resources"]["ThingParameterGroup1"]["Properties"]
    assert group["Parameters"] == [{"ParameterName": "require_ssl", "ParameterValue": "true"}]
    aurora = Renderer(References())
    aurora.add(
        _recorded(
            AwsCall(
                "rds",
                "CreateDBCluster",
                {
                    "DBClusterIdentifier": "a",
                    "Engine": "aurora-postgresql",
                    "DeletionProtection": True,
                    "EnableCloudwatchLogsExports": ["postgresql"],
                    "MasterUserSecretKmsKeyId": "k",
                    "EnablePerformanceInsights": True,
                },
            ),
            AwsCall(
                "rds",
                "CreateDBInstance",
                {
                    "DBInstanceIdentifier": "a-1",
                    "DBClusterIdentifier": "a",
                    "MonitoringInterval": 60,
                    "MonitoringRoleArn": "arn:m",
                    "EnablePerformanceInsights": True,
                },
            ),
        )
    )
    resources = aurora.templates()["Test"]["Resources"]
    assert resources["ThingCluster"]["Properties"]["MasterUserSecret"] == {"KmsKeyId": "k"}
    assert resources["ThingCluster"]["Properties"]["PerformanceInsightsEnabled"] is True
    assert resources["ThingInstance1"]["Properties"]["MonitoringInterval"] == 60
