"""Predictions of one draw on new rows: the linear predictor, the expected response, or a
new response, with the draw's group effects for known levels and fresh ones for new levels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..design import Design
from ._compiled import CompiledModel
from ._logdensity import (
    Data,
    constrain,
    distribution_parameters,
    joint_effects,
    linear_predictor,
    model_data,
)

KINDS = ("mean", "linpred", "response")
NEW_GROUPS = ("sample", "population", "error")


@dataclass(frozen=True)
class LevelMap:
    """How rows of new data find their group effects.

    Per term, `index[t]` points each row into the term's effect table: first the levels the
    fit knows (`r_<group>` of the posterior, in its order), then the new levels of the
    term's set, then one zero row (no group value, or all group-term columns 0). A set is a
    `|id|` link or a single term: its new levels get one joint draw over all its columns.
    """

    index: dict[int, np.ndarray]
    #: term -> (position of its effect in `model.effects`, its columns in that effect)
    columns: dict[int, tuple[int, slice]]
    sets: tuple[tuple[int, ...], ...]
    n_new: tuple[int, ...]
    #: grouping factor -> the levels of the new rows that the fit has not seen
    unseen: dict[str, tuple[str, ...]]


def map_levels(model: CompiledModel, new: Design) -> LevelMap:
    """Match the new rows' group levels (see `design.encode_new`) to the fitted ones."""
    columns = _term_columns(model)
    index, sets, n_new, unseen = {}, [], [], {}
    for terms in _sets(model.design):
        group = model.design.groups[terms[0]].group
        known = {t: model.effects[columns[t][0]].levels for t in terms}
        fresh = sorted({lv for t in terms for lv in new.groups[t].levels if lv not in known[t]})
        if fresh:
            unseen[group] = tuple(sorted(set(unseen.get(group, ())) | set(fresh)))
        for t in terms:
            position = {lv: i for i, lv in enumerate(known[t])}
            position |= {lv: len(known[t]) + i for i, lv in enumerate(fresh)}
            g = new.groups[t]
            lookup = np.array([position[lv] for lv in g.levels] + [len(position)], dtype=np.int32)
            index[t] = lookup[g.index]
        sets.append(terms)
        n_new.append(len(fresh))
    return LevelMap(index, columns, tuple(sets), tuple(n_new), unseen)


def _sets(design: Design) -> list[tuple[int, ...]]:
    out, seen = [], set()
    for t in range(len(design.groups)):
        if t in seen:
            continue
        link = design.link_of(t)
        terms = link.terms if link is not None else (t,)
        seen.update(terms)
        out.append(terms)
    return out


def _term_columns(model: CompiledModel) -> dict[int, tuple[int, slice]]:
    columns = {}
    for k, effect in enumerate(model.effects):
        start = 0
        for t in effect.terms:
            width = len(model.design.groups[t].coefs)
            columns[t] = (k, slice(start, start + width))
            start += width
    return columns


def prediction_data(model: CompiledModel, new: Design, levels: LevelMap) -> Data:
    """The arrays a prediction reads: the new rows' matrices, centred by the training means,
    the blocks' units, and each term's row index into its effect table."""
    data = model_data(new, np.zeros(new.n_rows), model.blocks)
    for t, index in levels.index.items():
        data[f"index_{t}"] = jnp.asarray(index)
    return data


def prediction_function(
    model: CompiledModel,
    new: Design,
    levels: LevelMap,
    kind: str,
    new_groups: str = "sample",
    dpar: str = "mu",
    transform: bool = False,
) -> Callable[..., jax.Array]:
    """`f(theta, key, effects, data)`: one draw's prediction on every new row.

    `effects` holds the draw's `r_*` arrays (levels x coefficients) in `model.effects`
    order. kind "linpred" is `dpar`'s linear predictor (on the natural scale with
    `transform`), "mean" the expected response (category probabilities, rows x K, for an
    ordinal family), "response" a draw of the response.
    """
    family = model.family

    def predict(theta: jax.Array, key: jax.Array, effects: tuple, data: Data) -> jax.Array:
        values = constrain(theta, model.blocks, model.design, data)
        new_key, response_key = jax.random.split(key)
        tables = _effect_tables(values, effects, levels, model, new_key, new_groups == "sample")
        if kind == "linpred":
            eta = linear_predictor(values, data, new, dpar, tables)
            return family.link(dpar).inverse(eta) if transform else eta
        params = distribution_parameters(values, data, new, family, tables)
        if kind == "mean":
            return family.mean(params)
        return family.random(response_key, params)

    return predict


def _effect_tables(values, effects, levels: LevelMap, model, key, sample: bool) -> dict:
    """Per term: the known levels' effects, then the new levels' (drawn from the fitted
    population, or 0)."""
    tables = {}
    for s, terms in enumerate(levels.sets):
        width = sum(len(model.design.groups[t].coefs) for t in terms)
        shape = (levels.n_new[s], width)
        if sample and levels.n_new[s]:
            fresh = joint_effects(
                values, terms, jax.random.normal(jax.random.fold_in(key, s), shape)
            )
        else:
            fresh = jnp.zeros(shape)
        start = 0
        for t in terms:
            k, cols = levels.columns[t]
            width_t = cols.stop - cols.start
            known = effects[k][:, cols]
            tables[t] = jnp.concatenate([known, fresh[:, start : start + width_t]])
            start += width_t
    return tables
