"""The bundled asset, end to end: a synthesized custom resource sent to the handler imported from the asset.

Proves the asset is complete (the handler imports and runs with only the asset and the Lambda
runtime's boto3) and that the construct and the handler agree on the property schema.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, Synthesized
from .operations import operations_of

pytestmark = pytest.mark.slow

KINDS = {
    "AWS::EC2::SecurityGroup": "security_group",
    "AWS::KMS::Key": "key",
    "AWS::Redshift::ClusterSubnetGroup": "redshift_subnet_group",
    "AWS::RDS::DBSubnetGroup": "rds_subnet_group",
    "AWS::RDS::DBClusterParameterGroup": "rds_cluster_parameter_group",
    "AWS::Lambda::Function": "function",
    "AWS::IAM::Role": "role",
}


def references(template: dict[str, Any], value: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    if isinstance(value, list):
        for v in value:
            found.update(references(template, v))
    elif isinstance(value, dict):
        if set(value) == {"Ref"}:
            found[value["Ref"]] = KINDS[template["Resources"][value["Ref"]]["Type"]]
        elif set(value) == {"Fn::GetAtt"}:
            logical_id = value["Fn::GetAtt"][0]
            found[logical_id] = KINDS[template["Resources"][logical_id]["Type"]]
        else:
            for v in value.values():
                found.update(references(template, v))
    return found


def run_in_asset(
    example: Synthesized,
    tmp_path: Path,
    resource_type: str,
    module: str,
    service: str,
    *,
    stack: str = "DbscaleExample",
    source_cluster: str | None = None,
) -> dict[str, Any]:
    template = example.template(stack)
    (logical_id, resource), *_ = [(k, v) for k, v in template["Resources"].items() if v["Type"] == resource_type]
    function_id = resource["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
    code = template["Resources"][function_id]["Properties"]["Code"]
    asset = example.outdir / f"asset.{code['S3Key'].removesuffix('.zip')}"
    if not (asset / f"{module.replace('.', '/')}.py").exists():
        pytest.skip(f"{module} is not written yet")
    spec = {
        "asset": str(asset),
        "resource_type": resource_type,
        "logical_id": logical_id,
        "properties": resource["Properties"],
        "references": references(template, resource["Properties"]),
        # The roles' trust policies as synthesized (the preflight checks that the service may assume them).
        "trust": {
            ref: template["Resources"][ref]["Properties"]["AssumeRolePolicyDocument"]
            for ref, kind in references(template, resource["Properties"]).items()
            if kind == "role"
        },
        "handler_module": module,
        "describe": service,
        "source_cluster": source_cluster,
        # The provider's state machine as deployed: the runner creates it in moto from this definition.
        "operations": {
            "function": function_id,
            "definition": operations_of(template, function_id).machine["DefinitionString"],
        },
    }
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    # The runner puts the asset first on sys.path; cwd and PYTHONPATH keep the source tree out.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        # -B: Lambda's /var/task is read-only, and the asset directory is the session's synthesized app,
        # which other tests read (no __pycache__ may appear in it)
        [sys.executable, "-B", str(Path(__file__).with_name("asset_runner.py")), str(spec_file)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    for name, path in report["imported_from"].items():
        assert path.startswith(str(asset.resolve())), f"{name} was imported from {path}, not the asset"
        assert not path.startswith(str(ROOT / "dbscale"))
    return {"report": report, "properties": resource["Properties"]}


def test_redshift_resource_runs_through_the_bundled_handler(example: Synthesized, tmp_path: Path) -> None:
    run = run_in_asset(example, tmp_path, "Custom::RedshiftCluster", "dbscale.handlers.redshift_cluster", "redshift")
    report, props = run["report"], run["properties"]
    create = report["create"]
    assert create["Status"] == "SUCCESS", create["Reason"]
    assert create["PhysicalResourceId"] == props["ClusterIdentifier"]
    assert create["Data"]["ClusterIdentifier"] == props["ClusterIdentifier"]
    assert create["Data"]["NodeType"] == "ra3.xlplus" and create["Data"]["NumberOfNodes"] == "2"
    assert create["Data"]["Endpoint.Address"]
    described = report["described"]
    assert described["NodeType"] == "ra3.xlplus" and described["NumberOfNodes"] == 2
    assert described["Encrypted"] is True and described["PubliclyAccessible"] is False
    assert described["ClusterSubnetGroupName"] == props["ClusterSubnetGroupName"]["Ref"].lower()
    assert described["KmsKeyId"].startswith("arn:aws:kms:")
    tags = {t["Key"]: t["Value"] for t in described.get("Tags", [])}
    assert tags.get("project") == "dbscale-example"
    delete = report["delete"]
    assert delete["Status"] == "SUCCESS", delete["Reason"]
    assert report["after_delete"] == {"error": "ClusterNotFound"}


def test_aurora_resource_runs_through_the_bundled_handler(example: Synthesized, tmp_path: Path) -> None:
    run = run_in_asset(example, tmp_path, "Custom::AuroraCluster", "dbscale.handlers.aurora_cluster", "rds")
    report, props = run["report"], run["properties"]
    create = report["create"]
    assert create["Status"] == "SUCCESS", create["Reason"]
    assert create["PhysicalResourceId"] == props["ClusterIdentifier"]
    described = report["described"]
    assert described["Engine"] == "aurora-postgresql" and described["StorageEncrypted"] is True
    assert described["DBSubnetGroup"] == props["DBSubnetGroupName"]["Ref"].lower()
    assert described["DBClusterParameterGroup"] == props["DBClusterParameterGroupName"]["Ref"].lower()
    assert described["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 4.0}
    assert len(described["DBClusterMembers"]) == 2  # the writer and one reader
    assert report["delete"]["Status"] == "SUCCESS", report["delete"]["Reason"]
    assert report["after_delete"] == {"error": "DBClusterNotFoundFault"}


def test_aurora_clone_runs_through_the_bundled_handler(example: Synthesized, tmp_path: Path) -> None:
    source = next(
        r["Properties"]["ClusterIdentifier"]
        for r in example.template("DbscaleExample")["Resources"].values()
        if r["Type"] == "Custom::AuroraCluster"
    )
    run = run_in_asset(
        example,
        tmp_path,
        "Custom::AuroraClone",
        "dbscale.handlers.aurora_clone",
        "rds",
        stack="DbscaleDevClones",
        source_cluster=source,
    )
    report, props = run["report"], run["properties"]
    create = report["create"]
    assert create["Status"] == "SUCCESS", create["Reason"]
    assert create["PhysicalResourceId"] == props["CloneClusterIdentifier"]
    assert create["Data"]["ClonedFrom"] == source
    described = report["described"]
    tags = {t["Key"]: t["Value"] for t in described["TagList"]}
    assert tags["dbscale:clone-of"] == source
    assert [m["IsClusterWriter"] for m in described["DBClusterMembers"]] == [True]
    assert report["delete"]["Status"] == "SUCCESS", report["delete"]["Reason"]
    assert report["after_delete"] == {"error": "DBClusterNotFoundFault"}
