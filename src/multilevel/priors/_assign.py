"""Match prior statements to the parameters of a model, most specific statement first."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .._errors import PriorError, did_you_mean
from ._language import DISTRIBUTIONS, PriorSpec, parse_prior, prior_statement

#: The prior classes; "Intercept" is the intercept of centred predictors, as in brms.
CLASSES = ("b", "Intercept", "sd", "sigma", "cor")


@dataclass(frozen=True)
class Slot:
    """A parameter (or a block such as a correlation matrix) that takes one prior.

    `selectors` maps each left-hand side that reaches this slot to its specificity:
    3 for the parameter itself, 2 for a class within a group or parameter, 1 for a class.
    """

    name: str
    cls: str
    dpar: str = "mu"
    group: str | None = None
    coef: str | None = None
    selectors: tuple[tuple[str, int], ...] = ()
    #: The parameter's own bounds (an auxiliary parameter's, e.g. (1, inf) for nu).
    bounds: tuple[float, float] | None = None

    @property
    def support(self) -> str:
        """ "correlation", "positive" ((0, inf): sds, sigma, shapes), "bounded" (other
        bounds, e.g. (0, 1) for zi or (1, inf) for nu) or "real"."""
        if self.cls == "cor":
            return "correlation"
        lower, upper = self.limits
        if (lower, upper) == (0.0, math.inf):
            return "positive"
        return "real" if (lower, upper) == (-math.inf, math.inf) else "bounded"

    @property
    def limits(self) -> tuple[float, float]:
        if self.bounds is not None:
            return self.bounds
        return (0.0, math.inf) if self.cls in ("sd", "sigma") else (-math.inf, math.inf)


@dataclass(frozen=True)
class AssignedPrior:
    """The prior a slot ended up with, and where it came from.

    `lower`/`upper` bound the parameter itself (not its power): a uniform prior bounds it,
    a prior with real support on a positive parameter is truncated at 0.
    """

    slot: Slot
    spec: PriorSpec
    source: str
    lower: float
    upper: float
    original_scale: bool = False


def fixed_slot(name: str, dpar: str, coef: str) -> Slot:
    prefix = "b" if dpar == "mu" else f"b_{dpar}"
    return Slot(
        name, "b", dpar, coef=coef, selectors=((name, 3), (prefix, 1 if dpar == "mu" else 2))
    )


def intercept_slot(dpar: str) -> Slot:
    name = "Intercept" if dpar == "mu" else f"Intercept_{dpar}"
    original = "b_Intercept" if dpar == "mu" else f"b_{dpar}_Intercept"
    return Slot(name, "Intercept", dpar, coef="Intercept", selectors=((name, 3), (original, 3)))


def sd_slot(name: str, dpar: str, group: str, coef: str) -> Slot:
    return Slot(name, "sd", dpar, group, coef, ((name, 3), (f"sd_{group}", 2), ("sd", 1)))


def cor_slot(name: str, dpar: str, group: str) -> Slot:
    return Slot(name, "cor", dpar, group, None, ((name, 3), (f"cor_{group}", 2), ("cor", 1)))


def aux_slot(name: str, bounds: tuple[float, float] = (0.0, math.inf)) -> Slot:
    return Slot(name, name, name, selectors=((name, 3),), bounds=bounds)


def assign_priors(
    slots: Sequence[Slot],
    defaults: dict[str, PriorSpec],
    user: Sequence[str | PriorSpec],
) -> list[AssignedPrior]:
    """Give every slot its prior: the most specific user statement, else its default.

    Example:
        >>> slots = [fixed_slot("b_x", "mu", "x"), aux_slot("sigma")]
        >>> defaults = {"b_x": parse_prior("b_x ~ flat()"),
        ...             "sigma": parse_prior("sigma ~ half_normal(1)")}
        >>> [a.spec.describe() for a in assign_priors(slots, defaults, ["b ~ normal(0, 5)"])]
        ['normal(0, 5)', 'half_normal(1)']
    """
    specs = [u if isinstance(u, PriorSpec) else parse_prior(u) for u in user]
    reach = {lhs for s in slots for lhs, _ in s.selectors}
    for spec in specs:
        if spec.target not in reach:
            raise PriorError(
                f"the prior '{spec.text or spec.target}' names '{spec.target}', which is not a "
                f"parameter or class of this model{did_you_mean(spec.target, reach)}; it could "
                f"name: {', '.join(sorted(reach, key=_order))}"
            )
    assigned = []
    for slot in slots:
        chosen = _most_specific(slot, specs)
        if chosen is None:
            assigned.append(_bounded(slot, defaults[slot.name], "default", False))
        else:
            original = chosen.target.startswith("b_") and slot.cls == "Intercept"
            assigned.append(_bounded(slot, chosen, "user", original))
    return assigned


def _most_specific(slot: Slot, specs: list[PriorSpec]) -> PriorSpec | None:
    ranks = dict(slot.selectors)
    matches = [(ranks[s.target], s) for s in specs if s.target in ranks]
    if not matches:
        return None
    best = max(rank for rank, _ in matches)
    top = [s for rank, s in matches if rank == best]
    if len(top) > 1:
        raise PriorError(
            f"{len(top)} priors apply equally to {slot.name}: "
            f"{'; '.join(s.text or s.target for s in top)}; keep one"
        )
    return top[0]


def _bounded(slot: Slot, spec: PriorSpec, source: str, original: bool) -> AssignedPrior:
    dist = DISTRIBUTIONS[spec.dist]
    where = f"the prior '{spec.text}'" if spec.text else f"the {source} prior of {slot.name}"
    if slot.support == "correlation" or dist.support == "correlation":
        if slot.support != dist.support:
            raise PriorError(
                f"{where}: lkj(eta) is the prior for correlation matrices (cor, cor_<group>), "
                f"and {slot.name} takes a distribution on numbers"
                if dist.support == "correlation"
                else f"{where}: {slot.name} is a correlation matrix and takes lkj(eta)"
            )
        return AssignedPrior(slot, spec, source, -1.0, 1.0)
    if spec.power != 1 and slot.support != "positive":
        raise PriorError(
            f"{where}: '^{spec.power}' puts a prior on a variance or precision, which only "
            f"sd and sigma parameters have; {slot.name} is a {slot.cls} parameter"
        )
    lower, upper = slot.limits
    if dist.support == "positive" and lower < 0:
        raise PriorError(
            f"{where}: {spec.dist} has support (0, inf) but {slot.name} can be any real number; "
            "use a distribution on the real line (normal, student_t, cauchy, logistic, uniform, "
            "flat)"
        )
    if dist.support == "unit" and (lower < 0 or upper > 1):
        raise PriorError(
            f"{where}: {spec.dist} has support (0, 1) but {slot.name} takes values in "
            f"({lower:g}, {upper:g}); beta priors are for probabilities such as zi, hu, zoi, coi"
        )
    if dist.support == "interval":
        if original:
            raise PriorError(
                f"{where}: a uniform prior cannot be put on b_Intercept; put it on 'Intercept' "
                "(the intercept of centred predictors) or use a normal prior"
            )
        lo, hi = _interval_on_parameter(spec)
        lower, upper = max(lower, lo), min(upper, hi)
        if not lower < upper:
            raise PriorError(f"{where}: the interval leaves no valid value for {slot.name} (> 0)")
    return AssignedPrior(slot, spec, source, lower, upper, original)


def _interval_on_parameter(spec: PriorSpec) -> tuple[float, float]:
    """Bounds of the parameter x for a uniform prior on x^power."""
    lo, hi = spec.args
    if spec.power == 1:
        return lo, hi
    lo = max(lo, 0.0)
    if hi <= 0:
        return 0.0, 0.0
    if spec.power == 2:
        return math.sqrt(lo), math.sqrt(hi)
    return hi**-0.5, (lo**-0.5 if lo > 0 else math.inf)


def _order(name: str) -> tuple[int, str]:
    first = name.split("_")[0]
    return (CLASSES.index(first) if first in CLASSES else len(CLASSES), name)


def frozen_statement(prior: AssignedPrior) -> str:
    """A statement that gives `prior`'s slot exactly this prior, whatever the data: a
    default prior scaled to one data set, written out for every other data set.

    Example:
        >>> p = AssignedPrior(sd_slot("sd_g__x", "mu", "g", "x"),
        ...     PriorSpec("sd", "student_t", (3.0, 0.0, 2.5)), "default", 0.0, math.inf)
        >>> frozen_statement(p)
        'sd_g__x ~ student_t(3.0, 0.0, 2.5)'
    """
    target = prior.slot.selectors[1][0] if prior.original_scale else prior.slot.name
    spec = prior.spec
    return prior_statement(PriorSpec(target, spec.dist, spec.args, spec.power))
