"""Drive the example app's custom resources through the real handlers on moto and record their calls.

Each custom resource of the synthesized example app (``DbscaleExample``: Warehouse, AppDb;
``DbscaleDevClones``: DevClone) and of ``examples/raw-cloudformation.yaml`` is sent to its handler
as a CloudFormation Create event, with its properties exactly as synthesized: the resources they
reference (subnet groups, security groups, KMS keys, parameter groups) are made in moto first and
the intrinsics resolved to them, as ``tests/constructs/asset_runner.py`` does. A botocore
``provide-client-params`` hook (:class:`tests.fakes.AwsCallRecorder`) records every API call the
handler makes during its invocations, with the handler's own parameters.

``References`` remembers which moto value stands for which template reference, so the renderer
can put a template parameter back where the handler sent, say, a security group id.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
EXAMPLE_STACKS = ("DbscaleExample", "DbscaleDevClones")
RAW_TEMPLATE = ROOT / "examples" / "raw-cloudformation.yaml"

HANDLERS = {
    "Custom::RedshiftCluster": "dbscale.handlers.redshift_cluster",
    "Custom::AuroraCluster": "dbscale.handlers.aurora_cluster",
    "Custom::AuroraClone": "dbscale.handlers.aurora_clone",
}

# What a referenced template resource is made as in moto, and the template parameter type that
# stands for it in the rendered template (so cfn-lint checks the value's kind, not a stub).
REFERENCE_KINDS = {
    "AWS::EC2::SecurityGroup": "AWS::EC2::SecurityGroup::Id",
    "AWS::KMS::Key": "String",
    "AWS::Redshift::ClusterSubnetGroup": "String",
    "AWS::RDS::DBSubnetGroup": "String",
    "AWS::RDS::DBClusterParameterGroup": "String",
    "AWS::RDS::DBParameterGroup": "String",
    "AWS::Redshift::ClusterParameterGroup": "String",
    "AWS::IAM::Role": "String",
    "AWS::S3::Bucket": "String",
}


@dataclass
class CustomResource:
    """One custom resource of a source template, and the name its rendering is known by."""

    source: str  # the rendered template's name: a stack name or "RawCloudFormation"
    logical_id: str
    name: str  # logical id without CDK's hash (``Warehouse``), prefixed for the raw template
    type: str
    properties: dict[str, Any]


@dataclass
class Recorded:
    resource: CustomResource
    calls: list[Any]  # tests.fakes.AwsCall: those of the Create request
    status: str
    reason: str
    physical_id: str = ""
    delete_calls: list[Any] = field(default_factory=list)  # those of the Delete request
    delete_status: str = ""


@dataclass
class References:
    """moto value -> the template parameter standing for it, and that parameter's type."""

    parameters: dict[str, tuple[str, str]] = field(default_factory=dict)


def short_name(logical_id: str) -> str:
    """``Warehouse50B5FE91`` -> ``Warehouse`` (CDK's 8-hex-digit hash suffix dropped)."""
    return re.sub(r"[0-9A-F]{8}$", "", logical_id) or logical_id


def load_sources(cdk_out: Path, *, raw: bool = True) -> list[tuple[str, dict[str, Any]]]:
    """(name, template) of the example app's stacks in ``cdk_out`` and of the raw template."""
    sources = [(stack, json.loads((cdk_out / f"{stack}.template.json").read_text())) for stack in EXAMPLE_STACKS]
    if raw:
        from cfnlint.decode import cfn_yaml

        sources.append(("RawCloudFormation", dict(cfn_yaml.load(str(RAW_TEMPLATE)))))
    return sources


def custom_resources(sources: list[tuple[str, dict[str, Any]]]) -> list[CustomResource]:
    found = []
    for source, template in sources:
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] in HANDLERS:
                name = short_name(logical_id)
                if source == "RawCloudFormation":
                    name = f"Raw{name}"
                found.append(CustomResource(source, logical_id, name, resource["Type"], resource["Properties"]))
    return found


def synthesize(outdir: Path) -> Path:
    """Synthesize app.py's ``build_app()`` into ``outdir`` (one jsii start-up) and return it."""
    from tests.cdk_app import synthesize_example

    return synthesize_example(outdir).outdir


class _Resolver:
    """Makes what a template references in moto and resolves Ref / Fn::GetAtt to it."""

    def __init__(self, template: dict[str, Any], source: str, references: References) -> None:
        import boto3

        self.template = template
        self.source = source
        self.references = references
        self.made: dict[str, dict[str, str]] = {}
        self.ec2 = boto3.client("ec2", region_name=REGION)
        vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.subnets = [
            self.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
                "SubnetId"
            ]
            for i, az in enumerate("ab")
        ]
        self.vpc = vpc

    def _remember(self, value: str, logical_id: str, attribute: str | None, kind: str) -> str:
        parameter = re.sub(r"[^A-Za-z0-9]", "", f"{self.source}{logical_id}{attribute or ''}")
        self.references.parameters.setdefault(value, (parameter, kind))
        return value

    def _make(self, logical_id: str) -> dict[str, str]:
        import boto3

        if logical_id in self.made:
            return self.made[logical_id]
        resource = self.template["Resources"][logical_id]
        kind = resource["Type"]
        if kind not in REFERENCE_KINDS:
            raise AssertionError(f"{self.source}: a custom resource references {logical_id} ({kind}); add it")
        name = f"{self.source}-{logical_id}".lower()
        values: dict[str, str]
        if kind == "AWS::EC2::SecurityGroup":
            group = self.ec2.create_security_group(GroupName=name, Description="audit", VpcId=self.vpc)["GroupId"]
            values = {"Ref": group, "GroupId": group}
        elif kind == "AWS::KMS::Key":
            arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
            values = {"Ref": arn.rsplit("/", 1)[1], "Arn": arn}
        elif kind == "AWS::Redshift::ClusterSubnetGroup":
            boto3.client("redshift", region_name=REGION).create_cluster_subnet_group(
                ClusterSubnetGroupName=name, Description="audit", SubnetIds=self.subnets
            )
            values = {"Ref": name}
        elif kind == "AWS::RDS::DBSubnetGroup":
            boto3.client("rds", region_name=REGION).create_db_subnet_group(
                DBSubnetGroupName=name, DBSubnetGroupDescription="audit", SubnetIds=self.subnets
            )
            values = {"Ref": name}
        elif kind == "AWS::RDS::DBClusterParameterGroup":
            rds = boto3.client("rds", region_name=REGION)
            rds.create_db_cluster_parameter_group(
                DBClusterParameterGroupName=name,
                DBParameterGroupFamily=resource["Properties"]["Family"],
                Description="audit",
            )
            # As declared: the handler reads the group (e.g. its TLS parameter) before using it.
            if declared := _rds_parameters(resource):
                rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=name, Parameters=declared)
            values = {"Ref": name}
        elif kind == "AWS::RDS::DBParameterGroup":
            rds = boto3.client("rds", region_name=REGION)
            rds.create_db_parameter_group(
                DBParameterGroupName=name,
                DBParameterGroupFamily=resource["Properties"]["Family"],
                Description="audit",
            )
            if declared := _rds_parameters(resource):
                rds.modify_db_parameter_group(DBParameterGroupName=name, Parameters=declared)
            values = {"Ref": name}
        elif kind == "AWS::Redshift::ClusterParameterGroup":
            redshift = boto3.client("redshift", region_name=REGION)
            redshift.create_cluster_parameter_group(
                ParameterGroupName=name,
                ParameterGroupFamily=resource["Properties"]["ParameterGroupFamily"],
                Description="audit",
            )
            if declared := resource["Properties"].get("Parameters"):
                redshift.modify_cluster_parameter_group(
                    ParameterGroupName=name,
                    Parameters=[{"ParameterName": p["ParameterName"], "ParameterValue": p["ParameterValue"]} for p in declared],
                )
            values = {"Ref": name}
        elif kind == "AWS::IAM::Role":
            # The trust policy as synthesized: the handler's preflight checks the service may assume the role.
            trust = json.dumps(self.resolve(resource["Properties"].get("AssumeRolePolicyDocument", {})))
            arn = boto3.client("iam", region_name=REGION).create_role(RoleName=name, AssumeRolePolicyDocument=trust)[
                "Role"
            ]["Arn"]
            values = {"Ref": name, "Arn": arn}
        else:  # AWS::S3::Bucket
            boto3.client("s3", region_name=REGION).create_bucket(Bucket=name)
            values = {"Ref": name, "Arn": f"arn:aws:s3:::{name}"}
        for attribute, value in values.items():
            self._remember(value, logical_id, None if attribute == "Ref" else attribute, REFERENCE_KINDS[kind])
        self.made[logical_id] = values
        return values

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict):
            if set(value) == {"Ref"}:
                parameter = self.template.get("Parameters", {}).get(value["Ref"])
                if parameter is not None:
                    return self._parameter(value["Ref"], parameter)
                return self._make(value["Ref"])["Ref"]
            if set(value) == {"Fn::GetAtt"}:
                logical_id, attribute = value["Fn::GetAtt"]
                return self._make(logical_id)[attribute]
            if set(value) == {"Fn::ImportValue"}:
                return f"imported-{value['Fn::ImportValue']}"
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def _parameter(self, name: str, parameter: dict[str, Any]) -> Any:
        if "Default" in parameter:
            return parameter["Default"]
        if parameter["Type"] == "AWS::EC2::SecurityGroup::Id":
            group = self.ec2.create_security_group(GroupName=f"{self.source}-{name}", Description="a", VpcId=self.vpc)
            return self._remember(group["GroupId"], name, None, parameter["Type"])
        raise AssertionError(f"{self.source}: parameter {name} has no default and no stand-in")


def _rds_parameters(resource: dict[str, Any]) -> list[dict[str, str]]:
    """An AWS::RDS::*ParameterGroup's declared Parameters as ModifyDB*ParameterGroup takes them."""
    return [
        {"ParameterName": k, "ParameterValue": str(v), "ApplyMethod": "pending-reboot"}
        for k, v in (resource["Properties"].get("Parameters") or {}).items()
    ]


@contextmanager
def simulated_aws() -> Iterator[Any]:
    """moto with the repository's shims, fake credentials, a simulated clock and a call recorder.

    Yields ``(session, recorder, clock)``; ``session`` is also boto3's default session."""
    import boto3
    from moto import mock_aws

    from tests.e2e.harness import install_provider_function
    from tests.fakes import AwsCallRecorder, SharedClock, fresh_session, install_moto_shims
    from tests.fakes.engine_versions import EngineVersionCatalog

    saved = {k: os.environ.get(k) for k in _ENV}
    os.environ.update(_ENV)
    install_moto_shims()
    saved_session = boto3.DEFAULT_SESSION
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), EngineVersionCatalog():
            session = fresh_session(REGION)
            recorder = AwsCallRecorder()
            recorder.attach(session.events)
            boto3.DEFAULT_SESSION = session
            install_provider_function()
            yield session, recorder, SharedClock()
    finally:
        boto3.DEFAULT_SESSION = saved_session
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    "MOTO_ACCOUNT_ID": ACCOUNT,
}


@contextmanager
def _wired(module: Any, server: Any, session: Any, clock: Any, ca_file: Path) -> Iterator[Any]:
    """The handler module's provider on the simulated AWS, clock and response server's CA."""
    from tests.e2e.harness import wired

    with wired(module, server, str(ca_file), session, clock) as cfn:
        yield cfn


def record(
    sources: list[tuple[str, dict[str, Any]]], *, overrides: dict[str, dict[str, Any]] | None = None
) -> tuple[list[Recorded], References]:
    """Send a Create event for every custom resource of ``sources`` to its handler; record the calls.

    ``overrides`` (by rendered name, e.g. ``{"Warehouse": {"Encrypted": False}}``) changes a
    resource's properties first (a test proving that the lint catches an insecure cluster)."""
    import trustme

    from tests.e2e.harness import ResponseServer

    references = References()
    resources = custom_resources(sources)
    recorded: list[Recorded] = []
    ca = trustme.CA()
    server = ResponseServer(ca)
    workdir = tempfile.TemporaryDirectory(prefix="dbscale-audit-")
    ca_file = Path(workdir.name) / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    try:
        with simulated_aws() as (session, recorder, clock):
            resolvers = {source: _Resolver(t, source, references) for source, t in sources}
            events: list[tuple[Recorded, Any, dict[str, Any]]] = []
            for resource in resources:
                properties = {
                    k: v for k, v in resource.properties.items() if k not in ("ServiceToken", "ServiceTimeout")
                }
                properties = resolvers[resource.source].resolve(properties)
                properties.update((overrides or {}).get(resource.name, {}))
                module = importlib.import_module(HANDLERS[resource.type])
                with _wired(module, server, session, clock, ca_file) as cfn:
                    start = len(recorder.calls)
                    timeout = resource.properties.get("ServiceTimeout")
                    event = cfn.event(
                        "Create",
                        resource.type,
                        properties,
                        logical_id=resource.logical_id,
                        service_timeout=int(timeout) if timeout is not None else None,
                    )
                    result = cfn.send(event)
                item = Recorded(resource, list(recorder.calls[start:]), result.status, result.reason)
                if result.status == "SUCCESS":
                    item.physical_id = result.physical_id
                recorded.append(item)
                events.append((item, module, properties))
            # Delete in reverse order (clones before their source), recording how each is deleted:
            # the native resource's DeletionPolicy says the same.
            for item, module, properties in reversed(events):
                if not item.physical_id:
                    continue
                with _wired(module, server, session, clock, ca_file) as cfn:
                    start = len(recorder.calls)
                    event = cfn.event(
                        "Delete",
                        item.resource.type,
                        properties,
                        logical_id=item.resource.logical_id,
                        physical_id=item.physical_id,
                    )
                    result = cfn.send(event)
                item.delete_calls = list(recorder.calls[start:])
                item.delete_status = result.status
    finally:
        server.close()
        workdir.cleanup()
    return recorded, references
