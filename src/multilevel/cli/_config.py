"""analysis.toml: read and validated into an `Analysis`, one clear message per mistake.

The file has sections `[data]`, `[model]` (or several `[models.NAME]`), `[priors]`, `[fit]`,
`[outputs]` and `[sbc]` (read by `multilevel sbc` only); `SCHEMA` lists every key with its
type and meaning, and `multilevel init` writes a commented template of it. Paths are
relative to the file's folder.

Example:
    >>> from pathlib import Path
    >>> _ = Path("data.csv").write_text("y,g\\n1,a\\n2,b\\n3,a\\n")
    >>> _ = Path("analysis.toml").write_text('[data]\\npath = "data.csv"\\n'
    ...     '[model]\\nformula = "y ~ 1 + (1 | g)"\\n[fit]\\nchains = 2\\n')
    >>> analysis = read_analysis(Path("analysis.toml"))
    >>> analysis.models[0].formula, analysis.fit["chains"]
    ('y ~ 1 + (1 | g)', 2)
"""

from __future__ import annotations

import inspect
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._api import ENGINES, METRICS, Model, sampler_settings
from .._errors import MultilevelError, did_you_mean
from ..design._data import NA_ACTIONS
from ..families import FAMILIES
from ..studies._power import FIT_DEFAULTS as STUDY_FIT_DEFAULTS

#: The outputs' plots, by name: the Fit method that draws each.
PLOTS = {
    "trace": "plot_trace",
    "rank": "plot_rank",
    "group_effects": "plot_group_effects",
    "ppc": "plot_ppc",
    "prior_posterior": "plot_prior_posterior",
}
DEFAULT_PLOTS = ("trace", "rank", "group_effects", "ppc")
#: Distributional parameters a model section may give a formula, over all families.
DPARS = sorted({aux.name for family in FAMILIES.values() for aux in family.aux})
#: The sampler keys of a study's many fits (`ml.power`, `ml.sbc`), which have their own
#: defaults: short chains, as each fit needs a good interval, not a long chain.
STUDY_FIT_SCHEMA: dict[str, tuple[tuple[type, ...], str]] = {
    "chains": ((int,), f"chains per fit (default {STUDY_FIT_DEFAULTS['chains']})"),
    "warmup": ((int,), f"warmup iterations per chain (default {STUDY_FIT_DEFAULTS['warmup']})"),
    "draws": ((int,), f"draws per chain (default {STUDY_FIT_DEFAULTS['draws']})"),
    "target_accept": (
        (float, int),
        f"NUTS target acceptance (default {STUDY_FIT_DEFAULTS['target_accept']})",
    ),
    "engine": ((str,), f"one of {ENGINES} (default {STUDY_FIT_DEFAULTS['engine']})"),
}

#: Every section's keys: (accepted types, what the key is). Types are TOML's as Python's.
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], str]]] = {
    "": {
        "title": ((str,), "the analysis's title, shown in the report"),
        "data": ((dict,), "the data file and how to read it"),
        "model": ((dict,), "one model"),
        "models": ((dict,), "several models, [models.NAME], compared in the report"),
        "priors": ((dict,), 'priors of every model: parameter = "distribution(args)"'),
        "fit": ((dict,), "sampler settings"),
        "outputs": ((dict,), "what to write into the results folder"),
        "sbc": ((dict,), "simulation-based calibration settings, for `multilevel sbc`"),
    },
    "data": {
        "path": ((str,), "a CSV (.csv, .tsv) or Parquet (.parquet) file"),
        "encoding": ((str,), "the CSV file's text encoding (default utf-8)"),
        "na_action": ((str,), f"rows with missing values: one of {NA_ACTIONS}"),
        "filters": ((list,), "expressions; only rows where every one is true are used"),
        "columns": ((dict,), 'column types: name = "category" / "ordered" / ...'),
        "derive": ((dict,), 'new columns: name = "expression" (e.g. "rating / 100")'),
    },
    "model": {
        "formula": ((str,), 'the model formula, e.g. "y ~ x + (1 | g)"'),
        "family": ((str,), "the likelihood (default gaussian)"),
        "link": ((str,), "the link of the mean, when not the family's default"),
        "priors": ((dict,), "priors of this model only, added to [priors]"),
        **{name: ((str,), 'a distributional formula, e.g. "~ tx"') for name in DPARS},
    },
    "fit": {
        "chains": ((int,), "number of chains (default 4)"),
        "warmup": ((int,), "warmup iterations per chain (default 1000)"),
        "draws": ((int,), "draws per chain after warmup (default 1000)"),
        "seed": ((int,), "random seed (default: drawn and recorded)"),
        "engine": ((str,), f"one of {ENGINES}"),
        "target_accept": ((float, int), "NUTS target acceptance, brms's adapt_delta"),
        "max_treedepth": ((int,), "NUTS maximum tree depth"),
        "metric": ((str,), f"mass matrix: one of {METRICS}"),
    },
    "outputs": {
        "folder": ((str,), "the results folder (default results)"),
        "plots": ((list,), f"plots to draw, of {', '.join(PLOTS)}"),
        "conditional": ((list,), 'conditional-effects plots, e.g. ["tx", "a:b"]'),
        "report": ((bool,), "write report.html (default true)"),
        "predictions": (
            (bool, str),
            "true: predictions.csv for the data's rows; a file: for its rows",
        ),
        "group_effects": ((bool,), "summary.csv also lists every group effect r_<group>[...]"),
        "hypotheses": ((list, dict), 'brms-style hypotheses, e.g. ["b_tx < 0"]; or name = ...'),
    },
    "sbc": {
        "replicates": ((int,), "simulated data sets (default 200)"),
        "seed": ((int,), "seeds every replicate (default: the [fit] seed)"),
        "ranks_of": ((int,), "posterior draws each true value is ranked among (default 99)"),
        **STUDY_FIT_SCHEMA,
    },
}
#: `Model.fit`'s own defaults of the [fit] keys.
FIT_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(Model.fit).parameters.items()
    if name in SCHEMA["fit"]
}


class ConfigError(MultilevelError):
    """An analysis.toml that cannot be used; the message names the section and key."""


@dataclass(frozen=True)
class DataSection:
    path: Path
    encoding: str = "utf-8"
    na_action: str = "error"
    filters: tuple[str, ...] = ()
    columns: Mapping[str, Any] = field(default_factory=dict)
    derive: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSection:
    name: str
    formula: str
    family: str = "gaussian"
    link: str | None = None
    dpars: Mapping[str, str] = field(default_factory=dict)
    priors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outputs:
    folder: Path
    plots: tuple[str, ...] = DEFAULT_PLOTS
    conditional: tuple[str, ...] = ()
    report: bool = True
    predictions: bool | Path = False
    group_effects: bool = False
    hypotheses: tuple[str, ...] | Mapping[str, str] = ()


@dataclass(frozen=True)
class Analysis:
    """A validated analysis.toml; `single` when it has `[model]` rather than `[models.*]`."""

    title: str
    data: DataSection
    models: tuple[ModelSection, ...]
    fit: Mapping[str, Any]
    outputs: Outputs
    single: bool
    sbc: Mapping[str, Any] = field(default_factory=dict)


def read_analysis(path: Path) -> Analysis:
    """The analysis described by the TOML file at `path`."""
    raw = read_toml(path, "analysis")
    where = _Where(path.name)
    check_keys(raw, "", where)
    if "data" not in raw:
        raise ConfigError(f'{where}: the [data] section is missing (path = "data/...")')
    if ("model" in raw) == ("models" in raw):
        raise ConfigError(
            f"{where}: give one [model] section, or several [models.NAME] sections (not both)"
        )
    base = path.parent
    models = _models(raw, where, _priors(raw.get("priors", {}), where.sub("priors")))
    check_keys(raw.get("sbc", {}), "sbc", where.sub("sbc"))
    return Analysis(
        title=raw.get("title", path.parent.resolve().name),
        data=_data(raw["data"], where.sub("data"), base),
        models=models,
        fit=_fit(raw.get("fit", {}), where.sub("fit")),
        outputs=_outputs(raw.get("outputs", {}), where.sub("outputs"), base),
        single="model" in raw,
        sbc=dict(raw.get("sbc", {})),
    )


def read_toml(path: Path, kind: str) -> dict[str, Any]:
    """The TOML file at `path` as a dict; `kind` names the file in the messages."""
    if not path.is_file():
        raise ConfigError(f"no such {kind} file: {path}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from None


@dataclass(frozen=True)
class _Where:
    file: str
    section: str = ""

    def sub(self, section: str) -> _Where:
        return _Where(self.file, f"{self.section}.{section}" if self.section else section)

    def __str__(self) -> str:
        return f"{self.file} [{self.section}]" if self.section else self.file


def check_keys(
    table: Mapping[str, Any],
    schema: str | Mapping[str, tuple[tuple[type, ...], str]],
    where: _Where,
) -> None:
    """Fail on the first key `SCHEMA[schema]` (or the table `schema`) does not know, or of
    the wrong type."""
    keys = SCHEMA[schema] if isinstance(schema, str) else schema
    for key, value in table.items():
        if key not in keys:
            raise ConfigError(
                f"{where}: unknown key '{key}'{did_you_mean(key, keys)}; valid keys: "
                + ", ".join(keys)
            )
        types, meaning = keys[key]
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            raise ConfigError(
                f"{where} {key}: expected {_type_names(types)} ({meaning}), got "
                f"{value!r} ({_type_names((type(value),))})"
            )


def _type_names(types: tuple[type, ...]) -> str:
    names = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
             list: "a list [...]", dict: "a table"}  # fmt: skip
    return " or ".join(names.get(t, t.__name__) for t in types)


def _strings(value: Any, where: str) -> dict[str, str]:
    if not all(isinstance(v, str) for v in value.values()):
        bad = next(k for k, v in value.items() if not isinstance(v, str))
        raise ConfigError(f"{where} {bad}: expected a string, got {value[bad]!r}")
    return dict(value)


def _string_list(value: list, where: str) -> tuple[str, ...]:
    for item in value:
        if not isinstance(item, str):
            raise ConfigError(f"{where}: expected a list of strings, got {item!r} in it")
    return tuple(value)


def _data(raw: Mapping[str, Any], where: _Where, base: Path) -> DataSection:
    check_keys(raw, "data", where)
    if "path" not in raw:
        raise ConfigError(f'{where}: path is missing (the data file, e.g. path = "data/x.csv")')
    path = base / raw["path"]
    if not path.is_file():
        raise ConfigError(f"{where} path: no such file '{raw['path']}' (looked for {path})")
    na_action = raw.get("na_action", "error")
    if na_action not in NA_ACTIONS:
        raise ConfigError(f"{where} na_action: one of {NA_ACTIONS}, got {na_action!r}")
    return DataSection(
        path=path,
        encoding=raw.get("encoding", "utf-8"),
        na_action=na_action,
        filters=_string_list(raw.get("filters", []), f"{where} filters"),
        columns=dict(raw.get("columns", {})),
        derive=_strings(raw.get("derive", {}), f"{where.sub('derive')}"),
    )


def _priors(raw: Mapping[str, Any], where: _Where) -> tuple[str, ...]:
    """`parameter = "distribution(args)"` pairs as prior statements."""
    return tuple(f"{lhs} ~ {rhs}" for lhs, rhs in _strings(raw, str(where)).items())


def _models(raw: Mapping[str, Any], where: _Where, priors: tuple[str, ...]) -> tuple:
    tables = {"model": raw["model"]} if "model" in raw else raw["models"]
    if not tables:
        raise ConfigError(f"{where} [models]: add at least one [models.NAME] section")
    models = []
    for name, table in tables.items():
        place = where.sub("model" if "model" in raw else f"models.{name}")
        if not isinstance(table, dict):
            raise ConfigError(f"{place}: expected a table of formula, family, ..., got {table!r}")
        check_keys(table, "model", place)
        if "formula" not in table:
            raise ConfigError(f'{place}: formula is missing (e.g. formula = "y ~ x + (1 | g)")')
        own = _priors(table.get("priors", {}), place.sub("priors"))
        overridden = {_lhs(s) for s in own}
        models.append(
            ModelSection(
                name=name,
                formula=table["formula"],
                family=table.get("family", "gaussian"),
                link=table.get("link"),
                dpars={k: v for k, v in table.items() if k in DPARS},
                priors=tuple(s for s in priors if _lhs(s) not in overridden) + own,
            )
        )
    return tuple(models)


def _lhs(statement: str) -> str:
    return statement.split("~", 1)[0].strip()


def _fit(raw: Mapping[str, Any], where: _Where) -> dict[str, Any]:
    check_keys(raw, "fit", where)
    settings = {**FIT_DEFAULTS, **raw}
    if settings["engine"] not in ENGINES:
        raise ConfigError(f"{where} engine: one of {ENGINES}, got {settings['engine']!r}")
    try:
        sampler_settings(**{k: v for k, v in settings.items() if k != "engine"})
    except MultilevelError as err:
        raise ConfigError(f"{where}: {err}") from None
    return settings


def _outputs(raw: Mapping[str, Any], where: _Where, base: Path) -> Outputs:
    check_keys(raw, "outputs", where)
    plots = _string_list(raw.get("plots", list(DEFAULT_PLOTS)), f"{where} plots")
    for plot in plots:
        if plot not in PLOTS:
            raise ConfigError(
                f"{where} plots: unknown plot '{plot}'{did_you_mean(plot, PLOTS)}; the plots "
                f"are {', '.join(PLOTS)}"
            )
    predictions = raw.get("predictions", False)
    if isinstance(predictions, str):
        predictions = base / predictions
        if not predictions.is_file():
            raise ConfigError(f"{where} predictions: no such file {predictions}")
    return Outputs(
        folder=base / raw.get("folder", "results"),
        plots=plots,
        conditional=_string_list(raw.get("conditional", []), f"{where} conditional"),
        report=raw.get("report", True),
        predictions=predictions,
        group_effects=raw.get("group_effects", False),
        hypotheses=_hypotheses(raw.get("hypotheses", []), f"{where} hypotheses"),
    )


def _hypotheses(value: list | dict, where: str) -> tuple[str, ...] | dict[str, str]:
    if isinstance(value, dict):
        return _strings(value, where)
    return _string_list(value, where)
