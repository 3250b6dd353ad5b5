"""What the preflight (issue 27) adds to a request: AWS calls and wall time, per Create and per Update.

What is measured: a request's first step as its handler runs it (``resource.step``: parse, preflight,
guardrails, the first create or modify calls; what the first invocation does before it answers or
hands over to Step Functions), for each resource type and each template size: ``minimal`` (required
properties only), ``full`` (every referential property of tests/unit/test_preflight_grid.py's valid
templates) and ``sweep`` (random subsets of the full template's optional properties, seeded). Each
request runs twice in the same run: as the handler runs it, and with the preflight turned off (the
handlers' ``check_preflight`` replaced by a no-op: a seam of this bench only, not a product flag).
Updates: ``same`` changes nothing referential (Tags), ``changed`` one reference (the security group,
the parameter group); Updates are of the cluster types (a clone replaces, a bootstrap re-reads its
two references only when they change).

Printed per cell: calls per request with and without the preflight, the difference by API, and wall
time (mean, p95, max) per request with and without. On in-process moto a call costs ~1 ms of CPU, so
a second table adds ``--latency-ms`` (default 30 ms, an assumption standing for a regional AWS round
trip, not a measurement) to every call (botocore ``before-call``) and runs the full templates'
preflight with its thread pool (6 workers) and with one worker (sequential), to show what the pool
buys. Setup (the world the templates refer to) is not measured.

Checks (exit 1 when one fails): a minimal template adds at most one call (the RDS quota read of an
Aurora create), a full one at most one per referential property plus the quota read, an Update that
changes nothing referential adds none, and the pool is faster than sequential under latency.

    .venv/bin/python bench/preflight.py [--quick] [--samples 20] [--latency-ms 30] [--seed 27] [--json]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REGION = "us-east-1"
HANDLER_SEAMS = ("dbscale.handlers.cluster", "dbscale.handlers.redshift_cluster", "dbscale.handlers.database_bootstrap")
# Resource type -> (grid template name, required properties: the minimal template, the quota read)
TYPES: dict[str, tuple[str, tuple[str, ...], int]] = {
    "Custom::RedshiftCluster": ("redshift_full", ("ClusterIdentifier", "NodeType", "NumberOfNodes"), 0),
    "Custom::AuroraCluster": ("aurora_full", ("ClusterIdentifier", "InstanceClass"), 1),
    "Custom::AuroraClone": ("clone_full", ("SourceClusterId", "InstanceClass"), 1),
    "Custom::DatabaseBootstrap": ("bootstrap_full", ("Engine", "ClusterArn", "SecretArn"), 0),
}
# For the cluster types' Updates: a reference changed to another valid one.
UPDATE_CHANGES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "Custom::RedshiftCluster": lambda w: {"VpcSecurityGroupIds": [w["sg_a"], w["sg_a2"]]},
    "Custom::AuroraCluster": lambda w: {"DBClusterParameterGroupName": "cpg16b"},
}
ID_PROPERTY = {"Custom::RedshiftCluster": "ClusterIdentifier", "Custom::AuroraCluster": "ClusterIdentifier",
               "Custom::AuroraClone": "CloneClusterIdentifier"}  # fmt: skip
# The value an Update changes from (given to a minimal template too, so that each Update is A -> B).
UPDATE_FROM: dict[str, Callable[[Any], dict[str, Any]]] = {
    "Custom::RedshiftCluster": lambda w: {"VpcSecurityGroupIds": [w["sg_a"]]},
    "Custom::AuroraCluster": lambda w: {"DBClusterParameterGroupName": "cpg16"},
}
# Left out of an Update's template: only a create restores from them (an Update cannot change them).
CREATE_ONLY = ("SnapshotIdentifier", "SourceDBClusterIdentifier", "UseLatestRestorableTime")


@dataclass
class Calls:
    """AWS calls seen on the session (``before-call``), by ``service:Operation``; optional latency."""

    latency: float = 0.0
    seen: Counter[str] = field(default_factory=Counter)

    def __call__(self, model: Any, **_: Any) -> None:
        self.seen[f"{model.service_model.service_name}:{model.name}"] += 1
        if self.latency:
            time.sleep(self.latency)


@dataclass
class Sample:
    calls: Counter[str]
    seconds: float
    error: str = ""


def summary(samples: list[Sample]) -> dict[str, Any]:
    """Mean calls (total and by API) and wall time (mean, p95, max, ms) per request."""
    times = sorted(s.seconds * 1000 for s in samples)
    by_api: Counter[str] = Counter()
    for s in samples:
        by_api.update(s.calls)
    n = len(samples)
    return {
        "requests": n,
        "calls": round(sum(by_api.values()) / n, 2),
        "by_api": {k: round(v / n, 2) for k, v in sorted(by_api.items())},
        "ms_mean": round(statistics.fmean(times), 2),
        "ms_p95": round(times[min(n - 1, max(0, round(0.95 * n) - 1))], 2),
        "ms_max": round(times[-1], 2),
        "errors": sorted({s.error for s in samples if s.error}),
    }


@contextmanager
def preflight_off() -> Iterator[None]:
    """The handlers without their preflight (this bench's seam: the request as on main before it)."""
    import importlib

    modules = [importlib.import_module(name) for name in HANDLER_SEAMS]
    saved = [m.check_preflight for m in modules]
    for m in modules:
        m.check_preflight = lambda *a, **k: None
    try:
        yield
    finally:
        for m, original in zip(modules, saved, strict=True):
            m.check_preflight = original


@contextmanager
def pool_size(workers: int) -> Iterator[None]:
    """The preflight's thread pool capped at ``workers`` (1: the checks one after the other)."""
    import dbscale.core.preflight as preflight

    original = preflight.run_preflight
    preflight.run_preflight = functools.partial(original, max_workers=workers)  # type: ignore[assignment]
    try:
        yield
    finally:
        preflight.run_preflight = original  # type: ignore[assignment]


class Bench:
    """The world of the grid in moto, the handlers wired to one recorded session."""

    def __init__(self, seed: int) -> None:
        from tests.fakes.clock import FakeClock
        from tests.fakes.sessions import fresh_session
        from tests.unit import test_preflight_grid as grid

        self.grid = grid
        self.rng = random.Random(seed)
        self.session = fresh_session(REGION)
        self.calls = Calls()
        self.session.events.register("before-call", self.calls)
        self.world = grid.build_world(self.session)
        self._extend_world()
        self.clock = FakeClock()
        self.counter = 0

    def _extend_world(self) -> None:
        """A second valid group of the first VPC and a second cluster parameter group of the family."""
        ec2, rds = self.session.client("ec2"), self.session.client("rds")
        vpc = ec2.describe_security_groups(GroupIds=[self.world["sg_a"]])["SecurityGroups"][0]["VpcId"]
        self.world.names["sg_a2"] = ec2.create_security_group(GroupName="sg-a2", Description="db", VpcId=vpc)["GroupId"]
        rds.create_db_cluster_parameter_group(
            DBClusterParameterGroupName="cpg16b", DBParameterGroupFamily="aurora-postgresql16", Description="b"
        )
        rds.modify_db_cluster_parameter_group(
            DBClusterParameterGroupName="cpg16b",
            Parameters=[{"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}],
        )
        # A clone source the TLS guardrail lets through (the grid's 'src' runs with the default group).
        rds.create_db_cluster(
            DBClusterIdentifier="tls-src", Engine="aurora-postgresql", EngineVersion="16.4", MasterUsername="admin",
            MasterUserPassword="password1", DBClusterParameterGroupName="cpg16", StorageEncrypted=True,
        )  # fmt: skip
        rds.create_db_instance(
            DBInstanceIdentifier="tls-src-1", DBClusterIdentifier="tls-src", DBInstanceClass="db.r6g.large",
            Engine="aurora-postgresql",
        )  # fmt: skip

    def module(self, kind: str) -> Any:
        g = self.grid
        modules = {
            "Custom::RedshiftCluster": g.redshift_cluster,
            "Custom::AuroraCluster": g.aurora_cluster,
            "Custom::AuroraClone": g.aurora_clone,
            "Custom::DatabaseBootstrap": g.database_bootstrap,
        }
        return modules[kind]

    def template(self, kind: str, size: str) -> dict[str, Any]:
        """The ``minimal``, ``full`` or a ``sweep`` (random subset of the optional) template."""
        name, required, _ = TYPES[kind]
        full = getattr(self.grid, name)(self.world)
        if kind == "Custom::AuroraClone":
            full["SourceClusterId"] = "tls-src"
        if size == "full":
            return full
        optional = [k for k in full if k not in required]
        if size == "minimal":
            return {k: v for k, v in full.items() if k in required}
        from dbscale.core.errors import InvalidRequest

        while True:  # a subset the handler accepts (DefaultIamRoleArn needs IamRoles, a role its interval)
            keep = self.rng.sample(optional, self.rng.randint(0, len(optional)))
            props = {k: v for k, v in full.items() if k in required or k in keep}
            try:
                self.grid.parsed(kind, props)
            except InvalidRequest:
                continue
            return props

    def remove(self, kind: str, props: dict[str, Any]) -> None:
        """Delete what a measured Create made (not measured): moto stays as small as at the start, so
        every sample meets the same account (its quotas, the source's 15 clones)."""
        name = props.get(ID_PROPERTY.get(kind, ""))
        if not name:
            return
        if kind == "Custom::RedshiftCluster":
            redshift = self.session.client("redshift")
            if name in {c["ClusterIdentifier"] for c in redshift.describe_clusters()["Clusters"]}:
                redshift.delete_cluster(ClusterIdentifier=name, SkipFinalClusterSnapshot=True)
            return
        rds = self.session.client("rds")
        for instance in rds.describe_db_instances()["DBInstances"]:
            if instance.get("DBClusterIdentifier") == name:
                rds.delete_db_instance(DBInstanceIdentifier=instance["DBInstanceIdentifier"])
        if name in {c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]}:
            rds.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)

    def unique(self, kind: str, props: dict[str, Any]) -> dict[str, Any]:
        """``props`` with a cluster identifier of its own (each Create makes a new cluster)."""
        self.counter += 1
        if kind in ID_PROPERTY:
            props = {**props, ID_PROPERTY[kind]: f"bench-{self.counter}"}
        return props

    def step(self, kind: str, request_type: str, props: dict[str, Any], old: dict[str, Any] | None = None) -> Sample:
        """One request's first step, timed and counted."""
        from dbscale.cfn.request import Request
        from dbscale.cfn.state import new_state
        from tests.e2e.harness import stringify

        module = self.module(kind)
        provider = module.provider
        provider.session, provider.clock = self.session, self.clock
        event: dict[str, Any] = {
            "RequestType": request_type, "ResponseURL": "https://example.invalid/", "ServiceToken": "x",
            "StackId": f"arn:aws:cloudformation:{REGION}:123456789012:stack/bench/1", "RequestId": "r",
            "LogicalResourceId": "Bench", "ResourceType": kind, "ResourceProperties": stringify(props),
        }  # fmt: skip
        if old is not None:
            event["OldResourceProperties"] = stringify(old)
            event["PhysicalResourceId"] = old.get(ID_PROPERTY.get(kind, ""), "")
        state = new_state(3600, self.clock.now(), None, provider.resource.state_type())
        self.calls.seen = Counter()
        started = time.perf_counter()
        error = ""
        try:
            provider.resource.step(provider, Request.from_event(event), state)
        except Exception as err:  # reported per cell: a failing request is not a measurement
            error = f"{type(err).__name__}: {err}"[:200]
        return Sample(Counter(self.calls.seen), time.perf_counter() - started, error)


def pair(run: Callable[[], Sample], turn: int) -> tuple[Sample, Sample]:
    """(with the preflight, without) of the same request; which runs first alternates with ``turn``
    (what a first run pays, a client made or a cache filled, falls on both sides alike)."""
    if turn % 2:
        with preflight_off():
            off = run()
        return run(), off
    on = run()
    with preflight_off():
        return on, run()


def create(bench: Bench, kind: str, props: dict[str, Any]) -> Sample:
    """One measured Create of ``props`` (under a name of its own), what it made deleted after."""
    props = bench.unique(kind, props)
    try:
        return bench.step(kind, "Create", props)
    finally:
        bench.remove(kind, props)


def creates(bench: Bench, kind: str, size: str, samples: int) -> dict[str, Any]:
    on, off, extra = [], [], []
    if samples > 1:  # one pair unmeasured: the first request of a type makes its clients
        pair(lambda: create(bench, kind, bench.template(kind, size)), 0)
    for turn in range(samples):
        props = bench.template(kind, size)
        with_it, without = pair(lambda p=props: create(bench, kind, p), turn)
        on.append(with_it)
        off.append(without)
        extra.append(referential(bench, kind, props))
    return {"on": summary(on), "off": summary(off), "max_expected_extra": max(extra)}


def referential(bench: Bench, kind: str, props: dict[str, Any]) -> int:
    """The most calls the preflight may add for ``props``: one per check of the parsed properties
    (one per role of Redshift's IamRoles list; the RDS quota read is a check of its own)."""
    from dbscale.core.preflight import CHECKS

    parsed = bench.grid.parsed(kind, props)
    found = CHECKS[kind](parsed, **bench.grid.options(kind, parsed))
    return sum(len(c.value) if c.property == "IamRoles" else 1 for c in found)


def updates(bench: Bench, kind: str, size: str, samples: int) -> dict[str, Any]:
    """Updates of one cluster made with ``size``'s template: ``same`` (Tags) and ``changed`` (a reference)."""
    base = {k: v for k, v in bench.template(kind, size).items() if k not in CREATE_ONLY}
    base = {**UPDATE_FROM[kind](bench.world), **base}
    base = bench.unique(kind, base)
    with preflight_off():
        made = bench.step(kind, "Create", base)
    if made.error:
        return {"error": made.error}
    found: dict[str, Any] = {}
    for what, change in (("same", lambda w: {"Tags": [{"Key": "team", "Value": "data"}]}),
                         ("changed", UPDATE_CHANGES[kind])):  # fmt: skip
        on, off = [], []
        new = {**base, **change(bench.world)}

        def update(new: dict[str, Any] = new) -> Sample:
            done = bench.step(kind, "Update", new, base)
            with preflight_off():  # back as it was (not measured): each Update starts from the same cluster
                bench.step(kind, "Update", base, new)
            return done

        for turn in range(samples):
            with_it, without = pair(update, turn)
            on.append(with_it)
            off.append(without)
        found[what] = {"on": summary(on), "off": summary(off)}
    return found


def latency_runs(bench: Bench, samples: int, latency_ms: float) -> dict[str, Any]:
    """The full templates' preflight alone (``preflight_for``) with ``latency_ms`` per call: pool vs one worker."""
    from dbscale.core.preflight import preflight_for

    found: dict[str, Any] = {}
    bench.calls.latency = latency_ms / 1000
    try:
        for kind in TYPES:
            props = bench.grid.parsed(kind, getattr(bench.grid, TYPES[kind][0])(bench.world))
            options = bench.grid.options(kind, props)
            cell: dict[str, Any] = {}
            for label, workers in (("pool", 6), ("sequential", 1)):
                runs = []
                with pool_size(workers):
                    for _ in range(samples):
                        bench.calls.seen = Counter()
                        started = time.perf_counter()
                        preflight_for(kind, props, bench.session, **options)
                        runs.append(Sample(Counter(bench.calls.seen), time.perf_counter() - started))
                cell[label] = summary(runs)
            found[kind] = cell
    finally:
        bench.calls.latency = 0.0
    return found


def checks(figures: dict[str, Any]) -> list[str]:
    problems = []
    for kind, cells in figures["creates"].items():
        for size, cell in cells.items():
            for side in ("on", "off"):
                if cell[side]["errors"]:
                    problems.append(f"{kind} {size} create ({side}): {cell[side]['errors'][0]}")
            added = cell["on"]["calls"] - cell["off"]["calls"]
            if added > cell["max_expected_extra"] + 1e-9:
                problems.append(f"{kind} {size}: {added} calls added, at most {cell['max_expected_extra']} expected")
    for kind, sizes in figures["updates"].items():
        for size, cell in sizes.items():
            if "error" in cell:
                problems.append(f"{kind} {size} update: {cell['error']}")
                continue
            same = cell["same"]["on"]["calls"] - cell["same"]["off"]["calls"]
            if same != 0:
                problems.append(f"{kind} {size}: an Update changing nothing referential added {same} calls")
    for kind, cell in figures["latency"].items():
        # (two calls overlap for less than a scheduler's hiccup on a busy machine: checked from three)
        if cell["pool"]["calls"] > 2 and cell["pool"]["ms_mean"] >= cell["sequential"]["ms_mean"]:
            problems.append(f"{kind}: the pool ({cell['pool']['ms_mean']} ms) is not faster than sequential")
    return problems


def report(figures: dict[str, Any]) -> None:
    print("Requests' first step (moto in process): calls and ms per request, preflight on vs off")
    print(f"{'type':28} {'request':22} {'calls on/off (+added)':24} {'ms mean on/off':16} {'p95 on/off':14} max")
    rows = [
        (kind, f"Create {size}", cell) for kind, cells in figures["creates"].items() for size, cell in cells.items()
    ]
    rows += [(kind, f"Update {size}/{what}", cell[what]) for kind, sizes in figures["updates"].items()
             for size, cell in sizes.items() for what in ("same", "changed") if what in cell]  # fmt: skip
    for kind, label, cell in rows:
        on, off = cell["on"], cell["off"]
        added = on["calls"] - off["calls"]
        print(f"{kind:28} {label:22} {on['calls']:>6}/{off['calls']:<6} (+{added:<5.2f})     "
              f"{on['ms_mean']:>6}/{off['ms_mean']:<8} {on['ms_p95']:>6}/{off['ms_p95']:<7} "
              f"{on['ms_max']}/{off['ms_max']}")  # fmt: skip
        extra = {k: round(v - off["by_api"].get(k, 0), 2) for k, v in on["by_api"].items()}
        extra = {k: v for k, v in extra.items() if v}
        if extra:
            print(f"{'':47} added by API: {extra}")
    print(f"\nThe full templates' preflight alone, {figures['latency_ms']:g} ms injected per call (an assumption): "
          "pool (6 workers) vs sequential (1)")  # fmt: skip
    for kind, cell in figures["latency"].items():
        pool, seq = cell["pool"], cell["sequential"]
        print(f"{kind:28} {pool['calls']:>5} calls  pool {pool['ms_mean']:>7} ms (p95 {pool['ms_p95']})  "
              f"sequential {seq['ms_mean']:>7} ms (p95 {seq['ms_p95']})")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 sample per cell, no sweep (the smoke test)")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--json", action="store_true", help="Also print the figures as one JSON line.")
    args = parser.parse_args(argv)
    samples, latency_samples = (1, 1) if args.quick else (args.samples, max(3, args.samples // 4))
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}.items():  # fmt: skip
        os.environ[key] = value
    os.environ.pop("AWS_PROFILE", None)
    import logging

    from moto import mock_aws

    from tests.e2e.harness import SFN_CONFIG
    from tests.fakes.moto_shims import install_moto_shims

    logging.getLogger("dbscale").setLevel(logging.ERROR)  # the warnings of a request are not the figures
    install_moto_shims()
    with mock_aws(config=SFN_CONFIG):
        bench = Bench(args.seed)
        figures: dict[str, Any] = {"samples": samples, "latency_ms": args.latency_ms, "creates": {}, "updates": {}}
        sizes = ("minimal", "full") if args.quick else ("minimal", "full", "sweep")
        for kind in TYPES:
            figures["creates"][kind] = {size: creates(bench, kind, size, samples) for size in sizes}
        for kind in UPDATE_CHANGES:
            figures["updates"][kind] = {size: updates(bench, kind, size, samples) for size in sizes[args.quick : 2]}
        figures["latency"] = latency_runs(bench, latency_samples, args.latency_ms)
    figures["problems"] = checks(figures)
    report(figures)
    for problem in figures["problems"]:
        print(f"CHECK FAILED: {problem}")
    if args.json:
        print(json.dumps(figures))
    return 1 if figures["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
