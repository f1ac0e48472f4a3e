"""translate_stata: Stata commands -> our formulas, table-driven, with the Stata rule behind
each row, and every refusal quoting the option at fault.

Stata's rules cited below are from the Stata manuals ([ME] mixed, [ME] melogit, [U] 11.4.3
Factor variables) and StataCorp's FAQ "Keeping all levels of a variable in the model".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import load_data

from multilevel import DataError, TranslationError
from multilevel.translate import translate_stata

TRIAL = "mixed y tx || cluster: tx, nocons residuals(independent, by(tx))"

# (command, expected formulas, family, link)
CASES = [
    # The example: a random slope on tx only in the treated arm, a residual sd per arm.
    (TRIAL, ("y ~ tx + (0 + tx | cluster)", "sigma ~ tx"), "gaussian", None),
    ("mixed y x || id:", ("y ~ x + (1 | id)",), "gaussian", None),
    # Stata's default covariance is independent ([ME] mixed, covariance()): brms's ||.
    ("mixed y x || id: x", ("y ~ x + (1 + x || id)",), "gaussian", None),
    ("mixed y x || id: x, covariance(unstructured)", ("y ~ x + (1 + x | id)",), "gaussian", None),
    ("mixed y x || id: x, cov(un)", ("y ~ x + (1 + x | id)",), "gaussian", None),
    ("mixed y x || id: x, covariance(independent)", ("y ~ x + (1 + x || id)",), "gaussian", None),
    # One random effect: identity, exchangeable, independent and unstructured coincide.
    ("mixed y x || id:, covariance(identity)", ("y ~ x + (1 | id)",), "gaussian", None),
    ("mixed y x || id: x, nocons cov(exchangeable)", ("y ~ x + (0 + x | id)",), "gaussian", None),
    # Levels nest left to right: class within school.
    (
        "mixed y x || school: || class:",
        ("y ~ x + (1 | school) + (1 | school:class)",),
        "gaussian",
        None,
    ),
    (
        "mixed y x || region: || school: x || class:",
        ("y ~ x + (1 | region) + (1 + x || region:school) + (1 | region:school:class)",),
        "gaussian",
        None,
    ),
    # _all: R.x is a crossed factor, the whole data one level.
    (
        "mixed y x || _all: R.item || subject:",
        ("y ~ x + (1 | item) + (1 | subject)",),
        "gaussian",
        None,
    ),
    # R.x within a level: identity covariance by default, one variance for every level of x.
    ("mixed y x || id: R.task", ("y ~ x + (1 | id:task)",), "gaussian", None),
    (
        "mixed y x || id: R.task, cov(independent)",
        ("y ~ x + (0 + C(task) || id)",),
        "gaussian",
        None,
    ),
    # A level repeated is the same level, a block of its own (not nested in itself).
    (
        "mixed y x || id: x, cov(un) || id: z, nocons",
        ("y ~ x + (1 + x | id) + (0 + z | id)",),
        "gaussian",
        None,
    ),
    # Factor variables: i. a factor, c. continuous, a bare name continuous outside '#'.
    ("mixed y i.x || id:", ("y ~ C(x) + (1 | id)",), "gaussian", None),
    ("mixed y c.x || id:", ("y ~ x + (1 | id)",), "gaussian", None),
    ("mixed y i.a#i.b || id:", ("y ~ C(a):C(b) + (1 | id)",), "gaussian", None),
    ("mixed y a#b || id:", ("y ~ C(a):C(b) + (1 | id)",), "gaussian", None),  # factors in '#'
    ("mixed y i.a##c.b || id:", ("y ~ C(a) + b + C(a):b + (1 | id)",), "gaussian", None),
    ("mixed y i.a##i.b || id:", ("y ~ C(a) + C(b) + C(a):C(b) + (1 | id)",), "gaussian", None),
    (
        "mixed y i.a##i.b##c.x || id:",
        ("y ~ C(a) + C(b) + x + C(a):C(b) + C(a):x + C(b):x + C(a):C(b):x + (1 | id)",),
        "gaussian",
        None,
    ),
    # formulaic reads x:x as x, so a square is I(x**2).
    ("mixed y c.x#c.x || id:", ("y ~ I(x**2) + (1 | id)",), "gaussian", None),
    ("mixed y c.x##c.x || id:", ("y ~ x + I(x**2) + (1 | id)",), "gaussian", None),
    ("mixed y ib2.x || id:", ("y ~ C(x, contr.treatment(base=2)) + (1 | id)",), "gaussian", None),
    ("mixed y i.(a b) z || id:", ("y ~ C(a) + C(b) + z + (1 | id)",), "gaussian", None),
    ("mixed y x, noconstant || id:", ("y ~ 0 + x + (1 | id)",), "gaussian", None),
    # ibn. keeps every level; with noconstant that is a mean per level (the FAQ's cell means).
    ("mixed y ibn.g x, nocons || id:", ("y ~ 0 + C(g) + x + (1 | id)",), "gaussian", None),
    ("melogit y x || id:", ("y ~ x + (1 | id)",), "bernoulli", None),
    ("meprobit y x || id: x, cov(un)", ("y ~ x + (1 + x | id)",), "bernoulli", "probit"),
    # binomial(n): n trials per row ([ME] melogit, binomial()).
    ("melogit y x || id:, binomial(n)", ("y | trials(n) ~ x + (1 | id)",), "binomial", None),
    ("meprobit y x || id:, binomial(10)", ("y | trials(10) ~ x + (1 | id)",), "binomial", "probit"),
    ("mepoisson y x || id:", ("y ~ x + (1 | id)",), "poisson", None),
    # dispersion(mean), menbreg's default, is brms's negbinomial: var = mu + mu^2 / shape.
    ("menbreg y x || id:, dispersion(mean)", ("y ~ x + (1 | id)",), "negbinomial", None),
    ("meologit y x || id:", ("y ~ x + (1 | id)",), "cumulative", None),
    ("meoprobit y i.a || id: x, cov(un)", ("y ~ C(a) + (1 + x | id)",), "cumulative", "probit"),
    ("xtmixed y x || id:", ("y ~ x + (1 | id)",), "gaussian", None),  # mixed's old name
    # A do-file: a comment, a continuation, a prompt.
    (
        ". mixed y x /* slope */ || id: x, /// \n cov(un) // correlated",
        ("y ~ x + (1 + x | id)",),
        "gaussian",
        None,
    ),
]


@pytest.mark.parametrize(("command", "formulas", "family", "link"), CASES)
def test_translation(command, formulas, family, link):
    t = translate_stata(command)
    assert (t.formulas, t.family, t.link) == (formulas, family, link)


def test_at_least_thirty_inputs():
    assert len(CASES) >= 30


def test_notes_name_what_has_no_bayesian_counterpart():
    t = translate_stata("mixed y x || id:, reml variance iterate(50) vce(oim)")
    assert t.formulas == ("y ~ x + (1 | id)",)
    assert [n.split("'")[1] for n in t.notes] == ["reml", "variance", "iterate(50)", "vce(oim)"]
    assert "check_reml" in t.notes[0]
    bayes = translate_stata("bayes: mixed y x || id:")
    assert bayes.formula == "y ~ x + (1 | id)" and "default priors are not copied" in bayes.notes[0]


def test_by_without_data_says_what_it_assumed(partially_clustered):
    assert "assumes 'tx' has two values" in translate_stata(TRIAL).notes[0]
    assert translate_stata(TRIAL, partially_clustered).notes == ()


def test_data_settles_levels_and_columns():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "y": rng.normal(size=12),
            "arm": [1, 2, 3] * 4,
            "x1": rng.normal(size=12),
            "x2": rng.normal(size=12),
            "site": list("abcd") * 3,
            "id": np.repeat(np.arange(4), 3),
        }
    )
    # A numeric by() variable with three values needs C(): a sd per level, not a log-linear trend.
    t = translate_stata("mixed y x1 || id:, residuals(independent, by(arm))", df)
    assert t.formulas == ("y ~ x1 + (1 | id)", "sigma ~ C(arm)")
    # ib(last). is the largest level; ib(freq). the most frequent; ib(#2). the second.
    assert translate_stata("mixed y ib(last).arm || id:", df).formula.startswith(
        "y ~ C(arm, contr.treatment(base=3))"
    )
    assert translate_stata("mixed y ib(#2).arm || id:", df).formula.startswith(
        "y ~ C(arm, contr.treatment(base=2))"
    )
    # ib1. is the default base once the data shows 1 is the first level.
    assert translate_stata("mixed y ib1.arm || id:", df).formula == "y ~ C(arm) + (1 | id)"
    # Text columns are factors to formulaic already.
    assert translate_stata("mixed y i.site || id:", df).formula == "y ~ site + (1 | id)"
    assert translate_stata("mixed y x* || id:", df).formula == "y ~ x1 + x2 + (1 | id)"
    assert translate_stata("mixed y x1-x2 || id:", df).formula == "y ~ x1 + x2 + (1 | id)"
    with pytest.raises(DataError, match=r"'Site'.*did you mean 'site'"):
        translate_stata("mixed y x1 || Site:", df)


# (command, the text the error must quote)
REFUSED = [
    ("mixed y x || id:, vce(robust)", "vce(robust)"),
    ("mixed y x || id: x, cov(exch)", "cov(exch)"),  # one shared variance and covariance
    ("mixed y x || id: x, covariance(identity)", "covariance(identity)"),
    ("mixed y i.x, nocons || id:", "i.x"),  # Stata keeps the base level out (FAQ)
    ("mixed y x if age > 30 || id:", "if age > 30"),
    ("mixed y x [pw=w] || id:", "[pw=w]"),
    ("mixed y x || id:, residuals(ar 1, t(time))", "residuals(ar 1, t(time))"),
    ("mixed y x || id:, residuals(independent, by(arm) foo(1))", "foo(1)"),
    ("menbreg y x || id:, dispersion(constant)", "dispersion(constant)"),
    ("mepoisson y x || id:, exposure(t)", "exposure(t)"),
    ("mixed y x || id:, offset(z)", "offset(z)"),
    ("mixed y x || id:, constraints(1)", "constraints(1)"),
    ("mixed y x || id:, binomial(n)", "binomial(n)"),  # not an option of mixed
    ("melogit y x || id:, binomial(a b)", "binomial(a b)"),
    ("mixed y x || id:, wibble", "wibble"),
    ("mixed y L.x || id:", "L.x"),
    ("mixed y x || id: R.a z", "R.a z"),
    ("mixed y x || id: R.a, cov(exchangeable)", "R.a"),
    ("meologit y x, nocons || id:", "noconstant"),
    ("mixed y x, cov(un) || id:", "cov(un)"),
    ("mixed y ib(last).x || id:", "ib(last).x"),  # needs the data
    ("mixed y x* || id:", "x*"),  # needs the data
    ("mixed y i.a#i.a || id:", "i.a#i.a"),
    ("mixed y ibn.a || id:", "ibn.a"),  # every level and a constant
    ("mixed y x || id: x, nocons || id2: , cov(banana)", "cov(banana)"),
    ("xtreg y x, re", "xtreg"),
    ("bayes, prior({y:}, normal(0, 1)): mixed y x || id:", "prior({y:}, normal(0, 1))"),
]


@pytest.mark.parametrize(("command", "quoted"), REFUSED)
def test_refusals_quote_the_option(command, quoted):
    with pytest.raises(TranslationError) as info:
        translate_stata(command)
    assert quoted in str(info.value)


def test_refusal_points_at_the_option():
    with pytest.raises(TranslationError) as info:
        translate_stata("mixed y x || id: x, vce(robust)")
    err = info.value
    assert err.formula == "mixed y x || id: x, vce(robust)"
    assert err.formula[err.position :].startswith("vce(robust)")
    assert str(err).splitlines()[-1].index("^") - 2 == err.position


# Stata commands on the shared data sets and the R formulas of their reference fits
# (tests/data/reference): the translation builds the same model, parameter for parameter.
SAME_MODEL = [
    (
        "sleepstudy",
        "mixed Reaction Days || Subject: Days, cov(un) reml",
        "Reaction ~ Days + (1 + Days | Subject)",
        {},
    ),
    (
        "cbpp",
        "melogit incidence i.period || herd:, binomial(size)",
        "incidence | trials(size) ~ C(period) + (1 | herd)",
        {"family": "binomial"},
    ),
    (
        "epilepsy",
        "mepoisson count c.zAge c.zBase##i.Trt || patient:",
        "count ~ zAge + zBase + C(Trt) + zBase:C(Trt) + (1 | patient)",
        {"family": "poisson"},
    ),
    (
        "grouseticks",
        "mepoisson TICKS i.YEAR c.cHEIGHT || LOCATION: || BROOD: || INDEX:",
        "TICKS ~ C(YEAR) + cHEIGHT + (1 | LOCATION) + (1 | LOCATION:BROOD)"
        " + (1 | LOCATION:BROOD:INDEX)",
        {"family": "poisson"},
    ),
]


@pytest.mark.parametrize(("data", "command", "formula", "keywords"), SAME_MODEL)
def test_same_model_as_the_r_formula(data, command, formula, keywords):
    import multilevel as ml

    df = load_data(data)
    t = translate_stata(command, df)
    assert t.formula == formula
    translated = ml.Model(data=df, **t.model_arguments())
    by_hand = ml.Model(formula, df, **keywords)
    pd.testing.assert_frame_equal(translated.priors(), by_hand.priors())
    assert translated.describe() == by_hand.describe()
