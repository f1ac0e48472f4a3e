"""brms's default priors, scaled to the response."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._assign import Slot
from ._language import PriorSpec


@dataclass(frozen=True)
class ResponseScale:
    """brms's location and scale of a response: `round(median, 1)`, `max(2.5, round(mad, 1))`.

    Example:
        >>> ResponseScale.of(np.array([1.0, 2.0, 3.0, 4.0, 100.0]))
        ResponseScale(location=3.0, scale=2.5)
    """

    location: float
    scale: float

    @classmethod
    def of(cls, y: np.ndarray) -> ResponseScale:
        y = np.asarray(y, dtype=float)
        median = float(np.median(y))
        mad = 1.4826 * float(np.median(np.abs(y - median)))
        return cls(round(median, 1), max(2.5, round(mad, 1)))


def student_t(nu: float, mu: float, sd: float, target: str) -> PriorSpec:
    return PriorSpec(target, "student_t", (nu, mu, sd))


def class_default(slot: Slot, scale: ResponseScale) -> PriorSpec:
    """The brms default for a slot whose family says nothing more specific.

    flat on `b`; student_t(3, 0, 2.5) on the intercept of a distributional parameter;
    student_t(3, 0, scale) (half, since sds are positive) on `sd`; lkj(1) on `cor`.
    """
    if slot.cls == "b":
        return PriorSpec(slot.name, "flat", ())
    if slot.cls == "Intercept":
        return student_t(3, 0.0, 2.5, slot.name)
    if slot.cls == "sd":
        return student_t(3, 0.0, scale.scale, slot.name)
    if slot.cls == "cor":
        return PriorSpec(slot.name, "lkj", (1.0,))
    raise KeyError(f"no class default for {slot.name}: its family must give one")
