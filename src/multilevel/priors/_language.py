"""The prior language: `LHS[^2] ~ dist(args)`, and the table of distributions it knows."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .._errors import PriorError, did_you_mean


@dataclass(frozen=True)
class Distribution:
    """One row of the distribution table.

    `support` is "real", "positive" (lower bound 0), "unit" (0, 1), "interval" (the first
    two arguments) or "correlation"; `positive_args` are the arguments that must be > 0.
    """

    name: str
    args: tuple[str, ...]
    support: str
    positive_args: tuple[str, ...]
    proper: bool = True


DISTRIBUTIONS: dict[str, Distribution] = {
    d.name: d
    for d in (
        Distribution("normal", ("mu", "sd"), "real", ("sd",)),
        Distribution("student_t", ("nu", "mu", "sd"), "real", ("nu", "sd")),
        Distribution("cauchy", ("mu", "sd"), "real", ("sd",)),
        Distribution("half_normal", ("sd",), "positive", ("sd",)),
        Distribution("half_cauchy", ("sd",), "positive", ("sd",)),
        Distribution("half_student_t", ("nu", "sd"), "positive", ("nu", "sd")),
        Distribution("exponential", ("rate",), "positive", ("rate",)),
        Distribution("gamma", ("shape", "rate"), "positive", ("shape", "rate")),
        Distribution("inv_gamma", ("shape", "scale"), "positive", ("shape", "scale")),
        Distribution("beta", ("a", "b"), "unit", ("a", "b")),
        Distribution("logistic", ("mu", "s"), "real", ("s",)),
        Distribution("uniform", ("lo", "hi"), "interval", ()),
        Distribution("lkj", ("eta",), "correlation", ("eta",)),
        Distribution("flat", (), "real", (), proper=False),
    )
}

# What a `^p` on the left side means: the prior is on the parameter raised to p.
POWERS = {1: "value", 2: "variance", -2: "precision"}


@dataclass(frozen=True)
class PriorSpec:
    """A parsed prior: a distribution with its arguments, on the parameter to `power`.

    Example:
        >>> p = parse_prior("sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)")
        >>> p.target, p.dist, p.args, p.power
        ('sd_cluster__tx', 'inv_gamma', (0.01, 0.01), 2)
    """

    target: str
    dist: str
    args: tuple[float, ...]
    power: int = 1
    text: str = ""

    @property
    def scale_name(self) -> str:
        return POWERS[self.power]

    def describe(self) -> str:
        args = ", ".join(_format_number(a) for a in self.args)
        on = "" if self.power == 1 else f" on the {POWERS[self.power]}"
        return f"{self.dist}({args}){on}"


def prior_statement(prior: str | PriorSpec) -> str:
    """The statement that parses back to `prior` (a string is returned as it is).

    Example:
        >>> prior_statement(PriorSpec("sd_g", "inv_gamma", (0.01, 0.01), 2))
        'sd_g^2 ~ inv_gamma(0.01, 0.01)'
    """
    if isinstance(prior, str):
        return prior
    if prior.text:
        return prior.text
    power = "" if prior.power == 1 else f"^{prior.power}"
    args = ", ".join(repr(float(a)) if not float(a).is_integer() else str(a) for a in prior.args)
    return f"{prior.target}{power} ~ {prior.dist}({args})"


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PRIOR = re.compile(
    r"^\s*(?P<lhs>[A-Za-z_][A-Za-z0-9_.:\[\],]*)\s*(?:\^\s*(?P<power>[-+]?\d+))?\s*~\s*"
    r"(?P<dist>[A-Za-z_][A-Za-z0-9_]*)\s*\((?P<args>[^()]*)\)\s*$"
)


def parse_prior(text: str) -> PriorSpec:
    """Parse one prior statement; errors say what a valid statement looks like."""
    if not isinstance(text, str):
        raise PriorError(f"a prior must be a string like 'b ~ normal(0, 10)', got {text!r}")
    match = _PRIOR.match(text)
    if not match:
        raise PriorError(
            f"cannot read the prior '{text}': write 'parameter ~ distribution(arguments)', "
            "e.g. 'b ~ normal(0, 10)' or 'sigma^2 ~ inv_gamma(0.01, 0.01)'"
        )
    dist_name = match["dist"]
    dist = DISTRIBUTIONS.get(dist_name)
    if dist is None:
        raise PriorError(
            f"unknown distribution '{dist_name}' in the prior '{text}'"
            f"{did_you_mean(dist_name, DISTRIBUTIONS)}; known: {', '.join(DISTRIBUTIONS)}"
        )
    args = _parse_args(match["args"], text)
    _check_args(dist, args, text)
    power = int(match["power"]) if match["power"] else 1
    if power not in POWERS:
        raise PriorError(
            f"'^{power}' in the prior '{text}' is not supported: use '^2' for a prior on the "
            "variance or '^-2' for a prior on the precision"
        )
    return PriorSpec(match["lhs"], dist_name, args, power, text.strip())


def _parse_args(raw: str, text: str) -> tuple[float, ...]:
    raw = raw.strip()
    if not raw:
        return ()
    values = []
    for part in raw.split(","):
        part = part.strip()
        if not re.fullmatch(_NUMBER, part):
            raise PriorError(
                f"the argument '{part}' of the prior '{text}' is not a number; arguments are "
                "plain numbers (SAS's 'var=1e6' is written as an sd: normal(0, 1000))"
            )
        value = float(part)
        if not math.isfinite(value):
            raise PriorError(f"the argument '{part}' of the prior '{text}' is not a finite number")
        values.append(value)
    return tuple(values)


def _check_args(dist: Distribution, args: tuple[float, ...], text: str) -> None:
    signature = f"{dist.name}({', '.join(dist.args)})"
    if len(args) != len(dist.args):
        raise PriorError(
            f"{dist.name} takes {len(dist.args)} argument(s), {signature}, but the prior "
            f"'{text}' gives {len(args)}"
        )
    for name, value in zip(dist.args, args, strict=True):
        if name in dist.positive_args and not value > 0:
            raise PriorError(f"{name} must be > 0 in {signature}, got {value:g} in '{text}'")
    if dist.support == "interval" and not args[0] < args[1]:
        raise PriorError(f"uniform(lo, hi) needs lo < hi, got '{text}'")


def _format_number(x: float) -> str:
    return f"{x:g}"
