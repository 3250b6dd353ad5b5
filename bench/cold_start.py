"""Cold start: a whole first invocation in a fresh process, import included, against a minimal
crhelper handler doing the same work, measured in the same run, interleaved.

The work: one Create whose properties are invalid, answered FAILED over HTTPS to a TLS server on
127.0.0.1 (the ResponseURL). The child process times from before the handler's import to the
return of the handler (the interpreter's own start-up is the same for both and left out).
Each figure is the median of RUNS fresh processes, with mean, p95 and max. Target: <= 0.50x.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trustme  # noqa: E402

from tests.e2e.harness import ResponseServer  # noqa: E402

RUNS = 21
TARGET = 0.50

EVENT = """{{"RequestType": "Create", "ResponseURL": "{url}", "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
 "RequestId": "{rid}", "LogicalResourceId": "Cluster", "ResourceType": "{rtype}",
 "ResourceProperties": {{"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f", "ClusterIdentifier": "c",
 "NodeType": "ra3.xlplus", "NumberOfNodes": "999"}}}}"""

CONTEXT = """
class Context:
    function_name = "f"
    aws_request_id = "r"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    def get_remaining_time_in_millis(self):
        return 900000
"""

DBSCALE = (
    "import time, json; t = time.perf_counter()\n"
    "from dbscale.handlers import redshift_cluster\n"
    "redshift_cluster.provider.ssl_verify = {ca!r}\n" + CONTEXT +
    "redshift_cluster.handler(json.loads({event!r}), Context())\n"
    "print(time.perf_counter() - t)\n"
)

CRHELPER = (
    "import time, json; t = time.perf_counter()\n"
    "from crhelper import CfnResource\n"
    "helper = CfnResource(log_level='ERROR', ssl_verify={ca!r}, sleep_on_delete=0)\n"
    "@helper.create\n"
    "def create(event, context):\n"
    "    props = event['ResourceProperties']\n"
    "    if not 1 <= int(props['NumberOfNodes']) <= 128:\n"
    "        raise ValueError('NumberOfNodes must be between 1 and 128')\n" + CONTEXT +
    "helper(json.loads({event!r}), Context())\n"
    "print(time.perf_counter() - t)\n"
)


def run_child(template: str, server: ResponseServer, ca_file: str) -> float:
    rid = str(uuid.uuid4())
    url = server.url()
    event = EVENT.format(url=url, rid=rid, rtype="Custom::RedshiftCluster").replace("\n", "")
    code = template.format(ca=ca_file, event=event)
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env, cwd=ROOT)
    path = url.split("?")[0].split(f":{server.port}", 1)[1]
    answers = server.responses.get(path, [])
    if len(answers) != 1 or answers[0]["Status"] != "FAILED":
        raise SystemExit(f"the child did not answer FAILED exactly once: {answers!r}\n{out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(values) * 1000:6.1f} ms  mean {statistics.mean(values) * 1000:6.1f}  "
        f"p95 {p95 * 1000:6.1f}  max {max(values) * 1000:6.1f}"
    )


def main() -> int:
    ca = trustme.CA()
    ca_file = tempfile.NamedTemporaryFile(suffix=".pem", delete=False).name
    ca.cert_pem.write_to_path(ca_file)
    server = ResponseServer(ca)
    ours: list[float] = []
    base: list[float] = []
    try:
        for _ in range(RUNS):
            base.append(run_child(CRHELPER, server, ca_file))
            ours.append(run_child(DBSCALE, server, ca_file))
    finally:
        server.close()
    ratio = statistics.median(ours) / statistics.median(base)
    print(f"cold start (import + one invalid Create answered over HTTPS), {RUNS} fresh processes each, interleaved")
    print(f"  minimal crhelper handler  {summary(base)}")
    print(f"  dbscale redshift handler  {summary(ours)}")
    print(f"ratio of medians {ratio:.2f}x: {'meets' if ratio <= TARGET else 'MISSES'} the {TARGET:.2f}x target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
