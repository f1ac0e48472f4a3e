"""The family table: gaussian likelihood, links, response checks, lookup errors."""

from __future__ import annotations

import re

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from multilevel import DataError, ModelError
from multilevel.families import FAMILIES, LINKS, get_family
from multilevel.priors import ResponseScale


@pytest.fixture(scope="module")
def gaussian():
    return get_family("gaussian")


def test_gaussian_log_likelihood_matches_scipy(gaussian):
    rng = np.random.default_rng(20240611)
    y = rng.normal(0, 50, size=200)
    mu = rng.normal(0, 50, size=200)
    sigma = np.exp(rng.normal(0, 2, size=200))
    got = gaussian.log_likelihood(jnp.asarray(y), {"mu": jnp.asarray(mu), "sigma": sigma})
    # float64 throughout; the terms are at most ~1e3 in size, so 1e-12 relative is ~1000 ulps.
    np.testing.assert_allclose(np.asarray(got), stats.norm.logpdf(y, mu, sigma), rtol=1e-12)


def test_gaussian_log_likelihood_scalar_sigma(gaussian):
    y = np.array([-1.0, 0.0, 2.5])
    got = gaussian.log_likelihood(jnp.asarray(y), {"mu": jnp.asarray(0.5), "sigma": 2.0})
    # Importing multilevel switches JAX to float64, hence the float64 tolerance.
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(got), stats.norm.logpdf(y, 0.5, 2.0), rtol=1e-13)


def test_gaussian_table_entry(gaussian):
    assert gaussian.dpars == ("mu", "sigma")
    assert gaussian.link("mu").name == "identity"
    assert gaussian.link("sigma").name == "log"
    assert gaussian.location_scale
    scale = ResponseScale(288.7, 59.3)
    intercept = gaussian.intercept_prior(scale)
    assert (intercept.dist, intercept.args) == ("student_t", (3, 288.7, 59.3))
    (sigma,) = gaussian.aux
    prior = sigma.default_prior(scale)
    assert (sigma.name, prior.dist, prior.args) == ("sigma", "student_t", (3, 0.0, 59.3))
    assert gaussian.notation.format(mu="[i]", sigma="") == "normal(mu[i], sigma)"


def test_links():
    x = jnp.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(LINKS["identity"].inverse(x), x)
    # float64 (see above): a few ulps of exp / sigmoid.
    np.testing.assert_allclose(LINKS["log"].inverse(x), np.exp([-2.0, 0.0, 3.0]), rtol=1e-14)
    np.testing.assert_allclose(
        LINKS["logit"].inverse(x), 1 / (1 + np.exp([2.0, 0.0, -3.0])), rtol=1e-14
    )
    assert LINKS["log"].wrap("sigma[i]") == "log(sigma[i])"
    assert LINKS["identity"].wrap("mu[i]") == "mu[i]"


def test_numeric_response_passes(gaussian):
    y = pd.Series([1, 2, 3], name="y")
    out = gaussian.check_response(y)
    assert out.dtype == float
    np.testing.assert_array_equal(out, [1.0, 2.0, 3.0])


def test_string_response_names_column(gaussian):
    with pytest.raises(
        DataError,
        match=re.escape("the response 'score' must be numeric for this family, but it holds"),
    ) as info:
        gaussian.check_response(pd.Series(["1.5", "high", "3"], name="score"))
    assert "'1.5'" in str(info.value)


def test_boolean_response_fails(gaussian):
    with pytest.raises(DataError, match=r"the response 'passed' must be numeric .* bool"):
        gaussian.check_response(pd.Series([True, False, True], name="passed"))


def test_non_numeric_response_through_the_pipeline():
    from multilevel.design import build_design
    from multilevel.formula import parse_formula
    from multilevel.model import compile_model

    df = pd.DataFrame({"grade": ["a", "b", "a", "c"], "x": [0.0, 1.0, 2.0, 3.0]})
    d = build_design(parse_formula("grade ~ x"), df)
    with pytest.raises(DataError, match="the response 'grade' must be numeric"):
        compile_model(d, get_family("gaussian"))


def test_unknown_family_with_suggestion():
    with pytest.raises(
        ModelError,
        match=re.escape("unknown family 'gausian' (did you mean 'gaussian'?); available: gaussian"),
    ):
        get_family("gausian")


def test_unknown_family_without_close_match():
    with pytest.raises(ModelError, match="unknown family 'poisson'") as info:
        get_family("poisson")
    assert "did you mean" not in str(info.value)


def test_family_object_passes_through():
    fam = FAMILIES["gaussian"]
    assert get_family(fam) is fam
