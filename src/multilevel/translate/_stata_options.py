"""The options of Stata's `mixed` and `me*` commands: a table of what each one does here.

Every option is in the table. Those that shape the model are translated; those that only
change how Stata estimates or displays (`reml`, `variance`, `intpoints(7)`) are read and
named in the translation's notes; the rest are refused, quoting the option.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._errors import TranslationError

GAUSSIAN = ("mixed", "xtmixed")
BINARY = ("melogit", "meprobit")
ME = ("melogit", "meprobit", "mepoisson", "menbreg", "meologit", "meoprobit")


@dataclass(frozen=True)
class Rule:
    """One option: its name, the shortest abbreviation Stata accepts, and what it does here:
    "noconstant", "covariance", "residuals", "binomial", "dispersion", "vce" (translated),
    "ignored" or "refused" (with `reason`); `commands`: the commands that have it."""

    name: str
    shortest: int
    role: str
    reason: str = ""
    commands: tuple[str, ...] = GAUSSIAN + ME


_ESTIMATION = "only changes how Stata maximises the likelihood; the posterior is sampled by NUTS"
_DISPLAY = "only changes Stata's display; use fit.summary()"
_QUADRATURE = "sets Stata's integration over the group effects; NUTS samples them"

RULES: tuple[Rule, ...] = (
    Rule("noconstant", 5, "noconstant"),
    Rule("covariance", 3, "covariance"),
    Rule("residuals", 3, "residuals", commands=GAUSSIAN),
    Rule("binomial", 3, "binomial", commands=BINARY),
    Rule("dispersion", 4, "dispersion", commands=("menbreg",)),
    Rule("vce", 3, "vce"),
    Rule(
        "reml",
        4,
        "ignored",
        "the posterior needs no REML; fit.check_reml() compares the fit with REML estimates",
        GAUSSIAN,
    ),
    Rule("mle", 3, "ignored", "the posterior is not a maximum-likelihood estimate", GAUSSIAN),
    Rule(
        "dfmethod",
        3,
        "ignored",
        "small-sample degrees of freedom have no Bayesian counterpart",
        GAUSSIAN,
    ),
    Rule("intmethod", 4, "ignored", _QUADRATURE, ME),
    Rule("intpoints", 4, "ignored", _QUADRATURE, ME),
    Rule("laplace", 7, "ignored", _QUADRATURE, ME),
    Rule("asis", 4, "ignored", "a perfect predictor stays in the model here too", BINARY),
    *(
        Rule(name, shortest, "ignored", _ESTIMATION)
        for name, shortest in (
            ("iterate", 4),
            ("tolerance", 3),
            ("ltolerance", 4),
            ("nrtolerance", 5),
            ("nonrtolerance", 7),
            ("difficult", 4),
            ("technique", 4),
            ("from", 4),
            ("emiterate", 6),
            ("emtolerance", 5),
            ("emonly", 6),
            ("emlog", 5),
            ("emdots", 6),
            ("matsqrt", 7),
            ("matlog", 6),
            ("startvalues", 5),
            ("startgrid", 9),
            ("noestimate", 5),
            ("dnumerical", 10),
            ("collinear", 4),
            ("nolog", 5),
            ("log", 3),
            ("trace", 5),
            ("gradient", 4),
            ("showstep", 8),
            ("hessian", 4),
            ("showtolerance", 5),
            ("nolrtest", 5),
        )
    ),
    *(
        Rule(name, shortest, "ignored", _DISPLAY)
        for name, shortest in (
            ("variance", 3),
            ("stddeviations", 3),
            ("level", 1),
            ("noretable", 6),
            ("nofetable", 6),
            ("estmetric", 6),
            ("noheader", 5),
            ("nogroup", 5),
            ("nostderr", 5),
            ("coeflegend", 5),
            ("or", 2),
            ("irr", 3),
            ("eform", 5),
            ("baselevels", 10),
            ("allbaselevels", 13),
            ("noci", 4),
            ("nopvalues", 5),
            ("cformat", 7),
            ("pformat", 7),
            ("sformat", 7),
            ("nolstretch", 10),
            ("notable", 7),
            ("noomitted", 8),
            ("vsquish", 7),
            ("noemptycells", 12),
        )
    ),
    Rule(
        "offset", 3, "refused", "an offset term is not supported: model the variable as a predictor"
    ),
    Rule(
        "exposure",
        3,
        "refused",
        "an offset term is not supported: model log(exposure) as a predictor",
        ("mepoisson", "menbreg"),
    ),
    Rule(
        "constraints",
        6,
        "refused",
        "constraints on coefficients have no counterpart: put a "
        "tight prior on the coefficient instead",
    ),
    Rule("pwscale", 7, "refused", "sampling weights are not supported"),
)


@dataclass(frozen=True)
class Option:
    """An option as written: its name, the text in parentheses, the whole text and where
    it starts in the command."""

    name: str
    args: str | None
    text: str
    position: int


_OPTION = re.compile(r"\s*([A-Za-z_]\w*)\s*")


def read_options(text: str, offset: int, source: str) -> list[Option]:
    """`nocons residuals(independent, by(tx))` -> two options; `offset` is where `text`
    starts in `source`, for pointing at an option."""
    out, at = [], 0
    while text[at:].strip():
        match = _OPTION.match(text, at)
        if match is None:
            raise TranslationError(
                f"cannot read the options from '{text[at:].strip()}'", source, offset + at
            )
        name, start, at = match[1], offset + match.start(1), match.end()
        args = None
        if at < len(text) and text[at] == "(":
            close = _closing(text, at)
            if close < 0:
                raise TranslationError(f"unbalanced '(' in the option '{name}'", source, start)
            args, at = text[at + 1 : close], close + 1
        out.append(Option(name.lower(), args, source[start : offset + at].strip(), start))
    return out


def _closing(text: str, open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return -1


def rule_of(option: Option, command: str, source: str) -> Rule:
    """The table's rule for `option` (abbreviations as Stata allows); refuses an unknown
    option or one the command does not have."""
    for rule in RULES:
        if rule.name.startswith(option.name) and len(option.name) >= rule.shortest:
            if command not in rule.commands:
                raise TranslationError(
                    f"'{option.text}' is not an option of {command}", source, option.position
                )
            if rule.role == "refused":
                raise TranslationError(
                    f"'{option.text}' is not supported: {rule.reason}", source, option.position
                )
            return rule
    translated = ", ".join(r.name for r in RULES if r.role not in ("ignored", "refused"))
    raise TranslationError(
        f"the option '{option.text}' is not supported; the options that shape the model are "
        f"{translated}",
        source,
        option.position,
    )


def keyword(value: str, choices: dict[str, int]) -> str | None:
    """The choice `value` abbreviates (`un` -> `unstructured`), given each choice's
    shortest abbreviation; None when it abbreviates none."""
    value = value.strip().lower()
    for name, shortest in choices.items():
        if name.startswith(value) and len(value) >= shortest:
            return name
    return None
