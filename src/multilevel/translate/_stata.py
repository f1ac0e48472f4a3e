"""Stata's `mixed`, `melogit`, `meprobit`, `mepoisson`, `menbreg`, `meologit` and
`meoprobit` commands in our formula syntax.

`cmd depvar fixed [, fe_options] || level: varlist [, re_options] || ... [, options]`: the
levels nest left to right (`|| school: || class:` is `(1 | school) + (1 | school:class)`),
`_all: R.x` is a crossed factor, and the options after the last equation hold both the last
level's options and the command's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from .._errors import TranslationError
from ._stata_options import Option, keyword, read_options, rule_of
from ._stata_varlist import Term, Varlist
from ._translation import (
    Translation,
    by_formula,
    categorical,
    check_column,
    group_term,
    join_terms,
    split_top_level,
)

#: command -> (family, link when not the family's default)
COMMANDS: dict[str, tuple[str, str | None]] = {
    "mixed": ("gaussian", None),
    "xtmixed": ("gaussian", None),
    "melogit": ("bernoulli", None),
    "meprobit": ("bernoulli", "probit"),
    "mepoisson": ("poisson", None),
    "menbreg": ("negbinomial", None),
    "meologit": ("cumulative", None),
    "meoprobit": ("cumulative", "probit"),
}
COVARIANCES = {"independent": 3, "exchangeable": 2, "identity": 2, "unstructured": 2}


def translate_stata(command: str, data: pd.DataFrame | None = None) -> Translation:
    """Translate a Stata `mixed` / `me*` command into our formula syntax.

    `data`, when given, settles what the command leaves to the data: base levels such as
    `ib(last).x`, wildcards, whether `by(tx)` needs `C(tx)`; every variable is checked
    against its columns.

    Example:
        >>> t = translate_stata("mixed y tx || cluster: tx, nocons residuals(independent, by(tx))")
        >>> t.formulas
        ('y ~ tx + (0 + tx | cluster)', 'sigma ~ tx')
        >>> translate_stata("melogit y i.a##c.x || id:").formula
        'y ~ C(a) + x + C(a):x + (1 | id)'
    """
    if not isinstance(command, str):
        raise TranslationError(f"a Stata command must be a string, got {type(command).__name__}")
    source = clean(command)
    return _Command(source, data).translate()


def clean(command: str) -> str:
    """One line: comments and `///` continuations removed, a leading `.` prompt dropped."""
    text = re.sub(r"/\*.*?\*/", " ", command, flags=re.S)
    text = re.sub(r"///[^\n]*\n?", " ", text)
    text = re.sub(r"(^|\s)//[^\n]*", " ", text)
    text = " ".join(text.split())
    return text[1:].lstrip() if text.startswith(". ") else text


@dataclass
class _Command:
    source: str
    data: pd.DataFrame | None
    notes: list[str] = field(default_factory=list)
    dpars: dict[str, str] = field(default_factory=dict)
    trials: str | None = None
    name: str = ""  # the command, once read

    def error(self, message: str, text: str | None = None) -> TranslationError:
        at = self.source.find(text) if text else -1
        return TranslationError(message, self.source, at if at >= 0 else None)

    def translate(self) -> Translation:
        name, rest, at = self._command_name()
        self.name = name
        family, link = COMMANDS[name]
        pieces = split_top_level(rest, "||", at)
        if not pieces[0][0].strip():
            raise self.error(f"{name} needs a dependent variable")
        response, fixed, intercept = self._fixed(*pieces[0])
        groups, path = [], []
        for text, offset in pieces[1:]:
            groups += self._level(text, offset, path)
        if self.trials is not None:
            family, response = "binomial", f"{response} | trials({self.trials})"
        rhs = join_terms([t.text for t in fixed], intercept)
        formula = " + ".join([f"{response} ~ {rhs}", *groups])
        return Translation(formula, family, link, self.dpars, tuple(self.notes), self.source)

    def _command_name(self) -> tuple[str, str, int]:
        text, at = self.source, 0
        prefix = re.match(r"bayes\s*(,[^:]*)?:\s*", text)
        if prefix:
            if prefix[1]:
                raise self.error(
                    f"the bayes options '{prefix[1][1:].strip()}' are not translated: write "
                    "the priors as priors= statements",
                    prefix[1],
                )
            self.notes.append(
                "'bayes:' read: Stata's default priors are not copied; multilevel's defaults "
                "apply unless priors= says otherwise"
            )
            at = prefix.end()
        match = re.match(r"([A-Za-z_]\w*)\s*", text[at:])
        name = match[1].lower() if match else ""
        if name not in COMMANDS:
            raise self.error(
                f"'{name or text}' is not a command that translates; supported: "
                f"{', '.join(COMMANDS)}",
                name or None,
            )
        return name, text[at + match.end() :], at + match.end()

    def _fixed(self, text: str, offset: int) -> tuple[str, list[Term], bool]:
        body, options = self._body_and_options(text, offset)
        self._check_qualifiers(body)
        tokens = body.split()
        response = tokens[0]
        if not re.fullmatch(r"[A-Za-z_]\w*", response):
            raise self.error(
                f"the dependent variable '{response}' must be a plain variable", response
            )
        check_column(self.data, response, f"{self.name}'s dependent variable")
        terms = Varlist(self.source, self.data).terms(body[len(response) :])
        intercept = True
        for option in options:
            role = self._option(option)
            if role == "noconstant":
                intercept = False
            elif role == "covariance":
                raise self.error(
                    f"'{option.text}' belongs to a random-effects equation (after 'level:')",
                    option.text,
                )
        return response, self._fixed_terms(terms, intercept), intercept

    def _fixed_terms(self, terms: list[Term], intercept: bool) -> list[Term]:
        if COMMANDS[self.name][0] == "cumulative" and not intercept:
            raise self.error(f"{self.name} has cutpoints in place of a constant: drop noconstant")
        spans = any(t.every_level for t in terms)  # an ibn. factor stands in for the constant
        for term in terms:
            if term.every_level and intercept:
                raise self.error(
                    f"'{term.token}' keeps every level, which the constant makes collinear: "
                    "add noconstant",
                    term.token,
                )
            if term.omits_base and not intercept and not spans:
                raise self.error(
                    f"without a constant Stata still leaves out the base level of "
                    f"'{term.token}', a model the formula cannot state: write ibn. for a "
                    "coefficient per level, or drop noconstant",
                    term.token,
                )
        return sorted(terms, key=lambda t: not t.every_level)

    def _level(self, text: str, offset: int, path: list[str]) -> list[str]:
        body, options = self._body_and_options(text, offset)
        self._check_qualifiers(body)
        level, colon, varlist = body.partition(":")
        level = level.strip()
        if not colon or not re.fullmatch(r"[A-Za-z_]\w*", level):
            raise self.error(
                f"a random-effects equation is 'level: [variables]', got '{body.strip()}'",
                body.strip() or None,
            )
        if level != "_all":
            check_column(self.data, level, f"the level '{level}:'")
            if not path or path[-1] != level:  # a repeated level adds a block to that level
                path.append(level)
        intercept, covariance, written = True, None, ""
        for option in options:
            role = self._option(option)
            if role == "noconstant":
                intercept = False
            elif role == "covariance":
                covariance, written = self._covariance(option), option.text
        factor = ":".join(path) if level != "_all" else ""
        factor_terms = re.fullmatch(r"\s*[Rr]\.([A-Za-z_]\w*)\s*", varlist)
        if factor_terms:
            return [self._factor_level(factor, factor_terms[1], intercept, covariance, body)]
        if any(token[:2] in ("R.", "r.") for token in varlist.split()):
            raise self.error(f"'R.x' must be alone in its equation: '{body.strip()}'", body.strip())
        if not factor:
            raise self.error("the level '_all:' takes one factor, as '_all: R.x'", body.strip())
        terms = [t.text for t in Varlist(self.source, self.data).terms(varlist)]
        if not terms and not intercept:
            raise self.error(f"the level '{level}:' has no random effects left after noconstant")
        effects = len(terms) + intercept
        if covariance in ("identity", "exchangeable") and effects > 1:
            names = ", ".join([*terms, *(["_cons"] if intercept else [])])
            shared = "one variance" + (
                " and one covariance" if covariance == "exchangeable" else ""
            )
            raise self.error(
                f"'{written}' ({covariance}) gives the {effects} random effects of '{level}' "
                f"({names}) {shared}, which the formula language cannot state; use "
                "covariance(independent) (||) or covariance(unstructured) (|)",
                written,
            )
        return [group_term(terms, intercept, factor, covariance == "unstructured")]

    def _factor_level(
        self, factor: str, name: str, intercept: bool, covariance: str | None, body: str
    ) -> str:
        """`level: R.x`: an effect per level of x within each level (identity: one variance,
        `(1 | level:x)`); independent or unstructured give each level of x its own."""
        column = check_column(self.data, name, f"'R.{name}'")
        if not intercept:
            raise self.error(f"'R.{name}' has no constant to remove: drop noconstant", "R.")
        if covariance in (None, "identity"):
            return f"(1 | {factor + ':' if factor else ''}{name})"
        if covariance == "exchangeable" or not factor:
            raise self.error(
                f"'R.{name}' with covariance({covariance}) has no counterpart in the formula "
                "language; the default, covariance(identity), is (1 | level:x)",
                body.strip(),
            )
        bar = "|" if covariance == "unstructured" else "||"  # one term, a column per level
        return f"(0 + {categorical(name, column)} {bar} {factor})"

    def _body_and_options(self, text: str, offset: int) -> tuple[str, list[Option]]:
        body, *rest = split_top_level(text, ",", offset)
        if not rest:
            return text, []
        at = len(body[0]) + 1
        return body[0], read_options(text[at:], offset + at, self.source)

    def _check_qualifiers(self, body: str) -> None:
        qualifier = re.search(r"(?:^|\s)((?:if|in)\s.*|\[.*)", body)
        if qualifier:
            text = qualifier[1].strip()
            why = (
                "weights are not supported"
                if text.startswith("[")
                else "if/in qualifiers are not translated; select the rows in the data frame first"
            )
            raise self.error(f"'{text}': {why}", text)

    def _option(self, option: Option) -> str:
        """Act on a command-wide option; return the role of a level's own."""
        rule = rule_of(option, self.name, self.source)
        if rule.role == "ignored":
            self.notes.append(f"'{option.text}' ignored: {rule.reason}")
        elif rule.role == "residuals":
            self._residuals(option)
        elif rule.role == "binomial":
            self._binomial(option)
        elif rule.role == "dispersion":
            self._dispersion(option)
        elif rule.role == "vce":
            self._vce(option)
        return rule.role

    def _covariance(self, option: Option) -> str:
        value = keyword(option.args or "", COVARIANCES)
        if value is None:
            raise self.error(
                f"'{option.text}': the covariance is one of {', '.join(COVARIANCES)}",
                option.text,
            )
        return value

    def _residuals(self, option: Option) -> None:
        kind, _, rest = (option.args or "").partition(",")
        if keyword(kind, {"independent": 3}) is None:
            raise self.error(
                f"'{option.text}' is not supported: residuals are independent here; "
                "residuals(independent, by(var)) gives a residual sd per level of var",
                option.text,
            )
        for sub in read_options(rest, option.position, self.source):
            if sub.name == "by" and sub.args and sub.args.strip():
                by = sub.args.strip()
                formula, note = by_formula(by, check_column(self.data, by, f"'{option.text}'"))
                self.dpars["sigma"] = formula
                self.notes += [note] if note else []
            elif sub.name == "t" and sub.args:
                self.notes.append(f"'{sub.text}' ignored: independent residuals have no order")
            else:
                raise self.error(f"'{sub.text}' in '{option.text}' is not supported", option.text)

    def _binomial(self, option: Option) -> None:
        trials = (option.args or "").strip()
        if re.fullmatch(r"[A-Za-z_]\w*", trials):
            check_column(self.data, trials, f"'{option.text}'")
        elif not re.fullmatch(r"\d+", trials):
            raise self.error(
                f"'{option.text}' takes a variable or a whole number of trials", option.text
            )
        self.trials = trials

    def _dispersion(self, option: Option) -> None:
        if keyword(option.args or "", {"mean": 1}) is None:
            raise self.error(
                f"'{option.text}' is not supported: negbinomial's variance is mu + mu^2/shape, "
                "Stata's dispersion(mean)",
                option.text,
            )

    def _vce(self, option: Option) -> None:
        if keyword(option.args or "", {"oim": 1, "opg": 3}) is None:
            raise self.error(
                f"'{option.text}' is not supported: robust or clustered standard errors have no "
                "Bayesian counterpart",
                option.text,
            )
        self.notes.append(f"'{option.text}' ignored: the posterior gives the uncertainty")
