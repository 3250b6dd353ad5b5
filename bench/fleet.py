"""Fleet scale: ``status`` and ``advise`` over 20 accounts x 3 regions x 100 clusters (6,000) on moto.

What is measured: the core functions ``dbscale status|advise --accounts`` runs (``AccountSessions``,
``fan_out``, ``discover`` + ``fleet_operations`` per target for status, ``advise`` per target and
``merged_advice`` for advise), with a pool of ``--workers`` (default 8) against the baseline of one
account at a time (each account read as its own run, one target after the other: what running the
command once per account does), in the same run, at three fleet sizes (1,500 / 3,000 / 6,000
clusters: 25, 50, 100 per account-region). Printed: wall time, AWS calls by API and by account
(``CallCounter``; STS GetCallerIdentity and AssumeRole are the caller's), peak memory (tracemalloc,
in a run of its own: tracing slows Python) and its growth against the number of clusters.

Setup, not measured: Redshift and Aurora clusters (mixed shapes, some Serverless v2) are created
through boto3 in moto, in 20 accounts reached with real STS AssumeRole (moto keeps each account's
resources apart). CloudWatch is NOT moto's: moto's GetMetricData scans every stored datapoint for
every query and period (hours for this fleet), which would measure moto, not dbscale. GetMetricData
is answered instead by a deterministic series generator on the boto3 clients' ``before-call`` (after
validation and counting; ``--days`` of hourly points per metric, refused above 500 queries or
100,800 datapoints per call as AWS does). Everything else is moto in-process, CPU-bound: a pool
cannot beat the GIL there, so a second pair of runs adds ``--latency-ms`` (default 25 ms, an
assumption, not a measurement) to every call, to model what the pool buys against AWS's latency.

Checks (exit 1 when one fails): every cluster appears once in status and advise, with its account;
GetMetricData per account-region <= ceil(queries / per-call maximum) (500 queries while a metric's
window is <= 201 points, i.e. --days <= 8; at 14 days the 100,800-datapoint cap makes it 300);
advise over the largest fleet in <= 60 s; peak memory growing no faster than the clusters (10 %).

    .venv/bin/python bench/fleet.py [--quick] [--sizes 25,50,100] [--accounts 20] [--regions 3]
                                    [--workers 8] [--days 7] [--runs 1] [--latency-ms 25] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HOME = "123456789012"  # moto's default account: the caller's (STS calls are counted as "caller")
ROLE = "OrganizationAccountAccessRole"
REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
ADVISE_TARGET_S = 60.0
MEMORY_SLACK = 1.10
QUERIES_PER_CALL = 500
DATAPOINTS_PER_CALL = 100_800
REDSHIFT_SHAPES = (("ra3.xlplus", 2), ("ra3.4xlarge", 2), ("ra3.4xlarge", 4), ("dc2.large", 2))
AURORA_CLASSES = ("db.r6g.large", "db.r6g.xlarge", "db.r7g.2xlarge", "db.serverless")


def account_ids(count: int) -> list[str]:
    return [f"2{i:011d}" for i in range(1, count + 1)]


# --- setup: clusters in moto, in each account and region (not measured) -----------------------------


class Fleet:
    """The clusters made so far in each (account, region), grown in place between sizes."""

    def __init__(self, accounts: list[str], regions: list[str]) -> None:
        self.accounts = accounts
        self.regions = regions
        self.per_target = 0
        self.clients: dict[tuple[str, str], tuple[Any, Any]] = {}

    @property
    def clusters(self) -> int:
        return self.per_target * len(self.accounts) * len(self.regions)

    def names(self) -> set[tuple[str, str, str]]:
        """(account, region, name) of every cluster made."""
        made = [self.name(i) for i in range(self.per_target)]
        return {(a, r, n) for a in self.accounts for r in self.regions for n in made}

    @staticmethod
    def name(i: int) -> str:
        return f"rs-{i:04d}" if i % 2 == 0 else f"au-{i:04d}"

    def grow(self, per_target: int) -> float:
        """Make clusters up to ``per_target`` in each account-region (boto3 into moto); seconds taken."""
        from tests.fakes.accounts import account_session
        from tests.fakes.fleet import create_aurora, create_redshift

        start = time.perf_counter()
        for account in self.accounts:
            for region in self.regions:
                if (account, region) not in self.clients:
                    made = account_session(account, region)
                    self.clients[(account, region)] = (made.client("redshift"), made.client("rds"))
                redshift, rds = self.clients[(account, region)]
                for i in range(self.per_target, per_target):
                    if i % 2 == 0:
                        node_type, nodes = REDSHIFT_SHAPES[(i // 2) % len(REDSHIFT_SHAPES)]
                        create_redshift(redshift, self.name(i), node_type, nodes, managed=i % 3 != 0)
                    else:
                        cls = AURORA_CLASSES[(i // 2) % len(AURORA_CLASSES)]
                        acu = (0.5, 16.0) if cls == "db.serverless" else None
                        create_aurora(rds, self.name(i), cls, readers=(i // 2) % 2, acu=acu)
        self.per_target = max(self.per_target, per_target)
        return time.perf_counter() - start


# --- GetMetricData answered from generated series, call latency -------------------------------------


@dataclass
class Reads:
    """GetMetricData of one (account, region): calls, queries, the most queries in one call."""

    calls: int = 0
    queries: int = 0
    largest: int = 0


class Metrics:
    """Answers GetMetricData (before-call, so after botocore's validation and the counters) with hourly
    series from each metric's name and dimensions; sleeps ``latency`` first. Refuses what AWS does."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.lock = threading.Lock()
        self.reads: dict[tuple[str, str], Reads] = {}

    def attach(self, session: Any, account: str) -> None:
        where = (account, str(session.region_name))

        def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            context["bench_params"] = params

        def answer(context: dict[str, Any], **_: Any) -> Any:
            return self.answer(where, context["bench_params"])

        session.events.register("provide-client-params.cloudwatch.GetMetricData", remember)
        session.events.register("before-call.cloudwatch.GetMetricData", answer)

    def answer(self, where: tuple[str, str], params: dict[str, Any]) -> Any:
        if self.latency:
            time.sleep(self.latency)
        queries = params["MetricDataQueries"]
        start, end = params["StartTime"].timestamp(), params["EndTime"].timestamp()
        period = int(queries[0]["MetricStat"]["Period"]) if queries else 3600
        hours = range(math.ceil(start / period) * period, int(end), period)
        with self.lock:
            reads = self.reads.setdefault(where, Reads())
            reads.calls += 1
            reads.queries += len(queries)
            reads.largest = max(reads.largest, len(queries))
        if len(queries) > QUERIES_PER_CALL or len(queries) * len(hours) > DATAPOINTS_PER_CALL:
            error = {"Code": "ValidationError", "Message": f"{len(queries)} queries x {len(hours)} points: too many"}
            return type("Http", (), {"status_code": 400, "headers": {}})(), {"Error": error}
        results = []
        for q in queries:
            metric = q["MetricStat"]["Metric"]
            dims = "/".join(d["Value"] for d in metric.get("Dimensions", []))
            value = series(metric["MetricName"], zlib.crc32(dims.encode()) % 3)
            results.append(
                {
                    "Id": q["Id"],
                    "Label": metric["MetricName"],
                    "Timestamps": [datetime.fromtimestamp(h, tz=timezone.utc) for h in hours],
                    "Values": [value(h) for h in hours],
                    "StatusCode": "Complete",
                }
            )
        return type("Http", (), {"status_code": 200, "headers": {}})(), {"MetricDataResults": results, "Messages": []}


def series(metric: str, kind: int) -> Callable[[float], float]:
    """Epoch hour -> value: ``kind`` 0 busy in office hours (idle nights: a pause schedule), 1 steady
    and small (a smaller shape), 2 steady and busy."""

    def busy(hour: float) -> bool:
        moment = datetime.fromtimestamp(hour, tz=timezone.utc)
        return kind == 2 or (kind == 0 and moment.weekday() < 5 and 8 <= moment.hour < 20)

    fixed = {"PercentageDiskSpaceUsed": 30.0, "FreeableMemory": 6.0 * 2**30, "VolumeBytesUsed": 80.0 * 2**30}
    if metric in fixed:
        return lambda hour: fixed[metric]
    if metric == "DatabaseConnections":
        return lambda hour: 12.0 if busy(hour) else (3.0 if kind == 1 else 0.0)
    if metric == "ServerlessDatabaseCapacity":
        return lambda hour: 8.0 if busy(hour) else 0.5
    return lambda hour: 70.0 if busy(hour) else (8.0 if kind == 1 else 2.0)  # CPUUtilization


class Latency:
    """Sleeps ``seconds`` before every call of a session but GetMetricData (:class:`Metrics` does)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def attach(self, session: Any, account: str) -> None:
        def wait(event_name: str = "", **_: Any) -> None:
            if not event_name.endswith("cloudwatch.GetMetricData"):
                time.sleep(self.seconds)

        if self.seconds:
            session.events.register("before-call", wait)


# --- one run: status or advise over every target ----------------------------------------------------


@dataclass
class Run:
    seconds: float
    by_api: dict[str, int]
    by_account: dict[str, int]
    reads: dict[tuple[str, str], Reads]
    found: list[tuple[str, str, str]] = field(default_factory=list)
    failures: int = 0
    peak_bytes: int | None = None


def status_work() -> Callable[[Any, Any], Any]:
    """What ``status --accounts`` reads in one target (its ``one``); the rows are priced after the run."""
    from dbscale.core.advisor import discover
    from dbscale.core.operations_view import fleet_operations

    def one(target: Any, made: Any) -> Any:
        found = discover([target.region], sessions=lambda r: made)
        running = fleet_operations([target.region], sessions=lambda r: made, state_machine_arns=None)
        return [replace(c, account=target.account) for c in found], running

    return one


def advise_work(prices: Any, days: float) -> Callable[[Any, Any], Any]:
    """What ``advise --accounts`` runs in one target."""
    from dbscale.core.advisor import advise

    return lambda target, made: advise([target.region], days=days, prices=prices, sessions=lambda r: made)


def run(
    command: str, fleet: Fleet, *, workers: int, one_account: bool, days: float, latency: float, trace: bool
) -> Run:
    """``command`` (status or advise) over the fleet: a pool of ``workers``, or (``one_account``) each
    account as its own run with one worker. With ``trace``, the peak memory above the start."""
    import boto3

    from dbscale.cli.fleet import merged_advice
    from dbscale.core.fleet import AccountSessions, CallCounter, FleetRun, fan_out, targets
    from dbscale.core.pricing import price_book

    counter, metrics, delay = CallCounter(), Metrics(latency), Latency(latency)

    def prepare(made: Any, account: str) -> None:
        for hook in (counter.attach, metrics.attach, delay.attach):
            hook(made, account)

    def home(region: str) -> Any:
        made = boto3.Session(region_name=region)
        prepare(made, "caller")
        return made

    prices = price_book(fleet.regions, use_api=False)
    work = status_work() if command == "status" else advise_work(prices, days)
    groups = [[a] for a in fleet.accounts] if one_account else [fleet.accounts]
    if trace:
        gc.collect()  # the previous runs' botocore cycles: not this run's memory
        tracemalloc.start()
        tracemalloc.reset_peak()
    floor = tracemalloc.get_traced_memory()[0] if trace else 0
    start = time.perf_counter()
    outcomes: list[Any] = []
    for accounts in groups:
        sessions = AccountSessions(home, role_name=ROLE, prepare=prepare, sts_region=fleet.regions[0])
        chunk = fan_out(
            work, targets(accounts, fleet.regions), sessions=sessions, max_workers=1 if one_account else workers
        )
        outcomes += chunk.outcomes
    done = FleetRun(tuple(outcomes), HOME)
    if command == "status":
        rows = [c.to_dict(prices) for _, (found, _) in done.results for c in found]
        found = [(r["account"], r["region"], r["name"]) for r in rows]
    else:
        merged = merged_advice(done, fleet.regions, days, prices)
        found = [(c.usage.cluster.account, c.usage.cluster.region, c.usage.cluster.name) for c in merged.clusters]
    seconds = time.perf_counter() - start
    peak = None
    if trace:
        peak = tracemalloc.get_traced_memory()[1] - floor
        tracemalloc.stop()
    return Run(seconds, dict(counter.by_api), dict(counter.by_account), metrics.reads, found, len(done.failures), peak)


# --- checks and figures -----------------------------------------------------------------------------


def per_call(days: float) -> int:
    """The most metric queries one GetMetricData call can carry for ``days`` of hourly points."""
    return min(QUERIES_PER_CALL, DATAPOINTS_PER_CALL // max(1, round(days * 24)))


def check_found(label: str, done: Run, fleet: Fleet) -> list[str]:
    """Every cluster once, with its account and region; no target failed."""
    problems = []
    if done.failures:
        problems.append(f"{label}: {done.failures} targets failed")
    if len(done.found) != len(set(done.found)):
        problems.append(f"{label}: {len(done.found) - len(set(done.found))} clusters listed twice")
    expected = fleet.names()
    if set(done.found) != expected:
        problems.append(
            f"{label}: {len(expected - set(done.found))} clusters missing, {len(set(done.found) - expected)} unexpected"
        )
    return problems


def check_batching(label: str, done: Run, fleet: Fleet, days: float) -> list[str]:
    """GetMetricData per account-region <= ceil(queries / per-call maximum), in every account-region."""
    problems = []
    cap = per_call(days)
    for account in fleet.accounts:
        for region in fleet.regions:
            reads = done.reads.get((account, region))
            if reads is None:
                problems.append(f"{label}: no GetMetricData in {account} {region}")
            elif reads.calls > math.ceil(reads.queries / cap) or reads.largest > QUERIES_PER_CALL:
                problems.append(f"{label}: {account} {region}: {reads.calls} calls for {reads.queries} queries")
    return problems


def spread(values: list[float]) -> str:
    """``12.30 s`` for one value, else mean, p95 and max."""
    if len(values) == 1:
        return f"{values[0]:.2f} s"
    ordered = sorted(values)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return f"mean {statistics.mean(values):.2f} s (p95 {p95:.2f}, max {ordered[-1]:.2f})"


def reads_json(done: Run) -> list[dict[str, Any]]:
    return [
        {"account": a, "region": r, "calls": x.calls, "queries": x.queries, "largest": x.largest}
        for (a, r), x in sorted(done.reads.items())
    ]


def measure_size(fleet: Fleet, args: argparse.Namespace, problems: list[str]) -> dict[str, Any]:
    """Status and advise at the fleet's current size: pool vs one account at a time (``--runs``
    each), then one traced run of each for the peak memory."""
    figures: dict[str, Any] = {"clusters": fleet.clusters, "per_target": fleet.per_target}
    for command in ("status", "advise"):
        pool = [run(command, fleet, workers=args.workers, one_account=False, days=args.days, latency=0, trace=False)]
        alone = [run(command, fleet, workers=1, one_account=True, days=args.days, latency=0, trace=False)]
        for _ in range(args.runs - 1):
            pool.append(
                run(command, fleet, workers=args.workers, one_account=False, days=args.days, latency=0, trace=False)
            )
            alone.append(run(command, fleet, workers=1, one_account=True, days=args.days, latency=0, trace=False))
        traced = run(command, fleet, workers=args.workers, one_account=False, days=args.days, latency=0, trace=True)
        for label, done in (("pool", pool[0]), ("one account", alone[0]), ("traced", traced)):
            problems += check_found(f"{command} {fleet.clusters} ({label})", done, fleet)
            if command == "advise":
                problems += check_batching(f"advise {fleet.clusters} ({label})", done, fleet, args.days)
        figures[command] = {
            "pool_s": [r.seconds for r in pool],
            "one_account_s": [r.seconds for r in alone],
            "found": len(pool[0].found),
            "distinct": len(set(pool[0].found)),
            "one_account_found": len(alone[0].found),
            "one_account_distinct": len(set(alone[0].found)),
            "calls": sum(pool[0].by_api.values()),
            "one_account_calls": sum(alone[0].by_api.values()),
            "by_api": pool[0].by_api,
            "one_account_by_api": alone[0].by_api,
            "by_account": pool[0].by_account,
            "one_account_by_account": alone[0].by_account,
            "peak_bytes": traced.peak_bytes,
            "reads": reads_json(pool[0]),
        }
    return figures


def latency_pair(fleet: Fleet, args: argparse.Namespace, problems: list[str]) -> dict[str, Any]:
    """Status and advise with ``--latency-ms`` on every call: pool vs one account at a time."""
    found: dict[str, Any] = {"latency_ms": args.latency_ms, "clusters": fleet.clusters}
    for command in ("status", "advise"):
        seconds = args.latency_ms / 1000
        pool = run(
            command, fleet, workers=args.workers, one_account=False, days=args.days, latency=seconds, trace=False
        )
        alone = run(command, fleet, workers=1, one_account=True, days=args.days, latency=seconds, trace=False)
        problems += check_found(f"{command} with latency (pool)", pool, fleet)
        found[command] = {"pool_s": pool.seconds, "one_account_s": alone.seconds, "calls": sum(pool.by_api.values())}
    return found


def mib(value: int | None) -> float:
    return (value or 0) / 2**20


def print_size(figures: dict[str, Any], fleet: Fleet, args: argparse.Namespace) -> None:
    print(
        f"\n{figures['clusters']:,} clusters: {len(fleet.accounts)} accounts x {len(fleet.regions)} regions x "
        f"{figures['per_target']} (setup {figures['setup_s']:.1f} s, not measured)"
    )
    for command in ("status", "advise"):
        f = figures[command]
        ratio = statistics.mean(f["one_account_s"]) / statistics.mean(f["pool_s"])
        print(
            f"  {command}: pool of {args.workers} {spread(f['pool_s'])}, {f['calls']:,} calls; one account at a "
            f"time {spread(f['one_account_s'])}, {f['one_account_calls']:,} calls; one account / pool {ratio:.2f}x; "
            f"peak {mib(f['peak_bytes']):.1f} MiB"
        )
    reads = figures["advise"]["reads"]
    calls = sorted({r["calls"] for r in reads})
    print(
        f"  advise GetMetricData: {len(reads)} account-regions, {calls} calls each for "
        f"{min(r['queries'] for r in reads)}-{max(r['queries'] for r in reads)} queries "
        f"(at most {max(r['largest'] for r in reads)} a call; cap {per_call(args.days)} at {args.days:g} days)"
    )


def print_memory(sizes: list[dict[str, Any]]) -> None:
    """Peak memory at each size: growth against the clusters' (<= 1: no faster), and what each cluster
    added over the smallest size (the rest is fixed: sessions, clients, botocore's service models)."""
    first = sizes[0]
    print(
        "\npeak memory (tracemalloc, above the start); growth = peak ratio / clusters ratio against the "
        "smallest size; per added cluster = (peak - smallest's) / (clusters - smallest's)"
    )
    for s in sizes:
        cells = []
        for command in ("status", "advise"):
            peak, floor = s[command]["peak_bytes"] or 0, first[command]["peak_bytes"] or 1
            growth = (peak / floor) / (s["clusters"] / first["clusters"])
            added = (peak - floor) / 1024 / (s["clusters"] - first["clusters"]) if s is not first else None
            cells.append(
                f"{command} {mib(peak):7.1f} MiB, growth {growth:.2f}"
                + (f", {added:.1f} KiB per added cluster" if added is not None else "")
            )
        print(f"  {s['clusters']:>6,} clusters: " + "; ".join(cells))


def print_calls(s: dict[str, Any]) -> None:
    print(f"\nAWS calls at {s['clusters']:,} clusters (pool / one account at a time)")
    for command in ("status", "advise"):
        f = s[command]
        apis = sorted(set(f["by_api"]) | set(f["one_account_by_api"]))
        print(
            f"  {command} by API: "
            + ", ".join(f"{a} {f['by_api'].get(a, 0)}/{f['one_account_by_api'].get(a, 0)}" for a in apis)
        )
        accounts = sorted(set(f["by_account"]) | set(f["one_account_by_account"]))
        cells = [f"{a} {f['by_account'].get(a, 0)}/{f['one_account_by_account'].get(a, 0)}" for a in accounts]
        print(f"  {command} by account:")
        for first in range(0, len(cells), 5):
            print("    " + ", ".join(cells[first : first + 5]))


def print_latency(pair: dict[str, Any], workers: int) -> None:
    print(
        f"\nwith {pair['latency_ms']:g} ms added to every call (assumed latency, not measured), "
        f"{pair['clusters']:,} clusters:"
    )
    for command in ("status", "advise"):
        f = pair[command]
        print(
            f"  {command}: pool of {workers} {f['pool_s']:.2f} s, one account at a time {f['one_account_s']:.2f} s: "
            f"{f['one_account_s'] / f['pool_s']:.1f}x ({f['calls']:,} calls)"
        )


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 accounts x 2 regions x 4/8 clusters (smoke test)")
    parser.add_argument("--sizes", default="25,50,100", help="clusters per account-region, one size each")
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--regions", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--runs", type=int, default=1, help="timed runs of each command and mode per size")
    parser.add_argument("--latency-ms", type=float, default=25.0)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON (after the text)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.accounts, args.regions, args.latency_ms = "4,8", 2, 2, 10.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        os.environ.setdefault(key, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    from moto import mock_aws

    from tests.fakes import moto_speed

    moto_speed.install()  # memos of moto's serializer: same answers, faster (tests use it too)
    fleet = Fleet(account_ids(args.accounts), list(REGIONS[: args.regions]))
    problems: list[str] = []
    sizes: list[dict[str, Any]] = []
    print(
        f"dbscale status and advise across {args.accounts} accounts x {args.regions} regions on moto "
        f"(STS AssumeRole per account), {args.days:g} days of hourly metrics (generated, not moto's)"
    )
    with mock_aws():
        for per_target in sorted(int(s) for s in args.sizes.split(",")):
            setup = fleet.grow(per_target)
            figures = measure_size(fleet, args, problems)
            figures["setup_s"] = setup
            print_size(figures, fleet, args)
            sizes.append(figures)
        pair = latency_pair(fleet, args, problems)
    print_memory(sizes)
    print_calls(sizes[-1])
    print_latency(pair, args.workers)
    largest = sizes[-1]
    advise_s = max(largest["advise"]["pool_s"])
    if not args.quick and advise_s > ADVISE_TARGET_S:
        problems.append(
            f"advise over {largest['clusters']:,} clusters took {advise_s:.1f} s (target {ADVISE_TARGET_S:g} s)"
        )
    for command in ("status", "advise"):
        growth = (largest[command]["peak_bytes"] / sizes[0][command]["peak_bytes"]) / (
            largest["clusters"] / sizes[0]["clusters"]
        )
        if growth > MEMORY_SLACK:
            problems.append(f"{command}: peak memory grew {growth:.2f}x faster than the clusters")
    print(
        f"\nadvise over {largest['clusters']:,} clusters: {advise_s:.1f} s (target <= {ADVISE_TARGET_S:g} s); "
        + ("checks: all passed" if not problems else f"checks FAILED ({len(problems)}):")
    )
    for problem in problems:
        print(f"  {problem}")
    if args.json:
        print(json.dumps({"sizes": sizes, "latency": pair, "problems": problems}, default=str))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
