"""Cold import time of dbscale's Lambda-side modules as a ratio to ``import crhelper`` (which imports boto3).

Each figure is the median of N fresh interpreters (``python -X importtime`` would also count the
interpreter's own start-up, so the import is timed inside the child with perf_counter), measured
in the same run, interleaved, so machine noise hits baseline and candidates alike.
Target: every module at most 1.10x the baseline.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

RUNS = 15
TARGET = 1.10
MODULES = ("crhelper", "dbscale.core", "dbscale.handlers.redshift_cluster", "dbscale.handlers.aurora_cluster")
OPTIONAL = ("dbscale.handlers.aurora_clone", "dbscale.handlers.clone_pool", "dbscale.handlers.autoscaler")
CHILD = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def available(module: str) -> bool:
    probe = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    return probe.returncode == 0


def time_import(module: str) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD.format(module=module)], check=True, capture_output=True, text=True)
    return float(out.stdout.strip())


def main() -> int:
    modules = list(MODULES) + [m for m in OPTIONAL if available(m)]
    samples: dict[str, list[float]] = {m: [] for m in modules}
    for _ in range(RUNS):
        for module in modules:
            samples[module].append(time_import(module))
    baseline = statistics.median(samples["crhelper"])
    print(f"cold import, median of {RUNS} fresh interpreters each (baseline: import crhelper = {baseline * 1000:.1f} ms)")
    worst = 0.0
    for module in modules:
        median = statistics.median(samples[module])
        ratio = median / baseline
        if module != "crhelper":
            worst = max(worst, ratio)
        print(f"  {module:40s} {median * 1000:7.1f} ms  {ratio:5.2f}x")
    verdict = "meets" if worst <= TARGET else "MISSES"
    print(f"worst ratio {worst:.2f}x: {verdict} the {TARGET:.2f}x target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
