"""`multilevel translate` and `describe` / `fit` with --stata / --sas."""

from pathlib import Path

import pytest

from multilevel.cli import main

DATA = Path(__file__).parents[1] / "data"
TRIAL = str(DATA / "partially_clustered.csv")
STATA = "mixed y tx || cluster: tx, nocons residuals(independent, by(tx))"
SAS = "class cluster; model y = tx / s; random tx / subject=cluster; repeated / group=tx;"


def test_translate_stata_prints_formulas_and_the_python_call(capsys):
    assert main(["translate", "--from", "stata", STATA + " reml", "--data", TRIAL]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "y ~ tx + (0 + tx | cluster)",
        "sigma ~ tx",
        "note: 'reml' ignored: the posterior needs no REML; fit.check_reml() compares the fit "
        "with REML estimates",
        "python: ml.Model('y ~ tx + (0 + tx | cluster)', data, sigma='~ tx')",
    ]


def test_translate_sas_file_and_family(tmp_path, capsys):
    program = tmp_path / "model.sas"
    program.write_text("proc glimmix;\n class herd;\n model y = x / dist=binary link=probit;\n"
                       " random intercept / subject=herd;\nrun;\n")  # fmt: skip
    assert main(["translate", "--from", "sas", str(program)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["y ~ x + (1 | herd)", "family: bernoulli, link probit"]
    assert (
        out[-1] == "python: ml.Model('y ~ x + (1 | herd)', data, family='bernoulli', link='probit')"
    )


def test_translate_sas_priors_with_names(capsys):
    text = "prior b0 b1 ~ normal(0, var=1e6); prior s2u ~ igamma(0.01, scale=0.01);"
    names = ["--name", "b0=b_Intercept", "--name", "b1=b_tx", "--name", "s2u=sd_cluster__tx^2"]
    assert main(["translate", "--from", "sas-priors", text, *names]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "b_Intercept ~ normal(0, 1000)",
        "b_tx ~ normal(0, 1000)",
        "sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)",
    ]


@pytest.mark.parametrize("dialect", [["--stata", STATA], ["--sas", SAS]])
def test_describe_a_translated_model(dialect, capsys):
    assert main(["describe", TRIAL, *dialect]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Formula: y ~ tx + (0 + tx | cluster), sigma ~ tx\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["translate", "--from", "stata", "mixed y x || id:, vce(robust)"], "'vce(robust)'"),
        (["describe", TRIAL, "y ~ tx", "--stata", STATA], "drop a formula"),
        (["describe", TRIAL, "--stata", STATA, "--sigma", "~ tx"], "drop --sigma"),
        (["describe", TRIAL], "give a formula"),
        (["translate", "--from", "stata", STATA, "--name", "a=b"], "--name maps PROC MCMC"),
    ],
)
def test_errors_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("multilevel: error: ") and message in err and "Traceback" not in err
