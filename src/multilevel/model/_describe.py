"""The model in statistical notation, with the data's sizes and the priors."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..design import GroupDesign
from ..families._responses import ordinal_levels
from ..priors import AssignedPrior
from ._compiled import CompiledModel
from ._engine import choose_engine
from ._layout import cor_name, fixed_name, sd_name

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def priors_table(model: CompiledModel) -> pd.DataFrame:
    """One row per prior slot: what it is on, its distribution and where it came from."""
    rows = []
    for a in model.priors:
        s = a.slot
        rows.append(
            {
                "parameter": _prior_target(a),
                "class": s.cls,
                "group": s.group or "",
                "coef": s.coef or "",
                "dpar": "" if s.dpar in ("mu", s.cls) else s.dpar,
                "prior": a.spec.describe(),
                "bounds": _bounds(a),
                "source": "user" if a.source == "user" else "default",
                "statement": a.spec.text,
            }
        )
    return pd.DataFrame(rows).set_index("parameter")


def _prior_target(a: AssignedPrior) -> str:
    if a.slot.cls == "Intercept" and a.original_scale:
        return fixed_name(a.slot.dpar, "Intercept")
    return a.slot.name


def _bounds(a: AssignedPrior) -> str:
    if (np.isinf(a.lower) and np.isinf(a.upper)) or a.slot.cls == "cor":
        return ""
    return f"({a.lower:g}, {a.upper:g})"


def describe(model: CompiledModel, engine: str = "auto") -> str:
    """Text for "did I specify the model right?": likelihood, predictors, group effects,
    priors and the number of rows per group level; `engine` is the one asked for."""
    design, family = model.design, model.family
    y = design.response_name
    lines = [f"Formula: {design.formula.source}"]
    asked = engine
    engine, why = choose_engine(design, family, engine)
    lines += [f"Family: {family.name}", f"Data: {design.n_rows} rows"]
    if model.collapsed is not None:
        lines[-1] += (
            f", {model.collapsed.n_rows} distinct (rows with identical predictors are summed "
            "into binomial counts for sampling)"
        )
    lines.append(f"Engine ({asked}): {engine}, {why}")
    if design.missing.rows:
        lines.append(
            f"      ({design.missing.rows} rows with missing values in "
            f"{', '.join(design.missing.columns)} dropped by na_action='drop')"
        )
    lines += ["", "Model:"]
    index = {a: "[i]" if a in design.dpars else "" for a in family.dpars}
    lines.append(f"  {y}[i] ~ {family.notation.format(**index)}")
    if family.ordinal:
        lines += _ordinal_lines(model)
    for dpar in family.dpars:
        if dpar in design.dpars:
            ordinal_mu = family.ordinal and dpar == "mu"
            left = "mu[i]" if ordinal_mu else family.link(dpar).wrap(f"{dpar}[i]")
            lines.append(f"  {left} = {_linear_predictor(model, dpar)}")
        elif (fixed := family.parameter(dpar)) is not None and fixed.fixed is not None:
            lines.append(
                f"  {dpar} = {fixed.fixed:g} (fixed; give it a formula, {dpar}='~ x', to "
                "estimate it)"
            )
    for i, g in enumerate(design.groups):
        link = design.link_of(i)
        if link is None:
            lines.append(f"  {_group_distribution(model, i, g)}")
        elif link.terms[0] == i:
            lines.append(f"  {_linked_distribution(model, i)}")
    lines += ["", "Priors:"]
    table = priors_table(model)
    width = max(len(p) for p in table.index)
    for name, row in table.iterrows():
        note = "default" if row["source"] == "default" else f"from '{row['statement']}'"
        if row["class"] == "Intercept" and name.startswith("Intercept"):
            note += "; intercept of centred predictors"
        bounds = f" {row['bounds']}" if row["bounds"] else ""
        lines.append(f"  {name:<{width}} ~ {row['prior']}{bounds}  [{note}]")
    if design.groups:
        lines += ["", "Groups:"]
        lines += [f"  {_group_sizes(g)}" for g in design.groups]
    return "\n".join(lines)


def _data_term(column: str) -> str:
    return f"{column}[i]" if _PLAIN.match(column) else f"({column})[i]"


def _ordinal_lines(model: CompiledModel) -> list[str]:
    """The cumulative probabilities and the response's levels, lowest first."""
    labels = ordinal_levels(model.design.response)[1]
    y, k = model.design.response_name, len(labels)
    inverse = {"logit": "logistic", "probit": "Phi"}[model.family.mu_link]
    scaled = "disc[i] * " if "disc" in model.design.dpars else ""
    return [
        f"  P({y}[i] <= level k) = {inverse}({scaled}(b_Intercept[k] - mu[i])), k = 1..{k - 1}",
        f"  levels of {y}, lowest first: {' < '.join(labels)}",
    ]


def _linear_predictor(model: CompiledModel, dpar: str) -> str:
    d = model.design.dpars[dpar]
    ordinal = dpar == "mu" and model.family.ordinal  # thresholds, not an intercept
    terms = [fixed_name(dpar, "Intercept")] if d.fixed.has_intercept and not ordinal else []
    terms += [
        f"{fixed_name(dpar, name)}*{_data_term(col)}"
        for name, col in zip(d.fixed.names, d.fixed.columns, strict=True)
    ]
    for effect in model.effects:
        if effect.dpar != dpar:
            continue
        for term in effect.terms:
            g = model.design.groups[term]
            for coef, col in zip(g.coefs, g.columns, strict=True):
                at = f"{g.group}[i]" if len(effect.coefs) == 1 else f"{g.group}[i],{coef}"
                value = f"{effect.name}[{at}]"
                terms.append(value if col == "Intercept" else f"{value}*{_data_term(col)}")
    return " + ".join(terms) if terms else "0"


def _group_distribution(model: CompiledModel, i: int, g: GroupDesign) -> str:
    effect = next(e for e in model.effects if i in e.terms)
    sds = [sd_name(g.group, g.dpar, c) for c in g.coefs]
    extent = f"j = 1..{g.n_levels}"
    if g.rows_without_effect:
        extent += f" ({g.rows_without_effect} rows without a {g.group} effect)"
    if len(g.coefs) == 1:
        at = "j" if len(effect.coefs) == 1 else f"j,{g.coefs[0]}"
        return f"{effect.name}[{at}] ~ normal(0, {sds[0]}), {extent}"
    if not g.term.correlated:
        parts = [
            f"{effect.name}[j,{c}] ~ normal(0, {s})" for c, s in zip(g.coefs, sds, strict=True)
        ]
        return ", ".join(parts) + f", independent, {extent}"
    cor = next(a for a in model.priors if a.slot.cls == "cor" and a.slot.group == g.group)
    return (
        f"{effect.name}[j,({','.join(g.coefs)})] ~ multi_normal(0, S), "
        f"S = diag(sd) * {cor.slot.name} * diag(sd), sd = ({', '.join(sds)}), {extent}"
    )


def _linked_distribution(model: CompiledModel, first: int) -> str:
    """The joint normal of a set of terms linked by `|id|` across formulas."""
    design = model.design
    link = design.link_of(first)
    parts, sds = [], []
    for t in link.terms:
        g = design.groups[t]
        effect = next(e for e in model.effects if t in e.terms)
        parts += [f"{effect.name}[j,{c}]" for c in g.coefs]
        sds += [sd_name(g.group, g.dpar, c) for c in g.coefs]
    g = design.groups[first]
    return (
        f"({', '.join(parts)}) ~ multi_normal(0, S), correlated by the id '{link.id}', "
        f"S = diag(sd) * {cor_name(g.group, g.dpar)} * diag(sd), sd = ({', '.join(sds)}), "
        f"j = 1..{len(link.codes)}"
    )


def _group_sizes(g: GroupDesign) -> str:
    sizes = g.rows_per_level()
    text = (
        f"{g.group} {g.term.source}: {g.n_levels} levels; rows per level min {sizes.min()} / "
        f"median {np.median(sizes):g} / max {sizes.max()}"
    )
    extra = []
    if g.rows_missing_group:
        extra.append(f"{g.rows_missing_group} rows with a missing {g.group}")
    if g.levels_without_data:
        extra.append(
            f"{g.levels_without_data} levels whose rows all have {', '.join(g.columns)} = 0 "
            "(their effects never enter the likelihood and are left out)"
        )
    return text + ("; " + "; ".join(extra) if extra else "")
