"""Run a synthesized custom resource through the handler imported from the bundled asset, against moto.

Run as ``python asset_runner.py SPEC.json`` in a fresh interpreter (never imported by pytest): the
asset directory goes first on sys.path so ``dbscale`` and ``tzdata`` come from the asset, not
the source tree. SPEC holds the asset directory, the resource type, its logical id and its
properties exactly as synthesized (intrinsics included), and what each referenced logical id is.

It creates those referenced resources in moto, and the provider's state machine from its synthesized
definition (named after the function, where the runtime looks for it), resolves the intrinsics,
turns every value into a string as CloudFormation does, sends Create and then Delete events to the
handler, catches the responses on a local HTTPS server (a throwaway CA from trustme) and prints a
JSON report.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"


def cfn_strings(value: Any) -> Any:
    """CloudFormation sends custom resource properties with every scalar as a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return [cfn_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: cfn_strings(v) for k, v in value.items()}
    return value


class Responses(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_PUT(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        Responses.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def https_server(workdir: Path) -> tuple[HTTPServer, str]:
    import ssl

    import trustme

    ca = trustme.CA()
    ca_file = workdir / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = HTTPServer(("127.0.0.1", 0), Responses)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, str(ca_file)


class Context:
    function_name = "dbscale-provider"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:dbscale-provider"
    aws_request_id = "e2e"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000  # a full Lambda timeout: the handler finishes within one invocation


def make_references(kinds: dict[str, str], trusts: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Create in moto what the template references; return logical id -> {"Ref"|attribute: value}."""
    import boto3

    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    values: dict[str, dict[str, str]] = {}
    for logical_id, kind in kinds.items():
        if kind == "security_group":
            group = ec2.create_security_group(GroupName=logical_id, Description="e2e", VpcId=vpc)["GroupId"]
            values[logical_id] = {"Ref": group, "GroupId": group}
        elif kind == "key":
            arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
            values[logical_id] = {"Ref": arn.rsplit("/", 1)[1], "Arn": arn}
        elif kind == "redshift_subnet_group":
            name = logical_id.lower()
            boto3.client("redshift", region_name=REGION).create_cluster_subnet_group(
                ClusterSubnetGroupName=name, Description="e2e", SubnetIds=subnets
            )
            values[logical_id] = {"Ref": name}
        elif kind == "rds_subnet_group":
            name = logical_id.lower()
            boto3.client("rds", region_name=REGION).create_db_subnet_group(
                DBSubnetGroupName=name, DBSubnetGroupDescription="e2e", SubnetIds=subnets
            )
            values[logical_id] = {"Ref": name}
        elif kind == "rds_cluster_parameter_group":
            name = logical_id.lower()
            rds = boto3.client("rds", region_name=REGION)
            rds.create_db_cluster_parameter_group(
                DBClusterParameterGroupName=name, DBParameterGroupFamily="aurora-postgresql16", Description="e2e"
            )
            # As the construct's group declares: TLS required (the provider's guardrail reads it).
            rds.modify_db_cluster_parameter_group(
                DBClusterParameterGroupName=name,
                Parameters=[{"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}],
            )
            values[logical_id] = {"Ref": name}
        elif kind == "role":
            trust = trusts.get(logical_id, {"Version": "2012-10-17", "Statement": []})
            role = boto3.client("iam", region_name=REGION).create_role(
                RoleName=logical_id[:64], AssumeRolePolicyDocument=json.dumps(trust)
            )["Role"]
            values[logical_id] = {"Ref": role["RoleName"], "Arn": role["Arn"]}
        elif kind == "function":
            values[logical_id] = {"Arn": Context.invoked_function_arn}
        else:
            raise SystemExit(f"unknown reference kind {kind}")
    return values


def make_source_cluster(identifier: str) -> None:
    """An Aurora PostgreSQL cluster with a writer, for a clone to be made of."""
    import boto3

    rds = boto3.client("rds", region_name=REGION)
    # As the example's AppDb runs: encrypted, on a parameter group that requires TLS (the clone
    # provider's guardrails check both on the source).
    group = f"{identifier}-tls"
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName=group, DBParameterGroupFamily="aurora-postgresql16", Description="source"
    )
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName=group,
        Parameters=[{"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}],
    )
    rds.create_db_cluster(
        DBClusterIdentifier=identifier,
        Engine="aurora-postgresql",
        EngineVersion="16.10",
        MasterUsername="postgres",
        ManageMasterUserPassword=True,
        StorageEncrypted=True,
        DBClusterParameterGroupName=group,
    )
    rds.create_db_instance(
        DBInstanceIdentifier=f"{identifier}-1",
        DBClusterIdentifier=identifier,
        DBInstanceClass="db.r6g.large",
        Engine="aurora-postgresql",
    )


PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com"}


def resolve(value: Any, refs: dict[str, dict[str, str]]) -> Any:
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return PSEUDO[value["Ref"]] if value["Ref"] in PSEUDO else refs[value["Ref"]]["Ref"]
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(str(resolve(p, refs)) for p in parts)
        if set(value) == {"Fn::GetAtt"}:
            logical_id, attribute = value["Fn::GetAtt"]
            return refs[logical_id][attribute]
        return {k: resolve(v, refs) for k, v in value.items()}
    return value


def make_state_machine(operations: dict[str, Any]) -> str:
    """The provider's state machine, created in moto from its synthesized definition (the function's
    ARN resolved to :class:`Context`'s) under the name the runtime derives from the function's ARN."""
    import boto3

    from dbscale.cfn.workflow import state_machine_name  # from the asset

    definition = resolve(operations["definition"], {operations["function"]: {"Arn": Context.invoked_function_arn}})
    json.loads(definition)  # resolved to JSON
    return str(
        boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name=state_machine_name(Context.function_name),
            definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/dbscale-operations",
        )["stateMachineArn"]
    )


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    asset = spec["asset"]
    sys.path.insert(0, asset)
    os.environ.update(
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        MOTO_ACCOUNT_ID=ACCOUNT,
    )
    from moto import mock_aws

    # moto has no DescribeDBEngineVersions: the test catalog serves it (the handler resolves a major
    # EngineVersion such as '16' through it). The repository root comes after the asset on sys.path.
    sys.path.append(str(Path(__file__).resolve().parents[2]))
    from tests.fakes.engine_versions import EngineVersionCatalog
    from tests.fakes.moto_shims import install_moto_shims

    # moto's gaps the handlers reach (e.g. Redshift ModifyClusterParameterGroup for dbscale's TLS group).
    install_moto_shims()

    workdir = Path(sys.argv[1]).parent
    server, ca_file = https_server(workdir)
    report: dict[str, Any] = {}
    with mock_aws(), EngineVersionCatalog():
        import importlib

        refs = make_references(spec["references"], spec.get("trust", {}))
        if spec.get("source_cluster"):
            make_source_cluster(spec["source_cluster"])
        report["state_machine"] = make_state_machine(spec["operations"])
        properties = cfn_strings(resolve(spec["properties"], refs))
        module = importlib.import_module(spec["handler_module"])
        import tzdata

        import dbscale

        report["imported_from"] = {
            name: str(Path(mod.__file__).resolve())
            for name, mod in (("dbscale", dbscale), ("tzdata", tzdata), ("handler", module))
        }
        module.provider.ssl_verify = ca_file
        module.provider.poll_seconds = 0.01
        stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/DbscaleExample/{uuid.uuid4()}"
        base = {
            "ResponseURL": f"https://localhost:{server.server_address[1]}/response?X-Amz-Signature=e2e",
            "StackId": stack_id,
            "LogicalResourceId": spec["logical_id"],
            "ResourceType": spec["resource_type"],
            "ResourceProperties": properties,
        }
        module.handler({**base, "RequestType": "Create", "RequestId": str(uuid.uuid4())}, Context())
        report["create"] = Responses.received[-1]
        report["described"] = spec["describe"] and describe(spec["describe"], report["create"]["PhysicalResourceId"])
        module.handler(
            {
                **base,
                "RequestType": "Delete",
                "RequestId": str(uuid.uuid4()),
                "PhysicalResourceId": report["create"]["PhysicalResourceId"],
            },
            Context(),
        )
        report["delete"] = Responses.received[-1]
        report["after_delete"] = describe(spec["describe"], report["create"]["PhysicalResourceId"])
    server.shutdown()
    print(json.dumps(report, default=str))


def describe(service: str, identifier: str) -> Any:
    import boto3

    client = boto3.client(service, region_name=REGION)
    try:
        if service == "redshift":
            return client.describe_clusters(ClusterIdentifier=identifier)["Clusters"][0]
        return client.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
    except client.exceptions.ClientError as err:
        return {"error": err.response["Error"]["Code"]}


if __name__ == "__main__":
    main()
