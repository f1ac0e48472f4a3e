"""How the engines scale with rows and groups: one command, prints a table.

Designs (`--design`):
- `slopes` (default): simulated random intercept + slope data, `y ~ x + (x | g)`, at (rows,
  groups) = (10^3, 10^2), (10^4, 10^3), (10^5, 10^3), (10^6, 10^4).
- `crossed`: `y ~ x + (1 | subject) + (1 | item)`, subjects crossed with items, 50 .. 800
  levels in all (half subjects, half items), 10 rows per level (each subject and each item
  has ~20 rows): where integrating crossed factors out jointly (one Q x Q Cholesky
  factorisation per gradient) stops paying off.
- `sleepstudy`: lme4's sleepstudy, `Reaction ~ Days + (Days | Subject)`.

Each fit runs in a fresh process with an empty compile cache (4 chains x 1000 warmup + 1000
draws, summary), then once more in the same process with the programs compiled. The table
shows wall seconds of both, min bulk ESS over the scalar parameters, ESS per second of both,
and the peak resident memory of the process up to the end of the cold fit.

    python benchmarks/scaling.py [--design slopes] [--sizes 1e3:1e2,1e4:1e3]
                                 [--engines marginal,full] [--timeout 600]
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


def simulate_crossed(rows: int, groups: int, seed: int = 1):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n_subjects = groups // 2
    subject, item = rng.integers(0, n_subjects, rows), rng.integers(0, groups - n_subjects, rows)
    x = rng.normal(size=rows)
    u, v = rng.normal(0, 1.0, n_subjects), rng.normal(0, 0.5, groups - n_subjects)
    y = 2.0 + 0.5 * x + u[subject] + v[item] + rng.normal(0, 0.8, rows)
    return pd.DataFrame({"y": y, "x": x, "subject": subject, "item": item})


def sleepstudy(rows: int, groups: int):
    import pandas as pd

    return pd.read_csv(Path(__file__).parents[1] / "tests" / "data" / "sleepstudy.csv")


#: name -> (formula, data maker, default (rows, groups) sizes)
DESIGNS = {
    "slopes": (
        "y ~ x + (x | g)",
        simulate,
        ((10**3, 10**2), (10**4, 10**3), (10**5, 10**3), (10**6, 10**4)),
    ),
    "crossed": (
        "y ~ x + (1 | subject) + (1 | item)",
        simulate_crossed,
        tuple((10 * q, q) for q in (50, 100, 200, 400, 800)),
    ),
    "sleepstudy": ("Reaction ~ Days + (Days | Subject)", sleepstudy, ((180, 18),)),
}


def fit_one(design: str, rows: int, groups: int, engine: str) -> dict:
    """Fit in this process, cold then warm, and report (run as a child of `main`)."""
    import resource
    import warnings

    start = time.perf_counter()
    import multilevel as ml

    formula, make, _ = DESIGNS[design]
    data = make(rows, groups)
    seconds, ess, peak = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in (1, 2):
            fit = ml.fit(formula, data, engine=engine, seed=seed, progress=False)
            ess.append(float(fit.summary()["ess_bulk"].min()))
            seconds.append(time.perf_counter() - start)
            peak.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            divergences = fit.diagnostics.divergences
            del fit  # the warm fit's peak then counts one fit's draws, not two
            start = time.perf_counter()
    peak_mb = peak[0]  # of the cold fit, the process's first
    return {
        "rows": rows,
        "groups": groups,
        "engine": engine,
        "seconds": round(seconds[0], 2),
        "warm_seconds": round(seconds[1], 2),
        "min_ess_bulk": round(ess[0]),
        "ess_per_s": round(ess[0] / seconds[0], 1),
        "warm_ess_per_s": round(ess[1] / seconds[1], 1),
        "peak_mb": round(peak_mb),
        "divergences": divergences,
    }


def run_child(design: str, rows: int, groups: int, engine: str, timeout: float) -> dict:
    env = {**os.environ, "MULTILEVEL_CACHE_DIR": tempfile.mkdtemp(prefix="ml-scaling-")}
    command = [sys.executable, __file__, "--child", f"{design}:{rows}:{groups}:{engine}"]
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
        "| rows | groups | engine | wall s (cold) | s (warm) | min bulk ESS | ESS/s (cold) "
        "| ESS/s (warm) | peak RSS MB | divergences |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if "error" in r:
            lines.append(
                f"| {r['rows']} | {r['groups']} | {r['engine']} | {r['error']} | | | | | | |"
            )
        else:
            lines.append(
                f"| {r['rows']} | {r['groups']} | {r['engine']} | {r['seconds']} | "
                f"{r['warm_seconds']} | {r['min_ess_bulk']} | {r['ess_per_s']} | "
                f"{r['warm_ess_per_s']} | {r['peak_mb']} | {r['divergences']} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", default="slopes", choices=sorted(DESIGNS))
    parser.add_argument("--sizes", help="rows:groups,... (default: the design's sizes)")
    parser.add_argument("--engines", default="marginal,full")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        design, rows, groups, engine = args.child.split(":")
        print(json.dumps(fit_one(design, int(rows), int(groups), engine)))
        return
    sizes = DESIGNS[args.design][2]
    if args.sizes:
        sizes = tuple(
            tuple(int(float(v)) for v in pair.split(":")) for pair in args.sizes.split(",")
        )
    results, timed_out = [], {}
    for rows, groups in sizes:
        for engine in args.engines.split(","):
            if engine in timed_out:  # a larger problem would only time out too
                error = f"not run ({timed_out[engine]} at a smaller size)"
                results.append({"rows": rows, "groups": groups, "engine": engine, "error": error})
                continue
            results.append(run_child(args.design, rows, groups, engine, args.timeout))
            if results[-1].get("error", "").startswith(">"):
                timed_out[engine] = results[-1]["error"]
            print(f"  {results[-1]}", flush=True)
    text = table(results)
    print(text)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    name = "scaling" if args.design == "slopes" else f"scaling_{args.design}"
    (out / f"{name}.md").write_text(text + "\n")
    (out / f"{name}.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
