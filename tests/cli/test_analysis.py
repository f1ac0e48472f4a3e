"""`multilevel run analysis.toml` and `multilevel init`: the results folder, reuse of the
saved fit when nothing changed (brms's file_refit = "on_change"), and errors that name the
section. Short chains: these tests check the plumbing; the fits are checked elsewhere."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from multilevel import DataError, ModelError
from multilevel.cli import main
from multilevel.cli._analysis import run_analysis
from multilevel.cli._config import ConfigError, read_analysis
from multilevel.cli._scaffold import init_analysis

DATA = Path(__file__).parents[1] / "data"
QUICK = "[fit]\nchains = 2\nwarmup = 150\ndraws = 150\nseed = 3\n"

TRIAL = f"""
title = "trial"
[data]
path = "trial.csv"
columns = {{ cluster = "category" }}
[model]
formula = "y ~ tx + (0 + tx | cluster)"
sigma = "~ tx"
[priors]
"sd_cluster__tx^2" = "inv_gamma(0.01, 0.01)"
{QUICK}
[outputs]
plots = ["rank", "group_effects"]
predictions = true
[outputs.hypotheses]
treated_less_variable = "b_sigma_tx < 0"
"""


@pytest.fixture
def trial(tmp_path) -> Path:
    shutil.copy(DATA / "partially_clustered.csv", tmp_path / "trial.csv")
    path = tmp_path / "analysis.toml"
    path.write_text(TRIAL)
    return path


def _run(path: Path, refit: bool = False) -> tuple[dict, str]:
    lines: list[str] = []
    fits = run_analysis(path, refit=refit, echo=lines.append, progress=False)
    return fits, "\n".join(lines)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_run_writes_the_results_and_reuses_the_fit(trial):
    fits, out = _run(trial)
    results = trial.parent / "results"
    files = {p.relative_to(results).as_posix() for p in results.rglob("*")}
    assert {
        "describe.txt", "priors.csv", "summary.csv", "diagnostics.txt", "fit.mlv",
        "inputs.json", "predictions.csv", "hypotheses.csv", "report.html",
        "plots/rank.png", "plots/group_effects.png",
    } <= files  # fmt: skip
    assert "fitting (no saved fit)" in out and "Summary (seed 3)" in out
    assert "r_cluster[j] ~ normal(0, sd_cluster__tx)" in (results / "describe.txt").read_text()
    summary = pd.read_csv(results / "summary.csv", index_col=0)
    assert "b_sigma_tx" in summary.index
    assert len(pd.read_csv(results / "predictions.csv")) == 200
    report = (results / "report.html").read_text()
    assert "<h1>trial</h1>" in report and report.count("<img") == 2

    drawn = (results / "plots" / "rank.png").stat().st_mtime_ns
    again, out = _run(trial)
    assert "reusing" in out and "fitting" not in out
    pd.testing.assert_frame_equal(again["model"].summary(), fits["model"].summary())
    assert (results / "plots" / "rank.png").stat().st_mtime_ns == drawn  # not drawn again
    assert (results / "report.html").read_text().count("<img") == 2

    trial.write_text(TRIAL.replace('plots = ["rank", "group_effects"]', 'plots = ["trace"]'))
    _, out = _run(trial)
    assert "reusing" in out
    assert sorted(p.name for p in (results / "plots").glob("*.png")) == ["trace.png"]
    trial.write_text(TRIAL)

    _, out = _run(trial, refit=True)
    assert "fitting (--refit)" in out


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_changed_input_refits(trial):
    _run(trial)
    trial.write_text(TRIAL.replace("[data]\n", '[data]\nfilters = ["subject != 1"]\n'))
    _, out = _run(trial)
    assert "filters kept 199 of 200 rows" in out and "fitting (inputs changed)" in out
    trial.write_text(
        TRIAL.replace("seed = 3", "seed = 4").replace(
            "[data]\n", '[data]\nfilters = ["subject != 1"]\n'
        )
    )
    _, out = _run(trial)
    assert "fitting (inputs changed)" in out


SLEEP = f"""
[data]
path = "{DATA / "sleepstudy.csv"}"
columns = {{ Subject = "category" }}
[data.derive]
log_reaction = "log(Reaction)"
[models.intercepts]
formula = "Reaction ~ Days + (1 | Subject)"
[models.slopes]
formula = "Reaction ~ Days + (Days | Subject)"
{QUICK}
[outputs]
plots = ["rank"]
"""


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_several_models_are_compared_in_one_report(tmp_path):
    path = tmp_path / "analysis.toml"
    path.write_text(SLEEP)
    fits, out = _run(path)
    results = tmp_path / "results"
    assert set(fits) == {"intercepts", "slopes"}
    assert (results / "slopes" / "summary.csv").exists()
    comparison = pd.read_csv(results / "comparison.csv", index_col=0)
    # brms 2.18 loo() on sleepstudy: slopes -861.6 vs intercepts -885.1 (elpd_diff 23.5,
    # tests/data/reference/brms_sleepstudy_loo.json); 300 draws: only the order is checked.
    assert comparison.index[0] == "slopes"
    report = (results / "report.html").read_text()
    assert "Model &#x27;slopes&#x27;" in report and 'id="comparison"' in report

    other = SLEEP.replace('formula = "Reaction ~ Days + (1', 'formula = "log_reaction ~ Days + (1')
    path.write_text(other)
    _, out = _run(path)
    assert "Not compared: compare: 'intercepts' and 'slopes' were fitted to different data" in out


def test_model_errors_name_the_section(tmp_path):
    path = tmp_path / "analysis.toml"
    path.write_text(SLEEP.replace("(Days | Subject)", "(Dayz | Subject)"))
    with pytest.raises(DataError, match=r"^\[models.slopes\]: .*'Dayz'.*did you mean 'Days'"):
        run_analysis(path)
    path.write_text(SLEEP.replace("(Days | Subject)", "(Days | Subject) + I(open('x'))"))
    with pytest.raises(ModelError, match=r"calls 'open'"):
        run_analysis(path)  # refused before formulaic evaluates the term
    path.write_text(SLEEP.replace("[outputs]", '[outputs]\nconditional = ["Days:Dayz"]'))
    with pytest.raises(ConfigError, match=r"'Dayz' in 'Days:Dayz' is not a predictor of model"):
        run_analysis(path)  # before any fit
    path.write_text(SLEEP.replace('"log(Reaction)"', '"log(Reacton)"'))
    with pytest.raises(DataError, match=r"\[data.derive\] log_reaction: .*did you mean 'Reaction'"):
        run_analysis(path)


def test_cli_run_errors_are_one_line(tmp_path, capsys):
    path = tmp_path / "analysis.toml"
    path.write_text(SLEEP.replace("chains = 2", "chians = 2"))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("multilevel: error: analysis.toml [fit]: unknown key 'chians'")
    assert "Traceback" not in err and err.count("\n") == 1
    with pytest.raises(ConfigError):
        main(["--debug", "run", str(path)])
    with pytest.raises(ConfigError):
        main(["run", str(path), "--debug"])


def test_init_creates_a_runnable_template(tmp_path, capsys):
    folder = tmp_path / "study"
    assert main(["init", str(folder), "--data", str(DATA / "sleepstudy.csv")]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "analysis.toml", "data"]
    text = (folder / "analysis.toml").read_text()
    assert "# the file's columns: Reaction, Days, Subject" in text
    analysis = read_analysis(folder / "analysis.toml")  # the template itself is valid
    assert analysis.data.path == folder / "data" / "sleepstudy.csv"
    with pytest.raises(DataError, match="'x', which is not a column"):
        run_analysis(folder / "analysis.toml")  # until the formula is filled in
    assert main(["init", str(folder)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err


def test_init_without_data_says_where_the_data_goes(tmp_path):
    folder = init_analysis(tmp_path / "empty")
    with pytest.raises(ConfigError, match=r"path: no such file 'data/data.csv'"):
        read_analysis(folder / "analysis.toml")


def test_filters_and_derived_columns_are_reported():
    from multilevel.cli._analysis import analysis_frame
    from multilevel.cli._config import DataSection

    lines: list[str] = []
    data = DataSection(
        path=DATA / "sleepstudy.csv",
        filters=("Days >= 2", "Subject != 308"),
        derive={"seconds": "Reaction / 1000"},
    )
    frame = analysis_frame(data, lines.append)
    assert lines == ["filters kept 136 of 180 rows"]  # 17 subjects x 8 days
    assert frame["seconds"].iloc[0] == pytest.approx(frame["Reaction"].iloc[0] / 1000)
    with pytest.raises(DataError, match="'Days' is not a true/false condition"):
        analysis_frame(DataSection(path=DATA / "sleepstudy.csv", filters=("Days",)))
