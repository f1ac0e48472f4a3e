"""What collapsing identical Bernoulli rows into binomial counts saves: one command, a table.

A 2 x 2 within-subject design with 50 subjects, `y ~ a * b + (1 | subject)`, bernoulli, at
10^3 .. 10^5 rows: however many rows, there are only 200 distinct ones (subject x cell). Each
size is fitted twice in this process, as multilevel fits it (rows collapsed into counts) and
with the collapsing undone (one likelihood term per row, the same model otherwise): the
table shows the cost of one log density + gradient (median of 200 calls, compiled), and the
wall time of a whole warm fit (4 chains x 1000 + 1000; the programs compiled by a first,
untimed fit). Results go to results/collapse.md.

    python benchmarks/collapse.py [--sizes 1e3,1e4,1e5]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from multilevel.design import build_design
from multilevel.families import get_family
from multilevel.formula import parse_formula
from multilevel.inference import SamplerSettings, sample
from multilevel.model import compile_model
from multilevel.model._logdensity import model_data

RESULTS = Path(__file__).resolve().parent / "results"
SUBJECTS = 50


def simulate(rows: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    subject = rng.integers(0, SUBJECTS, rows)
    a, b = rng.integers(0, 2, rows), rng.integers(0, 2, rows)
    u = rng.normal(0, 0.8, SUBJECTS)
    eta = -0.5 + 0.6 * a + 0.4 * b - 0.5 * a * b + u[subject]
    y = rng.random(rows) < 1 / (1 + np.exp(-eta))
    return pd.DataFrame({"y": y.astype(int), "a": a, "b": b, "subject": subject})


def models(rows: int):
    design = build_design(parse_formula("y ~ a * b + (1 | subject)"), simulate(rows))
    collapsed = compile_model(design, get_family("bernoulli"))
    data = model_data(design, collapsed.observed, collapsed.blocks)
    return {
        "collapsed": collapsed,
        "row by row": dataclasses.replace(collapsed, collapsed=None, data=data),
    }


def gradient_ms(model) -> float:
    grad = jax.jit(jax.value_and_grad(model.log_density()))
    theta = jnp.zeros(model.dim)
    jax.block_until_ready(grad(theta, model.data))
    times = []
    for _ in range(200):
        start = time.perf_counter()
        jax.block_until_ready(grad(theta, model.data))
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def fit_seconds(model) -> tuple[float, float]:
    settings = SamplerSettings(4, 1000, 1000, 1, 0.8, 10, False, "diag")
    sample(model, settings)  # compile
    start = time.perf_counter()
    posterior = sample(model, settings)
    seconds = time.perf_counter() - start
    return seconds, float(posterior.idata.posterior["b_a:b"].std())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e3,1e4,1e5")
    sizes = [int(float(s)) for s in parser.parse_args(argv).sizes.split(",")]
    lines = [
        "| rows | likelihood terms | route | gradient ms | warm fit s | posterior sd b_a:b |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    for rows in sizes:
        for route, model in models(rows).items():
            terms = model.data["y"].shape[0]
            seconds, sd = fit_seconds(model)
            ms = gradient_ms(model)
            line = f"| {rows} | {terms} | {route} | {ms:.3f} | {seconds:.1f} | {sd:.4f} |"
            print(line, flush=True)
            lines.append(line)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "collapse.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
