"""Fit one benchmark model in this (fresh) process and print one JSON line.

Usage: python benchmarks/fit_once.py MODEL [--engine multilevel|bambi|brms]

MODEL is one of `partially_clustered`, `sleepstudy`, `ratings_2x2` (Gaussian), `cbpp`
(binomial), `epilepsy` (Poisson), `wine` (cumulative logit). The line holds the model, the
tool, `seconds` (from the top of this script: import + build + compile + sampling + summary;
the parent's wall time of the whole process, interpreter start included, is the number run.py
reports), the split (`import_s`, `fit_s`, `summary_s`), the smallest bulk ESS over the model's
scalar parameters, bulk ESS per second and the number of divergent transitions after warmup.

Only the chosen engine is imported: the peers' venv has no multilevel, ours has no Bambi.
`--engine brms` writes an R script to a temporary folder and runs it with `Rscript` (R with
brms, rstan, posterior and jsonlite): brms compiles its Stan program and samples, the script
reports its own split (R start + library loading / brm() / summary) and this process adds
its own start-up to the import time.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
CHAINS, WARMUP, DRAWS, SEED = 4, 1000, 1000, 1
BRMS_CORES = 2  # brm(cores=2): the chains run two at a time on the 2-core benchmark machine
BRMS_MARK = "BENCHMARK_RESULT "  # prefixes the R script's JSON line on its stdout


@dataclass(frozen=True)
class Spec:
    """One benchmark model: its data file and its formula for each engine.

    `factors` are columns read as text (pandas) / factors (R) by every engine; `ordered` is
    the response column that Bambi and brms need as an ordered categorical / ordered factor
    (multilevel takes its whole numbers as they are). `bambi_formula` and `brms_formula`
    (R code) replace `formula` where the tool spells the model differently; `brms_family`
    and `brms_priors` are R code.
    """

    csv: str
    formula: str
    multilevel_keywords: dict[str, Any]
    family: str = "gaussian"
    factors: tuple[str, ...] = ()
    ordered: str | None = None
    bambi_formula: str | None = None
    bambi_sigma: str | None = None
    brms_formula: str | None = None
    brms_family: str = "gaussian()"
    brms_priors: str | None = None


MODELS: dict[str, Spec] = {
    # Bambi gets its default (auto-scaled, weakly informative) priors here, not the vague
    # normal(0, 1000) / inv_gamma(0.01, 0.01) ones multilevel is given: the two fits of this
    # model differ in their priors, so compare their speed rather than their estimates.
    # brms gets multilevel's priors on b and b_sigma, and its own default
    # student_t(3, 0, mad(y)) on sd_cluster__tx: a prior on sd^2 would need hand-written
    # Stan code (brms puts priors on the sd) with its Jacobian, and brms's flat default on
    # the sd to be switched off; the intercepts keep their defaults in all three tools.
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
        brms_formula="bf(y ~ tx + (0 + tx | cluster), sigma ~ tx)",
        brms_priors=(
            'c(set_prior("normal(0, 1000)", class = "b"), '
            'set_prior("normal(0, 5)", class = "b", dpar = "sigma"))'
        ),
    ),
    # All three tools use their default priors. Bambi's group terms are uncorrelated (no
    # LKJ), multilevel's (Days | Subject) has a correlation, as in lme4/brms.
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
    # lme4's cbpp: period is a factor (4 levels), as in R.
    "cbpp": Spec(
        csv="cbpp.csv",
        formula="incidence | trials(size) ~ period + (1 | herd)",
        multilevel_keywords={},
        family="binomial",
        factors=("period",),
        bambi_formula="p(incidence, size) ~ period + (1 | herd)",
        brms_family="binomial()",
    ),
    # brms's epilepsy: Trt is 0/1 (numeric in the csv; the same columns as a factor).
    "epilepsy": Spec(
        csv="epilepsy.csv",
        formula="count ~ zAge + zBase * Trt + (1 | patient)",
        multilevel_keywords={},
        family="poisson",
        brms_family="poisson()",
    ),
    # ordinal's wine: bitterness ratings 1..5; thresholds in place of the intercept.
    "wine": Spec(
        csv="wine.csv",
        formula="rating ~ temp + contact + (1 | judge)",
        multilevel_keywords={},
        family="cumulative",
        ordered="rating",
        brms_family='cumulative("logit")',
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


def read_data(spec: Spec, ordered: bool) -> Any:
    """The model's csv, factors as text and (for Bambi) the ordinal response ordered."""
    import pandas as pd

    df = pd.read_csv(DATA / spec.csv).astype(dict.fromkeys(spec.factors, str))
    if ordered and spec.ordered:
        df[spec.ordered] = pd.Categorical(df[spec.ordered], ordered=True)
    return df


def run_multilevel(name: str, spec: Spec) -> Result:
    import multilevel as ml

    t_import = time.perf_counter()
    df = read_data(spec, ordered=False)
    fit = ml.fit(
        spec.formula,
        df,
        family=spec.family,
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

    t_import = time.perf_counter()
    df = read_data(spec, ordered=True)
    formula = spec.bambi_formula or spec.formula
    if spec.bambi_sigma:
        formula = bmb.Formula(formula, spec.bambi_sigma)
    model = bmb.Model(formula, df, family=spec.family)
    idata = model.fit(draws=DRAWS, tune=WARMUP, chains=CHAINS, random_seed=SEED, progressbar=False)
    t_fit = time.perf_counter()
    table = az.summary(idata, var_names=_bambi_scalars(idata), kind="diagnostics")
    min_ess = float(table["ess_bulk"].min())
    divergences = int(idata.sample_stats["diverging"].sum())
    return _result(name, "bambi", bmb.__version__, (t_import, t_fit), min_ess, divergences)


def _bambi_scalars(idata: Any) -> list[str]:
    """Bambi's counterparts of multilevel's summary rows: fixed effects, group sds, sigma
    terms, thresholds; not the per-group effects (`1|g`, `x|g`) nor per-observation
    quantities."""
    names = []
    for name, var in idata.posterior.data_vars.items():
        per_group = "|" in name and not name.endswith("_sigma")
        per_obs = any(str(d).endswith("__obs__") for d in var.dims)
        if not per_group and not per_obs:
            names.append(name)
    return names


# Fixed effects (thresholds b_Intercept[k] and b_sigma_* included), sds, correlations and the
# auxiliary parameters; not the group effects r_*, lp__, lprior, nor cumulative's disc (1).
BRMS_SCALARS = "^(b_|sd_|cor_|sigma$|shape$|phi$|nu$)"

BRMS_SCRIPT = """\
suppressPackageStartupMessages({{
  library(brms)
  library(posterior)
}})
t_import <- proc.time()[["elapsed"]]  # seconds since this R process started
data <- read.csv({csv})
for (column in {factors}) data[[column]] <- factor(data[[column]])
for (column in {ordered}) data[[column]] <- factor(data[[column]], ordered = TRUE)
fit <- brm(
  {formula}, data = data, family = {family}, prior = {priors},
  chains = {chains}, iter = {iter}, warmup = {warmup}, cores = {cores}, seed = {seed},
  refresh = 0
)
t_fit <- proc.time()[["elapsed"]]
draws <- as_draws_df(fit, variable = "{scalars}", regex = TRUE)
min_ess <- min(summarise_draws(draws, ess_bulk)$ess_bulk, na.rm = TRUE)
nuts <- nuts_params(fit)
divergences <- sum(nuts$Value[nuts$Parameter == "divergent__"])
t_summary <- proc.time()[["elapsed"]]
report <- list(
  load_s = t_import, fit_s = t_fit - t_import, summary_s = t_summary - t_fit,
  min_ess_bulk = min_ess, divergences = divergences,
  version = as.character(packageVersion("brms"))
)
line <- if (requireNamespace("jsonlite", quietly = TRUE)) {{
  jsonlite::toJSON(report, auto_unbox = TRUE, digits = NA)
}} else {{
  sprintf(
    paste0(
      '{{"load_s": %.17g, "fit_s": %.17g, "summary_s": %.17g, ',
      '"min_ess_bulk": %.17g, "divergences": %d, "version": "%s"}}'
    ),
    report$load_s, report$fit_s, report$summary_s, report$min_ess_bulk,
    as.integer(report$divergences), report$version
  )
}}
cat("{mark}", line, "\\n", sep = "")
"""


def _r_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid R string literal


def _r_strings(items: tuple[str, ...]) -> str:
    return "c(" + ", ".join(_r_string(x) for x in items) + ")" if items else "character(0)"


def brms_script(spec: Spec) -> str:
    """The R script that fits `spec` with brms and prints its report on one line."""
    return BRMS_SCRIPT.format(
        csv=_r_string(str(DATA / spec.csv)),
        factors=_r_strings(spec.factors),
        ordered=_r_strings((spec.ordered,) if spec.ordered else ()),
        formula=spec.brms_formula or f"bf({spec.formula})",
        family=spec.brms_family,
        priors=spec.brms_priors or "NULL",
        chains=CHAINS,
        iter=WARMUP + DRAWS,
        warmup=WARMUP,
        cores=BRMS_CORES,
        seed=SEED,
        scalars=BRMS_SCALARS,
        mark=BRMS_MARK,
    )


def run_brms(name: str, spec: Spec) -> Result:
    """Fit with brms in an Rscript process; R's stderr (compiler messages, errors) passes
    through, its stdout other than the report goes to our stderr."""
    with tempfile.TemporaryDirectory(prefix="bench-brms-") as folder:
        script = Path(folder) / "fit.R"
        script.write_text(brms_script(spec))
        t_start = time.perf_counter()
        proc = subprocess.run(["Rscript", str(script)], stdout=subprocess.PIPE, text=True)
    report = None
    for line in proc.stdout.splitlines():
        if line.startswith(BRMS_MARK):
            report = json.loads(line[len(BRMS_MARK) :])
        elif line.strip():
            print(line, file=sys.stderr)
    if proc.returncode != 0 or report is None:
        sys.exit(f"brms failed: Rscript exited with {proc.returncode} and no report")
    t_import = t_start + report["load_s"]
    t_fit = t_import + report["fit_s"]
    return _result(
        name,
        "brms",
        report["version"],
        (t_import, t_fit),
        float(report["min_ess_bulk"]),
        int(report["divergences"]),
    )


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


RUNNERS = {"multilevel": run_multilevel, "bambi": run_bambi, "brms": run_brms}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("--engine", choices=sorted(RUNNERS), default="multilevel")
    parser.add_argument(
        "--print-r", action="store_true", help="print the brms R script for MODEL and exit"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.print_r:
        print(brms_script(MODELS[args.model]), end="")
        return
    result = RUNNERS[args.engine](args.model, MODELS[args.model])
    sys.stdout.flush()
    print(json.dumps(asdict(result)), flush=True)


if __name__ == "__main__":
    main()
