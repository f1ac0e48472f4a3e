"""`fit.report(path)` and `Fit._repr_html_`: the page holds the summary table, description,
priors, diagnostics and plots as inline PNGs, escapes every text, is written atomically, and
renders to a non-blank screenshot in headless Chromium.

One fake fit (no sampling) serves every test; its predictor is renamed `Days<&>` so that
the formula, the description, the priors and the summary all carry characters HTML must
escape. Replicated data are injected so the posterior predictive plot compiles nothing.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import base64
import dataclasses
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

import multilevel as ml
from multilevel._errors import ModelError
from multilevel.model import priors_table
from multilevel.results._report import page

from fakes import fake_fit

PREDICTOR = "Days<&>"
FORMULA = f"Reaction ~ `{PREDICTOR}` + (`{PREDICTOR}` | Subject)"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,2000",
]


class Page(HTMLParser):
    """What the tests read from a page: tables (header row, then rows of cell texts), the
    text of each <pre>, image sources, every tag and attribute, and the whole text."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.pres: list[str] = []
        self.images: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""
        self._cell: list[str] | None = None
        self._pre: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("th", "td"):
            self._cell = []
        elif tag == "pre":
            self._pre = []
        elif tag == "img":
            self.images.append(attributes["src"] or "")

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "pre" and self._pre is not None:
            self.pres.append("".join(self._pre))
            self._pre = None

    def handle_data(self, data):
        self.text += data
        for part in (self._cell, self._pre):
            if part is not None:
                part.append(data)

    def table_with(self, *columns: str) -> dict[str, dict[str, str]]:
        """The first table whose header has `columns`, as {row label: {column: text}}."""
        for table in self.tables:
            header = table[0]
            if set(columns) <= set(header):
                return {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in table[1:]}
        raise AssertionError(f"no table with columns {columns}")


@pytest.fixture(scope="module")
def fit(sleepstudy):
    data = sleepstudy.rename(columns={"Days": PREDICTOR})
    fit = fake_fit(ml.Model(FORMULA, data=data), draws=20)
    observed, posterior = fit.idata.observed_data["Reaction"], fit.idata.posterior
    shape = (posterior.sizes["chain"], posterior.sizes["draw"], observed.size)
    replicated = np.random.default_rng(0).choice(observed.values, shape)
    dims = ("chain", "draw", "obs")
    coords = {"chain": posterior.chain, "draw": posterior.draw, "obs": observed.obs}
    dataset = xr.Dataset({"Reaction": (dims, replicated)}, coords=coords)
    fit.idata.add_groups({"posterior_predictive": dataset})
    return fit


@pytest.fixture(scope="module")
def report(fit, tmp_path_factory):
    """The report of `fit`, written over an existing file: (path, html)."""
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text("old report")
    plt.close("all")
    fit.report(path)
    return path, path.read_text(encoding="utf-8")


def test_report_has_summary_table(fit, report):
    parsed = Page(report[1])
    table = parsed.table_with("parameter", "mean", "sd", "rhat", "ess_bulk", "ess_tail")
    summary = fit.summary()
    assert list(table) == summary.index.tolist()
    assert {"b_Intercept", f"b_{PREDICTOR}", "sigma", f"sd_Subject__{PREDICTOR}"} <= set(table)
    assert table["b_Intercept"]["mean"] == f"{summary.loc['b_Intercept', 'mean']:.4g}"
    assert table["sigma"]["rhat"] == f"{summary.loc['sigma', 'rhat']:.3f}"


def test_report_has_description_priors_and_diagnostics(fit, report):
    parsed = Page(report[1])
    assert fit.describe() in parsed.pres
    assert str(fit.diagnostics) in parsed.pres
    priors = parsed.table_with("parameter", "prior", "source")
    expected = priors_table(fit._model)
    assert list(priors) == expected.index.tolist()
    assert [row["prior"] for row in priors.values()] == expected["prior"].tolist()
    assert all(problem in parsed.text for problem in fit.diagnostics.problems)


def test_report_embeds_each_plot_as_png_and_closes_it(report):
    parsed = Page(report[1])
    titles = ["Trace plots", "Rank plots", "Group effects", "Posterior predictive check"]
    assert all(title in parsed.text for title in titles)
    assert len(parsed.images) == 4
    for source in parsed.images:
        prefix, encoded = source.split(",", 1)
        assert prefix == "data:image/png;base64"
        assert base64.b64decode(encoded).startswith(b"\x89PNG\r\n\x1a\n")
    assert plt.get_fignums() == []


def test_report_is_self_contained(report):
    parsed = Page(report[1])
    tags = {tag for tag, _ in parsed.tags}
    assert not tags & {"script", "link", "iframe", "object"}
    for _, attributes in parsed.tags:
        for name in ("src", "href"):
            assert not (attributes.get(name) or "").startswith(("http:", "https:", "//"))


def test_report_escapes_every_text(report):
    text = report[1]
    assert PREDICTOR not in text
    assert "Days&lt;&amp;&gt;" in text
    parsed = Page(text)
    assert f"`{PREDICTOR}`" in parsed.text  # the formula, unescaped by the parser


def test_report_replaces_the_file_atomically(report):
    path, text = report
    assert text.startswith("<!DOCTYPE html>")
    assert os.listdir(path.parent) == ["report.html"]


def test_report_leaves_the_old_file_when_a_plot_fails(fit, tmp_path, monkeypatch):
    path = tmp_path / "report.html"
    path.write_text("old report")

    def broken():
        raise RuntimeError("not a documented not-applicable error")

    monkeypatch.setattr(fit, "plot_trace", broken)
    with pytest.raises(RuntimeError):
        fit.report(path)
    assert path.read_text() == "old report"
    assert os.listdir(tmp_path) == ["report.html"]


def test_plot_that_does_not_apply_is_a_note(fit, monkeypatch):
    def small_figure():
        return plt.subplots(figsize=(2, 2))[0]

    def no_groups():
        raise ModelError("this model has no group effects to plot")

    for method in ("plot_trace", "plot_rank", "plot_ppc"):
        monkeypatch.setattr(fit, method, small_figure)
    monkeypatch.setattr(fit, "plot_group_effects", no_groups)
    parsed = Page(page(fit))
    assert len(parsed.images) == 3
    assert "Not shown: this model has no group effects to plot" in parsed.text
    assert plt.get_fignums() == []


def test_repr_html_is_compact(fit):
    text = fit._repr_html_()
    parsed = Page(text)
    assert f"`{PREDICTOR}`" in parsed.text and PREDICTOR not in text
    for expected in ("gaussian", fit.engine, "180 rows", "Subject: 18 levels", "2 chains"):
        assert expected in parsed.text
    assert "problems found" in parsed.text
    assert all(problem in parsed.text for problem in fit.diagnostics.problems)
    table = parsed.table_with("parameter", "mean", "sd", "rhat")
    assert list(table) == fit.summary().index.tolist()
    assert parsed.images == []
    assert not {tag for tag, _ in parsed.tags} & {"script", "html", "body"}


def test_repr_html_says_when_diagnostics_are_ok(fit, monkeypatch):
    posterior = fit._posterior
    healthy = dataclasses.replace(posterior.diagnostics, problems=())
    monkeypatch.setattr(fit, "_posterior", dataclasses.replace(posterior, diagnostics=healthy))
    text = Page(fit._repr_html_()).text
    assert "all checks passed" in text
    assert "problems found" not in text


@pytest.fixture(scope="module")
def chromium() -> str:
    """The chromium executable; the test is skipped (before the report is built) without it."""
    path = shutil.which("chromium")
    if path is None:
        pytest.skip(
            "chromium is not installed (CI installs Debian's package: apt-get install chromium)"
        )
    return path


def test_report_renders_in_headless_chromium(chromium, report, tmp_path):
    path = report[0]
    screenshot = tmp_path / "report.png"
    command = [
        chromium,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={screenshot}",
        Path(path).as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert screenshot.exists(), result.stderr[-2000:]
    pixels = matplotlib.image.imread(screenshot)[..., :3]
    assert pixels.shape[:2] == (2000, 1200)
    assert pixels.std() > 0.05
    # Each pixel's colour as one integer 0xRRGGBB; the background is the commonest.
    rgb = np.round(pixels * 255).astype(np.int64) @ np.array([1 << 16, 1 << 8, 1])
    background = np.argmax(np.bincount(rgb.ravel()))
    differs = np.mean(rgb != background)
    assert differs > 0.1, f"only {differs:.1%} of the screenshot differs from its background"
