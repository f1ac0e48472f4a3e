"""`multilevel run analysis.toml`: data, model, fit, graphics, written into one folder.

For each model the results folder gets `describe.txt`, `priors.csv`, `summary.csv`,
`diagnostics.txt`, the saved fit (`fit.mlv`), `inputs.json`, `plots/*.png` and, when asked,
`predictions.csv`; then one `report.html`. Several models (`[models.NAME]`) each get a
subfolder, and the report compares them by PSIS-LOO when they model the same observations.

A rerun reuses a saved fit whose inputs are unchanged, as brms's `file_refit = "on_change"`:
`inputs.json` holds a SHA-256 of the data the model samples with, the model's recipe, the
sampler settings and multilevel's version.

Example:
    >>> fits = run_analysis(Path("examples/sleepstudy/analysis.toml"))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__
from .._api import Model
from .._atomic import write_atomic
from .._errors import (
    DataError,
    FileFormatError,
    ModelError,
    MultilevelError,
    SamplingWarning,
    did_you_mean,
)
from .._load import load
from ..results import Fit, compare
from ..results._persist import data_digest
from ..results._recipe import UnknownColumnError, check_recipe
from ..results._report import Image, analysis_page, draw, page
from ._config import PLOTS, Analysis, ConfigError, DataSection, ModelSection, Outputs, read_analysis
from ._expressions import evaluate
from ._files import apply_types, read_data

FIT_FILE = "fit.mlv"
INPUTS_FILE = "inputs.json"
PLOTS_FILE = "plots.json"
#: Resolution of the PNG files (and of the same images in the report).
DPI = 100

Printer = Callable[[str], None]


def run_analysis(
    path: Path, refit: bool = False, echo: Printer = print, progress: bool | None = None
) -> dict[str, Fit]:
    """Run the analysis in the TOML file at `path`; returns the fits by model name."""
    analysis = read_analysis(path)
    frame = analysis_frame(analysis.data, echo)
    folder = analysis.outputs.folder
    fits, images = {}, {}
    for section in analysis.models:
        out = folder if analysis.single else folder / section.name
        if not analysis.single:
            echo(f"\n== model '{section.name}' ==")
        model = _model(section, frame, analysis)
        _check_conditional(model, analysis.outputs.conditional, section.name)
        inputs = inputs_digest(model, analysis.fit)
        fit = fit_or_reuse(model, analysis.fit, inputs, out, refit, echo, progress)
        tables = result_tables(fit, analysis.outputs)
        images[section.name] = write_outputs(fit, model, tables, inputs, out, analysis.outputs)
        for image in images[section.name]:
            if image.png is None:
                echo(f"plot '{image.title}' not drawn: {image.note}")
        _print_fit(fit, tables, echo)
        fits[section.name] = fit
    comparison, note = compare_fits(fits)
    if comparison is not None:
        comparison.to_csv(folder / "comparison.csv")
        echo(f"\nPSIS-LOO comparison, best first:\n{comparison.round(2).to_string()}")
    if note:
        echo(f"\n{note}")
    if analysis.outputs.report:
        _write_report(analysis, fits, images, comparison, note)
    echo(f"\nResults in {folder}")
    return fits


# The data.


def analysis_frame(data: DataSection, echo: Printer = print) -> pd.DataFrame:
    """The data file read, typed, derived and filtered as [data] says; the filters' effect
    is printed, never silent."""
    frame = apply_types(read_data(data.path, data.encoding), data.columns)
    for name, expression in data.derive.items():
        frame[name] = _evaluated(expression, frame, f"[data.derive] {name}")
    if data.filters:
        keep = pd.Series(True, index=frame.index)
        for expression in data.filters:
            keep &= _mask(expression, frame)
        frame = frame.loc[keep].reset_index(drop=True)
        echo(f"filters kept {int(keep.sum())} of {len(keep)} rows")
    return frame


def _evaluated(expression: str, frame: pd.DataFrame, where: str) -> Any:
    try:
        return evaluate(expression, frame)
    except MultilevelError as err:
        raise type(err)(f"{where}: {err}") from None


def _mask(expression: str, frame: pd.DataFrame) -> pd.Series:
    value = _evaluated(expression, frame, "[data] filters")
    if not isinstance(value, pd.Series) or not pd.api.types.is_bool_dtype(value):
        raise DataError(f"[data] filters: '{expression}' is not a true/false condition per row")
    return value.fillna(False).astype(bool)


# The model and its fit.


def _model(section: ModelSection, frame: pd.DataFrame, analysis: Analysis) -> Model:
    """The section's Model; any error names the section."""
    place = "[model]" if analysis.single else f"[models.{section.name}]"
    recipe = {"formula": section.formula, "dpars": dict(section.dpars), "priors": section.priors}
    try:
        check_recipe(recipe, frame.columns)  # before formulaic evaluates any term
    except UnknownColumnError as err:
        raise DataError(f"{place}: {err}") from None
    except FileFormatError as err:
        raise ModelError(f"{place}: {err}") from None
    try:
        return Model(
            section.formula,
            frame,
            family=section.family,
            priors=list(section.priors),
            na_action=analysis.data.na_action,
            link=section.link,
            **section.dpars,
        )
    except MultilevelError as err:
        raise type(err)(f"{place}: {err}") from None


def _check_conditional(model: Model, effects: tuple[str, ...], name: str) -> None:
    """Every conditional-effects plot names predictors of the model: checked before fitting."""
    predictors = model._compiled.design.predictor_columns()
    for effect in effects:
        for part in effect.split(":"):
            if part not in predictors:
                raise ConfigError(
                    f"[outputs] conditional: '{part}' in '{effect}' is not a predictor of "
                    f"model '{name}'{did_you_mean(part, predictors)}; its predictors: "
                    f"{', '.join(predictors) or 'none'}"
                )


def inputs_digest(model: Model, settings: Mapping[str, Any]) -> dict[str, Any]:
    """What a saved fit depends on, and its SHA-256; an unset seed is left out, so a fit
    with a drawn seed is reused too."""
    inputs = {
        "multilevel": __version__,
        "data": data_digest(model._compiled),
        "model": model.recipe,
        "fit": {k: v for k, v in settings.items() if v is not None},
    }
    text = json.dumps(inputs, sort_keys=True, default=str)
    return {"sha256": hashlib.sha256(text.encode()).hexdigest(), "inputs": inputs}


def fit_or_reuse(
    model: Model,
    settings: Mapping[str, Any],
    inputs: Mapping[str, Any],
    folder: Path,
    refit: bool,
    echo: Printer = print,
    progress: bool | None = None,
) -> Fit:
    """The saved fit in `folder` if its `inputs` (`inputs_digest`) match, else a new fit
    (saved there)."""
    saved = _saved_digest(folder)
    if not refit and saved == inputs["sha256"]:
        try:
            fit = load(folder / FIT_FILE)
        except (FileFormatError, OSError) as err:
            echo(f"cannot reuse {folder / FIT_FILE} ({err}); fitting again")
        else:
            echo(f"reusing {folder / FIT_FILE}: data, model and settings unchanged")
            return fit
    why = "--refit" if refit else "no saved fit" if saved is None else "inputs changed"
    echo(
        f"fitting ({why}): {settings['chains']} chains x {settings['draws']} draws after "
        f"{settings['warmup']} warmup"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)  # printed with the diagnostics
        fit = model.fit(**settings, progress=progress)
    folder.mkdir(parents=True, exist_ok=True)
    fit.save(folder / FIT_FILE)
    text = json.dumps(inputs, indent=2, sort_keys=True, default=str) + "\n"
    write_atomic(folder / INPUTS_FILE, lambda handle: handle.write(text.encode()))
    return fit


def _saved_digest(folder: Path) -> str | None:
    try:
        return json.loads((folder / INPUTS_FILE).read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


# The outputs.


def result_tables(fit: Fit, outputs: Outputs) -> dict[str, pd.DataFrame]:
    """The summary and, when asked, the hypotheses: written to CSV and printed."""
    tables = {"summary": fit.summary(group_effects=outputs.group_effects)}
    if outputs.hypotheses:
        tables["hypotheses"] = fit.hypothesis(outputs.hypotheses)
    return tables


def write_outputs(
    fit: Fit,
    model: Model,
    tables: Mapping[str, pd.DataFrame],
    inputs: Mapping[str, Any],
    folder: Path,
    outputs: Outputs,
) -> list[Image]:
    """The text, table and plot files of one fit; returns the plots for the report."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "describe.txt").write_text(model.describe() + "\n")
    model.priors().to_csv(folder / "priors.csv")
    tables["summary"].to_csv(folder / "summary.csv")
    (folder / "diagnostics.txt").write_text(str(fit.diagnostics) + "\n")
    if "hypotheses" in tables:
        tables["hypotheses"].to_csv(folder / "hypotheses.csv", index=False)
    if outputs.predictions:
        _predictions(fit, outputs.predictions).to_csv(folder / "predictions.csv", index=False)
    return _plots(fit, inputs["sha256"], folder / "plots", outputs)


def _predictions(fit: Fit, source: bool | Path) -> pd.DataFrame:
    if source is True:
        return fit.predict().summary()
    frame = read_data(source)
    summary = fit.predict(frame).summary()
    return pd.concat([frame.reset_index(drop=True), summary.reset_index(drop=True)], axis=1)


def _plots(fit: Fit, digest: str, folder: Path, outputs: Outputs) -> list[Image]:
    """Draw the plots asked for into `folder`; a rerun on the same saved fit (the inputs'
    `digest` and the seed) that asks for the same plots reads them back from `PLOTS_FILE`
    instead (drawing takes seconds each)."""
    requests = [(name, PLOTS[name], {}) for name in outputs.plots]
    requests += [
        (f"conditional_{effect.replace(':', '_x_')}", "plot_conditional", {"effects": effect})
        for effect in outputs.conditional
    ]
    key = json.dumps([__version__, digest, fit.seed, requests])
    if (images := _drawn(folder, key)) is not None:
        return images
    folder.mkdir(parents=True, exist_ok=True)
    for stale in set(folder.glob("*.png")) - {folder / f"{name}.png" for name, _, _ in requests}:
        stale.unlink()  # a plot no longer asked for
    images, index = [], []
    for name, method, options in requests:
        title = name.replace("_", " ").capitalize()
        image = draw(fit, method, title, DPI, **options)
        path = folder / f"{name}.png"
        if image.png is not None:
            path.write_bytes(image.png)
        else:
            path.unlink(missing_ok=True)
        images.append(image)
        index.append({"file": path.name, "title": title, "note": image.note})
    text = json.dumps({"key": key, "images": index}, indent=1)
    write_atomic(folder / PLOTS_FILE, lambda handle: handle.write(text.encode()))
    return images


def _drawn(folder: Path, key: str) -> list[Image] | None:
    """The images drawn before under `key`, or None if anything differs or is missing."""
    try:
        index = json.loads((folder / PLOTS_FILE).read_text())
        if index["key"] != key:
            return None
        return [
            Image(i["title"], None if i["note"] else (folder / i["file"]).read_bytes(), i["note"])
            for i in index["images"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def compare_fits(fits: Mapping[str, Fit]) -> tuple[pd.DataFrame | None, str]:
    """`ml.compare` of the fits and its warnings (rows with a high Pareto k), or no table
    and why the fits cannot be compared; nothing for one fit."""
    if len(fits) < 2:
        return None, ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SamplingWarning)
        try:
            table = compare(fits)
        except ModelError as err:
            return None, f"Not compared: {err}"
    notes = [str(w.message) for w in caught if issubclass(w.category, SamplingWarning)]
    return table, " ".join(notes)


def _print_fit(fit: Fit, tables: Mapping[str, pd.DataFrame], echo: Printer) -> None:
    with pd.option_context("display.width", 120, "display.max_rows", 500):
        summary = tables["summary"].round(3).to_string()
    echo(f"\nSummary (seed {fit.seed}):\n{summary}")
    if "hypotheses" in tables:
        hypotheses = tables["hypotheses"].round(3).to_string(index=False)
        echo(f"\nHypotheses:\n{hypotheses}")
    echo(f"\nDiagnostics:\n{fit.diagnostics}")


def _write_report(
    analysis: Analysis,
    fits: Mapping[str, Fit],
    images: Mapping[str, list[Image]],
    comparison: pd.DataFrame | None,
    note: str,
) -> None:
    if analysis.single:
        ((name, fit),) = fits.items()
        text = page(fit, images[name], analysis.title)
    else:
        text = analysis_page(analysis.title, fits, images, comparison, note)
    path = analysis.outputs.folder / "report.html"
    write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))
