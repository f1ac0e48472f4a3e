"""Complete, no and partial pooling of one grouping factor, fitted and shown side by side.

The classic teaching picture (Gelman & Hill ch. 12; McElreath ch. 13): one coefficient per
level estimated from that level's rows alone (no pooling), one for all levels (complete
pooling), and the multilevel model's compromise (partial pooling), which pulls each level
towards the population value, the more so the less data the level has.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._api import FIT_KEYWORDS, Model
from ._errors import DataError, ModelError, did_you_mean
from .design import GroupDesign, brms_name
from .families import get_family
from .formula import GroupTerm, formula_names, parse_dpar_formula, parse_formula
from .model import fixed_name
from .model._layout import model_slots
from .priors import PriorSpec, parse_prior
from .results import Fit

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Pooling", "pooling"]

#: The three models, in the order the table and the plots show them.
POOLINGS = ("none", "partial", "complete")
LABELS = {"none": "no pooling", "partial": "partial pooling", "complete": "complete pooling"}
#: The prior of every per-level coefficient of the no-pooling model of a non-Gaussian
#: family (on the link scale), unless the user gives one for class b: a level whose
#: responses are all 0 (or all 1) has no finite estimate, and flat priors would leave its
#: posterior improper.
NO_POOLING_PRIOR = "b ~ normal(0, 10)"
FLAT_FAMILIES = ("gaussian", "student")
#: Refuse a no-pooling design of more cells than this (rows x per-level columns, dense).
MAX_CELLS = 10_000_000


@dataclass(frozen=True, eq=False)
class Pooling:
    """Complete, no and partial pooling of one grouping factor: what `pooling` returns.

    `table` has one row per level x coefficient x pooling: `level`, `coef`, `pooling`
    ("none", "partial", "complete"), `estimate` (posterior mean), `sd`, the central interval
    (`q2.5`, `q97.5` for prob=0.95) and `n`, the level's number of rows. `fits` holds the
    three `Fit`s by the same keys, `formulas` the formula each was fitted with.
    """

    group: str
    table: pd.DataFrame
    fits: dict[str, Fit]
    formulas: dict[str, str]

    @property
    def coefs(self) -> tuple[str, ...]:
        """The group term's coefficients, e.g. `("Intercept", "Days")`."""
        return tuple(dict.fromkeys(self.table["coef"]))

    def estimates(self, coef: str) -> pd.DataFrame:
        """One coefficient's posterior means: levels x ("none", "partial", "complete").

        Example:
            >>> result.estimates("Days").head(3)  # doctest: +SKIP
        """
        if coef not in self.coefs:
            raise ModelError(
                f"'{coef}' is not a coefficient of the group terms of '{self.group}'"
                f"{did_you_mean(coef, self.coefs)}; they are {', '.join(self.coefs)}"
            )
        rows = self.table[self.table["coef"] == coef]
        wide = rows.pivot(index="level", columns="pooling", values="estimate")
        return wide.loc[list(dict.fromkeys(rows["level"])), list(POOLINGS)]

    def plot(self, coefs: Sequence[str] | None = None, scatter: bool | None = None) -> Figure:
        """One panel per coefficient: the levels, ordered by their no-pooling estimate, with
        an arrow from each no-pooling estimate to its partial-pooling one and a line at the
        complete-pooling estimate. `scatter` (default: when two coefficients are shown) adds
        the classic panel of the first coefficient against the second, arrows likewise.

        Example:
            >>> result.plot().savefig("pooling.png")  # doctest: +SKIP
        """
        chosen = list(self.coefs if coefs is None else [coefs] if isinstance(coefs, str) else coefs)
        for coef in chosen:
            self.estimates(coef)  # names the valid coefficients when one is not
        if not chosen:
            raise ModelError(f"coefs is empty; choose from {', '.join(self.coefs)}")
        return _plot(self, chosen, len(chosen) == 2 if scatter is None else scatter)

    def __repr__(self) -> str:
        levels = self.table["level"].nunique()
        return (
            f"<multilevel.Pooling of '{self.group}' ({levels} levels; "
            f"{', '.join(self.coefs)}): {self.formulas['partial']!r}>"
        )


def pooling(
    formula: str,
    data: Any,
    group: str,
    family: str = "gaussian",
    priors: Sequence[str | PriorSpec] | None = None,
    na_action: str = "error",
    link: str | None = None,
    prob: float = 0.95,
    **keywords: Any,
) -> Pooling:
    """Fit complete, no and partial pooling of `group` and put their estimates side by side.

    - partial pooling: `formula` as given (`Reaction ~ Days + (Days | Subject)`);
    - complete pooling: `formula` without the group terms of `group` (`Reaction ~ Days`);
    - no pooling: every level its own coefficients, the group terms' columns times the
      level's indicator as fixed effects (brms's `Reaction ~ 0 + Subject + Subject:Days`,
      with parameters `b_Subject308`, `b_Subject308:Days`, ...). Fixed columns that the
      per-level ones already span (`Days`, the intercept, a predictor constant within
      levels) are left out; others stay common to all levels.

    Partial-pooling estimates of a level are the population coefficient plus the level's
    effect (`b_Days + r_Subject[308,Days]`), draw by draw; a coefficient the formula has no
    fixed term for has complete-pooling value 0. Other group terms and distributional
    formulas (`sigma="~ x"`) are kept in all three models. Priors are those of `formula`;
    a statement that names a parameter a model lacks (`sd_Subject` without pooling) is left
    out of that model. The per-level coefficients of the no-pooling model have brms's flat
    prior in gaussian and student models (a gaussian posterior mean is then each level's
    least-squares estimate); in other families `b ~ normal(0, 10)` on the link scale,
    unless `priors` has a statement for class `b`: a level with only 0s (or only 1s) has no
    finite estimate, and flat priors would leave its posterior improper.

    Args:
        formula: the partial-pooling formula, with at least one group term of `group`.
        data: the data, as for `Model`; all three models are fitted to the same rows.
        group: the grouping factor to compare, as written in the formula (`"Subject"`,
            `"school:class"`).
        family, priors, na_action, link: as for `Model`.
        prob: the probability of the central intervals in `table`.
        **keywords: fitting options (`chains`, `warmup`, `draws`, `seed`, ...; one seed for
            all three fits) and distributional formulas (`sigma="~ x"`), as for `ml.fit`.

    Example:
        >>> import pandas as pd
        >>> from multilevel._pooling import pooling
        >>> df = pd.read_csv("tests/data/sleepstudy.csv")
        >>> result = pooling("Reaction ~ Days + (Days | Subject)", df, group="Subject",
        ...                  chains=2, warmup=300, draws=300, seed=1)  # doctest: +SKIP
        >>> result.estimates("Days").head(3)  # doctest: +SKIP
        >>> result.plot()  # doctest: +SKIP
    """
    if not 0 < prob < 1:
        raise ModelError(f"prob must be between 0 and 1, got {prob!r}")
    fit_keywords = {k: keywords.pop(k) for k in FIT_KEYWORDS if k in keywords}
    if fit_keywords.get("seed") is None:
        fit_keywords["seed"] = int(np.random.SeedSequence().generate_state(1)[0])
    _check_group(formula, group, keywords)
    if get_family(family, link).ordinal:
        raise ModelError(
            f"pooling does not take the {family} family: its thresholds stand in for the "
            "intercept, so per-level intercepts have no scale without pooling; compare "
            "pooling on a gaussian fit of the same response"
        )
    options = {"family": family, "na_action": na_action, "link": link, **keywords}
    user = [p if isinstance(p, PriorSpec) else parse_prior(p) for p in _as_list(priors)]
    partial = Model(formula, data, priors=user, **options)
    design = partial._compiled.design
    cells = _level_cells(design.dpars["mu"].groups, group)
    none_formula, none_frame = _no_pooling(formula, design, group, cells)
    formulas = {
        "none": none_formula,
        "partial": formula,
        "complete": _formula_without(formula, group),
    }
    flat = get_family(family, link).name in FLAT_FAMILIES
    default = [] if flat else _no_pooling_priors(user, cells)
    models = {
        "none": _model(none_formula, none_frame, user, default, options),
        "partial": partial,
        "complete": _model(formulas["complete"], design.frame, user, [], options),
    }
    fits = {name: _fit(models[name], fit_keywords) for name in POOLINGS}
    table = _table(fits, group, cells, prob)
    return Pooling(group, table, fits, formulas)


# --- Checks ---------------------------------------------------------------------------


def _check_group(formula: str, group: Any, dpars: dict[str, Any]) -> None:
    spec = parse_formula(formula)
    factors = list(dict.fromkeys(t.group for t in spec.mu.groups))
    if not factors:
        raise ModelError(
            f"the formula '{formula}' has no group terms, so there is nothing to pool; "
            "write the partial-pooling model, e.g. 'y ~ x + (x | g)', and group='g'"
        )
    if isinstance(group, str) and group in factors:
        return
    elsewhere = [
        name
        for name, text in dpars.items()
        if any(t.group == group for t in parse_dpar_formula(name, text).groups)
    ]
    where = f" (it has group terms only in the formula for {', '.join(elsewhere)})"
    raise ModelError(
        f"group={group!r} is not the grouping factor of a group term of the mean in "
        f"'{formula}'{where if elsewhere else ''}{did_you_mean(str(group), factors)}; "
        f"valid: {', '.join(repr(f) for f in factors)}"
    )


def _as_list(priors: Sequence[str | PriorSpec] | str | PriorSpec | None) -> list:
    if priors is None:
        return []
    return [priors] if isinstance(priors, str | PriorSpec) else list(priors)


# --- The no-pooling design --------------------------------------------------------------


@dataclass(frozen=True)
class _Cell:
    """One per-level coefficient: its level, coefficient and column of the no-pooling model."""

    level: str
    coef: str
    column: str
    values: np.ndarray = dataclasses.field(repr=False)
    rows: np.ndarray = dataclasses.field(repr=False)


def _level_cells(terms: Sequence[GroupDesign], group: str) -> list[_Cell]:
    """The group terms' columns times each level's indicator, named as brms names the
    columns of `0 + Subject + Subject:Days` (`Subject308`, `Subject308:Days`)."""
    cells = []
    for term in (t for t in terms if t.group == group):
        for k, coef in enumerate(term.coefs):
            for j, level in enumerate(term.levels):
                rows = term.index == j
                column = f"{group}{level}" if coef == "Intercept" else f"{group}{level}:{coef}"
                cells.append(_Cell(level, coef, column, np.where(rows, term.z[:, k], 0.0), rows))
    _check_identified(cells, group)
    return cells


def _check_identified(cells: list[_Cell], group: str) -> None:
    """Every level must determine its own coefficients from its rows alone."""
    n_rows = len(cells[0].values)
    if n_rows * len(cells) > MAX_CELLS:
        raise ModelError(
            f"no pooling of '{group}' takes {len(cells)} coefficients on {n_rows} rows, too "
            "many for a dense design; pooling is meant for a view of a few dozen levels: "
            "fit a subset of the levels"
        )
    bad = []
    for level, group_cells in _by_level(cells).items():
        rows = np.any([c.rows for c in group_cells], axis=0)
        block = np.column_stack([c.values[rows] for c in group_cells])
        if np.linalg.matrix_rank(block) < block.shape[1]:
            bad.append(f"'{level}' ({', '.join(c.coef for c in group_cells)}; {rows.sum()} row(s))")
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise DataError(
            f"without pooling, level(s) {shown} of '{group}' cannot estimate their own "
            "coefficients from their rows alone (a slope needs two distinct values within "
            "the level); drop those levels from the data to compare pooling"
        )


def _by_level(cells: list[_Cell]) -> dict[str, list[_Cell]]:
    out: dict[str, list[_Cell]] = {}
    for c in cells:
        out.setdefault(c.level, []).append(c)
    return out


def _kept_fixed(design, cells: list[_Cell]) -> tuple[bool, list[tuple[str, np.ndarray]]]:
    """The fixed columns (intercept first) that the per-level columns do not span, each
    kept only if it adds a direction the earlier kept ones lack: (intercept?, columns)."""
    fixed = design.dpars["mu"].fixed
    columns = [("Intercept", np.ones(design.n_rows))] if fixed.has_intercept else []
    columns += list(zip(fixed.names, fixed.matrix.T, strict=True))
    if not columns:
        return False, []
    residual = _residual_on_levels(np.column_stack([v for _, v in columns]), cells)
    basis: list[np.ndarray] = []
    kept = []
    for (name, values), r in zip(columns, residual.T, strict=True):
        for q in basis:
            r = r - q * (q @ r)
        if np.linalg.norm(r) > 1e-8 * max(np.linalg.norm(values), 1e-300):
            basis.append(r / np.linalg.norm(r))
            kept.append((name, values))
    intercept = bool(kept) and kept[0][0] == "Intercept" and fixed.has_intercept
    return intercept, kept[1:] if intercept else kept


def _residual_on_levels(x: np.ndarray, cells: list[_Cell]) -> np.ndarray:
    """x minus its least-squares fit on the per-level columns, level by level (the
    per-level columns of different levels have no row in common)."""
    out = x.copy()
    for group_cells in _by_level(cells).values():
        rows = np.any([c.rows for c in group_cells], axis=0)
        z = np.column_stack([c.values[rows] for c in group_cells])
        coef, *_ = np.linalg.lstsq(z, x[rows], rcond=None)
        out[rows] -= z @ coef
    return out


def _no_pooling(formula: str, design, group: str, cells: list[_Cell]) -> tuple[str, pd.DataFrame]:
    """The no-pooling formula and its data: the kept fixed columns and the per-level ones,
    named in backticks, beside the columns the rest of the model reads."""
    intercept, fixed = _kept_fixed(design, cells)
    terms = ["1" if intercept else "0"]
    terms += [f"`{name}`" for name, _ in fixed] + [f"`{c.column}`" for c in cells]
    terms += [_term_text(t) for t in _other_terms(formula, group)]
    read = _columns_read(formula, design, group)
    kept = design.frame[[c for c in design.frame.columns if str(c) in read]]
    new = {name: values for name, values in fixed} | {c.column: c.values for c in cells}
    for name in set(new) & set(map(str, kept.columns)):
        values = pd.to_numeric(kept[name], errors="coerce").to_numpy(dtype=float)
        if not np.array_equal(values, new.pop(name)):
            raise DataError(
                f"the no-pooling model needs a column '{name}', a name the data already uses "
                "for other values; rename that data column"
            )
    frame = pd.concat([kept.reset_index(drop=True), pd.DataFrame(new)], axis=1)
    return f"{_lhs(formula)} ~ {' + '.join(terms)}", frame


def _columns_read(formula: str, design, group: str) -> set[str]:
    """The columns that the response, the other group terms of the mean and the
    distributional formulas read."""
    names = formula_names(_lhs(formula))
    terms = _other_terms(formula, group)
    for dpar, linear in design.formula.dpars.items():
        if dpar != "mu":
            names |= formula_names(linear.fixed)
            terms += linear.groups
    for t in terms:
        names |= formula_names(t.terms) | set(t.factor)
    return names


def _no_pooling_priors(user: list[PriorSpec], cells: list[_Cell]) -> list[PriorSpec]:
    if any(p.target == "b" for p in user):
        return []
    named = {p.target for p in user}
    base = parse_prior(NO_POOLING_PRIOR)
    return [
        dataclasses.replace(base, target=name, text="")
        for c in cells
        if (name := fixed_name("mu", brms_name(c.column))) not in named
    ]


# --- Formulas -------------------------------------------------------------------------


def _lhs(formula: str) -> str:
    return formula.split("~", 1)[0].strip()


def _other_terms(formula: str, group: str) -> list[GroupTerm]:
    return [t for t in parse_formula(formula).mu.groups if t.group != group]


def _term_text(term: GroupTerm) -> str:
    bar = f"|{term.link}|" if term.link else "|" if term.correlated else "||"
    return f"({term.terms} {bar} {term.group})"


def _formula_without(formula: str, group: str) -> str:
    """The formula of the mean without the group terms of `group`."""
    fixed = parse_formula(formula).mu.fixed
    others = [_term_text(t) for t in _other_terms(formula, group)]
    return f"{_lhs(formula)} ~ {' + '.join([fixed, *others])}"


def _model(
    formula: str,
    frame: pd.DataFrame,
    user: list[PriorSpec],
    extra: list[PriorSpec],
    options: dict[str, Any],
) -> Model:
    """A Model with the user's priors that name its parameters, plus `extra`."""
    bare = Model(formula, frame, **options)
    design, family = bare._compiled.design, bare._compiled.family
    reach = {lhs for s in model_slots(design, family) for lhs, _ in s.selectors}
    priors = [p for p in user if p.target in reach] + extra
    return Model(formula, frame, priors=priors, **options) if priors else bare


def _fit(model: Model, keywords: dict[str, Any]) -> Fit:
    """Fit with the user's options; a model left without group terms takes the engine
    that `auto` picks where `marginal` was asked for (there is nothing to integrate out)."""
    if keywords.get("engine") == "marginal" and not model._compiled.design.groups:
        keywords = {**keywords, "engine": "auto"}
    return model.fit(**keywords)


# --- The table ------------------------------------------------------------------------


def _table(fits: dict[str, Fit], group: str, cells: list[_Cell], prob: float) -> pd.DataFrame:
    lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
    rows = []
    counts = {
        lvl: int(np.any([c.rows for c in cs], axis=0).sum()) for lvl, cs in _by_level(cells).items()
    }
    for cell in cells:
        draws = {name: _draws(fits[name], name, group, cell) for name in POOLINGS}
        for name in POOLINGS:
            d = draws[name]
            rows.append(
                {
                    "level": cell.level,
                    "coef": cell.coef,
                    "pooling": name,
                    "estimate": d.mean(),
                    "sd": d.std(ddof=1),
                    f"q{100 * lo:g}": np.quantile(d, lo),
                    f"q{100 * hi:g}": np.quantile(d, hi),
                    "n": counts[cell.level],
                }
            )
    return pd.DataFrame(rows)


def _draws(fit: Fit, pooling: str, group: str, cell: _Cell) -> np.ndarray:
    """The cell's coefficient, draw by draw, in one of the three fits."""
    posterior = fit.idata.posterior
    if pooling == "none":
        return _flat(posterior[fixed_name("mu", brms_name(cell.column))])
    b = fixed_name("mu", cell.coef)
    population = _flat(posterior[b]) if b in posterior else np.zeros(_n_draws(posterior))
    if pooling == "complete":
        return population
    effects = next(e for e in fit._model.effects if e.dpar == "mu" and e.group == group)
    r = posterior[effects.name].values[
        :, :, effects.levels.index(cell.level), effects.coefs.index(cell.coef)
    ]
    return population + r.ravel()


def _flat(var) -> np.ndarray:
    return np.asarray(var.values).ravel()


def _n_draws(posterior) -> int:
    return posterior.sizes["chain"] * posterior.sizes["draw"]


# --- The plot -------------------------------------------------------------------------


def _plot(result: Pooling, coefs: list[str], scatter: bool) -> Figure:
    from matplotlib.figure import Figure

    n_levels = result.table["level"].nunique()
    panels = len(coefs) + (1 if scatter else 0)
    fig = Figure(figsize=(4.2 * panels, max(3.5, 0.24 * n_levels + 1.5)), layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    for ax, coef in zip(axes, coefs, strict=False):
        _coef_panel(ax, result.estimates(coef), coef, result.group)
    if scatter:
        if len(coefs) < 2:
            raise ModelError("scatter=True needs two coefficients, e.g. coefs=['Intercept', 'x']")
        _scatter_panel(axes[-1], result.estimates(coefs[0]), result.estimates(coefs[1]), coefs)
    axes[0].legend(loc="best", fontsize="small")
    fig.suptitle(f"Pooling of {result.group}: no pooling -> partial pooling")
    return fig


_STYLE = {
    "none": {"facecolors": "none", "edgecolors": "C0", "label": LABELS["none"]},
    "partial": {"color": "C1", "label": LABELS["partial"]},
}
_ARROW = {"arrowstyle": "->", "color": "0.45", "lw": 0.8, "shrinkA": 0, "shrinkB": 3}


def _coef_panel(ax, est: pd.DataFrame, coef: str, group: str) -> None:
    est = est.sort_values("none")
    y = np.arange(len(est))
    ax.axvline(est["complete"].iloc[0], color="C2", ls="--", label=LABELS["complete"])
    ax.scatter(est["none"], y, zorder=3, **_STYLE["none"])
    ax.scatter(est["partial"], y, zorder=3, **_STYLE["partial"])
    for yi, a, b in zip(y, est["none"], est["partial"], strict=True):
        ax.annotate("", xy=(b, yi), xytext=(a, yi), arrowprops=_ARROW)
    ax.set_yticks(y, [str(v) for v in est.index])
    ax.set_xlabel(coef)
    ax.set_ylabel(f"{group} (ordered by the no-pooling estimate)")
    ax.set_title(coef)


def _scatter_panel(ax, first: pd.DataFrame, second: pd.DataFrame, coefs: list[str]) -> None:
    ax.scatter(first["none"], second["none"], zorder=3, **_STYLE["none"])
    ax.scatter(first["partial"], second["partial"], zorder=3, **_STYLE["partial"])
    for x0, y0, x1, y1 in zip(
        first["none"], second["none"], first["partial"], second["partial"], strict=True
    ):
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=_ARROW)
    ax.scatter(
        first["complete"].iloc[:1],
        second["complete"].iloc[:1],
        marker="X",
        s=90,
        color="C2",
        zorder=4,
        label=LABELS["complete"],
    )
    ax.set_xlabel(coefs[0])
    ax.set_ylabel(coefs[1])
    ax.set_title(f"{coefs[0]} and {coefs[1]}")
