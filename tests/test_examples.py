"""The examples run as shipped (with fewer draws) and still say what their text says.

Each analysis.toml runs twice from a copy of its folder, as `multilevel run` from a fresh
clone would: the second run reuses the saved fit."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from multilevel.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
#: Short chains: enough for the claims checked below, a fraction of the shipped 4 x 2000.
QUICK = {"chains": 2, "warmup": 300, "draws": 300}


def _quick_copy(name: str, tmp_path: Path, quick: dict[str, int] = QUICK) -> Path:
    folder = tmp_path / name
    shutil.copytree(EXAMPLES / name, folder, ignore=shutil.ignore_patterns("results"))
    path = folder / "analysis.toml"
    text = path.read_text()
    for key, value in quick.items():
        text, count = re.subn(rf"(?m)^{key} = \d+$", f"{key} = {value}", text)
        assert count == 1, key
    path.write_text(text)
    return path


def _run_twice(path: Path, capsys) -> None:
    assert main(["run", str(path), "--no-progress"]) == 0
    first = capsys.readouterr().out
    assert main(["run", str(path), "--no-progress"]) == 0
    second = capsys.readouterr().out
    assert "fitting (no saved fit)" in first
    assert "reusing" in second and "fitting" not in second
    assert (path.parent / "results" / "report.html").exists()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_partially_clustered_analysis(tmp_path, capsys):
    path = _quick_copy("partially_clustered", tmp_path)
    _run_twice(path, capsys)
    results = path.parent / "results"
    assert "100 rows without a cluster effect" in (results / "describe.txt").read_text()
    priors = pd.read_csv(results / "priors.csv", index_col=0)
    assert priors.loc["sd_cluster__tx", "prior"] == "inv_gamma(0.01, 0.01) on the variance"
    hypotheses = pd.read_csv(results / "hypotheses.csv", index_col="Hypothesis")
    # Simulated truth: residual sd 6 (controls) and 4 (treated), tests/data/README.md.
    assert (
        hypotheses.loc["sigma_controls", "CI.Lower"]
        < 6
        < hypotheses.loc["sigma_controls", "CI.Upper"]
    )
    assert (
        hypotheses.loc["sigma_treated", "CI.Lower"]
        < 4
        < hypotheses.loc["sigma_treated", "CI.Upper"]
    )
    assert hypotheses.loc["treated_less_variable", "Post.Prob"] > 0.95
    assert (results / "plots" / "conditional_tx.png").exists()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_sleepstudy_analysis(tmp_path, capsys):
    path = _quick_copy("sleepstudy", tmp_path)
    _run_twice(path, capsys)
    comparison = pd.read_csv(path.parent / "results" / "comparison.csv", index_col=0)
    # brms 2.18 loo(), default priors: slopes -860.9, intercepts -884.8, so elpd_diff 23.8
    # (tests/data/reference/brms_sleepstudy_loo.json; R call there). With 600 draws the
    # PSIS estimate of each elpd moves by ~1-2 (Monte Carlo error), well inside 5.
    assert comparison.index.tolist() == ["slopes", "intercepts"]
    assert comparison.loc["intercepts", "elpd_diff"] == pytest.approx(23.8, abs=5)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_ratings_analysis(tmp_path, capsys):
    # 2 x (150 + 150): the two ordered beta fits are the slowest of the examples.
    path = _quick_copy("ratings_2x2", tmp_path, {"chains": 2, "warmup": 150, "draws": 150})
    _run_twice(path, capsys)
    results = path.parent / "results"
    summary = pd.read_csv(results / "maximal" / "summary.csv", index_col=0)
    # the maximal structure: every effect of the 2 x 2 design varies by participant
    assert {"sd_subject__blockType1:CSType1", "cutzero", "phi"} <= set(summary.index)
    assert (results / "maximal" / "plots" / "conditional_blockType_x_CSType.png").exists()
    # The full run prefers the maximal model by 8.4 elpd (se 5.0); quick draws keep the order.
    assert pd.read_csv(results / "comparison.csv", index_col=0).index[0] == "maximal"


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.filterwarnings("ignore::multilevel.SamplingWarning")
def test_ratings_likelihoods_example_finds_the_gaussian_fits_the_zeros_worst(capsys):
    ratings = _load(EXAMPLES / "ratings_2x2" / "likelihoods.py")
    df = ratings.load()
    assert df["level"].cat.ordered and len(df["level"].cat.categories) == 11
    assert (df.loc[df["rating"] == 0, "level"] == "0").all()
    ratings.main(["--quick"])
    out = capsys.readouterr().out
    assert "400 ratings, 15% of them exactly 0" in out
    zeros = out.split("elpd over the 60 zero ratings:")[1].splitlines()[1:4]
    # Ordered by elpd, best first: the gaussian, which gives 0 no mass of its own, is last.
    # In the full run it trails by ~150 on these 60 rows; 400 quick draws move that by ~5.
    assert zeros[-1].startswith("gaussian"), zeros
