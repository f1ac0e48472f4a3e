"""Replicates per minute of `ml.power`: one command, prints a table.

The ready partially clustered trial, `ml.scenarios.partially_clustered(effect=0.5, icc=0.1)`,
at one grid point (n_controls=100, groups=10, per_group=10: 200 patients), with the study's
default fits (`FIT_DEFAULTS`: 2 chains x 500 warmup + 500 draws). Each configuration runs
`ml.power(..., replicates=R, seed=1, workers=w, progress=False)` in a fresh process, so that
the interpreter's start, the imports, the pool's start and the compilation count as a user
sees them:

- `workers=0`: every replicate in that process (the reference);
- `workers=1`, `workers=2`: the local spawned process pool;
- `--dask`: a `distributed.LocalCluster` of 2 single-threaded worker processes, started in
  that process (its start-up counted), passed as `client=`.

The compile cache: first a throwaway process fills a new cache folder (power at the same grid
point, in-process and on a 2-worker pool, since programs are keyed by the device count: 2 per
process in-process and with 1 worker, 1 per worker with 2), and every `warm` row uses it.
Each `cold` row (`--cold`, default workers=2) gets its own empty folder.

Rates:
- overall per min = R / wall s * 60 (the subprocess's wall time, interpreter start to exit);
- steady per min (completions): the driver records when each replicate's row arrives; from
  the moment every worker has delivered its first replicate (compilation or cache loading
  done), the rows that arrive after it divided by the time to the last one;
- steady per min (median s) = workers * 60 / the median of the replicates' own `seconds`
  (their time inside their worker), each worker's first replicate left out: what the workers
  could deliver with no waiting between tasks.

Every run's power table (and its replicates, less `seconds` and `worker`) is compared with
that of workers=0: the same seed must give the same table wherever the replicates ran.
Results go to results/studies.md and results/studies.json.

    python benchmarks/studies.py [--replicates 40] [--workers 0,1,2] [--dask] [--cold 2]
                                 [--timeout 1800]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

# The first line a child process runs: its own time starts here (the interpreter's start-up,
# a few tens of ms, is counted by the parent's wall time only).
START = time.perf_counter()

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = {"n_controls": 100, "groups": 10, "per_group": 10}
EFFECT, ICC, SEED = 0.5, 0.1, 1
DASK_WORKERS = 2


# --- the child: one configuration in this fresh process ----------------------------------


def run_power(replicates: int, workers: int, dask: bool) -> dict[str, Any]:
    """Run the study here and report its timings, its rows and its table (one JSON line)."""
    import multilevel as ml
    from multilevel.studies import _execute

    import_s = time.perf_counter() - START
    arrivals: list[tuple[float, str, int]] = []
    execute = _execute._execute

    def timed(*args):  # when each row reaches the driver, and from which worker
        for task, row in execute(*args):
            arrivals.append((time.perf_counter(), row["worker"], task.replicate))
            yield task, row

    _execute._execute = timed
    client = cluster = None
    if dask:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=DASK_WORKERS,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        client = Client(cluster)
    setup_s = time.perf_counter() - START - import_s
    scenario = ml.scenarios.partially_clustered(effect=EFFECT, icc=ICC)
    begin = time.perf_counter()
    result = ml.power(
        scenario,
        SIZES,
        replicates=replicates,
        seed=SEED,
        workers=workers,
        client=client,
        progress=False,
    )
    power_s = time.perf_counter() - begin
    if client is not None:
        client.close()
        cluster.close()
    rows = result.replicates
    outcome = rows.drop(columns=["seconds", "worker"])
    return {
        "import_s": round(import_s, 3),
        "setup_s": round(setup_s, 3),
        "power_s": round(power_s, 3),
        "start_to_power_s": round(begin - START, 3),
        "arrivals": [(round(t - begin, 3), w, r) for t, w, r in arrivals],
        "replicates": rows[["point", "replicate", "seconds", "worker"]].to_dict("records"),
        "table_csv": result.table.to_csv(index=False, float_format="%.17g"),
        "rows_csv": outcome.to_csv(index=False, float_format="%.17g"),
        "table": result.table.to_dict("records"),
    }


def warm_up(replicates: int) -> dict[str, Any]:
    """Fill the cache folder with the programs of both device layouts (2 devices in-process
    and with one pool worker, 1 device per worker with two)."""
    import multilevel as ml

    scenario = ml.scenarios.partially_clustered(effect=EFFECT, icc=ICC)
    for workers, n in ((0, 1), (2, 2)):
        ml.power(scenario, SIZES, replicates=n, seed=SEED + 1, workers=workers, progress=False)
    return {"seconds": round(time.perf_counter() - START, 2)}


# --- the parent: one fresh process per configuration ---------------------------------------


def child_env(cache_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("JAX_COMPILATION_CACHE_DIR", None)  # would override MULTILEVEL_CACHE_DIR
    env["MULTILEVEL_CACHE_DIR"] = cache_dir
    return env


def run_child(arguments: list[str], cache_dir: str, timeout: float) -> dict[str, Any]:
    """This script in a fresh process (its own process group, killed whole on timeout)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", *arguments]
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, env=child_env(cache_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"status": "timeout", "wall_s": round(time.perf_counter() - start, 2)}
    wall = time.perf_counter() - start
    lines = [line for line in out.strip().splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(err.strip().splitlines()[-15:])
        return {
            "status": "error",
            "wall_s": round(wall, 2),
            "error": f"exit {proc.returncode}: {tail}",
        }
    return {"status": "ok", "wall_s": round(wall, 2), **json.loads(lines[-1])}


def rates(run: dict[str, Any], replicates: int) -> dict[str, Any]:
    """The measures of one successful run (see the module's docstring)."""
    arrivals = run["arrivals"]
    workers = list(dict.fromkeys(w for _, w, _ in arrivals))
    first_arrival = {w: min(t for t, v, _ in arrivals if v == w) for w in workers}
    ready = max(first_arrival.values())
    later = [t for t, _, _ in arrivals if t > ready]
    steady_arrivals = (
        len(later) / (max(later) - ready) * 60 if len(later) >= 2 and max(later) > ready else None
    )
    # each worker's first replicate: the first of its rows to reach the driver (a worker
    # runs one replicate at a time, so its rows arrive in the order it ran them)
    first_of = {w: min((t, r) for t, v, r in arrivals if v == w)[1] for w in workers}
    firsts = [r["seconds"] for r in run["replicates"] if first_of[r["worker"]] == r["replicate"]]
    rest = [r["seconds"] for r in run["replicates"] if first_of[r["worker"]] != r["replicate"]]
    median_rest = statistics.median(rest) if rest else None
    return {
        "workers_seen": len(workers),
        "first_result_s": round(run["start_to_power_s"] + min(first_arrival.values()), 2),
        "first_replicate_s": round(max(firsts), 2),
        "median_later_replicate_s": None if median_rest is None else round(median_rest, 3),
        "overall_per_min": round(replicates / run["wall_s"] * 60, 1),
        "steady_per_min_arrivals": None if steady_arrivals is None else round(steady_arrivals, 1),
        "steady_per_min_seconds": (
            None if median_rest is None else round(len(workers) * 60 / median_rest, 1)
        ),
    }


def machine() -> dict[str, Any]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cores_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "python": platform.python_version(),
        "jax": version("jax"),
        "jaxlib": version("jaxlib"),
        "multilevel": version("multilevel"),
        "distributed": version("distributed"),
        "load_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def dask_available() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def table(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| run | cache | wall s | import + setup s | first result s | first replicate s "
        "| median later replicate s | per min overall | steady per min (arrivals) "
        "| steady per min (median s) | same table as workers=0 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        if r["status"] != "ok":
            what = f"> {r['wall_s']:.0f} (timeout)" if r["status"] == "timeout" else "error"
            lines.append(f"| {r['name']} | {r['cache']} | {what} | | | | | | | | |")
            continue
        m = r["measures"]
        lines.append(
            f"| {r['name']} | {r['cache']} | {r['wall_s']:.1f} "
            f"| {r['import_s'] + r['setup_s']:.1f} | {m['first_result_s']:.1f} "
            f"| {m['first_replicate_s']:.1f} | {_num(m['median_later_replicate_s'], 2)} "
            f"| {m['overall_per_min']:.1f} | {_num(m['steady_per_min_arrivals'], 1)} "
            f"| {_num(m['steady_per_min_seconds'], 1)} | {r['same_table']} |"
        )
    return "\n".join(lines)


def _num(x: float | None, digits: int) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def power_table(run: dict[str, Any]) -> str:
    """The reference run's power table, as markdown."""
    keys = ["rows", "replicates", "power", "power_mcse", "coverage", "bias", "rmse", "rhat_max"]
    row = run["table"][0]
    head = "| " + " | ".join(keys) + " |"
    rule = "|" + "---:|" * len(keys)
    cells = "| " + " | ".join(_cell(row[k]) for k in keys) + " |"
    return "\n".join([head, rule, cells])


def _cell(x: Any) -> str:
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=40, help="R per configuration")
    parser.add_argument("--workers", default="0,1,2", help="comma-separated; 0 = in-process")
    parser.add_argument(
        "--dask", action="store_true", help=f"also a LocalCluster of {DASK_WORKERS} workers"
    )
    parser.add_argument(
        "--cold", default="2", help="workers values also run with an empty cache ('' for none)"
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="per process, s")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.replicates < 1:
        parser.error("--replicates must be >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        if args.child[0] == "warmup":
            report = warm_up(2)
        else:
            replicates, workers, dask = args.child
            report = run_power(int(replicates), int(workers), dask == "dask")
        print(json.dumps(report))
        return
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    cold = [int(w) for w in args.cold.split(",") if w.strip()]
    configs = [(f"workers={w}", w, False, "warm") for w in workers]
    if args.dask:
        if dask_available():
            configs.append((f"dask {DASK_WORKERS} x 1 thread", 0, True, "warm"))
        else:
            print("distributed not importable: no Dask row", file=sys.stderr)
    configs += [(f"workers={w}", w, False, "cold") for w in cold]
    info = machine()
    runs: list[dict[str, Any]] = []
    warm_dir = tempfile.mkdtemp(prefix="ml-bench-studies-warm-")
    try:
        warm = run_child(["warmup"], warm_dir, args.timeout)
        print(f"  warm-up (fills the cache): {warm['status']} {warm['wall_s']:.1f} s", flush=True)
        if warm["status"] != "ok":
            print(warm.get("error", ""), file=sys.stderr)
        for name, w, dask, cache in configs:
            if cache == "cold":
                with tempfile.TemporaryDirectory(prefix="ml-bench-studies-cold-") as cold_dir:
                    run = run_child([str(args.replicates), str(w), "local"], cold_dir, args.timeout)
            else:
                kind = "dask" if dask else "local"
                run = run_child([str(args.replicates), str(w), kind], warm_dir, args.timeout)
            run.update(name=name, workers=w, dask=dask, cache=cache)
            if run["status"] == "ok":
                run["measures"] = rates(run, args.replicates)
            runs.append(run)
            line = f"  {name} {cache}: {run['status']} {run['wall_s']:.1f} s"
            if run["status"] == "ok":
                line += f", {run['measures']}"
            print(line + (f"\n{run['error']}" if run.get("error") else ""), flush=True)
    finally:
        shutil.rmtree(warm_dir, ignore_errors=True)
    reference = next(
        (r for r in runs if r["status"] == "ok" and r["workers"] == 0 and not r["dask"]),
        next((r for r in runs if r["status"] == "ok"), None),
    )
    for r in runs:
        if r["status"] == "ok" and reference is not None:
            same = r["table_csv"] == reference["table_csv"]
            r["same_table"] = "yes" if same else "NO"
            r["same_replicates"] = r["rows_csv"] == reference["rows_csv"]
    info["load_1_5_15_after"] = machine()["load_1_5_15"]
    info["warm_up_s"] = warm["wall_s"]
    text = "\n".join(
        [
            f"Studies benchmark {info['date']} on {info['host']}: {info['cpus']} CPUs "
            f"({info['cores_available']} available), Python {info['python']}, jax "
            f"{info['jax']}, multilevel {info['multilevel']}, distributed "
            f"{info['distributed']}; load {info['load_1_5_15']} before, "
            f"{info['load_1_5_15_after']} after (1/5/15 min).",
            "",
            f"`ml.power(ml.scenarios.partially_clustered(effect={EFFECT}, icc={ICC}), "
            f"{SIZES}, replicates={args.replicates}, seed={SEED}, ...)`: one grid point (200 "
            "patients), 2 chains x 500 warmup + 500 draws per fit; each row a fresh process. "
            "`warm`: the compile cache filled beforehand by a throwaway process "
            f"({info['warm_up_s']:.0f} s); `cold`: an empty cache.",
            "",
            table(runs),
            "",
            "- wall s: the process, interpreter start to exit; import + setup s: "
            "`import multilevel` (+ the Dask cluster's start); first result s: from the "
            "process's first line to the first replicate's row reaching the driver.",
            "- first replicate s: the slowest of the workers' first replicates, their own time "
            "(compilation or cache loading + fit); median later replicate s: the others'.",
            "- per min overall = R / wall s x 60; steady per min (arrivals): rows that reached "
            "the driver after every worker had delivered its first, per minute up to the last; "
            "steady per min (median s) = workers x 60 / median later replicate s.",
            "- same table: the power table identical, to the last digit, to that of "
            "workers=0 (same seed).",
            "",
            "Power table (workers=0):",
            "",
            power_table(reference) if reference is not None else "(no successful run)",
        ]
    )
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "studies.md").write_text(text + "\n")
    for r in runs:  # the json keeps the numbers, not the csv copies used for the comparison
        r.pop("table_csv", None)
        r.pop("rows_csv", None)
    payload = {"machine": info, "replicates": args.replicates, "sizes": SIZES, "runs": runs}
    (RESULTS / "studies.json").write_text(json.dumps(payload, indent=1) + "\n")


if __name__ == "__main__":
    main()
