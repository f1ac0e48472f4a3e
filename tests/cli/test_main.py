"""The command line: describe, fit, errors without tracebacks."""

from pathlib import Path

import pytest

from multilevel.cli import main

DATA = Path(__file__).parents[1] / "data"


def test_help_explains_formulas_and_priors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "(x || g)" in out and "inv_gamma" in out and "MULTILEVEL_CACHE_DIR" in out


def test_describe(capsys):
    status = main(["describe", str(DATA / "sleepstudy.csv"), "Reaction ~ Days + (Days | Subject)"])
    out = capsys.readouterr().out
    assert status == 0
    assert "mu[i] = b_Intercept + b_Days*Days[i]" in out
    assert "student_t(3, 288.7, 59.3)" in out  # brms's get_prior on sleepstudy


def test_user_error_is_one_line_and_exit_2(capsys):
    status = main(["describe", str(DATA / "sleepstudy.csv"), "Reaction ~ Dayz"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("multilevel: error: unknown column 'Dayz'")
    assert "did you mean 'Days'" in err and "Traceback" not in err


def test_missing_file(capsys):
    assert main(["describe", "no/such.csv", "y ~ x"]) == 2
    assert "no such data file" in capsys.readouterr().err


def test_fit_prints_summary_and_diagnostics(capsys):
    status = main(
        [
            "fit",
            str(DATA / "partially_clustered.csv"),
            "y ~ tx + (0 + tx | cluster)",
            "--sigma",
            "~ tx",
            "--prior",
            "b ~ normal(0, 1000)",
            "--prior",
            "sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)",
            "--chains",
            "2",
            "--warmup",
            "300",
            "--draws",
            "300",
            "--seed",
            "1",
            "--group-effects",
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    for name in ("b_Intercept", "b_tx", "b_sigma_tx", "sd_cluster__tx", "r_cluster[g01,tx]"):
        assert name in out
    assert "Diagnostics:" in out and "divergent transitions" in out


def test_describe_with_family_link_and_dpar(capsys):
    status = main(
        [
            "describe",
            str(DATA / "wine.csv"),
            "rating ~ temp + contact + (1 | judge)",
            "--family",
            "cumulative",
            "--link",
            "probit",
            "--dpar",
            "disc=~ 0 + contact",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "P(rating[i] <= level k) = Phi(disc[i] * (b_Intercept[k] - mu[i]))" in out
    assert "log(disc[i]) = b_disc_contactno*" in out


def test_dpar_needs_name_and_formula(capsys):
    status = main(["describe", str(DATA / "wine.csv"), "rating ~ temp", "--dpar", "disc"])
    assert status == 2
    assert "--dpar takes NAME=FORMULA" in capsys.readouterr().err
