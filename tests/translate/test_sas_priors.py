"""SAS PROC MCMC prior statements -> our prior statements: the table of translations, the
densities against SAS's documented formulas, and the statements that have no translation."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from multilevel._errors import PriorError, TranslationError
from multilevel.model._densities import LOG_DENSITIES, prior_log_density
from multilevel.priors import PriorSpec, assign_priors, aux_slot, parse_prior, sd_slot
from multilevel.translate._sas_priors import priors_from_sas

TRIAL = {"b0": "b_Intercept", "b1": "b_tx", "s2u": "sd_cluster__tx^2"}

PROGRAM = """
/* Cluster-randomised trial; random slope of treatment */
proc mcmc data=trial nmc=50000 nbi=5000 seed=27513 outpost=post;
   parms b0 0 b1 0;
   parms s2u 1 s2 1;
   * a comment statement; with a semicolon inside it is two statements, both skipped;
   PRIOR B: ~ Normal(0, VAR=1e6);   /* vague; as in the SAP */
   prior s2u ~ igamma(0.01, scale=0.01);
   hyperprior s2 ~ igamma(shape=0.01, iscale=100);
   random u ~ normal(0, var=s2u) subject=cluster;
   mu = b0 + (b1 + u) * tx;
   model y ~ normal(mu, var=s2);
run;
"""

# (SAS statements, names, our statements)
TRANSLATIONS = {
    "trial statistician's program": (
        "prior b0 b1 ~ normal(0, var=1e6); prior s2u ~ igamma(0.01, scale=0.01);",
        TRIAL,
        [
            "b_Intercept ~ normal(0, 1000)",
            "b_tx ~ normal(0, 1000)",
            "sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)",
        ],
    ),
    "whole PROC MCMC program": (
        PROGRAM,
        TRIAL | {"s2": "sigma^2"},
        [
            "b_Intercept ~ normal(0, 1000)",
            "b_tx ~ normal(0, 1000)",
            "sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)",
            "sigma^2 ~ inv_gamma(0.01, 0.01)",
        ],
    ),
    "normal prec=": ("prior b0 ~ normal(0, prec=1e-6);", TRIAL, ["b_Intercept ~ normal(0, 1000)"]),
    "normal sd=, keyword mean=": (
        "prior b1 ~ normal(mean=1.5, sd=2.5);",
        TRIAL,
        ["b_tx ~ normal(1.5, 2.5)"],
    ),
    "normal var= not a square": (
        "prior b1 ~ n(0, var=10);",
        TRIAL,
        ["b_tx ~ normal(0, 3.1622776601683795)"],
    ),
    "arithmetic and .01": (
        "prior b0 ~ normal(0, var=10**6); prior b1 ~ normal(.01, sd=1/100);",
        TRIAL,
        ["b_Intercept ~ normal(0, 1000)", "b_tx ~ normal(0.01, 0.01)"],
    ),
    "t": ("prior b1 ~ t(0, var=6.25, 3);", TRIAL, ["b_tx ~ student_t(3, 0, 2.5)"]),
    "t df=, prec=": ("prior b1 ~ t(1, prec=0.25, df=7);", TRIAL, ["b_tx ~ student_t(7, 1, 2)"]),
    "igamma iscale=": (
        "prior s2 ~ igamma(shape=2, iscale=0.1);",
        {"s2": "sigma^2"},
        ["sigma^2 ~ inv_gamma(2, 10)"],
    ),
    "gamma scale= on a precision": (
        "prior tau ~ gamma(0.01, scale=100);",
        {"tau": "sigma^-2"},
        ["sigma^-2 ~ gamma(0.01, 0.01)"],
    ),
    "gamma iscale=": (
        "prior tau ~ gamma(shape=3, iscale=2);",
        {"TAU": "sd_g^-2"},
        ["sd_g^-2 ~ gamma(3, 2)"],
    ),
    "expon, exponential": (
        "prior s ~ expon(scale=2); prior t ~ exponential(iscale=1.5);",
        {"s": "sigma", "t": "sd_g"},
        ["sigma ~ exponential(0.5)", "sd_g ~ exponential(1.5)"],
    ),
    "uniform, beta, logistic, cauchy": (
        "prior s ~ uniform(0, 100); prior p ~ beta(a=1, b=2); "
        "prior b0 ~ logistic(1, scale=2); prior b1 ~ cauchy(0, scale=2.5);",
        TRIAL | {"s": "sd_g", "p": "zi"},
        [
            "sd_g ~ uniform(0, 100)",
            "zi ~ beta(1, 2)",
            "b_Intercept ~ logistic(1, 2)",
            "b_tx ~ cauchy(0, 2.5)",
        ],
    ),
    "general(0), dgeneral(constant)": (
        "prior b0 ~ general(0); prior b1 ~ dgeneral(-1);",
        TRIAL,
        ["b_Intercept ~ flat()", "b_tx ~ flat()"],
    ),
    "lower=0 on a centred normal, cauchy, t: half distributions": (
        "prior s ~ normal(0, var=4, lower=0); prior t ~ cauchy(0, scale=2.5, lower=0);"
        "prior u ~ t(0, sd=1, 3, lower=0);",
        {"s": "sigma", "t": "sd_g", "u": "sd_h"},
        ["sigma ~ half_normal(2)", "sd_g ~ half_cauchy(2.5)", "sd_h ~ half_student_t(3, 1)"],
    ),
    "lower=0 on a positive distribution is a no-op": (
        "prior s2u ~ igamma(0.01, scale=0.01, lower=0); prior s ~ gamma(2, iscale=1, lower=0);"
        "prior p ~ beta(2, 2, lower=0, upper=1);",
        TRIAL | {"s": "sigma", "p": "zi"},
        ["sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)", "sigma ~ gamma(2, 1)", "zi ~ beta(2, 2)"],
    ),
    "general(0, lower=0) on a variance": (
        "prior s2 ~ general(0, lower=0);",
        {"s2": "sigma^2"},
        ["sigma^2 ~ flat()"],
    ),
    "halfcauchy, halfnormal": (
        "prior s ~ halfcauchy(scale=5); prior t ~ halfnormal(var=100);",
        {"s": "sigma", "t": "sd_g"},
        ["sigma ~ half_cauchy(5)", "sd_g ~ half_normal(10)"],
    ),
    "b: wildcard, case-insensitive": (
        "prior B: ~ normal(0, sd=10);",
        {"b0": "b_Intercept", "B1": "b_tx", "s2": "sigma^2"},
        ["b_Intercept ~ normal(0, 10)", "b_tx ~ normal(0, 10)"],
    ),
    "hyperprior, hyper; unmapped names kept": (
        "HYPERPRIOR sd_g ~ halfnormal(sd=2); hyper Alpha ~ normal(0, var=1);",
        None,
        ["sd_g ~ half_normal(2)", "Alpha ~ normal(0, 1)"],
    ),
}


@pytest.mark.parametrize("case", list(TRANSLATIONS))
def test_translation(case):
    text, names, expected = TRANSLATIONS[case]
    got = priors_from_sas(text, names)
    assert got == expected
    assert all(parse_prior(s).text == s for s in got)


def test_other_statements_are_skipped():
    text = "proc mcmc data=d; parms b0 0; model y ~ normal(b0, var=1); run;"
    assert priors_from_sas(text) == []


def test_whole_floats_print_without_point_and_others_round_trip():
    got = priors_from_sas(
        "prior a ~ normal(0, var=0.1*3); prior b ~ normal(0, var=1e40); "
        "prior c ~ igamma(2, iscale=3);"
    )
    assert got == [
        "a ~ normal(0, 0.5477225575051662)",
        "b ~ normal(0, 1e+20)",
        "c ~ inv_gamma(2, 0.3333333333333333)",
    ]


# ---------------------------------------------------------------------------------------
# Densities: SAS's, written out from the PROC MCMC "Standard Distributions" tables, against
# the density our translated statement means (scipy.stats in our parameterisation).


def _sas_igamma(x, a, scale=None, iscale=None):
    if scale is not None:
        return scale**a / math.gamma(a) * x ** (-a - 1) * math.exp(-scale / x)
    return 1 / (iscale**a * math.gamma(a)) * x ** (-a - 1) * math.exp(-1 / (iscale * x))


def _sas_gamma(x, a, scale=None, iscale=None):
    if scale is not None:
        return 1 / (scale**a * math.gamma(a)) * x ** (a - 1) * math.exp(-x / scale)
    return iscale**a / math.gamma(a) * x ** (a - 1) * math.exp(-iscale * x)


def _sas_normal(x, mu, var=None, sd=None, prec=None):
    var = var if var is not None else sd**2 if sd is not None else 1 / prec
    return 1 / math.sqrt(2 * math.pi * var) * math.exp(-((x - mu) ** 2) / (2 * var))


def _sas_expon(x, scale=None, iscale=None):
    return math.exp(-x / scale) / scale if scale is not None else iscale * math.exp(-iscale * x)


def _sas_t(x, mu, nu, var=None, sd=None, prec=None):
    sd = sd if sd is not None else math.sqrt(var) if var is not None else 1 / math.sqrt(prec)
    c = math.gamma((nu + 1) / 2) / (math.gamma(nu / 2) * math.sqrt(nu * math.pi) * sd)
    return c * (1 + (x - mu) ** 2 / (nu * sd**2)) ** (-(nu + 1) / 2)


def _sas_cauchy(x, a, b):
    return b / (math.pi * (b**2 + (x - a) ** 2))


def _sas_logistic(x, a, b):
    z = math.exp(-(x - a) / b)
    return z / (b * (1 + z) ** 2)


# Ours, by distribution name: the scipy distribution for the statement's arguments.
OURS = {
    "inv_gamma": lambda shape, scale: stats.invgamma(a=shape, scale=scale),
    "gamma": lambda shape, rate: stats.gamma(a=shape, scale=1 / rate),
    "normal": lambda mu, sd: stats.norm(loc=mu, scale=sd),
    "exponential": lambda rate: stats.expon(scale=1 / rate),
    "student_t": lambda nu, mu, sd: stats.t(df=nu, loc=mu, scale=sd),
    "half_normal": lambda sd: stats.halfnorm(scale=sd),
    "half_cauchy": lambda sd: stats.halfcauchy(scale=sd),
    "cauchy": lambda mu, sd: stats.cauchy(loc=mu, scale=sd),
    "logistic": lambda mu, s: stats.logistic(loc=mu, scale=s),
}

POSITIVE = (0.05, 0.7, 1.0, 3.2, 11.0)
REAL = (-7.5, -1.0, 0.0, 0.4, 2.0, 9.0)

# (SAS prior, SAS density, points)
DENSITIES = [
    ("igamma(0.01, scale=0.01)", lambda x: _sas_igamma(x, 0.01, scale=0.01), POSITIVE),
    ("igamma(3, scale=2)", lambda x: _sas_igamma(x, 3, scale=2), POSITIVE),
    ("igamma(shape=2, iscale=0.1)", lambda x: _sas_igamma(x, 2, iscale=0.1), POSITIVE),
    ("gamma(2.5, scale=4)", lambda x: _sas_gamma(x, 2.5, scale=4), POSITIVE),
    ("gamma(0.5, iscale=3)", lambda x: _sas_gamma(x, 0.5, iscale=3), POSITIVE),
    ("normal(1, var=10)", lambda x: _sas_normal(x, 1, var=10), REAL),
    ("normal(-2, sd=0.5)", lambda x: _sas_normal(x, -2, sd=0.5), REAL),
    ("normal(0, prec=0.1)", lambda x: _sas_normal(x, 0, prec=0.1), REAL),
    ("expon(scale=2)", lambda x: _sas_expon(x, scale=2), POSITIVE),
    ("expon(iscale=0.3)", lambda x: _sas_expon(x, iscale=0.3), POSITIVE),
    ("t(1, var=6.25, 3)", lambda x: _sas_t(x, 1, 3, var=6.25), REAL),
    ("t(0, prec=4, df=5)", lambda x: _sas_t(x, 0, 5, prec=4), REAL),
    ("cauchy(1, scale=2.5)", lambda x: _sas_cauchy(x, 1, 2.5), REAL),
    ("logistic(1, 2)", lambda x: _sas_logistic(x, 1, 2), REAL),
    # Truncated at 0: SAS's density renormalised by its mass on (0, inf), 1/2 when centred.
    ("normal(0, var=4, lower=0)", lambda x: 2 * _sas_normal(x, 0, var=4), POSITIVE),
    ("cauchy(0, scale=3, lower=0)", lambda x: 2 * _sas_cauchy(x, 0, 3), POSITIVE),
]


def _translate_one(sas: str) -> PriorSpec:
    (statement,) = priors_from_sas(f"prior x ~ {sas};")
    return parse_prior(statement)


@pytest.mark.parametrize(("sas", "density", "points"), DENSITIES, ids=[d[0] for d in DENSITIES])
def test_density_matches_sas(sas, density, points):
    spec = _translate_one(sas)
    ours = OURS[spec.dist](*spec.args)
    want = np.array([density(x) for x in points])
    np.testing.assert_allclose(ours.pdf(np.array(points)), want, rtol=1e-12, atol=0)


# Our engine's own log density for translated statements, against scipy.
ENGINE = [
    "normal(0, prec=1e-6)",
    "igamma(0.01, scale=0.01)",
    "gamma(2.5, iscale=3)",
    "t(1, sd=2, 4)",
]


@pytest.mark.parametrize("sas", ENGINE)
def test_engine_density_matches_scipy(sas):
    spec = _translate_one(sas)
    xs = np.array(POSITIVE)
    got = np.asarray(LOG_DENSITIES[spec.dist](jnp.asarray(xs), *spec.args))
    np.testing.assert_allclose(got, OURS[spec.dist](*spec.args).logpdf(xs), rtol=1e-12, atol=1e-12)


def test_engine_prior_on_a_variance_is_sas_prior_on_it():
    """SAS samples the variance s2u under igamma; we sample the sd under `sd^2 ~ inv_gamma`:
    our log density of sd is SAS's of sd^2 plus the Jacobian log(2 sd)."""
    (statement,) = priors_from_sas("prior s2u ~ igamma(0.01, scale=0.01);", TRIAL)
    slot = sd_slot("sd_cluster__tx", "mu", "cluster", "tx")
    (prior,) = assign_priors([slot], {slot.name: parse_prior("sd ~ flat()")}, [statement])
    for sd in (0.1, 0.8, 2.5):
        got = float(prior_log_density(prior, jnp.asarray([sd])))
        want = math.log(_sas_igamma(sd**2, 0.01, scale=0.01) * 2 * sd)
        assert got == pytest.approx(want, rel=1e-12)


def test_engine_prior_on_a_precision_is_sas_prior_on_it():
    (statement,) = priors_from_sas("prior tau ~ gamma(2, iscale=0.5);", {"tau": "sigma^-2"})
    (prior,) = assign_priors(
        [aux_slot("sigma")], {"sigma": parse_prior("sigma ~ flat()")}, [statement]
    )
    for sigma in (0.3, 1.0, 4.0):
        got = float(prior_log_density(prior, jnp.asarray([sigma])))
        want = math.log(_sas_gamma(sigma**-2, 2, iscale=0.5) * 2 * sigma**-3)
        assert got == pytest.approx(want, rel=1e-12)


# ---------------------------------------------------------------------------------------
# No translation: each error quotes the text at fault and points at it.

# (SAS statements, names, the offending text)
ERRORS = {
    "no var=/sd=/prec=": ("prior b0 ~ normal(0, 100);", None, "100"),
    "igamma scale not named": ("prior s2 ~ igamma(0.01, 0.01);", None, "0.01)"),
    "general of an expression": ("prior s2 ~ general(-log(s2));", None, "-log(s2)"),
    "lower=1 on a normal": ("prior b0 ~ normal(0, var=10, lower=1);", None, "lower=1"),
    "lower=0 on an off-centre normal": ("prior s ~ normal(1, sd=1, lower=0);", None, "lower=0"),
    "upper= with lower=0": ("prior s ~ normal(0, sd=1, lower=0, upper=5);", None, "upper=5"),
    "general(0, lower=0) on a coefficient": ("prior b0 ~ general(0, lower=0);", TRIAL, "lower=0"),
    "hierarchical argument": ("prior b0 ~ normal(mu0, var=s2);", None, "mu0"),
    "hierarchical in an expression": ("prior b0 ~ normal(0, var=10*s2);", None, "s2"),
    "a function call": ("prior b0 ~ normal(0, sd=sqrt(10));", None, "sqrt"),
    "unknown distribution": ("prior b0 ~ lognormal(0, sd=1);", None, "lognormal"),
    "multivariate": ("prior beta ~ mvn(mu, sigma);", None, "mvn"),
    "b: matches nothing": ("prior b: ~ normal(0, var=1);", {"s2": "sigma^2"}, "b:"),
    "unknown option": ("prior b0 ~ normal(0, variance=1);", None, "variance="),
    "spread not > 0": ("prior b0 ~ normal(0, var=0);", None, "var=0"),
    "two priors on one parameter": (
        "prior b: ~ normal(0, var=1); prior B1 ~ general(0);",
        TRIAL,
        "B1",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_untranslatable(case):
    text, names, offending = ERRORS[case]
    with pytest.raises(TranslationError) as info:
        priors_from_sas(text, names)
    error = info.value
    assert error.formula[error.position :].startswith(offending)
    assert offending.rstrip(")") in str(error)


def test_error_source_is_the_statement_on_one_line():
    text = "proc mcmc;\n  prior b0\n     ~ normal(0,\n  100);\nrun;"
    with pytest.raises(TranslationError) as info:
        priors_from_sas(text)
    assert info.value.formula == "prior b0 ~ normal(0, 100);"
    assert "SAS requires var=, sd= or prec=" in str(info.value)


def test_unknown_distribution_lists_the_supported_ones():
    with pytest.raises(TranslationError, match=r"supported: normal .*igamma.*general"):
        priors_from_sas("prior b0 ~ wishart(3, sigma);")


def test_a_bad_result_raises_prior_error_early():
    with pytest.raises(PriorError, match="shape must be > 0"):
        priors_from_sas("prior s ~ gamma(-1, scale=2);")
    with pytest.raises(PriorError):
        priors_from_sas("prior b0 ~ normal(0, var=1);", {"b0": "b Intercept"})
