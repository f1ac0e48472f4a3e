"""What the after-the-fit steps cost: one command, a table.

One process fits sleepstudy `Reaction ~ Days + (Days | Subject)` (4 chains x 1000 + 1000,
4000 draws) and cbpp `incidence | trials(size) ~ period + (1 | herd)` (binomial), then times
each step a user takes next, first call (compiling included) and second call. Results go to
results/after_fit.md.

    python benchmarks/after_fit.py
"""

from __future__ import annotations

import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

import multilevel as ml

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "tests" / "data"
RESULTS = HERE / "results"


def timed(step: Callable[[], object]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def steps(fit: ml.Fit, new: pd.DataFrame, folder: Path) -> dict[str, Callable[[], object]]:
    path = folder / "fit.mlv"
    return {
        f"predict mean, {len(new)} new rows": lambda: fit.predict(new),
        f"predict response, {len(new)} new rows": lambda: fit.predict(new, kind="response"),
        "posterior predictive draws (fitted rows)": lambda: fit.predict(kind="response"),
        "pointwise log-likelihood + LOO": fit.loo,
        "save": lambda: fit.save(path),
        "load": lambda: ml.load(path),
        "load + predict mean": lambda: ml.load(path).predict(new),
        "report (HTML, 4 plots)": lambda: fit.report(folder / "report.html"),
    }


def run_model(name: str, fit: ml.Fit, new: pd.DataFrame) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for step, call in steps(fit, new, Path(folder)).items():
            first = timed(call)
            second = timed(call)
            rows.append({"model": name, "step": step, "first": first, "second": second})
            print(f"{name:12s} {step:40s} {first:7.2f} {second:7.2f}", flush=True)
    return rows


def main() -> None:
    warnings.simplefilter("ignore", ml.SamplingWarning)
    sleep = pd.read_csv(DATA / "sleepstudy.csv")
    cbpp = pd.read_csv(DATA / "cbpp.csv").astype({"period": str})
    rng = np.random.default_rng(1)
    new_sleep = pd.DataFrame(
        {"Days": rng.uniform(0, 9, 1000), "Subject": rng.choice([308, 309, 9999], 1000)}
    )
    new_cbpp = pd.DataFrame(
        {
            "period": rng.choice(["1", "2", "3", "4"], 1000),
            "herd": rng.choice([1, 2, 99], 1000),
            "size": rng.integers(1, 30, 1000),
        }
    )
    rows = []
    start = time.perf_counter()
    fit = ml.fit("Reaction ~ Days + (Days | Subject)", sleep, seed=1)
    print(f"sleepstudy fit {time.perf_counter() - start:.1f} s", flush=True)
    rows += run_model("sleepstudy", fit, new_sleep)
    start = time.perf_counter()
    fit = ml.fit("incidence | trials(size) ~ period + (1 | herd)", cbpp, family="binomial", seed=1)
    print(f"cbpp fit {time.perf_counter() - start:.1f} s", flush=True)
    rows += run_model("cbpp", fit, new_cbpp)
    lines = ["| model | step | first call s | second call s |", "|---|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['step']} | {r['first']:.2f} | {r['second']:.2f} |")
    text = "\n".join(lines)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "after_fit.md").write_text(
        "# After the fit: seconds per step (4000 draws; the first call compiles, or reads the "
        "persistent compile cache of an earlier run)\n\n" + text + "\n"
    )
    print(text)


if __name__ == "__main__":
    main()
