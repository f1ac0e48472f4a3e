"""`multilevel power design.toml` and `multilevel sbc analysis.toml`: many fits from a file.

A design file describes a power study: `[scenario]` (a ready scenario of `ml.scenarios` and
its keyword arguments, or a custom one: formula, layout, truth, target, ...), `[sizes]`
(the grid), `[study]` (replicates, seed, prob), `[fit]` and `[outputs]`; `DESIGN_SCHEMA`
lists every key. Simulation-based calibration reads an analysis.toml as `multilevel run`
does, with its settings in an optional `[sbc]` section. Either study keeps its finished
replicates in a checkpoint folder under its results, so a rerun of the same command
resumes where the last one stopped.

Example:
    >>> result = run_power(Path("examples/partially_clustered/power.toml"))  # doctest: +SKIP
    >>> result.table[["groups", "power"]]  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import sys
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import scenarios, studies
from .._api import ENGINES
from .._errors import MultilevelError, did_you_mean
from ..results._report import png_bytes
from ..studies._power import grid, study_fit_settings
from ._analysis import DPI, Printer, _model, analysis_frame
from ._config import (
    DPARS,
    STUDY_FIT_SCHEMA,
    Analysis,
    ConfigError,
    ModelSection,
    _priors,
    _string_list,
    _strings,
    _Where,
    check_keys,
    read_analysis,
    read_toml,
)

Schema = dict[str, tuple[tuple[type, ...], str]]


def _ready_scenarios() -> dict[str, Callable[..., studies.Scenario]]:
    """The functions of `ml.scenarios` that return a Scenario, by name."""
    ready = {}
    for name in scenarios.__all__:
        value = getattr(scenarios, name)
        if inspect.isfunction(value) and _hints(value).get("return") is studies.Scenario:
            ready[name] = value
    return ready


def _hints(function: Callable) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function)
    except (NameError, TypeError):
        return {}


#: The ready scenarios a design file may name in `[scenario] ready`.
READY = _ready_scenarios()

#: Every section of a design file: (accepted types, what the key is), as `_config.SCHEMA`.
DESIGN_SCHEMA: dict[str, Schema] = {
    "": {
        "title": ((str,), "the study's title, printed above the table"),
        "scenario": ((dict,), "what is simulated and fitted: a ready scenario or your own"),
        "sizes": ((dict,), "the layout's sizes, a number or a list each; the grid is every mix"),
        "study": ((dict,), "replicates, seed and the interval's probability"),
        "fit": ((dict,), "sampler settings of each fit"),
        "outputs": ((dict,), "where the results go"),
    },
    "scenario": {
        "ready": ((str,), f"a ready scenario, one of {', '.join(READY)}; its arguments follow"),
        "formula": ((str,), 'the model formula, e.g. "y ~ tx + (1 | g)"'),
        "layout": ((str,), '"package.module:function", called as layout(rng, **sizes)'),
        "truth": ((dict,), "every parameter's true value, by its brms name"),
        "target": ((str,), "the parameter whose interval is checked, e.g. b_tx"),
        "family": ((str,), "the likelihood (default gaussian)"),
        "link": ((str,), "the link of the mean, when not the family's default"),
        "priors": ((list, dict), 'the analysis priors: ["b ~ normal(0, 10)"] or b = "..."'),
        "dpars": ((dict,), 'distributional formulas, e.g. sigma = "~ tx"'),
        "null": ((float, int), "the value the interval must exclude for power (default 0)"),
        "name": ((str,), "the scenario's name, in the plot's title"),
    },
    "study": {
        "replicates": ((int,), "simulated data sets per grid point (default 200)"),
        "seed": ((int,), "required: seeds every replicate, so a rerun resumes the same study"),
        "prob": ((float,), "probability of the central interval (default 0.95)"),
    },
    "fit": STUDY_FIT_SCHEMA,
    "outputs": {
        "folder": ((str,), "the results folder (default results/<file name>)"),
    },
}


@dataclass(frozen=True)
class DesignFile:
    """A validated design file."""

    title: str
    scenario: studies.Scenario
    sizes: Mapping[str, Any]
    replicates: int
    seed: int
    prob: float
    fit: Mapping[str, Any]
    folder: Path


# The design file.


def read_design(path: Path) -> DesignFile:
    """The power study described by the TOML file at `path`."""
    raw = read_toml(path, "design")
    where = _Where(path.name)
    check_keys(raw, DESIGN_SCHEMA[""], where)
    for section, example in (
        ("scenario", 'ready = "partially_clustered"'),
        ("sizes", "groups = [4, 8]"),
    ):
        if section not in raw:
            raise ConfigError(f"{where}: the [{section}] section is missing ({example}, ...)")
    scenario = _scenario(raw["scenario"], where.sub("scenario"), path.parent)
    sizes = _sizes(raw["sizes"], scenario.layout, where.sub("sizes"))
    study = raw.get("study", {})
    place = where.sub("study")
    check_keys(study, DESIGN_SCHEMA["study"], place)
    if "seed" not in study:
        raise ConfigError(
            f"{place}: seed is missing (e.g. seed = 1): the replicates are drawn from it, and "
            "a rerun resumes from the checkpoint only with the same seed"
        )
    prob = study.get("prob", 0.95)
    if not 0 < prob < 1:
        raise ConfigError(f"{place} prob: a number between 0 and 1, got {prob!r}")
    outputs = raw.get("outputs", {})
    check_keys(outputs, DESIGN_SCHEMA["outputs"], where.sub("outputs"))
    return DesignFile(
        title=raw.get("title", scenario.name or path.stem),
        scenario=scenario,
        sizes=sizes,
        replicates=_at_least(study, "replicates", 200, 1, place),
        seed=_at_least(study, "seed", None, 0, place),
        prob=prob,
        fit=study_fit(raw.get("fit", {}), where.sub("fit")),
        folder=path.parent / outputs.get("folder", f"results/{path.stem}"),
    )


def _at_least(
    table: Mapping[str, Any], key: str, default: int | None, minimum: int, where: _Where
) -> int | None:
    """`table[key]` (or `default`), a whole number >= `minimum` (types are checked before)."""
    value = table.get(key, default)
    if value is not None and value < minimum:
        raise ConfigError(f"{where} {key}: a whole number >= {minimum}, got {value!r}")
    return value


def study_fit(raw: Mapping[str, Any], where: _Where) -> dict[str, Any]:
    """The sampler settings of a study's fits: the studies' defaults updated by `raw`."""
    check_keys(raw, STUDY_FIT_SCHEMA, where)
    if raw.get("engine", "auto") not in ENGINES:
        raise ConfigError(f"{where} engine: one of {ENGINES}, got {raw['engine']!r}")
    try:
        return study_fit_settings(raw)
    except MultilevelError as err:
        raise ConfigError(f"{where}: {err}") from None


def _scenario(raw: Mapping[str, Any], where: _Where, base: Path) -> studies.Scenario:
    if "ready" in raw:
        return _ready(raw, where)
    check_keys(raw, DESIGN_SCHEMA["scenario"], where)
    for key in ("formula", "layout", "truth", "target"):
        if key not in raw:
            raise ConfigError(
                f"{where}: {key} is missing; a scenario gives formula, layout, truth and "
                f'target, or names a ready one (ready = "{next(iter(READY))}")'
            )
    priors = raw.get("priors", [])
    return studies.Scenario(
        formula=raw["formula"],
        layout=import_layout(raw["layout"], where, base),
        truth=_truth(raw["truth"], where.sub("truth")),
        target=raw["target"],
        family=raw.get("family", "gaussian"),
        priors=_priors(priors, where.sub("priors"))
        if isinstance(priors, dict)
        else _string_list(priors, f"{where} priors"),
        dpars=_dpars(raw.get("dpars", {}), where.sub("dpars")),
        link=raw.get("link"),
        null=float(raw.get("null", 0.0)),
        name=raw.get("name", ""),
    )


def _ready(raw: Mapping[str, Any], where: _Where) -> studies.Scenario:
    """The ready scenario `raw["ready"]`, called with the section's other keys."""
    name = raw["ready"]
    if not isinstance(name, str) or name not in READY:
        raise ConfigError(
            f"{where} ready: no ready scenario {name!r}{did_you_mean(str(name), READY)}; "
            f"the ready ones: {', '.join(READY)}"
        )
    factory = READY[name]
    check_keys(raw, _arguments_schema(name, factory), where)
    arguments = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k != "ready"}
    parameters = inspect.signature(factory).parameters.values()
    for parameter in parameters:
        if parameter.default is parameter.empty and parameter.name not in arguments:
            raise ConfigError(f"{where}: {parameter.name} is missing ({name} needs it)")
    try:
        return factory(**arguments)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{where}: {err}") from None


def _arguments_schema(name: str, factory: Callable) -> Schema:
    """`ready` and the keyword arguments of `factory`, typed from its annotations."""
    hints = _hints(factory)
    schema: Schema = {"ready": DESIGN_SCHEMA["scenario"]["ready"]}
    for parameter in inspect.signature(factory).parameters.values():
        default = "required" if parameter.default is parameter.empty else parameter.default
        schema[parameter.name] = (
            _toml_types(hints.get(parameter.name)),
            f"an argument of {name} ({default})",
        )
    return schema


def _toml_types(hint: Any) -> tuple[type, ...]:
    """The TOML values (as Python's types) that an argument annotated `hint` takes."""
    origin = typing.get_origin(hint) or hint
    if origin is float:
        return (float, int)
    if origin in (tuple, list):
        return (list,)
    if origin in (int, str, bool):
        return (origin,)
    return (str, int, float, bool, list, dict)


def import_layout(spec: str, where: _Where, base: Path) -> Callable[..., pd.DataFrame]:
    """The function `spec` ("package.module:function") names; modules in the design file's
    folder `base` import too (and so do they in the worker processes, which start with
    this process's import path)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f'{where} layout: expected "package.module:function", got {spec!r}')
    if str(base.resolve()) not in sys.path:
        sys.path.append(str(base.resolve()))
    try:
        module = importlib.import_module(module_name)
    except Exception as err:
        raise ConfigError(
            f"{where} layout: cannot import {module_name} ({type(err).__name__}: {err})"
        ) from err
    layout = getattr(module, attribute, None)
    if not callable(layout):
        names = [n for n in dir(module) if not n.startswith("_")]
        raise ConfigError(
            f"{where} layout: {module_name} has no function '{attribute}'"
            f"{did_you_mean(attribute, names)}"
        )
    return layout


def _truth(raw: Mapping[str, Any], where: _Where) -> dict[str, float]:
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} {key}: expected a number, got {value!r}")
    return {key: float(value) for key, value in raw.items()}


def _dpars(raw: Mapping[str, Any], where: _Where) -> dict[str, str]:
    for key in raw:
        if key not in DPARS:
            raise ConfigError(
                f"{where}: unknown parameter '{key}'{did_you_mean(key, DPARS)}; the "
                f"distributional parameters: {', '.join(DPARS)}"
            )
    return _strings(raw, str(where))


def _sizes(raw: Mapping[str, Any], layout: Callable, where: _Where) -> dict[str, Any]:
    """The grid's sizes, each a number or a non-empty list of numbers, every one a keyword
    of `layout`, which accepts every point of the grid."""
    for key, value in raw.items():
        values = value if isinstance(value, list) else [value]
        if not values or any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
            raise ConfigError(
                f"{where} {key}: expected a number or a list of numbers, got {value!r}"
            )
    _check_layout_keywords(raw, layout, where)
    for point in grid(raw):
        try:
            layout(np.random.default_rng(0), **point)
        except (ValueError, TypeError) as err:
            raise ConfigError(f"{where}: the layout refuses {point}: {err}") from None
    return dict(raw)


def _check_layout_keywords(sizes: Mapping[str, Any], layout: Callable, where: _Where) -> None:
    """Every size is a keyword of `layout`, and every keyword without a default is a size."""
    try:
        parameters = list(inspect.signature(layout).parameters.values())[1:]  # after rng
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    names = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    described = f"the layout {getattr(layout, '__name__', layout)} takes {', '.join(names)}"
    for key in sizes:
        if key not in names:
            raise ConfigError(
                f"{where}: unknown size '{key}'{did_you_mean(key, names)}; {described}"
            )
    for parameter in parameters:
        if parameter.default is parameter.empty and parameter.name not in sizes:
            raise ConfigError(f"{where}: {parameter.name} is missing; {described}")


# Running the studies.


def run_power(
    path: Path,
    workers: int | None = None,
    scheduler: str | None = None,
    replicates: int | None = None,
    progress: bool | None = None,
    echo: Printer = print,
) -> studies.PowerResult:
    """Run the power study of the design file at `path` (`replicates` overrides its
    [study]); writes power.csv, replicates.csv and power.png into its results folder."""
    design = read_design(path)
    if replicates is not None:
        design = replace(design, replicates=replicates)
    checkpoint = design.folder / "checkpoint"
    with dask_client(scheduler) as client:
        result = studies.power(
            design.scenario,
            design.sizes,
            replicates=design.replicates,
            seed=design.seed,
            prob=design.prob,
            workers=workers,
            client=client,
            checkpoint=checkpoint,
            progress=progress,
            **design.fit,
        )
    echo(_resumed(result.resumed, len(result.replicates), checkpoint))
    result.table.to_csv(design.folder / "power.csv", index=False)
    result.replicates.to_csv(design.folder / "replicates.csv", index=False)
    (design.folder / "power.png").write_bytes(png_bytes(result.plot().figure, DPI))
    echo(f"\n{design.title}\n{result.table.round(3).to_string(index=False)}")
    echo(f"\nResults in {design.folder}")
    return result


def run_sbc(
    path: Path,
    model: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    replicates: int | None = None,
    progress: bool | None = None,
    echo: Printer = print,
) -> studies.SBCResult:
    """Simulation-based calibration of a model of the analysis at `path`, with its [sbc]
    settings (`replicates` overrides them); writes ranks.csv, uniformity.csv,
    replicates.csv, sbc_ecdf.png and sbc_hist.png into the results folder's sbc/."""
    analysis = read_analysis(path)
    where = _Where(path.name)
    section = pick_model(analysis, model, where)
    settings = sbc_settings(analysis, where.sub("sbc"))
    if replicates is not None:
        settings["replicates"] = replicates
    fitted = _model(section, analysis_frame(analysis.data, echo), analysis)
    outputs = analysis.outputs.folder
    folder = (outputs if analysis.single else outputs / section.name) / "sbc"
    checkpoint = folder / "checkpoint"
    with dask_client(scheduler) as client:
        result = studies.sbc(
            fitted,
            workers=workers,
            client=client,
            checkpoint=checkpoint,
            progress=progress,
            **settings,
        )
    echo(_resumed(result.resumed, len(result.replicates), checkpoint))
    result.ranks.rename_axis("replicate").to_csv(folder / "ranks.csv")
    result.table.to_csv(folder / "uniformity.csv")
    result.replicates.to_csv(folder / "replicates.csv", index=False)
    for kind in ("ecdf", "hist"):
        (folder / f"sbc_{kind}.png").write_bytes(png_bytes(result.plot(kind), DPI))
    echo(f"\nRank uniformity ({len(result.ranks)} replicates, ranks 0..{result.ranks_of}):")
    echo(result.table.round(3).to_string())
    echo(f"\nResults in {folder}")
    return result


def pick_model(analysis: Analysis, name: str | None, where: _Where) -> ModelSection:
    """The model `--model NAME` picks; needed, and only allowed, with several models."""
    if analysis.single:
        if name is not None:
            raise ConfigError(f"{where} has one [model]: leave out --model (for [models.NAME])")
        return analysis.models[0]
    names = [m.name for m in analysis.models]
    if name is None:
        raise ConfigError(f"{where} has several models ({', '.join(names)}): pick one with --model")
    if name not in names:
        raise ConfigError(
            f"--model: {where} has no model '{name}'{did_you_mean(name, names)}; its models: "
            + ", ".join(names)
        )
    return analysis.models[names.index(name)]


def sbc_settings(analysis: Analysis, where: _Where) -> dict[str, Any]:
    """`ml.sbc`'s replicates, seed, ranks_of and fit settings from [sbc] (its keys were
    checked by `read_analysis`); the seed defaults to the [fit] seed."""
    raw = analysis.sbc
    seed = _at_least(raw, "seed", analysis.fit["seed"], 0, where)
    if seed is None:
        raise ConfigError(
            f"{where}: seed is missing, here and in [fit] (e.g. seed = 1): the replicates are "
            "drawn from it, and a rerun resumes from the checkpoint only with the same seed"
        )
    fit = study_fit({k: v for k, v in raw.items() if k in STUDY_FIT_SCHEMA}, where)
    return {
        "replicates": _at_least(raw, "replicates", 200, 1, where),
        "seed": seed,
        "ranks_of": _at_least(raw, "ranks_of", 99, 9, where),
        **fit,
    }


def _resumed(resumed: int, total: int, checkpoint: Path) -> str:
    if not resumed:
        return f"ran {total} replicates (checkpoint: {checkpoint})"
    return f"resumed {resumed} of {total} replicates from {checkpoint}; ran {total - resumed}"


@contextlib.contextmanager
def dask_client(address: str | None) -> Iterator[Any]:
    """A `distributed.Client` of the scheduler at `address` (closed after), or None."""
    if address is None:
        yield None
        return
    try:
        from distributed import Client
    except ImportError:
        raise MultilevelError(
            "--scheduler runs the fits on a Dask cluster, which needs Dask: pip install "
            "'multilevel[dask]' (or 'dask[distributed]')"
        ) from None
    with Client(address) as client:
        yield client
