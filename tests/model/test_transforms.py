"""corr_cholesky and lkj_cholesky_log_density against numpyro and against autodiff."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.distributions import LKJCholesky
from numpyro.distributions.transforms import CorrCholeskyTransform

from multilevel.model._transforms import corr_cholesky, lkj_cholesky_log_density

KS = [2, 3, 4, 5]


ETAS = (0.5, 1.0, 2.0, 4.5)


def _strict_lower(L: jax.Array) -> jax.Array:
    rows, cols = np.tril_indices(L.shape[0], -1)
    return L[rows, cols]


def _draws(k: int) -> np.ndarray:
    """4 vectors of k(k-1)/2 unconstrained values, from moderate to large (|u| ~ 3 means
    correlations near +-1), as rows."""
    rng = np.random.default_rng(k)
    m = k * (k - 1) // 2
    return np.stack([rng.normal(0, s, m) for s in np.linspace(0.3, 2.0, 4)])


@functools.cache
def _results(k: int) -> dict[str, np.ndarray]:
    """Everything the tests compare, for 4 draws of u, in one jitted program per k.

    Op-by-op, numpyro's transform and LKJCholesky take seconds per call (each primitive is
    compiled for its shapes); one program per k keeps this file to a few seconds.
    """
    U = jnp.asarray(_draws(k))
    transform = CorrCholeskyTransform()

    def to_lower(u):
        return _strict_lower(corr_cholesky(u, k)[0])

    def from_partial(z):
        # The same map with tanh removed: arctanh(z) feeds corr_cholesky's tanh.
        return to_lower(jnp.arctanh(z))

    def one(u):
        L, log_jac = corr_cholesky(u, k)
        L_ref = transform(u)
        z = jnp.tanh(u)
        return {
            "L": L,
            "log_jac": log_jac,
            "L_ref": L_ref,
            "log_jac_ref": transform.log_abs_det_jacobian(u, L_ref),
            "J_u": jax.jacfwd(to_lower)(u),
            "z": z,
            "J_z": jax.jacfwd(from_partial)(z),
            "lkj": jnp.stack([lkj_cholesky_log_density(L, eta) for eta in ETAS]),
            "lkj_ref": jnp.stack([LKJCholesky(k, eta).log_prob(L) for eta in ETAS]),
        }

    one = jax.jit(one)  # one draw at a time: compiles faster than under vmap
    draws = [one(u) for u in U]
    return {name: np.stack([np.asarray(d[name]) for d in draws]) for name in draws[0]}


@pytest.mark.parametrize("k", KS)
def test_corr_cholesky_matches_numpyro(k):
    r = _results(k)
    # Both are float64 compositions of tanh, sqrt and products of k terms: ~1e-15.
    np.testing.assert_allclose(r["L"], r["L_ref"], rtol=0, atol=1e-13)
    # Both form log(1 - tanh(u)^2) without cancellation; sums of <= 10 float64 terms of size
    # <= ~15 (|u| < 7 here): ~1e-14.
    assert np.abs(_draws(k)).max() < 7
    np.testing.assert_allclose(r["log_jac"], r["log_jac_ref"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", KS)
def test_corr_cholesky_is_a_correlation_cholesky(k):
    for L in _results(k)["L"]:
        assert np.all(np.triu(L, 1) == 0)
        assert np.all(np.diag(L) > 0)
        # Unit rows <=> unit diagonal of L L^T; float64 sums of k squares.
        np.testing.assert_allclose(np.diag(L @ L.T), 1.0, rtol=0, atol=1e-14)


@pytest.mark.parametrize("k", KS)
def test_corr_cholesky_log_jacobian_by_autodiff(k):
    """log|det d(strict lower L)/du| two ways: jacfwd of the whole map, and the chain rule
    through the canonical partial correlations z = tanh(u)."""
    r = _results(k)
    route1 = np.linalg.slogdet(r["J_u"])[1]
    route2 = np.sum(np.log1p(-(r["z"] ** 2)), axis=1) + np.linalg.slogdet(r["J_z"])[1]
    # Determinants of <=10x10 well-conditioned float64 matrices: ~1e-13 absolute.
    np.testing.assert_allclose(r["log_jac"], route1, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r["log_jac"], route2, rtol=0, atol=1e-10)


@pytest.mark.parametrize("k", KS)
def test_lkj_cholesky_log_density_matches_numpyro(k):
    r = _results(k)
    # Same closed form (constant from gammaln / multigammaln): float64 agreement ~1e-14
    # relative on values of size <= 30; one row per draw, one column per eta.
    np.testing.assert_allclose(r["lkj"], r["lkj_ref"], rtol=1e-12, atol=1e-12)
    # The etas give different densities (the comparison is not between constants).
    assert np.all(np.ptp(r["lkj"], axis=1) > 0.1)


def test_lkj_one_in_two_dimensions_is_uniform_on_the_correlation():
    """LKJ(1) for k = 2 is uniform on r in (-1, 1): density 1/2 for r. As a density of L (the
    free entry L[1,0] = r), the Cholesky density equals the density of r."""
    for r in [-0.9, 0.0, 0.4]:
        L = jnp.array([[1.0, 0.0], [r, np.sqrt(1 - r**2)]])
        # exact arithmetic up to one log: a few ulps.
        assert float(lkj_cholesky_log_density(L, 1.0)) == pytest.approx(np.log(0.5), rel=1e-14)


@pytest.mark.parametrize("u0", [10.0, 15.0, 20.0])
def test_corr_cholesky_log_jacobian_far_in_the_tails(u0):
    # Regression: log(1 - tanh(u)^2) was formed by cancellation: off by 4e-4 at u = 15 and
    # -inf (gradient NaN) from |u| ~ 19.1, where tanh(u) rounds to 1.
    # k = 2: L[1, 0] = tanh(u), so log|J| = log(1 - tanh(u)^2) = 2 (log 2 - u - log1p(e^-2u)).
    log_jac, grad = jax.jit(jax.value_and_grad(lambda v: corr_cholesky(v, 2)[1]))(jnp.array([u0]))
    expected = 2 * (np.log(2) - u0 - np.log1p(np.exp(-2 * u0)))
    # The exact value is about -2 * u0: 1e-9 absolute is a relative accuracy of ~1e-11.
    np.testing.assert_allclose(log_jac, expected, rtol=0, atol=1e-9)
    # d/du log(1 - tanh(u)^2) = -2 tanh(u); float64: a few ulps.
    np.testing.assert_allclose(grad, [-2 * np.tanh(u0)], rtol=1e-12)


def test_ordered_transform_and_its_jacobian():
    from multilevel.model._logdensity import ordered

    u = jnp.array([-1.0, 0.3, -2.0, 1.5])
    values, log_jac = ordered(u)
    assert np.all(np.diff(np.asarray(values)) > 0)
    jacobian = jax.jacfwd(lambda v: ordered(v)[0])(u)
    # Triangular Jacobian: its log-determinant is exact up to rounding.
    assert float(log_jac) == pytest.approx(np.linalg.slogdet(np.asarray(jacobian))[1], abs=1e-12)
