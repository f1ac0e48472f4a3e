"""A model ready to sample: log density, data arrays, and the map to brms-named quantities."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ModelError
from ..design import Collapsed, Design, collapse_rows
from ..families import Family
from ..families._responses import ordinal_levels
from ..priors import DISTRIBUTIONS, AssignedPrior, PriorSpec
from ._engine import (
    MarginalPlan,
    build_marginal_log_density,
    draw_effects,
    marginal_data,
    plan_or_reason,
    term_effects,
)
from ._layout import Block, correlation_labels, fixed_name, layout, sd_name, threshold_name
from ._logdensity import (
    Data,
    Values,
    build_log_density,
    constrain,
    distribution_parameters,
    joint_effects,
    log_prior,
    model_data,
    original_intercept,
    original_thresholds,
)
from ._propriety import check_proper_posterior

ENGINES = ("full", "marginal")


@dataclass(frozen=True)
class GroupEffects:
    """The `r_<group>` variable: levels x coefficients, merged over the terms of a factor."""

    name: str
    group: str
    dpar: str
    levels: tuple[str, ...]
    coefs: tuple[str, ...]
    terms: tuple[int, ...]
    positions: tuple[np.ndarray, ...] = field(repr=False)
    #: The levels as codes of the full factor.
    codes: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class CompiledModel:
    design: Design
    family: Family
    blocks: list[Block]
    priors: list[AssignedPrior]
    data: Data
    scalar_names: tuple[str, ...]
    effects: tuple[GroupEffects, ...]
    engine: str = "full"
    plan: MarginalPlan | None = field(default=None, repr=False)
    #: Identical rows summed into binomial counts for sampling (bernoulli, binomial).
    collapsed: Collapsed | None = field(default=None, repr=False)

    @property
    def dim(self) -> int:
        return self.blocks[-1].stop if self.blocks else 0

    @property
    def fingerprint(self) -> str:
        """A digest of everything the traced programs bake in: the structure of the design,
        the family, and each block's bounds and priors. Data arrays, the blocks' units among
        them, are arguments of the programs, not part of it."""
        digest = hashlib.sha256(f"{self.family.name};{self.engine}".encode())
        digest.update(str(self.design.n_rows).encode())
        if self.collapsed is not None:
            digest.update(f"collapsed to {self.collapsed.n_rows}".encode())
        for dpar, d in self.design.dpars.items():
            digest.update(repr((dpar, d.fixed.has_intercept, d.fixed.names)).encode())
        for g in self.design.groups:
            digest.update(repr((g.group, g.dpar, g.coefs, g.term.correlated, g.n_levels)).encode())
        for link in self.design.links:
            digest.update(repr((link.terms, len(link.codes))).encode())
            for pos in link.positions:
                digest.update(np.ascontiguousarray(pos).tobytes())
        for b in self.blocks:
            digest.update(repr((b.name, b.kind, b.dpar, b.start, b.size, b.term)).encode())
            for p in b.priors:
                spec = p.spec
                digest.update(
                    repr(
                        (
                            p.slot.name,
                            spec.dist,
                            spec.args,
                            spec.power,
                            p.lower,
                            p.upper,
                            p.original_scale,
                        )
                    ).encode()
                )
        for e in self.effects:
            digest.update(repr((e.name, e.coefs, e.terms, len(e.levels))).encode())
            for pos in e.positions:
                digest.update(np.ascontiguousarray(pos).tobytes())
        return digest.hexdigest()

    def log_density(self):
        if self.engine == "marginal":
            return build_marginal_log_density(self.blocks, self.design, self.plan)
        if self.collapsed is not None:
            counts = replace(
                self.family,
                log_likelihood=self.family.collapsed_log_likelihood,
                additions=("trials",),
            )
            return build_log_density(self.blocks, self.collapsed.design, counts)
        return build_log_density(self.blocks, self.design, self.family)

    @property
    def improper_priors(self) -> list[str]:
        """The parameters with an improper (flat) prior, which has no draws."""
        return [p.slot.name for p in self.priors if not DISTRIBUTIONS[p.spec.dist].proper]

    def prior_log_density(self):
        """The log prior (with the Jacobians) of the unconstrained vector: the log density
        without its likelihood. Only the full engine has the group effects to draw."""
        if self.engine != "full":
            raise ModelError("the prior is sampled with the full engine, which has the effects")
        improper = self.improper_priors
        if improper:
            raise ModelError(
                f"cannot sample from the prior: {', '.join(improper[:6])}"
                f"{' ...' if len(improper) > 6 else ''} ha{'ve' if len(improper) > 1 else 's'} "
                "an improper flat prior (brms's default on b); give proper priors, e.g. "
                "priors=['b ~ normal(0, 10)']"
            )
        blocks, design = self.blocks, self.design

        def log_density(theta: jax.Array, data: Data) -> jax.Array:
            values = constrain(theta, blocks, design, data)
            return log_prior(values, data, blocks) + values.log_jacobian

        return log_density

    @property
    def observed(self) -> np.ndarray:
        """The response, one value per original row."""
        if self.collapsed is not None:
            return self.collapsed.row_successes
        return np.asarray(self.data["y"])

    def row_data(self) -> Data:
        """The data `pointwise_log_likelihood` reads: the model's, plus what it takes to go
        back to the original rows (their counts, or their design matrices for the marginal
        engine, which samples from statistics)."""
        if self.collapsed is not None:
            c = self.collapsed
            rows = {"row_y": c.row_successes, "row_trials": c.row_trials, "row_of": c.rows}
            return {**self.data, **jax.tree.map(jnp.asarray, rows)}
        if self.engine == "marginal":
            return {**self.data, **model_data(self.design, np.asarray(self.data["y"]), self.blocks)}
        return self.data

    def pointwise_log_likelihood(self, theta: jax.Array, key: jax.Array, data: Data) -> jax.Array:
        """log p(y_i | draw) for every original row, given the draw's group effects (the
        same draws of them as `derived` for the same key): what LOO and WAIC read."""
        values = constrain(theta, self.blocks, self.design, data)
        effects = None
        if self.engine == "marginal":
            drawn = draw_effects(values, data, self.design, self.plan, key)
            effects = term_effects(drawn, self.design, self.plan)
        if self.collapsed is None:
            params = distribution_parameters(values, data, self.design, self.family, effects)
            return self.family.log_likelihood(data["y"], params)
        design = self.collapsed.design
        params = distribution_parameters(values, data, design, self.family)
        rows = data["row_of"]
        params = {k: v[rows] if k in design.dpars else v for k, v in params.items()}
        return self.family.log_likelihood(data["row_y"], {**params, "trials": data["row_trials"]})

    def derived(self, theta: jax.Array, key: jax.Array, data: Data) -> dict[str, jax.Array]:
        """brms-named quantities of one draw: b_*, sd_*, cor_*, aux parameters and r_*.

        `data` is an argument, never `self.data`: a traced program must hold no data values,
        since programs are shared between data sets of the same shapes.

        Group effects of levels a term has no data for (a level that only appears in
        another term of the same factor) are drawn from their prior, which is exactly their
        posterior; `key` seeds those draws.
        """
        return self.derived_values(constrain(theta, self.blocks, self.design, data), key, data)

    def derived_values(self, values: Values, key: jax.Array, data: Data) -> dict[str, jax.Array]:
        """`derived` of constrained values (a simulation's true values, say)."""
        out: dict[str, jax.Array] = {}
        for dpar, d in self.design.dpars.items():
            if dpar == "mu" and self.family.ordinal:
                thresholds = original_thresholds(values, data)
                for k in range(thresholds.shape[0]):
                    out[fixed_name(dpar, threshold_name(k + 1))] = thresholds[k]
            elif d.fixed.has_intercept:
                out[fixed_name(dpar, "Intercept")] = original_intercept(values, data, dpar)
            for k, coef in enumerate(d.fixed.names):
                out[fixed_name(dpar, coef)] = values.blocks[f"coefs_{dpar}"][k]
        for i, g in enumerate(self.design.groups):
            sd = values.blocks[f"sd_{i}"]
            for k, coef in enumerate(g.coefs):
                out[sd_name(g.group, g.dpar, coef)] = sd[k]
            link = self.design.link_of(i)
            carrier = i if link is None else link.terms[0]
            if f"cor_{carrier}" in values.blocks and (link is None or i == link.terms[-1]):
                out.update(_correlations(values.blocks[f"cor_{carrier}"], self.design, i))
        for a in self.family.sampled_aux(self.design.dpars):
            out[a.name] = values.blocks[a.name][0]
        for k, cutpoint in enumerate(self.family.cutpoints):
            out[cutpoint.name] = values.blocks["cutpoints"][k]
        if self.engine == "marginal":
            by_factor = draw_effects(values, data, self.design, self.plan, key)
            out.update({e.name: by_factor[e.group] for e in self.effects})
            return out
        keys = jax.random.split(key, max(len(self.effects), 1))
        for effect, k in zip(self.effects, keys, strict=False):
            out[effect.name] = _merged_effects(values, effect, self.design, k)
        return out


def _correlations(L: jax.Array, design: Design, term: int) -> dict[str, jax.Array]:
    """brms's `cor_<group>__<coef>__<coef>` of a term, or of a `|id|` set across formulas
    (`cor_subject__Intercept__sigma_Intercept`)."""
    group, labels = correlation_labels(design, term)
    corr = L @ L.T
    return {
        f"cor_{group}__{labels[a]}__{labels[b]}": corr[a, b]
        for a in range(len(labels))
        for b in range(a + 1, len(labels))
    }


def _merged_effects(values: Values, effect: GroupEffects, design: Design, key) -> jax.Array:
    """The effect's levels x coefficients. A level some term has no data for is drawn from
    its prior, which is exactly its posterior; a `|id|` set samples every level anyway."""
    columns = []
    for term, positions, k in zip(
        effect.terms, effect.positions, jax.random.split(key, len(effect.terms)), strict=True
    ):
        link = design.link_of(term)
        if link is not None:
            rows = np.searchsorted(link.codes, effect.codes)
            r = joint_effects(values, link.terms, values.blocks[f"z_{link.terms[0]}"])
            columns.append(r[rows, link.columns[link.terms.index(term)]])
            continue
        g = design.groups[term]
        z = jax.random.normal(k, (len(effect.levels), len(g.coefs)))
        z = z.at[positions].set(values.blocks[f"z_{term}"])
        columns.append(joint_effects(values, (term,), z))
    return jnp.concatenate(columns, axis=1)


def _group_effects_index(design: Design) -> tuple[GroupEffects, ...]:
    by_key: dict[tuple[str, str], list[int]] = {}
    for i, g in enumerate(design.groups):
        by_key.setdefault((g.group, g.dpar), []).append(i)
    effects = []
    for (group, dpar), terms in by_key.items():
        labels = {}
        for t in terms:
            g = design.groups[t]
            labels.update(zip(g.level_codes.tolist(), g.levels, strict=True))
        codes = np.array(sorted(labels))
        positions = tuple(np.searchsorted(codes, design.groups[t].level_codes) for t in terms)
        coefs = tuple(c for t in terms for c in design.groups[t].coefs)
        name = f"r_{group}" if dpar == "mu" else f"r_{group}__{dpar}"
        levels = tuple(labels[c] for c in codes)
        effects.append(
            GroupEffects(name, group, dpar, levels, coefs, tuple(terms), positions, codes)
        )
    return tuple(effects)


def compile_model(
    design: Design, family: Family, priors: Sequence[str | PriorSpec] = (), engine: str = "full"
) -> CompiledModel:
    """Check the response, assign priors, lay out the parameters.

    `engine="marginal"` integrates the group effects out (Gaussian models with one grouping
    factor, nested ones or few crossed ones; see `_engine.plan_or_reason`), `"full"` samples
    them.
    """
    if engine not in ENGINES:
        raise ModelError(f"engine must be one of {ENGINES}, got {engine!r}")
    marginal = engine == "marginal"
    plan = plan_or_reason(design, family) if marginal else None
    if isinstance(plan, str):
        raise ModelError(f"the marginal engine does not apply: {plan}; use engine='full'")
    y = family.check_response(design.response, design.additions)
    _check_effects_fewer_than_rows(design, family)
    levels = ordinal_levels(design.response)[1] if family.ordinal else ()
    blocks, assigned = layout(design, family, y, list(priors), marginal, len(levels))
    check_proper_posterior(design, family, assigned, y, levels)
    collapsed = _collapse(design, family, y)
    if collapsed is not None:
        data = model_data(collapsed.design, collapsed.successes, blocks)
        data["log_choose"] = jnp.asarray(collapsed.log_choose)
    else:
        data = model_data(design, y, blocks, rows=not marginal)
    if marginal:
        data |= marginal_data(design, y, plan)
    effects = _group_effects_index(design)
    probe = CompiledModel(
        design, family, blocks, assigned, data, (), effects, engine, plan, collapsed
    )
    order: list[str] = []

    def named(theta, key):
        out = probe.derived(theta, key, data)
        order.extend(out)
        return out

    shapes = jax.eval_shape(named, jnp.zeros(probe.dim), jax.random.key(0))
    scalars = tuple(name for name in order if shapes[name].shape == ())
    return CompiledModel(
        design, family, blocks, assigned, data, scalars, effects, engine, plan, collapsed
    )


def _check_effects_fewer_than_rows(design: Design, family: Family) -> None:
    """lme4's rule for linear mixed models: with at least as many group effects as rows, the
    residual sd and the group sds cannot be told apart."""
    if family.name != "gaussian":
        return
    terms = [g for g in design.groups if g.dpar == "mu"]
    n_effects = sum(g.n_levels * len(g.coefs) for g in terms)
    if terms and n_effects >= design.n_rows:
        sizes = ", ".join(f"{g.term.source}: {g.n_levels} x {len(g.coefs)}" for g in terms)
        raise ModelError(
            f"the model has {n_effects} group-level coefficients ({sizes}) but only "
            f"{design.n_rows} rows: the residual sd and the group sds cannot be told apart; "
            "simplify the group terms or use more data"
        )


def _collapse(design: Design, family: Family, y: np.ndarray) -> Collapsed | None:
    """Identical rows as binomial counts, where the family allows it and it saves rows."""
    if family.collapsed_log_likelihood is None:
        return None
    trials = design.additions.get("trials")
    n = np.ones(len(y)) if trials is None else trials.to_numpy(dtype=float)
    collapsed = collapse_rows(design, y, n)
    return collapsed if collapsed.n_rows < design.n_rows else None
