"""Flat priors that leave the posterior improper, refused before anything is sampled.

A flat prior (`flat()`, improper) is fine where the likelihood falls off fast enough along
the parameter: brms's flat prior on b is, for data that identify b. The checks below refuse
the flat priors that cannot be: each rests on a lower bound of the likelihood that the
flat prior cannot integrate, whatever the data's values, so none refuses a proper
posterior. A combination whose propriety depends on the data's values (separation in a
logistic model, a gamma shape, a beta precision) is left alone, as brms leaves it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._errors import PriorError
from ..design import Design
from ..families import Family
from ..priors import DISTRIBUTIONS, AssignedPrior, ResponseScale, class_default
from ._layout import fixed_name, intercept_slot, sd_name, threshold_name

#: Families whose `sigma` is a residual scale: each row's density is sigma^-1 f(res / sigma)
#: with f positive and bounded (of log y for the lognormal ones; hurdle_lognormal's zeros do
#: not involve sigma).
SCALE_FAMILIES = ("gaussian", "student", "lognormal", "hurdle_lognormal")

#: Auxiliary parameters whose likelihood tends to a positive limit as they grow, and that
#: limit: a flat prior on them (or on the intercept of their formula) is improper.
POSITIVE_LIMITS = {
    ("student", "nu"): "the normal likelihood",
    ("negbinomial", "shape"): "the Poisson likelihood",
    ("zero_inflated_negbinomial", "shape"): "the zero-inflated Poisson likelihood",
    ("hurdle_negbinomial", "shape"): "the hurdle Poisson likelihood",
}


def check_proper_posterior(
    design: Design,
    family: Family,
    assigned: Sequence[AssignedPrior],
    y: np.ndarray,
    levels: tuple[str, ...],
) -> None:
    """Refuse flat priors that make the posterior improper (see the comment above)."""
    flat = {p.slot.name: p for p in assigned if not DISTRIBUTIONS[p.spec.dist].proper}
    if not flat:
        return
    scale = family.response_scale(y)
    for term, g in enumerate(design.groups):
        for column, coef in enumerate(g.coefs):
            prior = flat.get(sd_name(g.group, g.dpar, coef))
            if prior is not None:
                _check_flat_sd(design, family, assigned, prior, term, column, scale)
    if family.name in SCALE_FAMILIES and "sigma" in flat:
        _check_flat_sigma(design, family, assigned, flat["sigma"], y, scale)
    for (name, parameter), limit in POSITIVE_LIMITS.items():
        if family.name == name:
            _check_flat_positive_limit(design, family, flat, parameter, limit, scale)
    _check_flat_end_thresholds(design, family, flat, y, levels, scale)


def _flat_on(prior: AssignedPrior, on: str) -> str:
    where = f"the prior '{prior.spec.text}'" if prior.spec.text else f"the {prior.source} prior"
    return f"{where}: a flat prior on {on}"


def _listed(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _priors_on(names: Sequence[str]) -> str:
    return f"prior{'s' if len(names) > 1 else ''} on {_listed(names)}"


def _give_proper(names: Sequence[str]) -> str:
    return f", give {_listed(names)} {'proper priors' if len(names) > 1 else 'a proper prior'}"


def _check_flat_sd(
    design: Design,
    family: Family,
    assigned: Sequence[AssignedPrior],
    prior: AssignedPrior,
    term: int,
    column: int,
    scale: ResponseScale,
) -> None:
    """A flat prior on a group-level sd tau (`^1`), its variance (`^2`) or precision (`^-2`).

    Let J be the levels with a non-zero group-term column for this coefficient, and k the
    dimension of the part of their effects' span that the population-level coefficients
    with flat priors reproduce (the effects' mean, when the matching coefficient is flat,
    and predictors constant within the levels): the likelihood is unchanged by moving those
    coefficients and the effects in opposite directions. As tau grows, the density
    N(0, tau^2) of the J effects, integrated over those k flat directions, makes the
    likelihood fall off like tau^-(J - k), and in no family faster (in a gaussian one
    exactly so). A flat prior on tau (density 1) then needs J - k >= 2, one on tau^2
    (density ~ tau on tau) J - k >= 3: Gelman (2006), "Prior distributions for variance
    parameters in hierarchical models", section 3, whose model has a flat prior on the
    mean (k = 1): J >= 3, and J >= 4. brms's proper default prior on the Intercept leaves
    k = 0 for a group intercept, where J = 2 levels are enough for a flat prior on tau. A
    flat prior on the precision tau^-2 is a density ~ tau^-3 on tau, which does not
    integrate at 0, where the likelihood tends to that of the model without the effect:
    improper for any data.
    """
    g = design.groups[term]
    name, power = prior.slot.name, prior.spec.power
    default = class_default(prior.slot, scale)
    valid = (
        f"give {name} a proper prior such as the default {default.describe()} or "
        f"half_cauchy({default.args[-1]:g})"
    )
    if power == -2:
        raise PriorError(
            f"{_flat_on(prior, f'the precision 1/{name}^2')} makes the posterior improper "
            f"for any data: on {name} it is a density ~ {name}^-3, which does not integrate "
            f"at 0, where the likelihood tends to that of the model without the effect; {valid}"
        )
    rows = g.index < g.n_levels
    level, z = g.index[rows], g.z[rows, column]
    carries = np.bincount(level, weights=np.abs(z), minlength=g.n_levels) > 0
    n_levels = int(carries.sum())
    directions, basis, coefs = _flat_directions(design, family, assigned, g.dpar)
    if n_levels - directions.shape[1] > power:  # k <= the number of flat directions
        return
    effects = np.zeros((design.n_rows, g.n_levels))
    effects[np.flatnonzero(rows), level] = z
    absorbed, involved = _shared_span(directions, effects[:, carries])
    if n_levels - absorbed > power:
        return
    need = absorbed + power + 1
    on = f"the variance {name}^2" if power == 2 else name
    taken, proper = "", ""
    if absorbed:
        weights = np.abs(basis @ involved).max(axis=1)
        names = [c for c, w in zip(coefs, weights, strict=True) if c and w > 1e-8 * weights.max()]
        taken = f", {absorbed} of them taken up by the flat {_priors_on(names)}"
        proper = _give_proper(names)
    carrying = ""
    if n_levels < g.n_levels:
        carrying = f" ({n_levels} with a non-zero {g.coefs[column]}{taken})"
    elif taken:
        carrying = f" ({taken[2:]})"
    raise PriorError(
        f"{_flat_on(prior, on)} makes the posterior improper: the grouping factor "
        f"'{g.group}' has {g.n_levels} levels{carrying}, so the likelihood falls off only like "
        f"{name}^-{n_levels - absorbed} as {name} grows, too slowly for a flat prior on {on}, "
        f"which needs at least {need} levels (Gelman 2006, section 3); {valid}{proper}, or "
        f"use a grouping factor with at least {need} levels"
    )


def _check_flat_sigma(
    design: Design,
    family: Family,
    assigned: Sequence[AssignedPrior],
    prior: AssignedPrior,
    y: np.ndarray,
    scale: ResponseScale,
) -> None:
    """A flat prior on a residual sd sigma (`^1`) or variance (`^2`), with few rows.

    Each of the n rows that involve sigma has a density sigma^-1 f(res / sigma) with f
    positive: as sigma grows the likelihood falls off like sigma^-n, times sigma^m from
    integrating the m directions of the mean's fixed part that have flat priors (identity
    link only; with another link they give less, and are not counted). A flat prior on
    sigma then needs n - m >= 2 (the textbook n > p + 1 for p(b, sigma) ~ 1), one on
    sigma^2 n - m >= 3. A flat prior on the precision (~ sigma^-3 on sigma) is left alone:
    the likelihood vanishes as sigma goes to 0 unless the mean fits every row exactly.
    """
    power = prior.spec.power
    if power not in (1, 2):
        return
    rows = y > 0 if family.name == "hurdle_lognormal" else np.ones(len(y), dtype=bool)
    n = int(rows.sum())
    directions, _, coefs = _flat_directions(design, family, assigned, "mu")
    m = _rank(directions[rows]) if family.mu_link == "identity" and n else 0
    if n - m > power:
        return
    on = "the variance sigma^2" if power == 2 else "sigma"
    counted = "rows with a positive response" if family.name == "hurdle_lognormal" else "rows"
    flat = [c for c in coefs if c]
    flat_part = f", {m} of them taken up by the flat {_priors_on(flat)}," if m else ""
    aux = family.parameter("sigma")
    default = aux.default_prior(scale).describe() if aux is not None else ""
    raise PriorError(
        f"{_flat_on(prior, on)} makes the posterior improper: with {n} {counted}{flat_part} "
        f"the likelihood falls off only like sigma^-{n - m} as sigma grows, too slowly for a "
        f"flat prior on {on}, which needs at least {m + power + 1} rows; give sigma a proper "
        f"prior such as the default {default}{_give_proper(flat) if m else ''}, or use more data"
    )


def _check_flat_positive_limit(
    design: Design,
    family: Family,
    flat: dict[str, AssignedPrior],
    parameter: str,
    limit: str,
    scale: ResponseScale,
) -> None:
    """nu (student) and shape (negative binomials): as they grow the likelihood tends to a
    positive limit (student_t -> normal, negative binomial -> Poisson), so the posterior
    along them falls off no faster than the prior. A flat prior on the parameter or its
    square, or on the intercept of its formula (which moves it to infinity on every row),
    does not integrate. A flat prior on the precision (~ x^-3 on x) does, at infinity, and
    is left alone."""
    aux = family.parameter(parameter)
    if parameter in design.dpars:
        prior = flat.get(intercept_slot(parameter).name)
        if prior is None:
            return
        what = _flat_on(prior, f"the intercept of the formula for {parameter}")
        default = aux.intercept_prior(scale).describe()
        valid = f"give {prior.slot.name} a proper prior such as the default {default}"
    else:
        prior = flat.get(parameter)
        if prior is None or prior.spec.power not in (1, 2):
            return
        what = _flat_on(prior, f"{parameter}^2" if prior.spec.power == 2 else parameter)
        default = aux.default_prior(scale).describe()
        valid = f"give {parameter} a proper prior such as the default {default}"
    raise PriorError(
        f"{what} makes the posterior improper: as {parameter} grows the {family.name} "
        f"likelihood tends to {limit}, which is positive, so the posterior does not fall "
        f"off along {parameter}; {valid}"
    )


def _check_flat_end_thresholds(
    design: Design,
    family: Family,
    flat: dict[str, AssignedPrior],
    y: np.ndarray,
    levels: tuple[str, ...],
    scale: ResponseScale,
) -> None:
    """An end category without rows: a cumulative model's lowest (highest) level, whose
    first (last) threshold can then go to -inf (+inf) with the likelihood tending to a
    positive limit; likewise ordered beta's cutzero without exact 0s and cutone without
    exact 1s. A flat prior on that threshold does not integrate."""
    ends: list[tuple[str, str, str]] = []
    if family.ordinal and levels:
        observed = set(np.unique(y).astype(int).tolist())
        default = family.intercept_prior(scale).describe()
        unused = ", or leave the unused level out of the response's categories"
        if 0 not in observed:
            ends.append((threshold_name(1), f"its lowest level '{levels[0]}'", default + unused))
        if len(levels) - 1 not in observed:
            last = threshold_name(len(levels) - 1)
            ends.append((last, f"its highest level '{levels[-1]}'", default + unused))
    for cutpoint, value in zip(family.cutpoints, (0.0, 1.0), strict=False):
        if not np.any(y == value):
            default = cutpoint.default_prior(scale).describe()
            ends.append((cutpoint.name, f"the value {value:g}", default))
    for name, end, valid in ends:
        prior = flat.get(name)
        if prior is not None:
            raise PriorError(
                f"{_flat_on(prior, name)} makes the posterior improper: the response "
                f"'{design.response_name}' has no rows at {end}, so the likelihood does not "
                f"fall off as {name} moves out past the data; give {name} a proper prior "
                f"such as the default {valid}"
            )


def _flat_directions(
    design: Design, family: Family, assigned: Sequence[AssignedPrior], dpar: str
) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """The directions in which the fixed part of `dpar`'s linear predictor moves without
    changing its prior density: rows x m, the span of the coefficients with flat priors
    given that those with proper priors stay put; the m directions in coefficient space
    (coefficients x m); the coefficients' names, None for those with proper priors.

    The linear predictor is `c + (X - means) @ b` (c: the intercept of centred predictors,
    or the common shift of an ordinal model's thresholds); a proper prior on `c`, on
    `b_Intercept = c - means @ b`, or on a `b_k` holds that combination fixed.
    """
    fixed = design.dpars[dpar].fixed
    constant = fixed.has_intercept or (dpar == "mu" and family.ordinal)
    names = [fixed_name(dpar, coef) for coef in fixed.names]
    by_name = {p.slot.name: p for p in assigned}
    held: list[np.ndarray] = []
    unit = np.eye(len(names) + constant)
    if constant:
        intercepts = [p for p in assigned if p.slot.cls == "Intercept" and p.slot.dpar == dpar]
        proper = [p for p in intercepts if DISTRIBUTIONS[p.spec.dist].proper]
        first, last = intercepts[0].slot.name, intercepts[-1].slot.name
        names.insert(0, None if proper else first if first == last else f"{first}..{last}")
        if proper:
            original = any(p.original_scale for p in proper)
            held.append(np.r_[1.0, -fixed.means] if original else unit[0])
    for k in range(constant, len(names)):
        if DISTRIBUTIONS[by_name[names[k]].spec.dist].proper:
            held.append(unit[k])
            names[k] = None
    columns = fixed.matrix - fixed.means
    if constant:
        columns = np.column_stack([np.ones(design.n_rows), columns])
    basis = unit
    if held:
        _, s, vh = np.linalg.svd(np.array(held))
        basis = vh[int(np.sum(s > s.max() * len(unit) * np.finfo(float).eps)) :].T
    return columns @ basis, basis, names


def _shared_span(directions: np.ndarray, effects: np.ndarray) -> tuple[int, np.ndarray]:
    """k, the dimension of the intersection of the two column spans, and the combinations
    of `directions` (m x k or more) that reach it. `effects` has independent columns."""
    stacked = np.hstack([directions, effects])
    norms = np.linalg.norm(stacked, axis=0)
    norms[norms == 0] = 1.0
    r = np.linalg.qr(stacked / norms, mode="r")
    r = np.vstack([r, np.zeros((stacked.shape[1] - r.shape[0], stacked.shape[1]))])
    _, s, vh = np.linalg.svd(r)
    tol = s.max() * max(stacked.shape) * np.finfo(float).eps
    null = vh[int(np.sum(s > tol)) :].T  # combinations with A a = Z b, normalised columns
    m = directions.shape[1]
    shared = null[:, np.linalg.norm(null[m:], axis=0) > 1e-8]
    return _rank(null[m:]), shared[:m] / norms[:m, None]


def _rank(matrix: np.ndarray) -> int:
    """The numerical rank, with columns scaled to unit length first."""
    norms = np.linalg.norm(matrix, axis=0) if matrix.size else np.zeros(0)
    keep = norms > 0
    if not keep.any():
        return 0
    return int(np.linalg.matrix_rank(matrix[:, keep] / norms[keep]))
