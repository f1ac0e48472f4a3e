"""`multilevel` on the command line: describe and fit a model from a data file, run or
start an analysis folder (`run analysis.toml`, `init NAME`), and run many fits (`power
design.toml`, `sbc analysis.toml`)."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from .._api import Model
from .._dialects import model_of, translate_sas, translate_stata
from .._errors import MultilevelError, SamplingWarning
from ._analysis import run_analysis
from ._files import read_data
from ._scaffold import init_analysis
from ._studies import run_power, run_sbc
from ._translate import DIALECTS, source_text, translate

DESCRIPTION = """\
Bayesian multilevel regression in lme4/brms syntax, fitted by NUTS on JAX.

Formulas: response ~ fixed terms + (terms | group)
  (1 | g)            random intercept per level of g
  (1 + x | g)        correlated random intercept and slope (LKJ prior on the correlation)
  (x || g)           uncorrelated intercept and slope
  (1 | a/b)          b nested in a: (1 | a) + (1 | a:b)
  (1 | a) + (1 | b)  crossed factors
  0 + x, x - 1       no intercept; C(x), scale(x), np.log(x), a*b, a:b as in formulaic/R

Priors: "parameter ~ distribution(args)", repeatable with --prior:
  b ~ normal(0, 10)                   every coefficient (normal takes the sd)
  b_tx ~ student_t(3, 0, 2.5)         one coefficient
  Intercept ~ normal(300, 50)         intercept of centred predictors (brms); b_Intercept:
                                      the intercept on the original scale
  sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)   ^2: on the variance (SAS PROC MCMC igamma)
  sigma ~ half_normal(10), cor ~ lkj(2), b_sigma ~ normal(0, 5)
Distributions: normal, student_t, cauchy, half_normal, half_cauchy, half_student_t,
exponential, gamma(shape, rate), inv_gamma(shape, scale), uniform, lkj, flat.

Parameter names follow brms: b_Intercept, b_tx, b_sigma_tx, sd_cluster__tx, cor_g__a__b,
sigma, r_cluster[g01,tx]. Compiled programs are cached in the user cache folder;
MULTILEVEL_CACHE_DIR moves the cache and MULTILEVEL_CACHE_DIR=off turns it off.
"""

EXAMPLES = """\
examples:
  multilevel init my-study --data trial.csv      # a folder with analysis.toml, data/, README
  multilevel run my-study/analysis.toml          # writes my-study/results/
  multilevel power power.toml --workers 8        # power by simulation: results/power/
  multilevel sbc my-study/analysis.toml          # calibrates its model: my-study/results/sbc/
  multilevel describe sleep.csv "Reaction ~ Days + (Days | Subject)"
  multilevel translate --from stata "mixed y tx || cluster: tx, nocons residuals(ind, by(tx))"
  multilevel fit trial.csv --stata "mixed y tx || cluster: tx, nocons" --seed 1
  multilevel translate --from sas-priors model.sas --name b0=b_Intercept --name s2u=sd_g^2
  multilevel fit trial.csv "y ~ tx + (0 + tx | cluster)" --sigma "~ tx" \\
      --prior "b ~ normal(0, 1000)" --prior "sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)" --seed 1
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="multilevel",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    describe = commands.add_parser(
        "describe", help="print the model in statistical notation and its priors, without fitting"
    )
    fit = commands.add_parser(
        "fit", help="fit the model and print its description, summary and diagnostics"
    )
    for sub in (describe, fit):
        _model_arguments(sub)
    run = commands.add_parser(
        "run", help="run an analysis.toml: fit its models and write the results folder"
    )
    run.add_argument("analysis", type=Path, help="the analysis.toml file")
    run.add_argument(
        "--refit",
        action="store_true",
        help="fit again even if data, model and settings are unchanged",
    )
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    init = commands.add_parser(
        "init", help="create an analysis folder: analysis.toml, data/ and a README"
    )
    init.add_argument("name", type=Path, help="the new folder")
    init.add_argument("--data", type=Path, help="a CSV or Parquet file to copy into data/")
    power = commands.add_parser(
        "power", help="a power analysis by simulation, as a design.toml describes it"
    )
    power.add_argument("design", type=Path, help="the design.toml file")
    sbc = commands.add_parser(
        "sbc", help="simulation-based calibration of an analysis.toml's model ([sbc] settings)"
    )
    sbc.add_argument("analysis", type=Path, help="the analysis.toml file")
    sbc.add_argument("--model", help="the [models.NAME] to calibrate, when there are several")
    for sub in (power, sbc):
        _study_arguments(sub)
    trans = commands.add_parser(
        "translate", help="print a Stata command or SAS statements in formula syntax"
    )
    trans.add_argument("text", help="the command or statements, a .do/.sas file, or - for stdin")
    trans.add_argument("--from", dest="dialect", choices=DIALECTS, required=True)
    trans.add_argument("--data", type=Path, help="a data file, to settle levels and types")
    trans.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="SAS=OURS",
        help="sas-priors: a PROC MCMC parameter's name here, e.g. s2u=sd_cluster__tx^2; repeat",
    )
    fit.add_argument("--chains", type=int, default=4, help="number of chains (default 4)")
    fit.add_argument("--warmup", type=int, default=1000, help="warmup iterations per chain")
    fit.add_argument("--draws", type=int, default=1000, help="draws per chain after warmup")
    fit.add_argument("--seed", type=int, default=None, help="random seed (default: drawn)")
    fit.add_argument(
        "--target-accept", type=float, default=0.8, help="NUTS target acceptance (brms adapt_delta)"
    )
    fit.add_argument("--max-treedepth", type=int, default=10, help="NUTS maximum tree depth")
    fit.add_argument(
        "--metric",
        choices=("diag", "dense"),
        default="diag",
        help="mass matrix: diag (Stan's default) or dense (many rows per group)",
    )
    fit.add_argument(
        "--engine",
        choices=("auto", "full", "marginal"),
        default="auto",
        help="full: sample the group effects; marginal: integrate them out (Gaussian, one "
        "factor); auto (default): marginal where it applies",
    )
    fit.add_argument(
        "--group-effects", action="store_true", help="also summarise every r_<group>[level,coef]"
    )
    fit.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    for sub in (describe, fit, run, init, power, sbc, trans):  # --debug after the command works too
        sub.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
        )
    return parser


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, help="a CSV (.csv, .tsv) or Parquet (.parquet) file")
    parser.add_argument("formula", nargs="?", help='e.g. "y ~ x + (1 + x | g)"')
    dialect = parser.add_mutually_exclusive_group()
    dialect.add_argument("--stata", metavar="COMMAND", help='a Stata command: "mixed y x || g:"')
    dialect.add_argument(
        "--sas", metavar="STATEMENTS", help="PROC MIXED / GLIMMIX statements, or a .sas file"
    )
    parser.add_argument("--family", default="gaussian", help="likelihood (default gaussian)")
    parser.add_argument("--link", help="link of the mean, when not the family's default")
    parser.add_argument("--sigma", help='formula for the residual sd, e.g. "~ tx" (log link)')
    parser.add_argument(
        "--dpar",
        action="append",
        default=[],
        metavar="NAME=FORMULA",
        help='a formula for a distributional parameter, e.g. --dpar "zi=~ x"; repeat',
    )
    parser.add_argument(
        "--prior", action="append", default=[], metavar="PRIOR", help="a prior statement; repeat"
    )
    parser.add_argument(
        "--na-action",
        choices=("error", "drop"),
        default="error",
        help="rows with missing values: error (default) or drop (reported)",
    )


def _study_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--replicates", type=_whole_number(1), metavar="N", help="replicates (overrides the file's)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=_whole_number(0),
        metavar="N",
        help="local worker processes (default: one per core; 0: this process)",
    )
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="a Dask scheduler, e.g. tcp://host:8786"
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show the progress line (default: when stderr is a terminal)",
    )


def _whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        return value

    return parse


def _model(args: argparse.Namespace) -> Model:
    if args.stata or args.sas:
        return _translated_model(args)
    if args.formula is None:
        raise MultilevelError('give a formula ("y ~ x + (1 | g)"), --stata or --sas')
    dpars = {"sigma": args.sigma} if args.sigma else {}
    for item in args.dpar:
        name, sep, formula = item.partition("=")
        if not sep or not name.strip() or not formula.strip():
            raise MultilevelError(f'--dpar takes NAME=FORMULA (e.g. --dpar "zi=~ x"), got {item!r}')
        dpars[name.strip()] = formula
    return Model(
        args.formula,
        read_data(args.data),
        family=args.family,
        priors=args.prior,
        na_action=args.na_action,
        link=args.link,
        **dpars,
    )


def _translated_model(args: argparse.Namespace) -> Model:
    """The model of --stata / --sas; the translation sets what --family, --link, --sigma
    and --dpar would."""
    flags = {
        "--family": args.family != "gaussian",
        "--link": args.link,
        "--sigma": args.sigma,
        "--dpar": args.dpar,
    }
    given = [flag for flag, value in flags.items() if value]
    if args.formula is not None or given:
        extra = ", ".join(["a formula", *given] if args.formula is not None else given)
        raise MultilevelError(f"--stata and --sas give the whole model: drop {extra}")
    data = read_data(args.data)
    if args.stata:
        translation = translate_stata(args.stata, data)
    else:
        translation = translate_sas(source_text(args.sas), data)
    for note in translation.notes:
        print(f"multilevel: note: {note}", file=sys.stderr)
    return model_of(translation, data, args.prior, args.na_action)


def _run(args: argparse.Namespace) -> int:
    if args.command == "run":
        run_analysis(args.analysis, refit=args.refit, progress=False if args.no_progress else None)
        return 0
    if args.command in ("power", "sbc"):
        common = {
            "workers": args.workers,
            "scheduler": args.scheduler,
            "replicates": args.replicates,
            "progress": args.progress,
        }
        if args.command == "power":
            run_power(args.design, **common)
        else:
            run_sbc(args.analysis, args.model, **common)
        return 0
    if args.command == "translate":
        data = read_data(args.data) if args.data else None
        print(translate(args.dialect, args.text, data, args.name))
        return 0
    if args.command == "init":
        folder = init_analysis(args.name, args.data)
        print(f"created {folder}/: edit analysis.toml, then: multilevel run {folder}/analysis.toml")
        return 0
    model = _model(args)
    print(model.describe())
    if args.command == "describe":
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        fit = model.fit(
            chains=args.chains,
            warmup=args.warmup,
            draws=args.draws,
            seed=args.seed,
            target_accept=args.target_accept,
            max_treedepth=args.max_treedepth,
            metric=args.metric,
            engine=args.engine,
            progress=False if args.no_progress else None,
        )
    with pd.option_context("display.width", 120, "display.max_rows", 500):
        print(f"\nSummary ({args.chains} chains x {args.draws} draws, seed {fit.seed}):")
        print(fit.summary(group_effects=args.group_effects).round(3).to_string())
    print(f"\nDiagnostics:\n{fit.diagnostics}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `multilevel` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (MultilevelError, OSError) as err:
        if args.debug:
            raise
        print(f"multilevel: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("multilevel: interrupted", file=sys.stderr)
        return 130
