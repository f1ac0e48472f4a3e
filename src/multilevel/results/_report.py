"""The fit as HTML: `fit.report(path)` writes one self-contained page (description, priors,
summary, diagnostics, plots as embedded PNGs, inline CSS, no script, nothing fetched), and
`Fit._repr_html_` gives Jupyter a compact view without plots.

Example:
    >>> fit.report("report.html")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import __version__
from .._atomic import write_atomic
from .._errors import ModelError
from ..inference._diagnostics import ESS_MIN_PER_CHAIN, RHAT_MAX
from ..model import priors_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ._fit import Fit

#: The plots of the page: the Fit's method and the section title. A plot whose method raises
#: ModelError (the error a plot raises when it does not apply, e.g. a caterpillar plot of a
#: model without group effects) is left out with a one-line note.
PLOTS: tuple[tuple[str, str], ...] = (
    ("plot_trace", "Trace plots"),
    ("plot_rank", "Rank plots"),
    ("plot_group_effects", "Group effects"),
    ("plot_ppc", "Posterior predictive check"),
)
#: Resolution of the embedded figures: sharp on screen, a few hundred kB a page.
DPI = 80
#: The prior table's columns shown (the parameter is the index); class, group, coef and dpar
#: are spelled out in the parameter's name.
PRIOR_COLUMNS = ("prior", "bounds", "source", "statement")

CSS = """
.ml-fit { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: #1f2328; line-height: 1.45; }
main.ml-fit { max-width: 1100px; margin: 0 auto; padding: 1.5em; }
.ml-fit h1 { font-size: 1.5em; margin: 0 0 0.6em; }
.ml-fit h2 { font-size: 1.2em; margin: 1.6em 0 0.5em; border-bottom: 1px solid #d0d7de; }
.ml-fit h3 { font-size: 1.05em; margin: 1.2em 0 0.4em; }
.ml-fit h4 { font-size: 1em; margin: 1em 0 0.3em; }
.ml-fit code, .ml-fit pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.ml-fit pre { background: #f6f8fa; padding: 0.8em; font-size: 0.85em;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.ml-fit table { border-collapse: collapse; font-size: 0.9em; margin: 0.4em 0; }
.ml-fit th, .ml-fit td { padding: 0.25em 0.7em; border-bottom: 1px solid #e5e7eb;
  text-align: left; }
.ml-fit thead th { border-bottom: 2px solid #8c959f; }
.ml-fit td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ml-fit td.warn { background: #fff1c2; font-weight: 600; }
.ml-fit .status { padding: 0.5em 0.8em; border-radius: 4px; margin: 0.4em 0; }
.ml-fit .ok { background: #dafbe1; border-left: 4px solid #1a7f37; }
.ml-fit .problems { background: #fff1c2; border-left: 4px solid #bf8700; }
.ml-fit .note { color: #57606a; font-style: italic; }
.ml-fit img { max-width: 100%; height: auto; }
"""


def report(fit: Fit, path: str | PathLike) -> None:
    """Write `page(fit)` to `path`, atomically: a reader sees the old file or the new one.

    Example:
        >>> fit.report("sleepstudy.html")  # doctest: +SKIP
    """
    text = page(fit)
    write_atomic(Path(path), lambda handle: handle.write(text.encode("utf-8")))


def page(fit: Fit, images: Sequence[Image] | None = None, title: str | None = None) -> str:
    """The whole report as one HTML document: `images` default to the plots of `PLOTS`, the
    title to the formula.

    Example:
        >>> page(fit).startswith("<!DOCTYPE html>")  # doctest: +SKIP
        True
    """
    if images is None:
        images = [draw(fit, method, heading) for method, heading in PLOTS]
    if title is None:
        formula = fit._model.design.formula.source
        title, heading = f"multilevel fit: {formula}", f"multilevel fit: <code>{_e(formula)}</code>"
    else:
        heading = _e(title)
    return document(title, f"<h1>{heading}</h1>\n" + fit_sections(fit, images))


def analysis_page(
    title: str,
    fits: Mapping[str, Fit],
    images: Mapping[str, Sequence[Image]],
    comparison: pd.DataFrame | None = None,
    note: str = "",
) -> str:
    """One page for several fits: an overview row each, the LOO `comparison` table and a
    `note` on it (its warnings, or why there is no table), then each fit's sections with its
    `images`.

    Example:
        >>> analysis_page("Sleep", {"a": fit_a, "b": fit_b}, {"a": [], "b": []})  # doctest: +SKIP
    """
    rows = pd.DataFrame(
        {
            "formula": [f._model.design.formula.source for f in fits.values()],
            "family": [f._model.family.name for f in fits.values()],
            "diagnostics": [
                "; ".join(f.diagnostics.problems) or "all checks passed" for f in fits.values()
            ],
        },
        index=pd.Index(list(fits), name="model"),
    )
    parts = [f"<h1>{_e(title)}</h1>\n", _section("models", "Models", html_table(rows))]
    if comparison is not None or note:
        body = "" if comparison is None else html_table(comparison, _number_format)
        if comparison is not None:
            body += (
                '<p class="note">PSIS-LOO (ArviZ), best first: elpd_diff is the difference in '
                "expected log predictive density from the best model, dse its standard error."
                "</p>\n"
            )
        if note:
            body += f'<div class="status problems">{_e(note)}</div>\n'
        parts.append(_section("comparison", "Comparison", body))
    for name, fit in fits.items():
        anchor = "model-" + "".join(c if c.isalnum() else "-" for c in name)
        body = fit_sections(fit, images[name], prefix=anchor + "-", level=3)
        parts.append(_section(anchor, f"Model '{name}'", body))
    return document(title, "".join(parts))


def document(title: str, body: str) -> str:
    """A self-contained HTML page: `body` with the stylesheet inline."""
    head = (
        '<meta charset="utf-8">\n'
        f'<meta name="generator" content="multilevel {_e(__version__)}">\n'
        f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n"
    )
    body += f'<p class="note">Written by multilevel {_e(__version__)}.</p>\n'
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n{head}</head>\n'
        f'<body>\n<main class="ml-fit">\n{body}</main>\n</body>\n</html>\n'
    )


def fit_sections(fit: Fit, images: Sequence[Image], prefix: str = "", level: int = 2) -> str:
    """Overview, model, priors, summary, diagnostics and plots of one fit, as sections whose
    headings have `level` and whose anchors start with `prefix`."""
    parts = [
        ("overview", "Overview", _overview(fit) + _status(fit)),
        ("model", "Model", _pre(fit.describe())),
        ("priors", "Priors", _priors(fit)),
        ("summary", "Posterior summary", _summary(fit)),
        ("diagnostics", "Diagnostics", _pre(str(fit.diagnostics))),
        ("plots", "Plots", _plots(images, level + 1)),
    ]
    return "".join(_section(prefix + a, title, body, level) for a, title, body in parts)


def repr_html(fit: Fit) -> str:
    """Jupyter's view of a fit: formula, family, engine, sizes, diagnostics and summary; no
    plots, so it shows at once.

    Example:
        >>> "<table" in fit._repr_html_()  # doctest: +SKIP
        True
    """
    parts = "".join([_overview(fit), _status(fit), _summary(fit)])
    return f'<div class="ml-fit"><style>{CSS}</style><strong>multilevel.Fit</strong>{parts}</div>'


# Parts.


def _overview(fit: Fit) -> str:
    """Formula, family, engine, data and group sizes, sampler settings and time."""
    model, s = fit._model, fit._posterior.settings
    rows = {
        "Formula": f"<code>{_e(model.design.formula.source)}</code>",
        "Family": _e(model.family.name),
        "Engine": _e(fit.engine),
        "Data": f"{model.design.n_rows} rows",
    }
    if groups := _group_sizes(fit):
        rows["Groups"] = _e(", ".join(f"{g}: {n} levels" for g, n in groups.items()))
    rows["Sampling"] = _e(
        f"{s.chains} chains x {s.draws} draws after {s.warmup} warmup, seed {s.seed}, "
        f"target_accept {s.target_accept}, max_treedepth {s.max_treedepth}, "
        f"metric {s.metric}; {fit._posterior.sampler.seconds:.1f} s"
    )
    body = "".join(f'<tr><th scope="row">{k}</th><td>{v}</td></tr>' for k, v in rows.items())
    return f'<table class="overview">{body}</table>\n'


def _group_sizes(fit: Fit) -> dict[str, int]:
    """Grouping factor -> number of levels (one entry per factor, shared by its terms)."""
    return {e.group: len(e.levels) for e in fit._model.effects}


def _status(fit: Fit) -> str:
    """One line if every check passed; otherwise each problem, listed."""
    problems = fit.diagnostics.problems
    if not problems:
        return '<div class="status ok">Diagnostics: all checks passed.</div>\n'
    items = "".join(f"<li>{_e(p)}</li>" for p in problems)
    return f'<div class="status problems">Diagnostics: problems found<ul>{items}</ul></div>\n'


def _summary(fit: Fit) -> str:
    """`fit.summary()` as a table; R-hat and ESS outside the diagnostics' limits marked."""
    table = fit.summary()
    ess_min = ESS_MIN_PER_CHAIN * fit._posterior.settings.chains

    def warn(column: str, value: float) -> bool:
        if column == "rhat":
            return bool(value > RHAT_MAX)
        return column.startswith("ess") and bool(value < ess_min)

    return html_table(table, _number_format, warn, css_class="summary")


def _priors(fit: Fit) -> str:
    """The prior of every parameter and where it came from (user or default); a column
    empty in every row (no bounds, no user statement) is left out."""
    table = priors_table(fit._model)
    shown = [c for c in PRIOR_COLUMNS if c in table.columns and (table[c] != "").any()]
    return html_table(table[shown], css_class="priors")


@dataclass(frozen=True)
class Image:
    """A drawn plot: its title and PNG, or the note why it is absent."""

    title: str
    png: bytes | None
    note: str = ""


def draw(fit: Fit, method: str, title: str, dpi: int = DPI, **options: Any) -> Image:
    """`getattr(fit, method)(**options)` as an Image; a ModelError (the plot does not apply,
    e.g. a caterpillar plot of a model without group effects) becomes its note."""
    try:
        figure = getattr(fit, method)(**options)
    except ModelError as err:
        return Image(title, None, str(err))
    return Image(title, png_bytes(figure, dpi))


def _plots(images: Sequence[Image], level: int) -> str:
    """Each image under its heading, or a note why it is absent."""
    parts = []
    for image in images:
        if image.png is None:
            body = f'<p class="note">Not shown: {_e(image.note)}</p>\n'
        else:
            body = image_html(image.png, image.title)
        parts.append(f"<h{level}>{_e(image.title)}</h{level}>\n{body}")
    return "".join(parts)


# HTML pieces.


def html_table(
    frame: pd.DataFrame,
    formatter: Callable[[str, object], str] = lambda column, value: str(value),
    warn: Callable[[str, float], bool] | None = None,
    css_class: str = "",
) -> str:
    """`frame` as an HTML table, index first; every name and value escaped. `formatter`
    turns (column, value) into text; `warn(column, value)` marks a numeric cell.

    Example:
        >>> table = html_table(pd.DataFrame({"a<b": [1.5]}, index=["x"]))
        >>> "<th>a&lt;b</th>" in table and '<td class="num">1.5</td>' in table
        True
    """
    header = [frame.index.name or "", *map(str, frame.columns)]
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    rows = []
    for label, values in zip(frame.index, frame.itertuples(index=False), strict=True):
        cells = [f"<th>{_e(str(label))}</th>"]
        for column, value in zip(map(str, frame.columns), values, strict=True):
            cells.append(_cell(column, value, formatter, warn))
        rows.append(f"<tr>{''.join(cells)}</tr>")
    attribute = f' class="{_e(css_class)}"' if css_class else ""
    return (
        f"<table{attribute}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>\n"
    )


def _cell(
    column: str,
    value: object,
    formatter: Callable[[str, object], str],
    warn: Callable[[str, float], bool] | None,
) -> str:
    numeric = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    classes = ["num"] if numeric else []
    if numeric and warn is not None and warn(column, float(value)):
        classes.append("warn")
    attribute = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td{attribute}>{_e(formatter(column, value))}</td>"


def _number_format(column: str, value: object) -> str:
    """R-hat to 3 decimals, ESS whole, estimates to 4 significant digits; NaN as NA."""
    if not isinstance(value, int | float | np.number) or isinstance(value, bool):
        return str(value)
    if np.isnan(value):
        return "NA"
    if column == "rhat":
        return f"{value:.3f}"
    if column.startswith("ess"):
        return f"{value:.0f}"
    return f"{value:.4g}"


def png_bytes(figure: Figure, dpi: int) -> bytes:
    """`figure` as PNG; the figure is closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(figure)
    return buffer.getvalue()


def image_html(png: bytes, alt: str) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{encoded}">\n'


def _section(anchor: str, title: str, body: str, level: int = 2) -> str:
    return f'<section id="{anchor}">\n<h{level}>{_e(title)}</h{level}>\n{body}</section>\n'


def _pre(text: str) -> str:
    return f"<pre>{_e(text)}</pre>\n"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


# Writing.


__all__ = [
    "Image",
    "analysis_page",
    "document",
    "draw",
    "html_table",
    "page",
    "png_bytes",
    "report",
    "repr_html",
]
