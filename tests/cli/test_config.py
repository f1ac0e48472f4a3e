"""analysis.toml validation: one clear message per mistake, naming section and key."""

import re
from pathlib import Path

import pytest

from multilevel.cli._config import ConfigError, read_analysis

DATA = Path(__file__).parents[1] / "data"

GOOD = f"""
title = "sleep"
[data]
path = "{DATA / "sleepstudy.csv"}"
columns = {{ Subject = "category" }}
[model]
formula = "Reaction ~ Days + (Days | Subject)"
[priors]
b = "normal(0, 10)"
[fit]
chains = 2
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "analysis.toml"
    path.write_text(text)
    return path


def test_a_good_file_and_its_defaults(tmp_path):
    analysis = read_analysis(_write(tmp_path, GOOD))
    (model,) = analysis.models
    assert analysis.single and model.name == "model" and model.family == "gaussian"
    assert model.priors == ("b ~ normal(0, 10)",)
    assert analysis.fit == {
        "chains": 2, "warmup": 1000, "draws": 1000, "seed": None, "engine": "auto",
        "target_accept": 0.8, "max_treedepth": 10, "metric": "diag",
    }  # fmt: skip
    assert analysis.outputs.folder == tmp_path / "results"
    assert analysis.outputs.plots == ("trace", "rank", "group_effects", "ppc")


def test_several_models_with_their_own_priors(tmp_path):
    text = GOOD.replace("[model]", "[models.slopes]") + (
        '[models.slopes.priors]\nb = "normal(0, 1)"\nsigma = "exponential(1)"\n'
        '[models.flat]\nformula = "Reaction ~ Days"\nsigma = "~ Days"\n'
    )
    analysis = read_analysis(_write(tmp_path, text))
    slopes, flat = analysis.models
    assert not analysis.single
    assert slopes.priors == ("b ~ normal(0, 1)", "sigma ~ exponential(1)")  # overrides [priors]
    assert flat.priors == ("b ~ normal(0, 10)",) and flat.dpars == {"sigma": "~ Days"}


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("chains = 2", "chain = 2", "[fit]: unknown key 'chain' (did you mean 'chains'?)"),
        ("chains = 2", 'chains = "2"', "[fit] chains: expected a whole number"),
        ("chains = 2", "chains = 0", "[fit]: chains must be a whole number from 1 to 64"),
        ("chains = 2", "draws = 0", "draws must be a whole number from 1"),
        ("chains = 2", "seed = -3", "seed must be a whole number from 0"),
        ("chains = 2", "target_accept = 1.5", "target_accept must be a number between 0 and 1"),
        ("chains = 2", "chains = true", "[fit] chains: expected a whole number"),
        ("chains = 2", 'engine = "fast"', "[fit] engine: one of ('auto', 'full', 'marginal')"),
        ("[model]", "[modle]", "unknown key 'modle' (did you mean 'model'?)"),
        ("formula =", "fromula =", "[model]: unknown key 'fromula' (did you mean 'formula'?)"),
        ('formula = "Reaction', 'formula = 3\nx = "Reaction', "[model] formula: expected a string"),
        ("sleepstudy.csv", "nope.csv", "[data] path: no such file"),
        ('path = "', 'pth = "', "[data]: unknown key 'pth' (did you mean 'path'?)"),
        ("[priors]", "[priors]\nsigma = 3", "[priors] sigma: expected a string"),
        ("[fit]", '[outputs]\nplots = ["trace", "rnak"]\n[fit]', "unknown plot 'rnak' (did you"),
        ("[fit]", "[outputs]\nreport = 1\n[fit]", "[outputs] report: expected true or false"),
        ("[fit]", '[outputs]\npredictions = "new.csv"\n[fit]', "predictions: no such file"),
        ("[fit]", "[data.derive]\nx = 1\n[fit]", "[data.derive] x: expected a string"),
        ("[fit]", "[data.filters]\n[fit]", "[data] filters: expected a list"),
        ('title = "sleep"', 'title = "sleep', "is not valid TOML"),
        ("[model]", '[models.a]\nformula = "y ~ x"\n[model]', "not both"),
    ],
)
def test_mistakes_are_named(tmp_path, old, new, fragment):
    assert old in GOOD
    with pytest.raises(ConfigError) as caught:
        read_analysis(_write(tmp_path, GOOD.replace(old, new, 1)))
    assert fragment in str(caught.value)


def test_missing_sections_and_keys(tmp_path):
    with pytest.raises(ConfigError, match=r"\[data\] section is missing"):
        read_analysis(_write(tmp_path, '[model]\nformula = "y ~ x"\n'))
    with pytest.raises(ConfigError, match="formula is missing"):
        read_analysis(_write(tmp_path, re.sub(r"formula = .*\n", "", GOOD)))
    with pytest.raises(ConfigError, match="no such analysis file"):
        read_analysis(tmp_path / "nope.toml")
