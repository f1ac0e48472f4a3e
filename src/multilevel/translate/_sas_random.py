"""SAS RANDOM and REPEATED statements, translated into group terms and a residual sd.

RANDOM gives group terms: with `subject=`, one term per subject whose covariance `type=`
decides (variance components, unstructured, or a class effect's compound symmetry);
without it, a variance per class effect. REPEATED (MIXED) and `RANDOM _RESIDUAL_` (GLIMMIX)
give independent residuals, with a sd per level of `group=`. Display options become a note;
a covariance structure the formula language cannot write is refused.
"""

from __future__ import annotations

import re

from ._sas_effects import _Effect, _effect, _effects, _parts
from ._sas_read import _Block, _body, _column, _error, _Option, _options, _slash, _Statement
from ._translation import by_formula, categorical, group_term

_TYPE_NAMES: dict[str, str] = {
    "vc": "variance components",
    "un": "an unstructured covariance",
    "unr": "an unstructured covariance",
    "chol": "an unstructured covariance",
    "cs": "compound symmetry",
    "csh": "heterogeneous compound symmetry",
    "sim": "one variance shared by all effects",
    "simple": "one variance shared by all effects",
    "ar": "a first-order autoregressive covariance",
    "arh": "a heterogeneous first-order autoregressive covariance",
    "arma": "an ARMA(1,1) covariance",
    "ante": "an antedependence covariance",
    "toep": "a Toeplitz covariance",
    "toeph": "a heterogeneous Toeplitz covariance",
    "hf": "a Huynh-Feldt covariance",
    "lin": "a linear covariance structure",
    "fa": "a factor-analytic covariance",
    "fa0": "a factor-analytic covariance",
    "fa1": "a factor-analytic covariance",
    "sp": "a spatial covariance",
    "rsmooth": "a penalised spline",
    "psmooth": "a penalised spline",
}
_RANDOM_TYPES = (
    "type=vc (the default), un, unr, chol, un(1), fa0(q) with q the number of effects; "
    "cs, csh, simple only with a single effect"
)


_RANDOM_NOTES = (
    *("solution", "g", "gcorr", "gc", "gi", "v", "vcorr", "vc", "vi"),
    *("cl", "alpha", "r", "rcorr", "rc", "ri"),
)
_RANDOM_ALIASES = {"s": "solution", "sub": "subject", "grp": "group", "rside": "residual"}


def _random(st: _Statement, block: _Block) -> None:
    end = _slash(st)
    options = _options(st, end, _RANDOM_ALIASES) if end < len(st.text) - 1 else []
    words = _body(st, len(st.keyword), end)
    lowered = [w.lower() for w, _ in words]
    if "_residual_" in lowered or any(o.key == "residual" for o in options):
        rest = [(w, p) for w, p in words if w.lower() != "_residual_"]
        _residual(st, block, rest, [o for o in options if o.key != "residual"])
        return
    opts = _known_options(st, block, options, ("subject", "type", "group"))
    if "group" in opts:
        raise _error(
            f"'{opts['group'].text}': a variance per group of the random effects is not "
            "supported; fit the groups' random effects in separate terms or drop group=",
            st,
            at=opts["group"].position,
        )
    at = [p for w, p in words if w.lower() in ("intercept", "int")]
    effects = _effects(block, st, [(w, p) for w, p in words if p not in at])
    if not effects and not at:
        raise _error("the RANDOM statement names no effect", st, at=0)
    if "subject" in opts:
        factor = _subject(block, st, opts["subject"])
        block.random += _with_subject(block, st, effects, bool(at), factor, opts.get("type"))
    elif at:
        raise _error(
            "'intercept' in a RANDOM statement needs subject=, e.g. 'random intercept / "
            "subject=g;'",
            st,
            at=at[0],
        )
    else:
        block.random += _without_subject(block, st, effects, opts.get("type"))


def _known_options(
    st: _Statement, block: _Block, options: list[_Option], keys: tuple[str, ...]
) -> dict[str, _Option]:
    """The options named in `keys`; display options noted; anything else refused."""
    out, shown = {}, []
    for opt in options:
        if opt.key in keys:
            out[opt.key] = opt
        elif opt.key in _RANDOM_NOTES:
            shown.append(opt.text)
        else:
            valid = ", ".join(f"{k}=" for k in keys)
            raise _error(
                f"'{opt.text}' is not a {st.keyword.upper()} option read here; supported: "
                f"{valid} and the display options {', '.join(_RANDOM_NOTES)}",
                st,
                at=opt.position,
            )
    if shown:
        block.note(
            f"{', '.join(repr(s) for s in shown)} ignored: display options (the posterior "
            "holds the group-level effects and their sds)"
        )
    return out


def _subject(block: _Block, st: _Statement, opt: _Option) -> str:
    """`subject=g`, `subject=class(school)`, `subject=school*class` -> `g`, `school:class`."""
    effect = _effect(block, st, opt.value or "", opt.position + opt.text.index("=") + 1)
    return ":".join(dict.fromkeys(effect.names))


def _without_subject(
    block: _Block, st: _Statement, effects: list[_Effect], kind: _Option | None
) -> list[str]:
    """`random g g*a a(g);` -> `(1 | g) + (1 | g:a) + ...`: a variance per effect."""
    if kind is not None and kind.lower != "vc":
        raise _error(
            f"'{kind.text}' without subject= is not translated: a RANDOM statement without "
            "subject= takes type=vc; name the subject, e.g. 'random intercept x / subject=g "
            f"{kind.text};'",
            st,
            at=kind.position,
        )
    terms = []
    for effect in effects:
        classes, continuous = _parts(block, st, effect)
        if not classes:
            raise _error(
                f"'{effect.text}' has no class variable to group by; give subject=, e.g. "
                f"'random {effect.text} / subject=g;'",
                st,
                at=effect.position,
            )
        terms.append(_class_term(continuous, ":".join(classes)))
    return terms


def _class_term(continuous: list[str], factor: str) -> str:
    """One variance for a class effect: `(1 | g:a)`, or `(0 + x | g:a)` for `x*a`."""
    if continuous:
        return f"(0 + {':'.join(continuous)} | {factor})"
    return f"(1 | {factor})"


def _with_subject(
    block: _Block,
    st: _Statement,
    effects: list[_Effect],
    intercept: bool,
    factor: str,
    kind: _Option | None,
) -> list[str]:
    parts = [_parts(block, st, e) for e in effects]
    covariance = _covariance(st, kind, effects, parts, intercept)
    slopes = [":".join(c) for cl, c in parts if not cl]
    class_effects = [(e, cl, c) for e, (cl, c) in zip(effects, parts, strict=True) if cl]
    if covariance == "cs":
        ((effect, classes, _),) = class_effects
        block.note(
            f"'{kind.text if kind else ''}' on the class effect '{effect.text}' is written as "
            f"a subject intercept plus an effect per level: '(1 | {factor}) + (1 | "
            f"{factor}:{':'.join(classes)})' (equal unless SAS's covariance is negative)"
        )
        return [f"(1 | {factor})", f"(1 | {factor}:{':'.join(classes)})"]
    if covariance == "un" and class_effects:
        return [_unstructured_class(block, st, effects, parts, intercept, factor)]
    terms = []
    if intercept or slopes:
        terms.append(group_term(slopes, intercept, factor, correlated=covariance == "un"))
    for _, classes, continuous in class_effects:
        terms.append(_class_term(continuous, ":".join([factor, *classes])))
    return terms


def _unstructured_class(
    block: _Block,
    st: _Statement,
    effects: list[_Effect],
    parts: list[tuple[list[str], list[str]]],
    intercept: bool,
    factor: str,
) -> str:
    """`random a / subject=g type=un` -> `(0 + C(a) | g)`: one correlated effect per level."""
    class_effects = [e for e, (cl, _) in zip(effects, parts, strict=True) if cl]
    if intercept or len(class_effects) > 1:
        effect = class_effects[-1 if not intercept else 0]
        why = "the intercept and every level of" if intercept else "every level of each of"
        raise _error(
            f"'{effect.text}' with type=un is over-parameterised: {why} the class effects "
            "cannot all have correlated effects (SAS sets a variance to zero); drop "
            "'intercept' or use type=vc",
            st,
            at=effect.position,
        )
    terms = []
    for classes, continuous in parts:
        coded = {n: categorical(n, _column(block, n)) for n in classes}
        terms.append(":".join([*coded.values(), *continuous]))
    return group_term(terms, False, factor, correlated=True)


def _covariance(
    st: _Statement,
    kind: _Option | None,
    effects: list[_Effect],
    parts: list[tuple[list[str], list[str]]],
    intercept: bool,
) -> str:
    """'vc' (a variance per effect), 'un' (correlated), or 'cs' (a class effect's compound
    symmetry); a TranslationError for a type= the formula language cannot write."""
    if kind is None or kind.lower == "vc":
        return "vc"
    t = kind.lower
    n_effects = len(effects) + intercept
    one_column = all(not classes for classes, _ in parts)  # each effect is one column
    banded = re.fullmatch(r"(un|fa0)\((\d+)\)", t)
    if t in ("un", "unr", "chol"):
        return "un"
    if banded and one_column:
        q = int(banded.group(2))
        if banded.group(1) == "un" and q == 1:
            return "vc"
        if q == n_effects or (banded.group(1) == "un" and q > n_effects):
            return "un"
    if banded:
        raise _error(
            f"'{kind.text}' is not unstructured here: it is only when q is the number of "
            f"random effects ({n_effects}, each one column); supported: {_RANDOM_TYPES}",
            st,
            at=kind.position,
        )
    if t in ("cs", "csh", "sim", "simple"):
        return _equal_covariance(st, kind, n_effects, one_column, parts)
    raise _error(
        f"'{kind.text}' ({_describe(t)}) has no counterpart in the formula language; "
        f"supported: {_RANDOM_TYPES}",
        st,
        at=kind.position,
    )


def _equal_covariance(
    st: _Statement,
    kind: _Option,
    n_effects: int,
    one_column: bool,
    parts: list[tuple[list[str], list[str]]],
) -> str:
    """cs, csh, simple: equal variances or covariances, which only one effect can have."""
    t = kind.lower
    if n_effects == 1 and (one_column or t in ("sim", "simple")):
        return "vc"
    if n_effects == 1 and t == "cs" and not parts[0][1]:
        return "cs"
    raise _error(
        f"'{kind.text}' ({_describe(t)}) gives the random effects equal variances or "
        "covariances, which the formula language cannot write for more than one effect "
        f"(or a class effect's levels); supported: {_RANDOM_TYPES}",
        st,
        at=kind.position,
    )


def _describe(t: str) -> str:
    if "@" in t:
        return "a Kronecker-product covariance"
    return _TYPE_NAMES.get(t.split("(")[0], "a covariance structure")


# --- repeated and the residual ---------------------------------------------------------------


def _repeated(st: _Statement, block: _Block) -> None:
    end = _slash(st)
    options = _options(st, end, _RANDOM_ALIASES) if end < len(st.text) - 1 else []
    _residual(st, block, _body(st, len(st.keyword), end), options)


def _residual(
    st: _Statement, block: _Block, words: list[tuple[str, int]], options: list[_Option]
) -> None:
    """REPEATED / RANDOM _RESIDUAL_: independent residuals, with a sd per group= level."""
    opts = _known_options(st, block, options, ("subject", "type", "group"))
    kind = opts.get("type")
    if kind is not None and kind.lower != "vc":
        raise _error(
            f"'{kind.text}' ({_describe(kind.lower)}) correlates the residuals, which is not "
            "supported; supported: no type= or type=vc (independent residuals) with group=",
            st,
            at=kind.position,
        )
    has_sigma = block.family in ("gaussian", "lognormal")
    if not has_sigma:
        where = opts.get("group")
        raise _error(
            f"the residual statement with the {block.family} family adds an overdispersion "
            "scale (GLIMMIX's quasi-likelihood) or a residual sd per group, neither of which "
            "the family has; remove it (negbin is a model of overdispersed counts)",
            st,
            at=where.position if where else 0,
        )
    ignored = [w for w, _ in words] + [opts[k].text for k in ("subject", "type") if k in opts]
    if ignored:
        block.note(
            f"{', '.join(repr(w) for w in ignored)} in '{st.text}' read: residuals are "
            "independent within subject, as with type=vc"
        )
    if "group" in opts:
        _residual_group(st, block, opts["group"])


def _residual_group(st: _Statement, block: _Block, opt: _Option) -> None:
    if "sigma" in block.dpars:
        raise _error(
            f"a second residual '{opt.text}': the block may give group= once", st, at=opt.position
        )
    effect = _effect(block, st, opt.value or "", opt.position + opt.text.index("=") + 1)
    if len(effect.names) != 1:
        raise _error(
            f"'{opt.text}' names more than one variable; supported: group= with one variable "
            "(make their combination a column of the data frame)",
            st,
            at=opt.position,
        )
    name = effect.names[0]
    formula, note = by_formula(name, _column(block, name))
    block.dpars["sigma"] = formula
    if note:
        block.note(note)
