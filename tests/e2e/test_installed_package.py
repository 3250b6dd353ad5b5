"""A new user with only ``pip``: the wheel installed in a fresh venv (no CDK, no repository), a moto
server standing in for AWS. ``dbscale providers deploy`` makes the providers' stack from what the
wheel holds, and a raw template's ``Custom::RedshiftCluster`` runs on the deployed code.

The venv gets the wheel and its dependencies from uv's cache (filled by ``make``'s locked install),
offline; where the cache lacks one, from the package index.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from dbscale.deploy import EXPORT_NAMES
from tests.fakes.server import moto_server

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A venv with the wheel built from this tree and nothing else of the repository."""
    root = tmp_path_factory.mktemp("installed")
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("dbscale-*.whl")
    venv = root / "venv"
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv, "uv comes with the lock (requirements/uv.txt)"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    started = time.monotonic()
    install = [uv, "pip", "install", "--quiet", "--python", str(python), str(wheel)]
    offline = subprocess.run([*install, "--offline"], capture_output=True, text=True, check=False)
    if offline.returncode != 0:
        subprocess.run(install, check=True, capture_output=True)
    return {"python": python, "dbscale": venv / "bin" / "dbscale", "seconds": time.monotonic() - started}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server(shims=True) as url:
        yield url


@pytest.fixture(scope="module")
def env(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("home")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON", "DBSCALE_", "VIRTUAL_ENV"))}
    clean.update(
        HOME=str(home),
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        XDG_CACHE_HOME=str(home / ".cache"),
    )
    return clean


def dbscale(installed: dict[str, Any], env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(installed["dbscale"]), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_wheel_alone_has_the_cli_and_the_template_but_not_the_cdk(
    installed: dict[str, Any], env: dict[str, str], tmp_path: Path
) -> None:
    probe = (
        "import importlib.util, json, dbscale, dbscale.deploy.template as t;"
        "print(json.dumps({'cdk': importlib.util.find_spec('aws_cdk') is not None, 'from': dbscale.__file__,"
        "'resources': len(t.template_source()['Resources'])}))"
    )
    found = json.loads(
        subprocess.run(
            [str(installed["python"]), "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
        ).stdout
    )
    assert found["cdk"] is False and found["resources"] > 20
    assert "site-packages" in found["from"] and not found["from"].startswith(str(REPO))
    constructs = subprocess.run(
        [str(installed["python"]), "-c", "import dbscale.constructs"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert constructs.returncode == 1 and "pip install 'dbscale[cdk]'" in constructs.stderr
    version = dbscale(installed, env, tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("dbscale ")


class _Responses(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Responses.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        return None


def _response_server(workdir: Path) -> tuple[HTTPServer, Path]:
    import trustme

    ca = trustme.CA()
    ca_file = workdir / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = HTTPServer(("127.0.0.1", 0), _Responses)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, ca_file


# Runs isolated (-I -S: no site-packages) with only the downloaded bundle and what a Lambda Python
# runtime provides (boto3 and its dependencies) on sys.path: a module missing from the bundle fails here.
LAMBDA_RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")


def _lambda_runtime(installed: dict[str, Any], root: Path) -> Path:
    site = next(Path(str(installed["python"])).parent.parent.glob("lib/python3*/site-packages"))
    runtime = root / "lambda-runtime"
    runtime.mkdir()
    for name in LAMBDA_RUNTIME_PACKAGES:
        (runtime / name).symlink_to(site / name)
    return runtime


RUNNER = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[3]]
import dbscale, dbscale.handlers.redshift_cluster as module
assert dbscale.__file__.startswith(sys.argv[1]), dbscale.__file__
spec = json.loads(sys.argv[2])

class Context:
    function_name = spec["function_name"]
    invoked_function_arn = spec["function_arn"]
    aws_request_id = "installed"
    def get_remaining_time_in_millis(self):
        return 900_000

module.provider.ssl_verify = spec["ca_file"]
for event in spec["events"]:
    module.handler(event, Context())
"""


def test_deploy_the_providers_then_a_raw_template_cluster_on_the_deployed_code(
    installed: dict[str, Any], env: dict[str, str], endpoint: str, tmp_path: Path
) -> None:
    region_env = {**env, "AWS_DEFAULT_REGION": REGION}
    first = dbscale(installed, region_env, tmp_path, "--region", REGION, "providers", "deploy", "--json")
    assert first.returncode == 0, first.stderr[-3000:]
    deployed = json.loads(first.stdout)
    assert deployed["status"] == "CREATE_COMPLETE" and set(deployed["exports"]) == set(EXPORT_NAMES.values())
    assert "Custom::" not in first.stderr and "CREATE_COMPLETE" in first.stderr  # live events on stderr

    again = dbscale(installed, region_env, tmp_path, "providers", "deploy", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["changed"] is False

    # What CloudFormation would invoke for a Custom::RedshiftCluster of examples/raw-cloudformation.yaml:
    # the function behind the export, running the bundle deploy uploaded.
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    token = deployed["exports"]["dbscale-RedshiftClusterServiceToken"]
    function = session.client("lambda", endpoint_url=endpoint).get_function(FunctionName=token)["Configuration"]
    assert function["Handler"] == "dbscale.handlers.redshift_cluster.handler"
    bundle = tmp_path / "bundle"
    data = session.client("s3", endpoint_url=endpoint).get_object(Bucket=deployed["bucket"], Key=deployed["code_key"])
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(data["Body"].read())
    zipfile.ZipFile(archive).extractall(bundle)

    server, ca_file = _response_server(tmp_path)
    stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/raw-warehouse/{uuid.uuid4()}"
    base = {
        "ServiceToken": token,
        "ResponseURL": f"https://localhost:{server.server_address[1]}/response?X-Amz-Signature=raw",
        "StackId": stack_id,
        "LogicalResourceId": "Warehouse",
        "ResourceType": "Custom::RedshiftCluster",
        "ResourceProperties": {
            "ServiceToken": token,
            "ClusterIdentifier": "dbscale-warehouse",
            "NodeType": "ra3.xlplus",
            "NumberOfNodes": "2",
        },
    }
    events = [
        {**base, "RequestType": "Create", "RequestId": str(uuid.uuid4())},
        {
            **base,
            "RequestType": "Delete",
            "RequestId": str(uuid.uuid4()),
            "PhysicalResourceId": "dbscale-warehouse",
        },
    ]
    spec = {
        "function_name": function["FunctionName"],
        "function_arn": token,
        "ca_file": str(ca_file),
        "events": events,
    }
    try:
        ran = subprocess.run(
            [
                str(installed["python"]),
                "-I",
                "-S",
                "-c",
                RUNNER,
                str(bundle),
                json.dumps(spec),
                str(_lambda_runtime(installed, tmp_path)),
            ],
            cwd=tmp_path,
            env=region_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        server.shutdown()
    assert ran.returncode == 0, ran.stderr[-3000:]
    create, delete = _Responses.received[-2:]
    assert create["Status"] == "SUCCESS", create
    assert create["PhysicalResourceId"] == "dbscale-warehouse"
    assert delete["Status"] == "SUCCESS", delete
    snapshots = session.client("redshift", endpoint_url=endpoint).describe_cluster_snapshots()["Snapshots"]
    assert any(s["SnapshotIdentifier"].startswith("dbscale-warehouse-final-") for s in snapshots)  # nothing lost

    gone = dbscale(installed, region_env, tmp_path, "providers", "delete")
    assert gone.returncode == 0, gone.stderr[-2000:]
    assert "deleted stack dbscale-providers" in gone.stdout
    exports = session.client("cloudformation", endpoint_url=endpoint).list_exports()["Exports"]
    assert not exports
