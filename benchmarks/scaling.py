"""How the engines scale with rows and groups: one command, prints a table.

Simulated random intercept + slope data (`y ~ x + (x | g)`) at (rows, groups) = (10^3, 10^2),
(10^4, 10^3), (10^5, 10^3), (10^6, 10^4). Each fit runs in a fresh process with an empty
compile cache (4 chains x 1000 warmup + 1000 draws, summary); the table shows wall seconds,
min bulk ESS per second and the process's peak resident memory.

    python benchmarks/scaling.py [--sizes 1e3:1e2,1e4:1e3] [--engines marginal,full] [--timeout 600]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = ((10**3, 10**2), (10**4, 10**3), (10**5, 10**3), (10**6, 10**4))


def simulate(rows: int, groups: int, seed: int = 1):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, rows)
    x = rng.normal(size=rows)
    cov = np.array([[1.0, 0.3], [0.3, 0.25]])
    u = rng.multivariate_normal([0, 0], cov, groups)
    y = 2.0 + 0.5 * x + u[g, 0] + u[g, 1] * x + rng.normal(0, 0.8, rows)
    return pd.DataFrame({"y": y, "x": x, "g": g})


def fit_one(rows: int, groups: int, engine: str) -> dict:
    """Fit in this process and report (run as a child of `main`)."""
    import resource
    import warnings

    start = time.perf_counter()
    import multilevel as ml

    data = simulate(rows, groups)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ml.fit("y ~ x + (x | g)", data, engine=engine, seed=1, progress=False)
        ess = float(fit.summary()["ess_bulk"].min())
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rows": rows,
        "groups": groups,
        "engine": engine,
        "seconds": round(seconds, 2),
        "min_ess_bulk": round(ess),
        "ess_per_s": round(ess / seconds, 1),
        "peak_mb": round(peak_mb),
        "divergences": fit.diagnostics.divergences,
    }


def run_child(rows: int, groups: int, engine: str, timeout: float) -> dict:
    env = {**os.environ, "MULTILEVEL_CACHE_DIR": tempfile.mkdtemp(prefix="ml-scaling-")}
    command = [sys.executable, __file__, "--child", f"{rows}:{groups}:{engine}"]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"rows": rows, "groups": groups, "engine": engine, "error": f"> {timeout:.0f} s"}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["?"]
        return {"rows": rows, "groups": groups, "engine": engine, "error": tail[0][:80]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(time.perf_counter() - start, 2)
    return result


def table(results: list[dict]) -> str:
    lines = [
        "| rows | groups | engine | wall s (cold) | min bulk ESS | ESS/s | peak RSS MB "
        "| divergences |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['rows']} | {r['groups']} | {r['engine']} | {r['error']} | | | | |")
        else:
            lines.append(
                f"| {r['rows']} | {r['groups']} | {r['engine']} | {r['wall_s']} | "
                f"{r['min_ess_bulk']} | {r['ess_per_s']} | {r['peak_mb']} | {r['divergences']} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", help="rows:groups,... (default: the four sizes above)")
    parser.add_argument("--engines", default="marginal,full")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        rows, groups, engine = args.child.split(":")
        print(json.dumps(fit_one(int(rows), int(groups), engine)))
        return
    sizes = SIZES
    if args.sizes:
        sizes = tuple(
            tuple(int(float(v)) for v in pair.split(":")) for pair in args.sizes.split(",")
        )
    results = []
    for rows, groups in sizes:
        for engine in args.engines.split(","):
            results.append(run_child(rows, groups, engine, args.timeout))
            print(f"  {results[-1]}", flush=True)
    text = table(results)
    print(text)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "scaling.md").write_text(text + "\n")
    (out / "scaling.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
