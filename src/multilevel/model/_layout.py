"""Where each parameter lives in the unconstrained vector, with its bounds and units.

Every scalar parameter gets `value = transform(loc + scale * u)` style preconditioning:
the response's mean and sd set the units of the mean's coefficients, so that the sampler
starts and adapts on a posterior of roughly unit scale. These affine maps have a constant
Jacobian, so the posterior is unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..design import Design
from ..families import Family
from ..priors import (
    AssignedPrior,
    ResponseScale,
    Slot,
    assign_priors,
    aux_slot,
    class_default,
    cor_slot,
    fixed_slot,
    intercept_slot,
    sd_slot,
)


@dataclass(frozen=True)
class Block:
    """A run of the unconstrained vector.

    kind: "intercept", "fixed", "aux", "sd" (elementwise, one prior per element),
    "cor" (a Cholesky factor of a correlation matrix) or "z" (standardised group effects).
    """

    name: str
    kind: str
    dpar: str
    start: int
    size: int
    priors: tuple[AssignedPrior, ...] = ()
    loc: np.ndarray | None = None
    scale: np.ndarray | None = None
    term: int | None = None

    @property
    def stop(self) -> int:
        return self.start + self.size

    @property
    def lower(self) -> np.ndarray:
        return np.array([p.lower for p in self.priors])

    @property
    def upper(self) -> np.ndarray:
        return np.array([p.upper for p in self.priors])


def sd_name(group: str, dpar: str, coef: str) -> str:
    return f"sd_{group}__{coef}" if dpar == "mu" else f"sd_{group}__{dpar}_{coef}"


def cor_name(group: str, dpar: str) -> str:
    return f"cor_{group}" if dpar == "mu" else f"cor_{group}__{dpar}"


def fixed_name(dpar: str, coef: str) -> str:
    return f"b_{coef}" if dpar == "mu" else f"b_{dpar}_{coef}"


def correlation_labels(design: Design, term: int) -> tuple[str, list[str]]:
    """The group and the coefficient labels of the correlation matrix `term` carries:
    brms's `cor_<group>__<label>__<label>`, with a `|id|` set's other formulas' labels
    prefixed by their parameter (`sigma_Intercept`)."""
    link = design.link_of(term)
    terms = link.terms if link is not None else (term,)
    labels = [
        c if design.groups[t].dpar == "mu" else f"{design.groups[t].dpar}_{c}"
        for t in terms
        for c in design.groups[t].coefs
    ]
    return design.groups[term].group, labels


def threshold_name(k: int) -> str:
    """brms's name of the k-th threshold (1-based) of an ordinal model."""
    return f"Intercept[{k}]"


def threshold_slot(k: int) -> Slot:
    name = threshold_name(k)
    return Slot(name, "Intercept", "mu", coef=str(k), selectors=((name, 3), ("Intercept", 1)))


def model_slots(design: Design, family: Family, n_thresholds: int = 0) -> list[Slot]:
    """Every prior slot of the model, in the order of the unconstrained vector; an ordinal
    family's mu has `n_thresholds` thresholds where others have one intercept."""
    slots: list[Slot] = []
    for dpar, d in design.dpars.items():
        if dpar == "mu" and family.ordinal:
            slots += [threshold_slot(k + 1) for k in range(n_thresholds)]
        elif d.fixed.has_intercept:
            slots.append(intercept_slot(dpar))
        slots += [fixed_slot(fixed_name(dpar, c), dpar, c) for c in d.fixed.names]
    slots += [aux_slot(a.name, a.bounds) for a in family.sampled_aux(design.dpars)]
    slots += [aux_slot(c.name, c.bounds) for c in family.cutpoints]
    for i, g in enumerate(design.groups):
        slots += [sd_slot(sd_name(g.group, g.dpar, c), g.dpar, g.group, c) for c in g.coefs]
        if correlation_size(design, i):
            slots.append(cor_slot(cor_name(g.group, g.dpar), g.dpar, g.group))
    return slots


def correlation_size(design: Design, term: int) -> int:
    """The dimension of the correlation matrix `term` carries: its coefficients', all its
    set's if it is the first of a `|id|` set, 0 if it is a later member or uncorrelated."""
    link = design.link_of(term)
    if link is not None:
        return link.n_coefs if link.terms[0] == term else 0
    g = design.groups[term]
    return len(g.coefs) if g.term.correlated and len(g.coefs) > 1 else 0


def effects_shape(design: Design, term: int) -> tuple[int, int] | None:
    """The standardised effects `term` carries (levels x coefficients): a `|id|` set's first
    term carries the whole set's, over every level of the factor; later members none."""
    link = design.link_of(term)
    if link is None:
        g = design.groups[term]
        return g.n_levels, len(g.coefs)
    return (len(link.codes), link.n_coefs) if link.terms[0] == term else None


def default_priors(slots: list[Slot], family: Family, scale: ResponseScale) -> dict:
    defaults = {}
    for slot in slots:
        aux = family.parameter(slot.dpar)
        if slot.cls == "Intercept" and slot.dpar == "mu":
            defaults[slot.name] = family.intercept_prior(scale)
        elif slot.cls == "Intercept" and aux is not None:
            defaults[slot.name] = replace(aux.intercept_prior(scale), target=slot.name)
        elif aux is not None and slot.cls == aux.name:
            defaults[slot.name] = aux.default_prior(scale)
        else:
            defaults[slot.name] = class_default(slot, scale)
    return defaults


def layout(
    design: Design,
    family: Family,
    y: np.ndarray,
    user_priors: list,
    marginal: bool = False,
    n_levels: int = 0,
) -> tuple[list[Block], list[AssignedPrior]]:
    """Assign priors and lay the parameters out in blocks; the marginal engine samples no
    standardised group effects (no `z` blocks); an ordinal response of `n_levels` levels
    has `n_levels - 1` ordered thresholds."""
    slots = model_slots(design, family, max(n_levels - 1, 0))
    scale = family.response_scale(y)
    assigned = assign_priors(slots, default_priors(slots, family, scale), user_priors)
    by_name = {a.slot.name: a for a in assigned}
    units = _Units.of(y, family)
    blocks: list[Block] = []

    def add(name, kind, dpar, size, priors=(), loc=None, scale=None, term=None):
        start = blocks[-1].stop if blocks else 0
        blocks.append(Block(name, kind, dpar, start, size, tuple(priors), loc, scale, term))

    for dpar, d in design.dpars.items():
        mu_units = dpar == "mu"
        if mu_units and family.ordinal:
            priors = [by_name[threshold_name(k + 1)] for k in range(n_levels - 1)]
            start, ones = _threshold_start(y, n_levels), np.ones(n_levels - 1)
            add("thresholds", "thresholds", dpar, n_levels - 1, priors, start, ones)
        elif d.fixed.has_intercept:
            slot = intercept_slot(dpar).name
            loc = units.location if mu_units else units.log_scale_if(family.link(dpar).name)
            scale = units.scale if mu_units else 1.0
            prior = [by_name[slot]]
            add(
                f"intercept_{dpar}", "intercept", dpar, 1, prior, np.array([loc]), np.array([scale])
            )
        if d.fixed.names:
            x_sd = d.fixed.matrix.std(axis=0)
            x_sd = np.where(x_sd > 0, x_sd, 1.0)
            scale = (units.scale if mu_units else 1.0) / x_sd
            priors = [by_name[fixed_name(dpar, c)] for c in d.fixed.names]
            add(f"coefs_{dpar}", "fixed", dpar, len(priors), priors, np.zeros(len(priors)), scale)
    for a in family.sampled_aux(design.dpars):
        unit = units.scale if a.response_units else 1.0
        add(a.name, "aux", a.name, 1, [by_name[a.name]], np.zeros(1), np.array([unit]))
    if family.cutpoints:
        priors = [by_name[c.name] for c in family.cutpoints]
        start, ones = _cutpoint_start(y, len(priors)), np.ones(len(priors))
        add("cutpoints", "thresholds", "cutpoints", len(priors), priors, start, ones)
    for i, g in enumerate(design.groups):
        z_rms = np.sqrt(np.mean(g.z**2, axis=0))
        z_rms = np.where(z_rms > 0, z_rms, 1.0)
        base = units.scale if g.dpar == "mu" else 1.0
        priors = [by_name[sd_name(g.group, g.dpar, c)] for c in g.coefs]
        k = len(g.coefs)
        add(f"sd_{i}", "sd", g.dpar, k, priors, np.zeros(k), base / z_rms, term=i)
        if joint := correlation_size(design, i):
            cor = [by_name[cor_name(g.group, g.dpar)]]
            add(f"cor_{i}", "cor", g.dpar, joint * (joint - 1) // 2, cor, term=i)
        shape = effects_shape(design, i)
        if not marginal and shape is not None:
            add(f"z_{i}", "z", g.dpar, shape[0] * shape[1], term=i)
    return blocks, assigned


def _threshold_start(y: np.ndarray, n_levels: int) -> np.ndarray:
    """Where the ordered thresholds start: at the response's cumulative proportions."""
    share = np.bincount(y.astype(int), minlength=n_levels)[:-1].cumsum() / len(y)
    return _ordered_start(share)


def _cutpoint_start(y: np.ndarray, n: int) -> np.ndarray:
    """Where cutpoints that split off a proportion's exact 0s and 1s start: at the shares
    of 0s and of values below 1, with the linear predictor at 0."""
    return _ordered_start(np.linspace(np.mean(y == 0), 1 - np.mean(y == 1), n))


def _ordered_start(share: np.ndarray) -> np.ndarray:
    """The ordered transform's offsets (the first cut, then the logs of the gaps) for cuts
    at the logits of increasing cumulative proportions, clipped to [0.01, 0.99] and kept
    0.1 apart (so that an empty level or end still gets a gap)."""
    share = np.clip(share, 0.01, 0.99)
    cut = np.log(share / (1 - share))
    return np.concatenate([cut[:1], np.log(np.maximum(np.diff(cut), 0.1))])


@dataclass(frozen=True)
class _Units:
    location: float
    scale: float
    location_scale: bool

    @classmethod
    def of(cls, y: np.ndarray, family: Family) -> _Units:
        if not family.location_scale:  # mu's intercept starts at brms's prior location
            return cls(family.response_scale(y).location, 1.0, False)
        sd = float(np.std(y))
        return cls(float(np.mean(y)), sd if sd > 0 else 1.0, True)

    def log_scale_if(self, link: str) -> float:
        return math.log(self.scale) if self.location_scale and link == "log" else 0.0
