"""SAS PROC MCMC `prior` statements translated into statements of our prior language.

SAS names a distribution's spread by keyword (`var=`, `sd=`, `prec=`; `scale=`, `iscale=`),
our language by position with one parameterisation per distribution; each row of `_SAS` says
which SAS arguments a distribution takes and how they become ours. Densities agree exactly:
`tests/translate/test_sas_priors.py` checks each row against SAS's documented formula.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from .._errors import TranslationError, did_you_mean
from ..priors import DISTRIBUTIONS, parse_prior
from ._translation import split_top_level

__all__ = ["priors_from_sas"]

#: The statements that give a prior; PROC MCMC treats all three alike.
_PRIOR_KEYWORDS = ("prior", "hyperprior", "hyper")

_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.DOTALL)
_STATEMENT = re.compile(r"""(?:[^;'"]|'[^']*'|"[^"]*")+""")
_PRIOR = re.compile(
    r"(?P<keyword>[A-Za-z_]\w*)\s+(?P<params>[^~]*?)\s*~\s*"
    r"(?P<dist>[A-Za-z_]\w*)\s*\((?P<args>.*)\)\s*"
)
_PARAMETER = re.compile(r"[A-Za-z_]\w*:?")
_KEYWORD = re.compile(r"([A-Za-z_]\w*)\s*=(?!=)\s*")
_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<op>\*\*|[-+*/()]))"
)
_OPERATORS: dict[type, Callable[..., float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_HIERARCHICAL = (
    "hierarchical priors (a prior's argument that is another parameter) have no counterpart "
    "in our prior language"
)


@dataclass(frozen=True)
class _Arg:
    """One argument of a distribution: `text` as written, `keyword` lower-cased or None."""

    text: str
    keyword: str | None
    value: str
    pos: int
    value_pos: int


@dataclass(frozen=True)
class _Slot:
    """An argument of a SAS distribution: the keywords that name it (keyword -> the
    parameterisation it selects) and, for a keyword-only one, how that becomes ours."""

    name: str
    keywords: Mapping[str, str]
    positional: bool = True
    to_ours: Callable[[str, float], float] | None = None

    def choices(self) -> str:
        *first, last = [f"{k}=" for k, v in self.keywords.items() if k == v]
        return f"{', '.join(first)} or {last}" if first else last


@dataclass(frozen=True)
class _SasDistribution:
    slots: tuple[_Slot, ...]
    ours: Callable[[dict[str, float]], tuple[str, tuple[float, ...]]]


@dataclass(frozen=True)
class _Translated:
    """A distribution in our language, with the SAS truncation options still to settle."""

    dist: str
    args: tuple[float, ...]
    lower: tuple[float, _Arg] | None = None
    upper: tuple[float, _Arg] | None = None
    sas: str = ""


def _named(name: str, *aliases: str) -> _Slot:
    return _Slot(name, {a: name for a in (name, *aliases)})


def _to_sd(kind: str, v: float) -> float:
    return {"sd": v, "var": math.sqrt(v), "prec": 1 / math.sqrt(v)}[kind]


def _to_rate(kind: str, v: float) -> float:
    return v if kind == "iscale" else 1 / v


def _to_scale(kind: str, v: float) -> float:
    return v if kind == "scale" else 1 / v


_SPREAD = {"var": "var", "v": "var", "sd": "sd", "s": "sd", "prec": "prec", "precision": "prec"}
_SCALE = {"scale": "scale", "s": "scale", "iscale": "iscale", "is": "iscale"}
_SD = _Slot("sd", _SPREAD, positional=False, to_ours=_to_sd)
_MEAN = _named("mean", "m", "mu")
_LOCATION = _named("location", "loc", "l")
_SCALE_ARG = _named("scale", "s")
_SHAPE = _named("shape", "sp")

_SAS: dict[str, _SasDistribution] = {
    "normal": _SasDistribution((_MEAN, _SD), lambda a: ("normal", (a["mean"], a["sd"]))),
    "t": _SasDistribution(
        (_MEAN, _SD, _named("df")), lambda a: ("student_t", (a["df"], a["mean"], a["sd"]))
    ),
    "cauchy": _SasDistribution(
        (_LOCATION, _SCALE_ARG), lambda a: ("cauchy", (a["location"], a["scale"]))
    ),
    "halfcauchy": _SasDistribution((_SCALE_ARG,), lambda a: ("half_cauchy", (a["scale"],))),
    "halfnormal": _SasDistribution((_SD,), lambda a: ("half_normal", (a["sd"],))),
    "gamma": _SasDistribution(
        (_SHAPE, _Slot("rate", _SCALE, positional=False, to_ours=_to_rate)),
        lambda a: ("gamma", (a["shape"], a["rate"])),
    ),
    "igamma": _SasDistribution(
        (_SHAPE, _Slot("scale", _SCALE, positional=False, to_ours=_to_scale)),
        lambda a: ("inv_gamma", (a["shape"], a["scale"])),
    ),
    "expon": _SasDistribution(
        (_Slot("rate", _SCALE, positional=False, to_ours=_to_rate),),
        lambda a: ("exponential", (a["rate"],)),
    ),
    "beta": _SasDistribution((_named("a"), _named("b")), lambda a: ("beta", (a["a"], a["b"]))),
    "logistic": _SasDistribution(
        (_LOCATION, _SCALE_ARG), lambda a: ("logistic", (a["location"], a["scale"]))
    ),
    "uniform": _SasDistribution(
        (_named("left", "l"), _named("right", "r")),
        lambda a: ("uniform", (a["left"], a["right"])),
    ),
}
_ALIASES = {"n": "normal", "exponential": "expon", "expo": "expon"}
_GENERAL = ("general", "dgeneral")
#: Where the centre is among our arguments, for the distributions with a half_ version.
_CENTRE = {"normal": 0, "cauchy": 0, "student_t": 1}


def priors_from_sas(text: str, names: Mapping[str, str] | None = None) -> list[str]:
    """Our prior statements for the `prior` statements of a SAS PROC MCMC program.

    `text` is a whole PROC MCMC program or just its prior statements. Only PRIOR statements
    (and their synonyms HYPERPRIOR and HYPER) are read; every other statement (PROC, PARMS,
    MODEL, RANDOM, BEGINNODATA, programming statements) is skipped: the model itself is
    translated elsewhere. Keywords are case-insensitive and `/* */` comments are skipped.

    `names` maps SAS parameter names (matched case-insensitively) to ours; a target may end
    in `^2` or `^-2` (the prior is on the variance or the precision). A name not in `names`
    is used as it is; `b:` stands for every key of `names` that starts with `b`. Each
    parameter gets one statement, in the order SAS lists them; each one parses with
    `parse_prior`.

    Translated: normal (n), t, cauchy, halfcauchy, halfnormal, gamma, igamma, expon
    (exponential, expo), beta, logistic, uniform, and general/dgeneral of a constant (a flat
    prior). `lower=`/`upper=` translate where they are exact: `lower=0` on a normal, cauchy
    or t centred at 0 (the half distribution), truncation outside a distribution's support
    (`lower=0` on a gamma), and `general(0, lower=0)` on an sd, sigma or `^2` parameter.
    Anything else raises TranslationError pointing at the text at fault.

    Example:
        >>> program = '''
        ... proc mcmc data=trial nmc=20000 seed=1;
        ...   parms b0 b1 s2u s2;
        ...   prior b: ~ normal(0, var=1e6);       /* vague */
        ...   prior s2u ~ igamma(0.01, scale=0.01);
        ...   hyperprior s2 ~ expon(iscale=2);
        ...   random u ~ normal(0, var=s2u) subject=cluster;
        ...   model y ~ normal(b0 + b1*tx + u, var=s2);
        ... run;'''
        >>> names = {"b0": "b_Intercept", "b1": "b_tx", "s2u": "sd_cluster__tx^2",
        ...          "s2": "sigma^2"}
        >>> for statement in priors_from_sas(program, names):
        ...     print(statement)
        b_Intercept ~ normal(0, 1000)
        b_tx ~ normal(0, 1000)
        sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)
        sigma^2 ~ exponential(2)
    """
    names = dict(names or {})
    out: list[str] = []
    seen: set[str] = set()
    for statement in _statements(text):
        out += _translate_statement(statement, names, seen)
    return out


def _statements(text: str) -> Iterator[str]:
    """Each PRIOR/HYPERPRIOR/HYPER statement, comments removed, on one line."""
    for raw in _STATEMENT.findall(_COMMENT.sub(" ", text)):
        statement = " ".join(raw.split())
        first = re.match(r"([A-Za-z_]\w*)\s", statement)
        if first and first[1].lower() in _PRIOR_KEYWORDS:
            yield statement


def _translate_statement(statement: str, names: dict[str, str], seen: set[str]) -> list[str]:
    source = statement + ";"
    match = _PRIOR.fullmatch(statement)
    if match is None:
        raise TranslationError(
            "cannot read this prior statement: write 'prior name ... ~ distribution(arguments);'",
            source,
            max(statement.find("~"), 0),
        )
    translated = _distribution(match, source)
    out = []
    for sas_name, target, pos in _parameters(match, names, source):
        if sas_name.lower() in seen:
            raise TranslationError(
                f"'{sas_name}' already has a prior; SAS gives each parameter one", source, pos
            )
        seen.add(sas_name.lower())
        out.append(_statement(target, _settle_truncation(translated, target, source)))
    return out


def _parameters(
    match: re.Match[str], names: dict[str, str], source: str
) -> Iterator[tuple[str, str, int]]:
    """(SAS name, our target, position) for each parameter the statement names."""
    by_lower = {k.lower(): k for k in names}
    tokens = list(re.finditer(r"\S+", match["params"]))
    if not tokens:
        raise TranslationError("this prior statement names no parameter", source, source.find("~"))
    for token in tokens:
        word, pos = token[0], match.start("params") + token.start()
        if not _PARAMETER.fullmatch(word):
            raise TranslationError(f"'{word}' is not a parameter name", source, pos)
        if word.endswith(":"):
            yield from _expand(word, names, source, pos)
        else:
            key = by_lower.get(word.lower())
            yield word, names[key] if key is not None else word, pos


def _expand(
    word: str, names: dict[str, str], source: str, pos: int
) -> Iterator[tuple[str, str, int]]:
    """The keys of `names` that SAS's `b:` stands for: every name starting with `b`."""
    matched = [k for k in names if k.lower().startswith(word[:-1].lower())]
    if not matched:
        known = f"names has: {', '.join(names)}" if names else "pass names= to list them"
        raise TranslationError(
            f"'{word}' (every parameter whose name starts with '{word[:-1]}') matches no "
            f"parameter; {known}",
            source,
            pos,
        )
    for key in matched:
        yield key, names[key], pos


def _distribution(match: re.Match[str], source: str) -> _Translated:
    """The SAS distribution of a matched prior statement, in our language."""
    sas = match["dist"].lower()
    args = _split_args(match["args"], match.start("args"))
    if sas in _GENERAL:
        return _general(match["dist"], args, source)
    sas = _ALIASES.get(sas, sas)
    if sas not in _SAS:
        supported = ", ".join([*(_with_aliases(d) for d in _SAS), *_GENERAL])
        raise TranslationError(
            f"the distribution '{match['dist']}' has no counterpart in our prior language"
            f"{did_you_mean(sas, [*_SAS, *_ALIASES])}; supported: {supported}",
            source,
            match.start("dist"),
        )
    values, lower, upper = _fill(_SAS[sas], args, match["dist"], source)
    dist, ours = _SAS[sas].ours(values)
    return _Translated(dist, ours, lower, upper, match["dist"])


def _with_aliases(sas: str) -> str:
    aliases = [a for a, d in _ALIASES.items() if d == sas]
    return f"{sas} ({', '.join(aliases)})" if aliases else sas


def _split_args(text: str, offset: int) -> list[_Arg]:
    """The comma-separated arguments at the top level of `text`, with their positions."""
    pieces = split_top_level(text, ",", offset)
    if len(pieces) == 1 and not pieces[0][0].strip():
        return []
    return [_arg(piece, pos) for piece, pos in pieces]


def _arg(piece: str, pos: int) -> _Arg:
    pos += len(piece) - len(piece.lstrip())
    piece = piece.strip()
    keyword = _KEYWORD.match(piece)
    if keyword is None:
        return _Arg(piece, None, piece, pos, pos)
    return _Arg(piece, keyword[1].lower(), piece[keyword.end() :], pos, pos + keyword.end())


def _fill(
    spec: _SasDistribution, args: list[_Arg], dist: str, source: str
) -> tuple[dict[str, float], tuple[float, _Arg] | None, tuple[float, _Arg] | None]:
    """Match the arguments to the distribution's slots as SAS does: by position, or by
    keyword anywhere; `lower=`/`upper=` are returned apart."""
    values: dict[str, float] = {}
    bounds: dict[str, tuple[float, _Arg]] = {}
    for i, arg in enumerate(args):
        if arg.keyword in ("lower", "upper"):
            bounds[arg.keyword] = (_number(arg, source), arg)
            continue
        slot, kind = _slot_of(spec, arg, i, dist, source)
        if slot.name in values:
            raise TranslationError(f"'{arg.text}' repeats an argument", source, arg.pos)
        values[slot.name] = _value(slot, kind, arg, source)
    for slot in spec.slots:
        if slot.name not in values:
            raise TranslationError(_missing(slot, dist), source, len(source) - 2)
    return values, bounds.get("lower"), bounds.get("upper")


def _slot_of(
    spec: _SasDistribution, arg: _Arg, i: int, dist: str, source: str
) -> tuple[_Slot, str]:
    if arg.keyword is not None:
        for slot in spec.slots:
            if arg.keyword in slot.keywords:
                return slot, slot.keywords[arg.keyword]
        accepted = ", ".join(f"{k}=" for s in spec.slots for k in s.keywords)
        raise TranslationError(
            f"'{arg.keyword}=' is not an option of {dist}(); it takes {accepted}, lower=, upper=",
            source,
            arg.pos,
        )
    if i >= len(spec.slots):
        raise TranslationError(
            f"{dist}() takes {len(spec.slots)} argument(s); '{arg.text}' is one too many",
            source,
            arg.pos,
        )
    slot = spec.slots[i]
    if not slot.positional:
        raise TranslationError(f"'{arg.text}': {_missing(slot, dist)}", source, arg.pos)
    return slot, slot.name


def _missing(slot: _Slot, dist: str) -> str:
    if not slot.positional:
        return f"SAS requires {slot.choices()} to name this argument of {dist}()"
    return f"{dist}() needs its argument '{slot.name}'"


def _value(slot: _Slot, kind: str, arg: _Arg, source: str) -> float:
    value = _number(arg, source)
    if slot.to_ours is None:
        return value
    if not value > 0:
        raise TranslationError(f"'{arg.text}' must be > 0", source, arg.pos)
    return slot.to_ours(kind, value)


def _general(dist: str, args: list[_Arg], source: str) -> _Translated:
    """general(constant) is a flat prior; a density expression has no counterpart."""
    expression = [a for a in args if a.keyword not in ("lower", "upper")]
    bounds = {a.keyword: (_number(a, source), a) for a in args if a.keyword in ("lower", "upper")}
    if len(expression) != 1 or _evaluate(expression[0].text) is None:
        at = expression[0] if expression else None
        quoted = f" '{at.text}'" if at else ""
        raise TranslationError(
            f"{dist}(){quoted}: only {dist}() of a constant (a flat prior) translates; our prior "
            "language has no density expressions",
            source,
            at.pos if at else len(source) - 2,
        )
    return _Translated("flat", (), bounds.get("lower"), bounds.get("upper"), dist)


def _number(arg: _Arg, source: str) -> float:
    """A constant argument (`1e6`, `.01`, `10**6`, `1/100`); a name is a hierarchical prior."""
    for token in _tokens(arg.value) or ():
        if token["name"]:
            follows = arg.value[token.end() :].lstrip()
            name = token["name"]
            where = f"'{name}'" if arg.value.strip() == name else f"'{name}' in '{arg.text}'"
            why = "a function: write its value" if follows.startswith("(") else _HIERARCHICAL
            raise TranslationError(
                f"{where} is not a number; {why}", source, arg.value_pos + token.start("name")
            )
    value = _evaluate(arg.value)
    if value is None:
        raise TranslationError(f"the argument '{arg.text}' is not a number", source, arg.pos)
    return value


def _tokens(text: str) -> list[re.Match[str]] | None:
    """The tokens of an arithmetic expression, or None at a character none can start with."""
    tokens, pos = [], 0
    while pos < len(text.rstrip()):
        token = _TOKEN.match(text, pos)
        if token is None:
            return None
        tokens.append(token)
        pos = token.end()
    return tokens


def _evaluate(text: str) -> float | None:
    """The finite value of a constant arithmetic expression (+ - * / ** and brackets)."""
    tokens = _tokens(text)
    if not tokens or any(t["name"] for t in tokens):
        return None
    python = " ".join(repr(float(t["number"])) if t["number"] else t["op"] for t in tokens)
    try:
        value = _eval_node(ast.parse(python, mode="eval").body)
    except (SyntaxError, ZeroDivisionError, OverflowError, TypeError):
        return None
    return value if isinstance(value, float) and math.isfinite(value) else None


def _eval_node(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_eval_node(node.left), _eval_node(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_eval_node(node.operand))
    raise TypeError(f"not arithmetic: {ast.dump(node)}")


def _settle_truncation(t: _Translated, target: str, source: str) -> tuple[str, tuple]:
    """Our distribution for SAS's, with `lower=`/`upper=` where they are exact, else an error."""
    lower = t.lower[0] if t.lower else -math.inf
    upper = t.upper[0] if t.upper else math.inf
    lo, hi = _support(t.dist, t.args)
    at_zero = _truncated_at_zero(t, target) if lower == 0 else None
    lower_ok = lower <= lo or at_zero is not None
    if lower_ok and upper >= hi:
        return (t.dist, t.args) if lower <= lo else at_zero
    bound = t.upper if lower_ok else t.lower
    assert bound is not None
    raise TranslationError(
        f"'{bound[1].text}' truncates {t.sas}(), and our prior language has no truncation; "
        "exact rewrites: lower=0 on a normal, cauchy or t centred at 0 (a half distribution), "
        "a bound outside the distribution's support, general(0, lower=0) on an sd or variance",
        source,
        bound[1].pos,
    )


def _truncated_at_zero(t: _Translated, target: str) -> tuple[str, tuple[float, ...]] | None:
    """The exact distribution of ours for `t` truncated to (0, inf), where there is one."""
    if t.dist in _CENTRE and t.args[_CENTRE[t.dist]] == 0:
        i = _CENTRE[t.dist]
        return f"half_{t.dist}", t.args[:i] + t.args[i + 1 :]
    if t.dist == "flat" and _positive(target):
        return t.dist, t.args
    return None


def _support(dist: str, args: tuple[float, ...]) -> tuple[float, float]:
    support = DISTRIBUTIONS[dist].support
    if support == "interval":
        return args[0], args[1]
    return {"positive": (0.0, math.inf), "unit": (0.0, 1.0)}.get(support, (-math.inf, math.inf))


def _positive(target: str) -> bool:
    """Whether our parameter is > 0: a power of one, an sd or a sigma."""
    base = target.split("^")[0].strip()
    return "^" in target or base in ("sd", "sigma") or base.startswith(("sd_", "sigma_"))


def _statement(target: str, translated: tuple[str, tuple[float, ...]]) -> str:
    dist, args = translated
    statement = f"{target} ~ {dist}({', '.join(_format_number(a) for a in args)})"
    parse_prior(statement)
    return statement


def _format_number(x: float) -> str:
    """`1000` for 1000.0, else the shortest repr; a value within 4 ulp of a 12-digit
    decimal is printed as that decimal (0.30000000000000004 -> 0.3)."""
    short = float(f"{x:.12g}")
    if abs(short - x) <= 4 * math.ulp(x):
        x = short
    if x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(x)
