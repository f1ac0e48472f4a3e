"""`multilevel init NAME`: a new analysis folder with `analysis.toml`, `data/` and a README.

Example:
    >>> folder = init_analysis(Path("my-study"))  # doctest: +SKIP
    >>> sorted(p.name for p in folder.iterdir())  # doctest: +SKIP
    ['README.md', 'analysis.toml', 'data']
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .._errors import MultilevelError
from ._files import read_data

TEMPLATE = """\
# {title}: run with `multilevel run analysis.toml` (results go to results/).
# Every key is optional unless marked; `multilevel run` names any mistake.
title = "{title}"

[data]
# required: a CSV (.csv, .tsv) or Parquet (.parquet) file, relative to this file
path = "{path}"
{columns}na_action = "error"             # rows with missing values: "error" or "drop" (reported)
# filters = ["age >= 18", "arm in ['a', 'b']"]   # keep the rows where every one is true
# encoding = "latin-1"                          # a CSV file's encoding, when not UTF-8

# [data.columns]                # column types: numeric, integer, category, ordered, string,
# group = "category"            # boolean; factors may list levels (the first is the reference)
# arm = {{ type = "category", levels = ["control", "treated"] }}

# [data.derive]                 # new columns, from +-*/, comparisons, log, exp, sqrt, cut(...)
# proportion = "rating / 100"

[model]
formula = "y ~ x + (1 | g)"     # required: lme4/brms syntax, e.g. "y ~ tx + (0 + tx | cluster)"
family = "gaussian"             # bernoulli, binomial, poisson, negbinomial, cumulative, ...
# sigma = "~ tx"                # a formula for a distributional parameter (here a sd per arm)

# Several models instead of [model], compared by PSIS-LOO in the report:
# [models.intercepts]
# formula = "y ~ x + (1 | g)"
# [models.slopes]
# formula = "y ~ x + (1 + x | g)"

[priors]                        # parameter = "distribution"; brms's defaults for the rest
# b = "normal(0, 10)"
# "sd_g__Intercept^2" = "inv_gamma(0.01, 0.01)"   # ^2: a prior on the variance

[fit]
chains = 4
warmup = 1000
draws = 1000
seed = 1                        # fixed, so a rerun gives the same draws
engine = "auto"                 # auto, full or marginal

[outputs]
plots = ["trace", "rank", "group_effects", "ppc"]   # and prior_posterior
# conditional = ["x"]           # conditional-effects plots
report = true                   # results/report.html
predictions = false             # true: results/predictions.csv; or a file of new rows

# Simulation-based calibration (`multilevel sbc analysis.toml`): does the model recover its
# own parameters? Needs proper priors on every parameter (set [priors] b).
# [sbc]
# replicates = 200
# seed = 1
"""

README = """\
# {title}

A multilevel analysis in four parts, all in `analysis.toml`:

1. **data**: put the data file in `data/` and set `[data] path`.
2. **model**: set `[model] formula` (lme4/brms syntax) and `family`; `[priors]` if any.
3. **fit**: `[fit]` sets chains, draws and the seed.
4. **graphics**: `[outputs]` picks the plots and the report.

Run it:

```bash
multilevel run analysis.toml          # writes results/
multilevel run analysis.toml --refit  # fit again even if nothing changed
multilevel sbc analysis.toml          # calibration: results/sbc/ (see [sbc])
```

`results/` holds `describe.txt` (the model in statistical notation: did I specify it
right?), `priors.csv`, `summary.csv`, `diagnostics.txt`, the saved fit `fit.mlv` (open it
with `multilevel.load`), `plots/*.png` and `report.html`. A rerun with unchanged data,
model and settings reuses the saved fit.
"""


def init_analysis(folder: Path, data: Path | None = None) -> Path:
    """Create `folder` with a commented `analysis.toml`, `data/` (holding a copy of `data`,
    if given) and a README; fails rather than overwrite anything."""
    if folder.exists() and any(folder.iterdir()):
        raise MultilevelError(f"'{folder}' exists and is not empty; pick a new folder name")
    columns = ""
    path = "data/data.csv"
    if data is not None:
        names = list(map(str, read_data(data).columns))
        columns = f"# the file's columns: {', '.join(names)}\n"
        path = f"data/{data.name}"
    (folder / "data").mkdir(parents=True, exist_ok=True)
    if data is not None:
        shutil.copyfile(data, folder / path)
    title = folder.resolve().name
    (folder / "analysis.toml").write_text(TEMPLATE.format(title=title, path=path, columns=columns))
    (folder / "README.md").write_text(README.format(title=title))
    return folder
