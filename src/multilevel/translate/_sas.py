"""SAS PROC MIXED and PROC GLIMMIX blocks, translated into our formula syntax.

A block is read statement by statement (`;` ends each; `/* */` and `* ...;` comments are
skipped). CLASS declares the factors, MODEL gives the fixed part, the response and (GLIMMIX)
the distribution and link, RANDOM gives group terms, REPEATED (MIXED) or `RANDOM _RESIDUAL_`
(GLIMMIX) gives a residual sd per group. Whatever only changes the display or the frequentist
estimation becomes a note; whatever changes the model and has no counterpart is refused with a
TranslationError that quotes it.
"""

from __future__ import annotations

import re

import pandas as pd

from .._errors import TranslationError
from ._sas_effects import _fixed_terms, _reference_option, _variable_reference
from ._sas_random import _random, _repeated
from ._sas_read import (
    _NAME,
    _Block,
    _body,
    _error,
    _name,
    _Option,
    _options,
    _slash,
    _split_top,
    _Statement,
    _statements,
    _top_equals,
)
from ._translation import Translation, join_terms

__all__ = ["translate_sas"]


# GLIMMIX's DIST= names and abbreviations -> (our family, SAS's default link).
_DISTS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("normal", "n", "gaussian", "g"), ("gaussian", "identity")),
    **dict.fromkeys(("binary", "b"), ("bernoulli", "logit")),
    **dict.fromkeys(("binomial", "bin"), ("binomial", "logit")),
    **dict.fromkeys(("poisson", "poi", "p"), ("poisson", "log")),
    **dict.fromkeys(("negbinomial", "negbin", "nb"), ("negbinomial", "log")),
    **dict.fromkeys(("multinomial", "multi", "mult"), ("cumulative", "logit")),
    **dict.fromkeys(("gamma", "gam"), ("gamma", "log")),
    "beta": ("beta", "logit"),
    **dict.fromkeys(("lognormal", "logn"), ("lognormal", "identity")),
}
_SUPPORTED_DISTS = (
    "normal, binary, binomial, poisson, negbin, multinomial (ordinal), gamma, beta, lognormal"
)
_LINKS: dict[str, str] = {
    **dict.fromkeys(("identity", "id"), "identity"),
    "logit": "logit",
    "probit": "probit",
    "log": "log",
    **dict.fromkeys(("cloglog", "cll", "cumcll", "ccll"), "cloglog"),
    **dict.fromkeys(("cumlogit", "clogit"), "logit"),
    **dict.fromkeys(("cumprobit", "cprobit"), "probit"),
    **dict.fromkeys(("inverse", "inv", "reciprocal", "power(-1)", "pow(-1)"), "inverse"),
}
_SUPPORTED_LINKS = "identity, logit, probit, log, cloglog, cumlogit, cumprobit, cumcll, inverse"


_MODEL_NOTES: dict[str, str] = {
    "solution": "the posterior summary reports every coefficient",
    "ddfm": "denominator degrees of freedom have no Bayesian counterpart",
    "ddf": "denominator degrees of freedom have no Bayesian counterpart",
    "cl": "posterior intervals come from fit.summary()",
    "alpha": "posterior intervals come from fit.summary()",
    "htype": "F tests have no Bayesian counterpart",
    "chisq": "F and chi-square tests have no Bayesian counterpart",
    "notest": "F and chi-square tests have no Bayesian counterpart",
    "e": "estimable functions are a display option",
    "e1": "estimable functions are a display option",
    "e2": "estimable functions are a display option",
    "e3": "estimable functions are a display option",
    "oddsratio": "odds ratios are exp() of the posterior draws of the coefficients",
    "outp": "predictions come from fit.predict()",
    "outpm": "predictions come from fit.predict()",
    "covb": "the posterior draws give the coefficients' covariance",
    "corrb": "the posterior draws give the coefficients' correlation",
    "covbi": "the posterior draws give the coefficients' covariance",
    "influence": "influence diagnostics have no counterpart; compare models with LOO",
    "residual": "residuals come from the fit's posterior predictive",
    "vciry": "residuals come from the fit's posterior predictive",
    "stdcoef": "standardised coefficients are a display option",
    "intercept": "the intercept is always reported",
}
_MODEL_ALIASES = {
    "s": "solution",
    "or": "oddsratio",
    "d": "dist",
    "distribution": "dist",
    "error": "dist",
}


_PROC_NOTES: dict[str, str] = {
    "data": "pass the data frame to ml.Model as data=",
    "method": "the posterior comes from the full likelihood and the priors, not REML or ML",
    "covtest": "tests of the variances have no Bayesian counterpart; read their posteriors",
    "nobound": "sds are positive in the Bayesian model; a negative variance has no counterpart",
}
_PROC_REFUSED = {
    "empirical": (
        "sandwich (empirical) standard errors have no counterpart in the Bayesian model; "
        "remove it (the posterior sds are model-based)"
    ),
}


_IGNORED_STATEMENTS = (
    *("lsmeans", "lsmestimate", "slice", "estimate", "contrast", "ods", "output", "store"),
    *("nloptions", "id", "format", "label", "covtest", "parms"),
)
_REFUSED_STATEMENTS: dict[str, str] = {
    "by": "fits one model per group: split the data frame first and translate each part",
    "where": "selects rows: filter the data frame first",
    "weight": "weights the observations; weights are not supported",
    "freq": "repeats the observations: expand the data frame first (one row per copy)",
}


def translate_sas(text: str, data: pd.DataFrame | None = None) -> Translation:
    """Translate a SAS PROC MIXED or PROC GLIMMIX block into our formula syntax.

    `data`, when given, only settles what the block leaves to the data: the spelling of each
    variable (SAS is case-insensitive), and the last level of each class variable, which SAS
    takes as the reference level. Without it class variables contrast with their first level,
    and a note says so.

    Example:
        >>> t = translate_sas('''
        ...     proc mixed data=trial method=reml;
        ...       class cluster;
        ...       model y = tx / solution ddfm=kr;
        ...       random tx / subject=cluster;
        ...       repeated / group=tx;
        ...     run;''')
        >>> t.formulas
        ('y ~ tx + (0 + tx | cluster)', 'sigma ~ tx')
        >>> print(t.notes[3])
        'ddfm=kr' ignored: denominator degrees of freedom have no Bayesian counterpart
    """
    statements = _statements(text)
    block = _Block(data)
    _check_statements(statements, block)
    for keyword in ("proc", "class", "model"):
        for st in statements:
            if st.keyword == keyword:
                _HANDLERS[keyword](st, block)
    if block.fixed is None:
        source = " ".join(st.text for st in statements)
        raise TranslationError(
            "the SAS block has no MODEL statement; write one such as 'model y = x;'",
            source or None,
        )
    for st in statements:
        if st.keyword in ("random", "repeated"):
            _HANDLERS[st.keyword](st, block)
    formula = " + ".join([block.fixed, *block.random])
    return Translation(
        formula, block.family, block.link, block.dpars, tuple(block.notes), text.strip()
    )


# --- statements ------------------------------------------------------------------------------


def _check_statements(statements: list[_Statement], block: _Block) -> None:
    """Refuse the statements that change the data or are unknown; note the ignored ones."""
    for st in statements:
        kw = st.keyword
        if kw in _HANDLERS or kw in ("run", "quit"):
            continue
        if kw in _REFUSED_STATEMENTS:
            raise _error(f"the '{kw}' statement {_REFUSED_STATEMENTS[kw]}", st, at=0)
        if kw in _IGNORED_STATEMENTS or re.fullmatch(r"(title|footnote)\d*", kw):
            _ignored_statement(st, block)
        elif re.match(rf"{_NAME}=", st.text):
            raise _error(
                "programming statements are not translated: compute the variable as a column "
                "of the data frame first",
                st,
                at=0,
            )
        else:
            raise _error(
                f"unknown statement '{kw}': PROC MIXED / GLIMMIX statements read here are proc, "
                "class, model, random, repeated (and lsmeans, estimate, ... which are ignored)",
                st,
                at=0,
            )


def _ignored_statement(st: _Statement, block: _Block) -> None:
    if st.keyword == "parms":
        for word in ("hold=", "eqcons="):
            if word in st.text.lower():
                at = st.text.lower().find(word)
                raise _error(
                    f"'{word}' in the parms statement fixes covariance parameters, which the "
                    "Bayesian model estimates; remove it (a tight prior can stand in for it)",
                    st,
                    at=at,
                )
    block.note(f"the '{st.keyword}' statement is not part of the model and is ignored")


# --- proc and class --------------------------------------------------------------------------


def _proc(st: _Statement, block: _Block) -> None:
    words = _split_top(st.text.rstrip(";"), 0)
    procedure = words[1][0].lower() if len(words) > 1 else ""
    if procedure not in ("mixed", "glimmix"):
        raise _error(
            f"'proc {procedure}' is not translated: only PROC MIXED and PROC GLIMMIX are",
            st,
            at=0,
        )
    for word, pos in words[2:]:
        key = word.partition("=")[0].lower()
        if key in _PROC_REFUSED:
            raise _error(f"'{word}': {_PROC_REFUSED[key]}", st, at=pos)
        reason = _PROC_NOTES.get(key, "it changes the display or the estimation, not the model")
        block.note(f"'{word}' ignored: {reason}")


def _class(st: _Statement, block: _Block) -> None:
    """`class a b(ref=first) c / ref=last;`: the factors and their reference levels."""
    start = len(st.keyword)
    end = _slash(st)
    default = "last"
    for opt in _options(st, end, {}) if end < len(st.text) - 1 else []:
        if opt.key == "ref":
            default = _reference_option(st, opt)
        elif opt.key != "truncate":
            raise _error(
                f"'{opt.text}' is not a class statement option read here; supported: ref=",
                st,
                at=opt.position,
            )
    for word, pos in _body(st, start, end):
        match = re.fullmatch(rf"({_NAME})(?:\((.*)\))?", word)
        if match is None:
            raise _error(f"'{word}' is not a variable name", st, at=pos)
        name = _name(block, match.group(1), st)
        ref = default
        if match.group(2):
            ref = _variable_reference(st, match.group(2), pos + len(match.group(1)) + 1)
        block.classes[name.lower()] = ref


# --- model -----------------------------------------------------------------------------------


def _model(st: _Statement, block: _Block) -> None:
    if block.fixed is not None:
        raise _error("a second MODEL statement: the block must have one", st, at=0)
    equals = _top_equals(st.text)
    if equals < 0:
        raise _error("the MODEL statement needs 'response = effects'", st, at=0)
    end = _slash(st, equals)
    options = _options(st, end, _MODEL_ALIASES) if end < len(st.text) - 1 else []
    response, trials = _response(block, st, st.text[len(st.keyword) : equals].strip())
    intercept = not any(opt.key == "noint" for opt in options)
    _family(block, st, options, trials is not None, response)
    for opt in options:
        if opt.key in _MODEL_NOTES:
            block.note(f"'{opt.text}' ignored: {_MODEL_NOTES[opt.key]}")
        elif opt.key not in ("noint", "dist", "link"):
            raise _model_option_error(st, opt)
    terms = _fixed_terms(block, st, _body(st, equals + 1, end))
    left = response if trials is None else f"{response} | trials({trials})"
    block.fixed = f"{left} ~ {join_terms(terms, intercept)}"


def _model_option_error(st: _Statement, opt: _Option) -> TranslationError:
    if opt.key == "offset":
        return _error(
            f"'{opt.text}': offsets are not supported; model the rate's log as a covariate or "
            "divide the response by the exposure",
            st,
            at=opt.position,
        )
    known = ", ".join(["noint", "dist=", "link=", *_MODEL_NOTES])
    return _error(
        f"'{opt.text}' is not a MODEL option read here; known: {known}", st, at=opt.position
    )


def _response(block: _Block, st: _Statement, text: str) -> tuple[str, str | None]:
    """`y`, `y(event='1')` or `events/trials`: the response and the trials variable."""
    pos = st.text.find(text)
    match = re.fullmatch(rf"({_NAME})(?:\((.*)\))?(?:/({_NAME}))?", text)
    if match is None or (match.group(2) and match.group(3)):
        raise _error(
            f"'{text}' is not a response read here: write y, y(event='1') or events/trials",
            st,
            at=pos,
        )
    response = _name(block, match.group(1), st)
    if match.group(2):
        block.response_options = match.group(2).lower()
    trials = _name(block, match.group(3), st) if match.group(3) else None
    return response, trials


def _family(
    block: _Block, st: _Statement, options: list[_Option], events: bool, response: str
) -> None:
    """DIST= and LINK=: our family, and the link where it is not SAS's default."""
    dist = next((o for o in options if o.key == "dist"), None)
    link = next((o for o in options if o.key == "link"), None)
    family, default = ("binomial", "logit") if events else ("gaussian", "identity")
    if dist is not None:
        if dist.lower not in _DISTS:
            raise _error(
                f"'{dist.text}' is not translated; supported distributions: {_SUPPORTED_DISTS}",
                st,
                at=dist.position,
            )
        family, default = _DISTS[dist.lower]
        if family == "binomial" and not events:
            family = "bernoulli"  # GLIMMIX: dist=binomial with one response is binary
        if events and family != "binomial":
            raise _error(
                f"'{dist.text}' with the events/trials response: that syntax is binomial",
                st,
                at=dist.position,
            )
    chosen = default if link is None else _link(st, link)
    block.family = family
    block.link = chosen if chosen != default or family == "gamma" else None
    _response_notes(block, response)


def _link(st: _Statement, opt: _Option) -> str:
    if opt.lower in ("glogit", "genlogit"):
        raise _error(
            f"'{opt.text}' (a nominal multinomial model) is not supported; only ordinal "
            "(cumulative) links are",
            st,
            at=opt.position,
        )
    if opt.lower not in _LINKS:
        raise _error(
            f"'{opt.text}' is not translated; supported links: {_SUPPORTED_LINKS}",
            st,
            at=opt.position,
        )
    return _LINKS[opt.lower]


def _response_notes(block: _Block, response: str) -> None:
    """SAS models the first ordered level of a binary or ordinal response unless told."""
    options = block.response_options
    descending = "desc" in options or "event=" in options
    if block.family == "bernoulli" and not descending:
        block.note(
            f"SAS models the probability of the first ordered level of '{response}' (0 for "
            "0/1) unless (event='1') or (descending) is given; the bernoulli family models "
            "Pr(y = 1), so coefficients have the opposite sign to SAS's"
        )
    event = re.search(r"event=['\"]?([^'\"]*)", options)
    if block.family == "bernoulli" and event and event.group(1) != "1":
        block.note(
            f"'event={event.group(1)}' read: the bernoulli family models Pr(y = 1), so code "
            f"the event '{event.group(1)}' as 1 and the other level as 0 in the data"
        )
    if block.family == "cumulative" and not descending:
        block.note(
            "SAS's cumulative model is link Pr(y <= k) = a_k + xb; brms's is a_k - xb, so "
            "coefficients have the opposite sign to SAS's"
        )
    if block.family == "cumulative":
        block.note(f"the cumulative family needs '{response}' as ordered categories or integers")


_HANDLERS = {
    "proc": _proc,
    "class": _class,
    "model": _model,
    "random": _random,
    "repeated": _repeated,
}
