"""The benchmark: time whole fits in fresh processes, with an empty and with a warm cache.

Usage: python benchmarks/run.py [--models a,b] [--skip-bambi] [--skip-brms] [--repeats N]
                                [--timeout S] [--bambi-timeout S] [--brms-timeout S]

For each model and tool, each repeat makes a new, empty cache folder, runs fit_once.py in a
fresh process with it (`cold`), then again with the same folder (`warm`). The wall time is
that of the whole subprocess (interpreter start, imports, model build, compilation, 4 x 1000
warmup + 1000 draws, summary), measured here around `subprocess`. Bambi runs where its venv
is found ($PEERS_PYTHON, else ${TMPDIR:-/tmp}/peers-venv/bin/python; install it with
`bash /work/shared/tools/install-peers.sh bambi`); brms where `Rscript -e 'library(brms)'`
works (`bash /work/shared/tools/install-peers.sh r`). brms keeps no compiled program between
R sessions, so its warm run compiles again (the cache folder is not used). Prints a markdown
table and writes it, with the raw results, to benchmarks/results/latest.md and latest.json.
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

HERE = Path(__file__).resolve().parent
FIT_ONCE = HERE / "fit_once.py"
RESULTS = HERE / "results"
MODELS = ("partially_clustered", "sleepstudy", "ratings_2x2", "cbpp", "epilepsy", "wine")
# multilevel's wall-second targets on a 2-core machine, cold and warm cache: 6 s / 3 s for the
# Gaussian models; 3 s for the GLMMs, cold or warm (brms took 30 s on them, mostly compiling).
GAUSSIAN_TARGETS = {"cold": 6.0, "warm": 3.0}
GLMM_TARGETS = {"cold": 3.0, "warm": 3.0}
TARGETS = {
    "partially_clustered": GAUSSIAN_TARGETS,
    "sleepstudy": GAUSSIAN_TARGETS,
    "ratings_2x2": GAUSSIAN_TARGETS,
    "cbpp": GLMM_TARGETS,
    "epilepsy": GLMM_TARGETS,
    "wine": GLMM_TARGETS,
}


@dataclass
class Run:
    """One subprocess: its wall time and what fit_once.py reported (or why it did not)."""

    model: str
    tool: str
    cache: str
    repeat: int
    status: str  # ok | timeout | error | skipped
    wall_s: float
    report: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def peers_python() -> Path | None:
    """The Bambi venv's interpreter, if installed."""
    explicit = os.environ.get("PEERS_PYTHON")
    if explicit:
        path = Path(explicit)
    else:
        path = Path(os.environ.get("TMPDIR") or "/tmp") / "peers-venv" / "bin" / "python"
    return path if path.exists() else None


def brms_available() -> bool:
    """Whether R with brms is installed (`Rscript -e 'library(brms)'` succeeds)."""
    if shutil.which("Rscript") is None:
        return False
    try:
        check = subprocess.run(
            ["Rscript", "-e", "suppressPackageStartupMessages(library(brms))"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return False
    return check.returncode == 0


def cache_env(tool: str, cache_dir: str) -> dict[str, str]:
    """The environment for a subprocess, with its compile cache pointed at `cache_dir`
    (brms has no persistent compile cache: its environment is left as it is)."""
    env = dict(os.environ)
    if tool == "multilevel":
        env.pop("JAX_COMPILATION_CACHE_DIR", None)  # would override MULTILEVEL_CACHE_DIR
        env["MULTILEVEL_CACHE_DIR"] = cache_dir
    elif tool == "bambi":
        flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",") if f]
        flags = [f for f in flags if not f.startswith("compiledir=")]
        env["PYTENSOR_FLAGS"] = ",".join([*flags, f"compiledir={cache_dir}"])
    return env


def run_once(python: str, model: str, tool: str, env: dict[str, str], timeout: float) -> Run:
    """Run fit_once.py in a fresh process (its own process group, killed whole on timeout)."""
    command = [python, str(FIT_ONCE), model, "--engine", tool]
    start = perf_counter()
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return Run(model, tool, "", 0, "timeout", perf_counter() - start)
    wall = perf_counter() - start
    report = _last_json(out)
    if proc.returncode != 0 or report is None:
        tail = "\n".join(err.strip().splitlines()[-15:])
        return Run(model, tool, "", 0, "error", wall, error=f"exit {proc.returncode}: {tail}")
    return Run(model, tool, "", 0, "ok", wall, report=report)


def _last_json(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return None


def cold_and_warm(python: str, model: str, tool: str, repeat: int, timeout: float) -> list[Run]:
    """Run a model twice on one new cache folder: first empty, then warm."""
    runs = []
    with tempfile.TemporaryDirectory(prefix=f"bench-{tool}-cache-") as cache_dir:
        env = cache_env(tool, cache_dir)
        for cache in ("cold", "warm"):
            run = run_once(python, model, tool, env, timeout)
            run.cache, run.repeat = cache, repeat
            print(_progress_line(run), file=sys.stderr, flush=True)
            runs.append(run)
            if run.status == "timeout":  # a warm rerun would time out again: don't wait twice
                runs.append(Run(model, tool, "warm", repeat, "skipped", 0.0))
                break
    return runs


def _progress_line(run: Run) -> str:
    text = f"  {run.model} {run.tool} {run.cache} #{run.repeat}: {run.status} {run.wall_s:.1f} s"
    if run.status == "ok":
        text += f", min bulk ESS {run.report['min_ess_bulk']}"
    return text + (f"\n{run.error}" if run.error else "")


def table(runs: list[Run], timeouts: dict[str, float]) -> str:
    """One markdown row per model, tool and cache; medians over the repeats."""
    header = (
        "| model | tool | cache | wall s | min bulk ESS | ESS/s | divergences "
        "| import / fit / summary s |\n|---|---|---|---:|---:|---:|---:|---|"
    )
    keys = list(dict.fromkeys((r.model, r.tool, r.cache) for r in runs))
    rows = [
        _row(key, [r for r in runs if (r.model, r.tool, r.cache) == key], timeouts) for key in keys
    ]
    return "\n".join([header, *rows])


def _row(key: tuple[str, str, str], runs: list[Run], timeouts: dict[str, float]) -> str:
    model, tool, cache = key
    ok = [r for r in runs if r.status == "ok"]
    if not ok:
        status = runs[0].status
        wall = {
            "timeout": f"> {timeouts[tool]:.0f} (timeout)",
            "skipped": "not run (cold timed out)",
        }.get(status, "error")
        return f"| {model} | {tool} | {cache} | {wall} | - | - | - | - |"
    wall = statistics.median(r.wall_s for r in ok)
    ess = statistics.median(r.report["min_ess_bulk"] for r in ok)
    div = statistics.median(r.report["divergences"] for r in ok)
    split = " / ".join(
        f"{statistics.median(r.report[k] for r in ok):.1f}"
        for k in ("import_s", "fit_s", "summary_s")
    )
    note = "" if len(ok) == len(runs) else f" ({len(runs) - len(ok)} failed)"
    return (
        f"| {model} | {tool} | {cache} | {wall:.1f}{note} | {ess:.0f} | {ess / wall:.1f} "
        f"| {div:g} | {split} |"
    )


def target_lines(runs: list[Run]) -> list[str]:
    """Whether multilevel's median wall times meet each model's targets (TARGETS)."""
    lines = []
    for model in dict.fromkeys(r.model for r in runs):
        for cache, limit in TARGETS[model].items():
            ok = [
                r.wall_s
                for r in runs
                if (r.model, r.tool, r.cache, r.status) == (model, "multilevel", cache, "ok")
            ]
            if ok:
                wall = statistics.median(ok)
                verdict = "meets" if wall <= limit else "MISSES"
                lines.append(
                    f"- {model}, {cache}: {wall:.1f} s {verdict} the <= {limit:g} s target"
                )
    return lines


def error_lines(runs: list[Run]) -> list[str]:
    """The failed runs, each with the last lines of its stderr."""
    failed = [r for r in runs if r.status == "error"]
    lines = ["", "Errors:"] if failed else []
    for r in failed:
        lines += [f"- {r.model} {r.tool} {r.cache}:", "```", r.error, "```"]
    return lines


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_1_5_15": [round(x, 2) for x in load],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", default=",".join(MODELS), help=f"comma-separated, from {', '.join(MODELS)}"
    )
    parser.add_argument("--skip-bambi", action="store_true", help="do not time Bambi")
    parser.add_argument("--skip-brms", action="store_true", help="do not time brms")
    parser.add_argument("--repeats", type=int, default=1, help="cold + warm pairs per model")
    parser.add_argument("--timeout", type=float, default=600.0, help="per multilevel process, s")
    parser.add_argument("--bambi-timeout", type=float, default=900.0, help="per Bambi process, s")
    parser.add_argument("--brms-timeout", type=float, default=900.0, help="per brms process, s")
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = set(args.models) - set(MODELS)
    if unknown or args.repeats < 1:
        parser.error(f"unknown model(s) {sorted(unknown)}" if unknown else "--repeats must be >= 1")
    return args


def tools(args: argparse.Namespace) -> dict[str, str]:
    """The tools to run, with the interpreter for each."""
    found = {"multilevel": sys.executable}
    if not args.skip_bambi:
        peers = peers_python()
        if peers is None:
            note = "Bambi not found (set PEERS_PYTHON or run install-peers.sh bambi)"
            print(note, file=sys.stderr)
        else:
            found["bambi"] = str(peers)
    if not args.skip_brms:
        if brms_available():
            found["brms"] = sys.executable  # fit_once.py runs Rscript itself
        else:
            print("brms not found (Rscript -e 'library(brms)' failed)", file=sys.stderr)
    return found


def write(text: str, runs: list[Run], info: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(text + "\n")
    payload = {"machine": info, "runs": [asdict(r) for r in runs]}
    (RESULTS / "latest.json").write_text(json.dumps(payload, indent=2) + "\n")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    timeouts = {"multilevel": args.timeout, "bambi": args.bambi_timeout, "brms": args.brms_timeout}
    found = tools(args)
    before = machine()
    runs: list[Run] = []
    for model in args.models:
        for tool, python in found.items():
            for repeat in range(args.repeats):
                runs += cold_and_warm(python, model, tool, repeat, timeouts[tool])
    info = {**before, "load_1_5_15_after": machine()["load_1_5_15"], "repeats": args.repeats}
    text = "\n".join(
        [
            f"Benchmark {info['date']} on {info['host']}: {info['cpus']} CPUs, load "
            f"{before['load_1_5_15']} before, {info['load_1_5_15_after']} after (1/5/15 min); "
            f"4 chains x 1000 warmup + 1000 draws; medians of {args.repeats} repeat(s).",
            "",
            table(runs, timeouts),
            "",
            "multilevel targets (wall s, cold / warm cache):",
            *[
                f"- {model}: <= {TARGETS[model]['cold']:g} s cold, "
                f"<= {TARGETS[model]['warm']:g} s warm"
                for model in args.models
            ],
            "",
            *target_lines(runs),
            *error_lines(runs),
        ]
    )
    print(text)
    write(text, runs, info)


if __name__ == "__main__":
    main()
