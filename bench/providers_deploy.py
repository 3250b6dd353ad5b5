"""``dbscale providers deploy`` against what a user would do instead, measured in the same run.

What is measured, each over ``--runs`` random prefixes and guardrails (seeded):

* **local work before the first AWS call**: ``dbscale providers deploy`` builds the code bundle and
  renders the shipped template; the alternative, ``cdk deploy DbscaleProviders``, first synthesizes
  ``ProvidersStack`` through jsii/Node (its Python process cost is measured here; the CDK CLI's own
  Node start and asset publishing come on top and are not counted, so the ratio favours the CDK);
* **a whole deploy** (bucket, uploads, change set, events, exports) against in-process moto, and the
  second deploy that finds nothing to change (moto answers at once: this is dbscale's own cost,
  not CloudFormation's minutes);
* **install size** of ``dbscale`` and ``dbscale[cdk]`` in fresh venvs (uv, offline from its cache,
  skipped when the cache cannot serve them).

    .venv/bin/python bench/providers_deploy.py [--runs 5] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"mean {statistics.mean(values):7.3f} s  p95 {p95:7.3f} s  max {max(values):7.3f} s"


def random_inputs(rng: random.Random) -> tuple[str, Any]:
    from dbscale.core.guardrails import Guardrails

    prefix = rng.choice(string.ascii_lowercase) + "".join(
        rng.choice(string.ascii_lowercase + string.digits) for _ in range(rng.randint(0, 10))
    )
    prefix += "-"
    guardrails = Guardrails(
        allow_tls_off=rng.random() < 0.5,
        allow_public_access=rng.random() < 0.3,
        adopt_prefixes=(f"{prefix}legacy-",) if rng.random() < 0.5 else (),
    )
    return prefix, guardrails


def local_work(runs: int, rng: random.Random) -> tuple[list[float], list[float]]:
    from dbscale.constructs.providers_stack import synthesize_template_source
    from dbscale.deploy import build_bundle, render_template
    from dbscale.deploy.template import _source_text

    ours: list[float] = []
    cdk: list[float] = []
    for _ in range(runs):
        prefix, guardrails = random_inputs(rng)
        _source_text.cache_clear()
        start = time.perf_counter()
        build_bundle()
        render_template(prefix=prefix, guardrails=guardrails)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        synthesize_template_source(prefix, guardrails)
        cdk.append(time.perf_counter() - start)
    return ours, cdk


class CallCounter:
    """Counts AWS calls (botocore's before-call event, once per call, not per retry)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, **_: Any) -> None:
        self.calls += 1


def moto_deploys(runs: int, rng: random.Random) -> tuple[list[float], list[float], list[int]]:
    from moto import mock_aws

    from dbscale.deploy import ProvidersDeployment, build_bundle
    from tests.fakes.cloudformation import install_cloudformation_shims
    from tests.fakes.sessions import fresh_session

    install_cloudformation_shims()
    first: list[float] = []
    again: list[float] = []
    calls: list[int] = []
    bundle = build_bundle()
    for _ in range(runs):
        prefix, guardrails = random_inputs(rng)
        with mock_aws():
            session = fresh_session("us-east-1")
            counter = CallCounter()
            session.events.register("before-call", counter)
            deployment = ProvidersDeployment(session, poll_seconds=0.0)
            start = time.perf_counter()
            deployment.deploy(prefix=prefix, guardrails=guardrails, bundle=bundle)
            first.append(time.perf_counter() - start)
            calls.append(counter.calls)
            start = time.perf_counter()
            deployment.deploy(prefix=prefix, guardrails=guardrails, bundle=bundle)
            again.append(time.perf_counter() - start)
    return first, again, calls


def install_sizes() -> dict[str, str]:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if not uv:
        return {"skipped": "no uv"}
    sizes: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp, str(ROOT)],
            check=True,
            capture_output=True,
        )
        (wheel,) = Path(tmp).glob("dbscale-*.whl")
        for extra in ("", "[cdk]"):
            venv = Path(tmp) / f"venv{extra.strip('[]')}"
            subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
            done = subprocess.run(
                [
                    uv,
                    "pip",
                    "install",
                    "--quiet",
                    "--offline",
                    "--python",
                    str(venv / "bin" / "python"),
                    f"{wheel}{extra}",
                ],
                capture_output=True,
                check=False,
            )
            if done.returncode != 0:
                sizes[f"dbscale{extra}"] = "skipped (uv cache cannot serve it offline)"
                continue
            total = sum(p.stat().st_size for p in venv.rglob("*") if p.is_file() and not p.is_symlink())
            sizes[f"dbscale{extra}"] = f"{total / 1e6:.0f} MB"
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    ours, cdk = local_work(args.runs, rng)
    print(f"local work before the first AWS call, {args.runs} random prefixes and guardrails:")
    print(f"  dbscale providers deploy (bundle + render)   {summary(ours)}")
    print(f"  CDK synth of ProvidersStack (baseline)        {summary(cdk)}")
    print(f"  ratio (mean, dbscale / CDK)                   {statistics.mean(ours) / statistics.mean(cdk):.3f}")
    first, again, calls = moto_deploys(args.runs, rng)
    print("whole deploy on in-process moto (dbscale's own cost):")
    print(f"  first deploy   {summary(first)}  ({min(calls)}-{max(calls)} AWS calls)")
    print(f"  no-change      {summary(again)}  ratio to first {statistics.mean(again) / statistics.mean(first):.3f}")
    for name, size in install_sizes().items():
        print(f"install size: {name}: {size}")


if __name__ == "__main__":
    main()
