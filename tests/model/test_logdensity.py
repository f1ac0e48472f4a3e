"""The compiled log density against an independent computation with scipy, and describe().

The package's log density is the log posterior of the unconstrained vector up to an additive
constant (the affine preconditioning drops log(scale) terms). So the checks compare
differences between random points: log_density(t1) - log_density(t2) must equal the same
difference of a hand-written log posterior, which constrains the vector itself from the block
layout (start/stop, loc, scale, lower, upper), computes the likelihood with scipy.stats, the
priors with scipy.stats and the Jacobians of its own transforms.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import multilevel as ml
from multilevel.design import build_design
from multilevel.families import get_family
from multilevel.formula import ModelFormula, parse_dpar_formula, parse_formula
from multilevel.model import compile_model, describe

GAUSSIAN = get_family("gaussian")


def compiled(formula: str, data, priors=(), **dpars):
    f = parse_formula(formula)
    extra = {name: parse_dpar_formula(name, text) for name, text in dpars.items()}
    spec = ModelFormula(f.response, {**f.dpars, **extra}, formula)
    return compile_model(build_design(spec, data), GAUSSIAN, list(priors))


class Unconstrained:
    """Reads blocks off an unconstrained vector and constrains them with the test's own maps,
    accumulating log|Jacobian| including every constant."""

    def __init__(self, model, theta):
        self.blocks = {b.name: b for b in model.blocks}
        self.theta = np.asarray(theta, dtype=float)
        self.log_jac = 0.0

    def raw(self, name):
        b = self.blocks[name]
        return self.theta[b.start : b.stop]

    def values(self, name):
        b, u = self.blocks[name], self.raw(name)
        out = np.empty_like(u)
        for i, ui in enumerate(u):
            lo, hi = b.lower[i], b.upper[i]
            if np.isfinite(lo) and np.isfinite(hi):
                s = special.expit(ui)
                out[i] = lo + (hi - lo) * s
                self.log_jac += np.log(hi - lo) + np.log(s) + np.log1p(-s)
            elif np.isfinite(lo):
                out[i] = lo + b.scale[i] * np.exp(ui)
                self.log_jac += np.log(b.scale[i]) + ui
            else:
                assert not np.isfinite(hi)
                out[i] = b.loc[i] + b.scale[i] * ui
                self.log_jac += np.log(b.scale[i])
        return out


def half_t(x, nu, sd):
    """student_t(nu, 0, sd) truncated to x > 0: twice the density."""
    return stats.t.logpdf(x, nu, 0, sd) + np.log(2)


def lkj_2d(r, eta):
    """LKJ(eta) for a 2x2 correlation matrix, as a density of r = L[1, 0]: r = 2x - 1 with
    x ~ Beta(eta, eta)."""
    return stats.beta.logpdf((r + 1) / 2, eta, eta) - np.log(2)


def assert_same_up_to_constant(model, hand, thetas, data=None):
    log_density = model.log_density()
    data = model.data if data is None else data
    got = np.array([float(log_density(jnp.asarray(t), data)) for t in thetas])
    want = np.array([hand(t) for t in thetas])
    # Both sides are float64 sums of a few hundred terms of size <= ~1e3 (the log posteriors
    # are around -1e3 .. -1e4): round-off is ~1e-10. 1e-8 absolute is far below any modelling
    # slip (a missing log 2 or Jacobian term is >= 1e-3).
    np.testing.assert_allclose(got - got[0], want - want[0], rtol=0, atol=1e-8)
    # The points are spread out: the differences compared above are not all ~0.
    assert np.ptp(got) > 1.0


# ---------------------------------------------------------------------------------------------
# sleepstudy: correlated intercept and slope, a uniform prior on one sd (interval transform)
# ---------------------------------------------------------------------------------------------

SLEEP_PRIORS = ["b ~ normal(0, 10)", "sd_Subject__Days ~ uniform(0, 100)", "cor ~ lkj(2)"]


@pytest.fixture(scope="module")
def sleep_model(sleepstudy):
    return compiled("Reaction ~ Days + (Days | Subject)", sleepstudy, SLEEP_PRIORS)


def sleep_hand(model, df):
    y = df["Reaction"].to_numpy()
    days = df["Days"].to_numpy(dtype=float)
    subject = np.unique(df["Subject"], return_inverse=True)[1]

    def log_post(theta):
        u = Unconstrained(model, theta)
        intercept = u.values("intercept_mu")[0]  # of centred Days
        (b_days,) = u.values("coefs_mu")
        (sigma,) = u.values("sigma")
        sd = u.values("sd_0")
        (w,) = u.raw("cor_0")
        r = np.tanh(w)
        log_jac_cor = np.log1p(-(r**2))  # d tanh(w) / dw
        L = np.array([[1.0, 0.0], [r, np.sqrt(1 - r * r)]])
        z = u.raw("z_0").reshape(18, 2)
        effects = (z @ L.T) * sd  # r_j = diag(sd) L z_j
        mu = (
            intercept
            + (days - days.mean()) * b_days
            + effects[subject, 0]
            + effects[subject, 1] * days
        )
        log_lik = stats.norm.logpdf(y, mu, sigma).sum()
        # brms defaults for sleepstudy: Intercept ~ student_t(3, 288.7, 59.3), sd and sigma
        # ~ student_t(3, 0, 59.3) on (0, inf).
        log_prior = (
            stats.t.logpdf(intercept, 3, 288.7, 59.3)
            + stats.norm.logpdf(b_days, 0, 10)
            + half_t(sigma, 3, 59.3)
            + half_t(sd[0], 3, 59.3)
            + stats.uniform.logpdf(sd[1], 0, 100)
            + lkj_2d(r, 2.0)
            + stats.norm.logpdf(z).sum()
        )
        return log_lik + log_prior + u.log_jac + log_jac_cor

    return log_post


def test_sleepstudy_layout(sleep_model):
    kinds = [(b.name, b.kind, b.size) for b in sleep_model.blocks]
    assert kinds == [
        ("intercept_mu", "intercept", 1),
        ("coefs_mu", "fixed", 1),
        ("sigma", "aux", 1),
        ("sd_0", "sd", 2),
        ("cor_0", "cor", 1),
        ("z_0", "z", 36),
    ]
    assert sleep_model.dim == 42
    assert [b.start for b in sleep_model.blocks] == [0, 1, 2, 3, 5, 6]
    sd = next(b for b in sleep_model.blocks if b.name == "sd_0")
    np.testing.assert_array_equal(sd.lower, [0.0, 0.0])
    np.testing.assert_array_equal(sd.upper, [np.inf, 100.0])


def test_sleepstudy_log_density_matches_hand_computation(sleep_model, sleepstudy):
    rng = np.random.default_rng(1)
    thetas = [rng.normal(0, 0.7, sleep_model.dim) for _ in range(4)]
    assert_same_up_to_constant(sleep_model, sleep_hand(sleep_model, sleepstudy), thetas)


def test_sleepstudy_log_density_under_jit(sleep_model):
    # The sampler runs the log density jitted; it must be the same function.
    rng = np.random.default_rng(2)
    theta = jnp.asarray(rng.normal(0, 0.7, sleep_model.dim))
    log_density = sleep_model.log_density()
    eager = float(log_density(theta, sleep_model.data))
    jitted = float(jax.jit(log_density)(theta, sleep_model.data))
    # XLA may fuse and reorder float64 sums: ~1e-12 relative on a value of ~1e3.
    assert jitted == pytest.approx(eager, rel=1e-12)


def test_derived_quantities(sleep_model, sleepstudy):
    rng = np.random.default_rng(3)
    theta = rng.normal(0, 0.7, sleep_model.dim)
    out = sleep_model.derived(jnp.asarray(theta), jax.random.key(0), sleep_model.data)
    u = Unconstrained(sleep_model, theta)
    intercept, (b_days,) = u.values("intercept_mu")[0], u.values("coefs_mu")
    # b_Intercept is the intercept at Days = 0: Intercept - mean(Days) * b_Days.
    assert float(out["b_Intercept"]) == pytest.approx(intercept - 4.5 * b_days, rel=1e-12)
    assert float(out["b_Days"]) == pytest.approx(b_days, rel=1e-12)
    sd = u.values("sd_0")
    assert float(out["sd_Subject__Intercept"]) == pytest.approx(sd[0], rel=1e-12)
    assert float(out["sd_Subject__Days"]) == pytest.approx(sd[1], rel=1e-12)
    r = np.tanh(u.raw("cor_0")[0])
    assert float(out["cor_Subject__Intercept__Days"]) == pytest.approx(r, rel=1e-12)
    assert out["r_Subject"].shape == (18, 2)
    assert "b_Intercept" in sleep_model.scalar_names
    assert "r_Subject" not in sleep_model.scalar_names


def test_log_density_changes_by_the_likelihood_difference():
    rng = np.random.default_rng(4)
    n_groups, per = 5, 6
    df = pd.DataFrame(
        {
            "y": rng.normal(10, 3, n_groups * per),
            "g": np.repeat([f"g{i}" for i in range(n_groups)], per),
        }
    )
    model = compiled("y ~ 1 + (1 | g)", df)
    log_density = model.log_density()
    g = np.repeat(np.arange(n_groups), per)
    for _ in range(3):
        theta = rng.normal(0, 0.7, model.dim)
        u = Unconstrained(model, theta)
        intercept = u.values("intercept_mu")[0]
        (sigma,) = u.values("sigma")
        (sd,) = u.values("sd_0")
        mu = intercept + sd * u.raw("z_0")[g]
        y_new = rng.normal(12, 4, len(df))
        new_data = {**model.data, "y": jnp.asarray(y_new)}
        diff = float(log_density(jnp.asarray(theta), new_data)) - float(
            log_density(jnp.asarray(theta), model.data)
        )
        expected = (
            stats.norm.logpdf(y_new, mu, sigma).sum()
            - stats.norm.logpdf(df["y"].to_numpy(), mu, sigma).sum()
        )
        # 30-term float64 sums of size ~10: round-off ~1e-13.
        assert diff == pytest.approx(expected, abs=1e-9)


# ---------------------------------------------------------------------------------------------
# Partially clustered: sigma by arm, a prior on b_Intercept, a prior on a variance
# ---------------------------------------------------------------------------------------------

PC_PRIORS = [
    "b_Intercept ~ normal(20, 5)",
    "b_sigma ~ normal(0, 1)",
    "sd_cluster__tx^2 ~ inv_gamma(1, 1)",
]


@pytest.fixture(scope="module")
def pc_model(partially_clustered):
    return compiled("y ~ tx + (0 + tx | cluster)", partially_clustered, PC_PRIORS, sigma="~ tx")


def test_partially_clustered_log_density_matches_hand_computation(pc_model, partially_clustered):
    df = partially_clustered
    y, tx = df["y"].to_numpy(), df["tx"].to_numpy(dtype=float)
    treated = tx == 1
    labels = np.unique(df["cluster"][treated])
    level = np.searchsorted(labels, df["cluster"].where(treated, labels[0]))
    assert len(labels) == 10

    def log_post(theta):
        u = Unconstrained(pc_model, theta)
        intercept = u.values("intercept_mu")[0]
        (b_tx,) = u.values("coefs_mu")
        intercept_sigma = u.values("intercept_sigma")[0]
        (b_sigma_tx,) = u.values("coefs_sigma")
        (sd,) = u.values("sd_0")
        z = u.raw("z_0")
        mu = intercept + (tx - tx.mean()) * b_tx + np.where(treated, sd * z[level] * tx, 0.0)
        sigma = np.exp(intercept_sigma + (tx - tx.mean()) * b_sigma_tx)
        b_intercept = intercept - tx.mean() * b_tx  # the prior is on this one
        log_prior = (
            stats.norm.logpdf(b_intercept, 20, 5)
            + stats.t.logpdf(intercept_sigma, 3, 0, 2.5)  # brms default for sigma's intercept
            + stats.norm.logpdf(b_sigma_tx, 0, 1)
            # inv_gamma on sd^2: density of sd is f(sd^2) * 2 sd
            + stats.invgamma.logpdf(sd**2, a=1, scale=1)
            + np.log(2 * sd)
            + stats.norm.logpdf(z).sum()
        )
        return stats.norm.logpdf(y, mu, sigma).sum() + log_prior + u.log_jac

    rng = np.random.default_rng(5)
    thetas = [rng.normal(0, 0.7, pc_model.dim) for _ in range(4)]
    assert_same_up_to_constant(pc_model, log_post, thetas)


def test_partially_clustered_layout(pc_model):
    assert [(b.name, b.kind, b.size) for b in pc_model.blocks] == [
        ("intercept_mu", "intercept", 1),
        ("coefs_mu", "fixed", 1),
        ("intercept_sigma", "intercept", 1),
        ("coefs_sigma", "fixed", 1),
        ("sd_0", "sd", 1),
        ("z_0", "z", 10),  # only the 10 clusters of treated patients
    ]
    assert pc_model.priors[0].original_scale


# ---------------------------------------------------------------------------------------------
# describe() and the priors table
# ---------------------------------------------------------------------------------------------


def test_describe_sleepstudy(sleepstudy):
    text = ml.Model("Reaction ~ Days + (Days | Subject)", sleepstudy).describe()
    lines = [line.strip() for line in text.splitlines()]
    for expected in [
        "Formula: Reaction ~ Days + (Days | Subject)",
        "Family: gaussian",
        "Data: 180 rows",
        "Reaction[i] ~ normal(mu[i], sigma)",
        "mu[i] = b_Intercept + b_Days*Days[i] + r_Subject[Subject[i],Intercept] + "
        "r_Subject[Subject[i],Days]*Days[i]",
        "r_Subject[j,(Intercept,Days)] ~ multi_normal(0, S), S = diag(sd) * cor_Subject * "
        "diag(sd), sd = (sd_Subject__Intercept, sd_Subject__Days), j = 1..18",
        "Intercept             ~ student_t(3, 288.7, 59.3)  [default; intercept of centred "
        "predictors]",
        "b_Days                ~ flat()  [default]",
        "sigma                 ~ student_t(3, 0, 59.3) (0, inf)  [default]",
        "sd_Subject__Intercept ~ student_t(3, 0, 59.3) (0, inf)  [default]",
        "sd_Subject__Days      ~ student_t(3, 0, 59.3) (0, inf)  [default]",
        "cor_Subject           ~ lkj(1)  [default]",
        "Subject (Days | Subject): 18 levels; rows per level min 10 / median 10 / max 10",
    ]:
        assert expected in lines, expected


def test_describe_partially_clustered_with_sigma_formula(partially_clustered):
    model = ml.Model(
        "y ~ tx + (0 + tx | cluster)",
        partially_clustered,
        priors=["b_Intercept ~ normal(20, 5)"],
        sigma="~ tx",
    )
    lines = [line.strip() for line in model.describe().splitlines()]
    for expected in [
        "Formula: y ~ tx + (0 + tx | cluster), sigma ~ tx",
        "y[i] ~ normal(mu[i], sigma[i])",
        "mu[i] = b_Intercept + b_tx*tx[i] + r_cluster[cluster[i]]*tx[i]",
        "log(sigma[i]) = b_sigma_Intercept + b_sigma_tx*tx[i]",
        "r_cluster[j] ~ normal(0, sd_cluster__tx), j = 1..10 (100 rows without a cluster effect)",
        "b_Intercept     ~ normal(20, 5)  [from 'b_Intercept ~ normal(20, 5)']",
        "Intercept_sigma ~ student_t(3, 0, 2.5)  [default; intercept of centred predictors]",
        "sd_cluster__tx  ~ student_t(3, 0, 5.6) (0, inf)  [default]",
    ]:
        assert expected in lines, expected
    groups = next(line for line in lines if line.startswith("cluster (0 + tx | cluster)"))
    assert "10 levels" in groups
    assert "100 levels whose rows all have tx = 0" in groups


def test_describe_reports_dropped_rows(sleepstudy):
    df = sleepstudy.copy()
    df.loc[[1, 2], "Days"] = np.nan
    design = build_design(parse_formula("Reaction ~ Days + (1 | Subject)"), df, na_action="drop")
    text = describe(compile_model(design, GAUSSIAN))
    assert "Data: 178 rows" in text
    assert "(2 rows with missing values in Days dropped by na_action='drop')" in text


def test_describe_uncorrelated_and_missing_group(partially_clustered):
    df = partially_clustered.assign(
        cluster=partially_clustered["cluster"].where(partially_clustered["tx"] == 1)
    )
    text = ml.Model("y ~ tx + (0 + tx | cluster)", df).describe()
    assert "100 rows with a missing cluster" in text
    sleep = pd.DataFrame(
        {
            "y": np.arange(12.0) ** 1.5,
            "x": np.tile([0.0, 1.0, 2.0], 4),
            "g": np.repeat(list("abcd"), 3),
        }
    )
    text = ml.Model("y ~ x + (x || g)", sleep).describe()
    assert (
        "r_g[j,Intercept] ~ normal(0, sd_g__Intercept), r_g[j,x] ~ normal(0, sd_g__x), "
        "independent, j = 1..4" in text
    )


def test_priors_table(sleepstudy):
    table = ml.Model(
        "Reaction ~ Days + (Days | Subject)",
        sleepstudy,
        priors=["b_Intercept ~ normal(300, 50)", "sd_Subject ~ half_normal(30)", "cor ~ lkj(2)"],
    ).priors()
    assert list(table.index) == [
        "b_Intercept",
        "b_Days",
        "sigma",
        "sd_Subject__Intercept",
        "sd_Subject__Days",
        "cor_Subject",
    ]
    assert list(table.columns) == [
        "class",
        "group",
        "coef",
        "dpar",
        "prior",
        "bounds",
        "source",
        "statement",
    ]
    row = table.loc["b_Intercept"]
    assert (row["class"], row["coef"], row["prior"], row["source"]) == (
        "Intercept",
        "Intercept",
        "normal(300, 50)",
        "user",
    )
    assert row["statement"] == "b_Intercept ~ normal(300, 50)"
    assert table.loc["b_Days", "prior"] == "flat()"
    assert table.loc["b_Days", "source"] == "default"
    assert table.loc["sigma", "prior"] == "student_t(3, 0, 59.3)"
    assert table.loc["sigma", "bounds"] == "(0, inf)"
    sd = table.loc["sd_Subject__Days"]
    assert (sd["class"], sd["group"], sd["coef"], sd["prior"], sd["source"]) == (
        "sd",
        "Subject",
        "Days",
        "half_normal(30)",
        "user",
    )
    assert sd["statement"] == "sd_Subject ~ half_normal(30)"
    cor = table.loc["cor_Subject"]
    assert (cor["prior"], cor["bounds"], cor["source"]) == ("lkj(2)", "", "user")


def test_priors_table_dpar_column(partially_clustered):
    table = ml.Model("y ~ tx", partially_clustered, sigma="~ tx").priors()
    assert table.loc["b_sigma_tx", "dpar"] == "sigma"
    assert table.loc["Intercept_sigma", "dpar"] == "sigma"
    assert table.loc["b_tx", "dpar"] == ""


def test_linked_terms_are_one_correlated_term(sleepstudy):
    """`(1 |p| Subject) + (0 + Days |p| Subject)` is `(1 + Days | Subject)` written in two
    pieces: the same parameters, so the same log density at every point (to rounding)."""
    whole = compiled("Reaction ~ Days + (1 + Days | Subject)", sleepstudy)
    pieces = compiled("Reaction ~ Days + (1 |p| Subject) + (0 + Days |p| Subject)", sleepstudy)
    assert [b.name for b in pieces.blocks] == [
        "intercept_mu", "coefs_mu", "sigma", "sd_0", "cor_0", "z_0", "sd_1"
    ]  # fmt: skip
    assert pieces.scalar_names == whole.scalar_names
    rng = np.random.default_rng(0)
    for _ in range(3):
        theta = rng.normal(size=whole.dim)
        by_block = {b.name: theta[b.start : b.stop] for b in whole.blocks}
        sd = by_block.pop("sd_0")
        split = {**by_block, "sd_0": sd[:1], "sd_1": sd[1:]}
        theta_pieces = np.concatenate([split[b.name] for b in pieces.blocks])
        a = whole.log_density()(jnp.asarray(theta), whole.data)
        b = pieces.log_density()(jnp.asarray(theta_pieces), pieces.data)
        assert float(b) == pytest.approx(float(a), rel=1e-12)
        key = jax.random.key(1)
        da, db = (
            whole.derived(theta, key, whole.data),
            pieces.derived(theta_pieces, key, pieces.data),
        )
        np.testing.assert_allclose(db["r_Subject"], da["r_Subject"], rtol=1e-12)
        assert float(db["cor_Subject__Intercept__Days"]) == pytest.approx(
            float(da["cor_Subject__Intercept__Days"]), rel=1e-12
        )


def test_describe_linked_terms(sleepstudy):
    text = describe(
        compiled("Reaction ~ Days + (1 |p| Subject)", sleepstudy, sigma="~ (1 |p| Subject)")
    )
    assert (
        "(r_Subject[j,Intercept], r_Subject__sigma[j,Intercept]) ~ multi_normal(0, S), "
        "correlated by the id 'p', S = diag(sd) * cor_Subject * diag(sd), "
        "sd = (sd_Subject__Intercept, sd_Subject__sigma_Intercept), j = 1..18"
    ) in text
    assert "Engine (auto): full" in text and "correlated by the id 'p'" in text
