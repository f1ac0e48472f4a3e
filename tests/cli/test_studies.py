"""`multilevel power` and `multilevel sbc`: files written, reruns resumed, mistakes named.

Every study here runs in this process (`--workers 0`) with tiny settings: the point is the
command, not the statistics (tests/studies checks those)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multilevel.cli import main
from multilevel.cli._studies import READY, read_design

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

DESIGN = """
title = "tiny"
[scenario]
ready = "partially_clustered"
effect = 0.5
icc = 0.1
[sizes]
n_controls = 20
groups = [3, 4]
per_group = 3
[study]
replicates = 3
seed = 1
[fit]
chains = 1
warmup = 100
draws = 100
"""

ANALYSIS = """
[data]
path = "data.csv"
columns = { g = "category" }
[model]
formula = "y ~ x + (1 | g)"
[priors]
b = "normal(0, 1)"
Intercept = "normal(0, 2)"
sd = "half_normal(1)"
sigma = "half_normal(1)"
[sbc]
replicates = 3
seed = 2
ranks_of = 9
chains = 1
warmup = 100
draws = 100
"""

QUICK = ["--workers", "0", "--no-progress"]


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _error(capsys, argv: list[str]) -> str:
    """The one-line message of a command that must fail with status 2."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("multilevel: error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_power_writes_its_files_and_a_rerun_resumes(tmp_path, capsys):
    path = _write(tmp_path, "design.toml", DESIGN)
    assert main(["power", str(path), *QUICK]) == 0
    first = capsys.readouterr().out
    folder = tmp_path / "results" / "design"
    table = pd.read_csv(folder / "power.csv")
    assert table[["n_controls", "groups", "per_group"]].values.tolist() == [[20, 3, 3], [20, 4, 3]]
    assert table["replicates"].tolist() == [3, 3]
    assert len(pd.read_csv(folder / "replicates.csv")) == 6
    assert (folder / "power.png").read_bytes().startswith(b"\x89PNG")
    assert "ran 6 replicates" in first and "tiny" in first and "coverage" in first

    before = (folder / "power.csv").read_bytes()
    assert main(["power", str(path), *QUICK]) == 0
    assert "resumed 6 of 6 replicates" in capsys.readouterr().out
    assert (folder / "power.csv").read_bytes() == before


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("effect = 0.5", "efect = 0.5", "[scenario]: unknown key 'efect' (did you mean 'effect'?)"),
        ("seed = 1", "", "[study]: seed is missing"),
        ("replicates = 3", "replicate = 3", "[study]: unknown key 'replicate' (did you mean"),
        ('"partially_clustered"', '"partial"', "[scenario] ready: no ready scenario 'partial'"),
        ("effect = 0.5", 'effect = "big"', "[scenario] effect: expected a number"),
        ("icc = 0.1", "", "[scenario]: icc is missing"),
        ("icc = 0.1", "icc = 1.5", "[scenario]: icc must be in [0, 1)"),
        ("groups = [3, 4]", "group = [3, 4]", "[sizes]: unknown size 'group' (did you mean"),
        ("groups = [3, 4]", "groups = [3, 0]", "[sizes]: the layout refuses"),
        ("groups = [3, 4]", "groups = []", "[sizes] groups: expected a number or a list"),
        ("chains = 1", "chains = 0", "[fit]: chains must be a whole number from 1"),
        ("chains = 1", 'engine = "fast"', "[fit] engine: one of"),
        ("[fit]", "[fit]\nseed = 3", "[fit]: unknown key 'seed'"),
        ('title = "tiny"', 'title = "tiny', "is not valid TOML"),
    ],
)
def test_power_mistakes_are_one_line_naming_the_key(tmp_path, capsys, old, new, fragment):
    assert old in DESIGN
    path = _write(tmp_path, "design.toml", DESIGN.replace(old, new, 1))
    err = _error(capsys, ["power", str(path), *QUICK])
    assert "design.toml" in err and fragment in err, err
    assert not (tmp_path / "results").exists()


def test_unknown_ready_scenario_names_the_valid_ones(tmp_path, capsys):
    path = _write(tmp_path, "design.toml", DESIGN.replace('"partially_clustered"', '"nope"'))
    err = _error(capsys, ["power", str(path)])
    assert "the ready ones: partially_clustered" in err
    assert list(READY) == ["partially_clustered"]


CUSTOM = """
[scenario]
formula = "y ~ x + (1 | g)"
layout = "{layout}"
target = "b_x"
priors = ["b ~ normal(0, 1)", "sd ~ half_normal(1)", "sigma ~ half_normal(1)"]
[scenario.truth]
b_Intercept = 0.0
b_x = 0.3
sd_g__Intercept = 0.5
sigma = 1.0
[sizes]
groups = 4
per_group = [3, 5]
[study]
seed = 1
"""

LAYOUT = """
import numpy as np
import pandas as pd


def layout(rng, groups, per_group):
    n = groups * per_group
    return pd.DataFrame({"x": rng.normal(size=n), "g": np.repeat(np.arange(groups), per_group)})
"""


def test_a_custom_scenario_imports_its_layout_from_the_design_folder(tmp_path):
    _write(tmp_path, "mylayouts_cli_test.py", LAYOUT)
    path = _write(tmp_path, "design.toml", CUSTOM.format(layout="mylayouts_cli_test:layout"))
    design = read_design(path)
    assert design.scenario.truth["b_x"] == 0.3 and design.scenario.priors[0] == "b ~ normal(0, 1)"
    assert design.sizes == {"groups": 4, "per_group": [3, 5]}
    assert len(design.scenario.layout(np.random.default_rng(0), groups=2, per_group=3)) == 6
    assert design.folder == tmp_path / "results" / "design" and design.replicates == 200


@pytest.mark.parametrize(
    ("layout", "fragment"),
    [
        ("no_such_module_xyz:layout", "[scenario] layout: cannot import no_such_module_xyz"),
        ("mylayouts_cli_test:layuot", "has no function 'layuot' (did you mean 'layout'?)"),
        ("mylayouts_cli_test", 'layout: expected "package.module:function"'),
    ],
)
def test_a_layout_that_cannot_be_imported(tmp_path, capsys, layout, fragment):
    _write(tmp_path, "mylayouts_cli_test.py", LAYOUT)
    path = _write(tmp_path, "design.toml", CUSTOM.format(layout=layout))
    assert fragment in _error(capsys, ["power", str(path)])


def test_a_custom_scenario_needs_formula_layout_truth_and_target(tmp_path, capsys):
    text = CUSTOM.format(layout="x:y").replace('target = "b_x"\n', "")
    path = _write(tmp_path, "design.toml", text)
    assert "[scenario]: target is missing" in _error(capsys, ["power", str(path)])


def test_a_custom_scenario_names_a_wrong_distributional_parameter(tmp_path, capsys):
    _write(tmp_path, "mylayouts_cli_test.py", LAYOUT)
    text = CUSTOM.format(layout="mylayouts_cli_test:layout") + '[scenario.dpars]\nsigm = "~ x"\n'
    path = _write(tmp_path, "design.toml", text)
    err = _error(capsys, ["power", str(path)])
    assert "[scenario.dpars]: unknown parameter 'sigm' (did you mean 'sigma'?)" in err


def test_scheduler_without_dask_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    path = _write(tmp_path, "design.toml", DESIGN)
    err = _error(capsys, ["power", str(path), "--scheduler", "tcp://localhost:1"])
    assert "pip install 'multilevel[dask]'" in err


def test_workers_and_scheduler_exclude_each_other(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["power", "x.toml", "--workers", "2", "--scheduler", "tcp://h:1"])
    assert exit_info.value.code == 2


def test_the_shipped_design_reads(tmp_path):
    design = read_design(EXAMPLES / "partially_clustered" / "power.toml")
    assert design.scenario.truth["b_tx"] == 0.5 and design.seed == 1
    assert design.sizes["groups"] == [4, 6, 8, 10] and design.replicates == 200


# Simulation-based calibration.


def _analysis(tmp_path: Path, text: str = ANALYSIS) -> Path:
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(6), 5)
    x = rng.normal(size=30)
    y = 0.5 * x + rng.normal(size=6)[g] * 0.5 + rng.normal(size=30)
    pd.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g]}).to_csv(
        tmp_path / "data.csv", index=False
    )
    return _write(tmp_path, "analysis.toml", text)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_sbc_writes_ranks_and_uniformity(tmp_path, capsys):
    path = _analysis(tmp_path)
    assert main(["sbc", str(path), *QUICK]) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "results" / "sbc"
    ranks = pd.read_csv(folder / "ranks.csv", index_col="replicate")
    assert len(ranks) == 3 and {"b_x", "sd_g__Intercept", "sigma"} <= set(ranks.columns)
    assert ranks.isin(range(10)).all().all()
    uniformity = pd.read_csv(folder / "uniformity.csv", index_col="parameter")
    assert set(uniformity.index) == set(ranks.columns)
    for name in ("sbc_ecdf.png", "sbc_hist.png"):
        assert (folder / name).read_bytes().startswith(b"\x89PNG")
    assert "Rank uniformity (3 replicates" in out and "b_x" in out


def test_run_accepts_an_sbc_section(tmp_path):
    from multilevel.cli._config import read_analysis

    analysis = read_analysis(_analysis(tmp_path))
    assert analysis.sbc["ranks_of"] == 9


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("seed = 2\n", "", "analysis.toml [sbc]: seed is missing, here and in [fit]"),
        ("ranks_of = 9", "rank_of = 9", "[sbc]: unknown key 'rank_of' (did you mean 'ranks_of'?)"),
        ("ranks_of = 9", "ranks_of = 3", "[sbc] ranks_of: a whole number >= 9"),
        ("chains = 1", "chains = 0", "[sbc]: chains must be a whole number from 1"),
        ('b = "normal(0, 1)"\n', "", "b_x has an improper flat prior; give proper ones"),
    ],
)
def test_sbc_mistakes(tmp_path, capsys, old, new, fragment):
    assert old in ANALYSIS
    err = _error(capsys, ["sbc", str(_analysis(tmp_path, ANALYSIS.replace(old, new, 1))), *QUICK])
    assert fragment in err, err


def test_sbc_model_choice(tmp_path, capsys):
    text = ANALYSIS.replace("[model]", "[models.a]").replace(
        "[priors]", '[models.b]\nformula = "y ~ x"\n[priors]'
    )
    path = _analysis(tmp_path, text)
    err = _error(capsys, ["sbc", str(path), "--model", "aa"])
    assert "no model 'aa' (did you mean 'a'?); its models: a, b" in err
    err = _error(capsys, ["sbc", str(path)])
    assert "analysis.toml has several models (a, b): pick one with --model" in err
    single = _analysis(tmp_path)
    assert "leave out --model" in _error(capsys, ["sbc", str(single), "--model", "a"])
