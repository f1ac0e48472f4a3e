"""Fit one benchmark model in this (fresh) process and print one JSON line.

Usage: python benchmarks/fit_once.py MODEL [--engine multilevel|bambi]

MODEL is one of `partially_clustered`, `sleepstudy`, `ratings_2x2`. The line holds the model,
the tool, `seconds` (from the top of this script: import + build + compile + sampling +
summary; the parent's wall time of the whole process, interpreter start included, is the
number run.py reports), the split (`import_s`, `fit_s`, `summary_s`), the smallest bulk ESS
over the model's scalar parameters, bulk ESS per second and the number of divergent
transitions after warmup.

Only the chosen engine is imported: the peers' venv has no multilevel, ours has no Bambi.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
CHAINS, WARMUP, DRAWS, SEED = 4, 1000, 1000, 1


@dataclass(frozen=True)
class Spec:
    """One benchmark model: its data file and its formula for each engine."""

    csv: str
    formula: str
    multilevel_keywords: dict[str, Any]
    bambi_sigma: str | None = None


MODELS: dict[str, Spec] = {
    # Bambi gets its default (auto-scaled, weakly informative) priors here, not the vague
    # normal(0, 1000) / inv_gamma(0.01, 0.01) ones multilevel is given: the two fits of this
    # model differ in their priors, so compare their speed rather than their estimates.
    "partially_clustered": Spec(
        csv="partially_clustered.csv",
        formula="y ~ tx + (0 + tx | cluster)",
        multilevel_keywords={
            "sigma": "~ tx",
            "priors": [
                "b ~ normal(0, 1000)",
                "sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)",
                "b_sigma ~ normal(0, 5)",
            ],
        },
        bambi_sigma="sigma ~ tx",
    ),
    # Both tools use their default priors. Bambi's group terms are uncorrelated (no LKJ),
    # multilevel's (Days | Subject) has a correlation, as in lme4/brms.
    "sleepstudy": Spec(
        csv="sleepstudy.csv",
        formula="Reaction ~ Days + (Days | Subject)",
        multilevel_keywords={},
    ),
    "ratings_2x2": Spec(
        csv="ratings_2x2.csv",
        formula="rating ~ blockType * CSType + (1 + blockType * CSType | subject)",
        multilevel_keywords={},
    ),
}


@dataclass(frozen=True)
class Result:
    model: str
    tool: str
    seconds: float
    import_s: float
    fit_s: float
    summary_s: float
    min_ess_bulk: float
    ess_per_s: float
    divergences: int
    version: str


def run_multilevel(name: str, spec: Spec) -> Result:
    import pandas as pd

    import multilevel as ml

    t_import = time.perf_counter()
    df = pd.read_csv(DATA / spec.csv)
    fit = ml.fit(
        spec.formula,
        df,
        chains=CHAINS,
        warmup=WARMUP,
        draws=DRAWS,
        seed=SEED,
        **spec.multilevel_keywords,
    )
    t_fit = time.perf_counter()
    min_ess = float(fit.summary()["ess_bulk"].min())
    divergences = int(fit.diagnostics.divergences)
    return _result(name, "multilevel", ml.__version__, (t_import, t_fit), min_ess, divergences)


def run_bambi(name: str, spec: Spec) -> Result:
    import arviz as az
    import bambi as bmb
    import pandas as pd

    t_import = time.perf_counter()
    df = pd.read_csv(DATA / spec.csv)
    formula = bmb.Formula(spec.formula, spec.bambi_sigma) if spec.bambi_sigma else spec.formula
    model = bmb.Model(formula, df)
    idata = model.fit(draws=DRAWS, tune=WARMUP, chains=CHAINS, random_seed=SEED, progressbar=False)
    t_fit = time.perf_counter()
    table = az.summary(idata, var_names=_bambi_scalars(idata), kind="diagnostics")
    min_ess = float(table["ess_bulk"].min())
    divergences = int(idata.sample_stats["diverging"].sum())
    return _result(name, "bambi", bmb.__version__, (t_import, t_fit), min_ess, divergences)


def _bambi_scalars(idata: Any) -> list[str]:
    """Bambi's counterparts of multilevel's summary rows: fixed effects, group sds, sigma
    terms; not the per-group effects (`1|g`, `x|g`) nor per-observation quantities."""
    names = []
    for name, var in idata.posterior.data_vars.items():
        per_group = "|" in name and not name.endswith("_sigma")
        per_obs = any(str(d).endswith("__obs__") for d in var.dims)
        if not per_group and not per_obs:
            names.append(name)
    return names


def _result(
    name: str, tool: str, version: str, marks: tuple[float, float], min_ess: float, div: int
) -> Result:
    t_import, t_fit = marks
    now = time.perf_counter()
    seconds = now - T0
    return Result(
        model=name,
        tool=tool,
        seconds=round(seconds, 3),
        import_s=round(t_import - T0, 3),
        fit_s=round(t_fit - t_import, 3),
        summary_s=round(now - t_fit, 3),
        min_ess_bulk=round(min_ess, 1),
        ess_per_s=round(min_ess / seconds, 1),
        divergences=div,
        version=version,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("--engine", choices=["multilevel", "bambi"], default="multilevel")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    runner = run_bambi if args.engine == "bambi" else run_multilevel
    result = runner(args.model, MODELS[args.model])
    sys.stdout.flush()
    print(json.dumps(asdict(result)), flush=True)


if __name__ == "__main__":
    main()
