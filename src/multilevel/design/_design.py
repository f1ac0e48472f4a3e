"""The spec plus data: numeric arrays for every distributional parameter."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError, ModelError
from ..formula import ModelFormula, formula_names
from ._data import MissingReport, as_frame, handle_missing, require_columns
from ._fixed import FixedDesign, encode, fixed_design, spec_variables
from ._groups import GroupDesign, group_design, rows_missing_group

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class DparDesign:
    """The linear predictor of one distributional parameter on the data."""

    name: str
    fixed: FixedDesign
    groups: tuple[GroupDesign, ...]


@dataclass(frozen=True)
class Link:
    """Group terms of one factor whose effects are correlated across formulas (brms's
    `(1 |p| subject)` in the formulas of mu and sigma, say): one joint normal over all
    their coefficients.

    `terms` are design term indices (design order), `columns` each term's slice of the joint
    coefficients, `codes` the factor's levels (full-factor codes) over every term of the
    factor in the model, and `positions` each term's levels within `codes`.
    """

    id: str
    terms: tuple[int, ...]
    columns: tuple[slice, ...]
    codes: np.ndarray
    positions: tuple[np.ndarray, ...]

    @property
    def n_coefs(self) -> int:
        return self.columns[-1].stop


@dataclass(frozen=True)
class Design:
    """Everything numeric the later stages need, and the state to encode new data."""

    formula: ModelFormula
    response_name: str
    response: pd.Series
    dpars: dict[str, DparDesign]
    n_rows: int
    missing: MissingReport
    frame: pd.DataFrame
    #: The response addition terms' values (`y | trials(n)`: {"trials": n}).
    additions: dict[str, pd.Series] = field(default_factory=dict)
    links: tuple[Link, ...] = ()

    @property
    def groups(self) -> tuple[GroupDesign, ...]:
        return tuple(g for d in self.dpars.values() for g in d.groups)

    def predictor_columns(self) -> list[str]:
        """The data columns the fixed and group terms of every distributional parameter
        read (grouping factors aside), in the data's order."""
        names: set[str] = set()
        for d in self.dpars.values():
            names |= spec_variables(d.fixed.spec)
            for g in d.groups:
                names |= spec_variables(g.spec)
        return [str(c) for c in self.frame.columns if str(c) in names]

    def link_of(self, term: int) -> Link | None:
        """The set of correlated terms that `term` belongs to, if it shares an id."""
        return next((link for link in self.links if term in link.terms), None)


def build_design(formula: ModelFormula, data: Any, na_action: str = "error") -> Design:
    """Check the data against the formula and encode it.

    Example:
        >>> from multilevel.formula import parse_formula
        >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "g": list("aabbcc")})
        >>> d = build_design(parse_formula("y ~ 1 + (1 | g)"), df)
        >>> d.n_rows, d.groups[0].levels
        (6, ('a', 'b', 'c'))
    """
    frame = as_frame(data)
    factor_columns = {c for d in formula.dpars.values() for g in d.groups for c in g.factor}
    require_columns(frame, sorted(factor_columns), "grouping factor")
    if _IDENTIFIER.match(formula.response):
        require_columns(frame, [formula.response], "response")
    for name, expr in formula.additions.items():
        if _IDENTIFIER.match(expr):
            require_columns(frame, [expr], f"{name}() term")
    # Grouping columns are checked by group_design: a missing group can be allowed.
    values = _predictor_names(formula) | formula_names(formula.response)
    for expr in formula.additions.values():
        values |= formula_names(expr)
    used = {c for c in frame.columns if str(c) in values}
    frame, missing = handle_missing(frame, sorted(used), na_action)
    if na_action == "drop":
        frame, missing = _drop_rows_without_group(formula, frame, missing)
    if frame.shape[0] < 2:
        raise DataError(f"the data has {frame.shape[0]} row; a model needs at least 2")
    response = _response(formula.response, frame)
    additions = {name: _addition(expr, frame) for name, expr in formula.additions.items()}
    dpars = {}
    for name, linear in formula.dpars.items():
        context = "the fixed terms" if name == "mu" else f"the formula for {name}"
        fixed = fixed_design(linear.fixed, frame, context)
        groups = tuple(group_design(term, name, frame) for term in linear.groups)
        _check_duplicate_coefs(groups)
        dpars[name] = DparDesign(name, fixed, groups)
    return Design(
        formula=formula,
        response_name=formula.response,
        response=response,
        dpars=dpars,
        n_rows=len(frame),
        missing=missing,
        frame=frame,
        additions=additions,
        links=_links(tuple(g for d in dpars.values() for g in d.groups)),
    )


def _links(groups: tuple[GroupDesign, ...]) -> tuple[Link, ...]:
    """The sets of terms sharing a correlation id, each over the levels of its factor."""
    by_id: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        if g.term.link is not None:
            by_id.setdefault(g.term.link, []).append(i)
    links = []
    for link_id, terms in by_id.items():
        first = groups[terms[0]]
        for t in terms[1:]:
            if groups[t].group != first.group:
                raise ModelError(
                    f"the group terms {first.term.source} and {groups[t].term.source} share "
                    f"the correlation id '{link_id}' but not their grouping factor "
                    f"('{first.group}' vs '{groups[t].group}'); terms linked by an id must "
                    "have the same factor: use another id for the second"
                )
        if len(terms) < 2:
            continue
        codes = np.unique(np.concatenate([g.level_codes for g in groups if g.group == first.group]))
        sizes = np.cumsum([0] + [len(groups[t].coefs) for t in terms])
        links.append(
            Link(
                link_id,
                tuple(terms),
                tuple(slice(a, b) for a, b in itertools.pairwise(sizes)),
                codes,
                tuple(np.searchsorted(codes, groups[t].level_codes) for t in terms),
            )
        )
    return tuple(links)


def _addition(expr: str, frame: pd.DataFrame) -> pd.Series:
    """A response addition term's values: a column, an expression, or a number."""
    try:
        return pd.Series(np.full(len(frame), float(expr)), name=expr)
    except ValueError:
        return _response(expr, frame)


def _drop_rows_without_group(
    formula: ModelFormula, frame: pd.DataFrame, missing: MissingReport
) -> tuple[pd.DataFrame, MissingReport]:
    drop = np.zeros(len(frame), dtype=bool)
    columns = list(missing.columns)
    for linear in formula.dpars.values():
        for term in linear.groups:
            hit = rows_missing_group(term, frame)
            if hit.any():
                drop |= hit
                columns += [c for c in term.factor if c not in columns]
    if not drop.any():
        return frame, missing
    kept = frame.loc[~drop].reset_index(drop=True)
    return kept, MissingReport(missing.rows + int(drop.sum()), tuple(columns))


def _predictor_names(formula: ModelFormula) -> set[str]:
    names = set()
    for d in formula.dpars.values():
        names |= formula_names(d.fixed)
        for g in d.groups:
            names |= formula_names(g.terms)
    return names


def _response(expr: str, frame: pd.DataFrame) -> pd.Series:
    if expr in frame.columns:
        return frame[expr]
    enc = encode(f"0 + {expr}", frame, "the response")
    if enc.matrix.shape[1] != 1:
        raise DataError(f"the response '{expr}' must give one column, got {len(enc.columns)}")
    return pd.Series(enc.matrix[:, 0], name=expr)


def _check_duplicate_coefs(groups: tuple[GroupDesign, ...]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for g in groups:
        for coef in g.coefs:
            key = (g.group, coef)
            if key in seen:
                raise ModelError(
                    f"'{coef}' varies by '{g.group}' twice: in {seen[key]} and in "
                    f"{g.term.source}; remove one of them"
                )
            seen[key] = g.term.source
