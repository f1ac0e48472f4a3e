"""The bad-input catalogue: each mistake ends in one of our errors, naming the culprit.

No case may end in a raw traceback from JAX, numpyro, formulaic or pandas: every case asserts
the error type and a fragment of the message that names the column, term, prior or value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel as ml


@pytest.fixture(scope="module")
def df(sleepstudy) -> pd.DataFrame:
    return sleepstudy.assign(
        const=1.0,
        Days2=sleepstudy["Days"] * 2,
        txt="a",
        pair=sleepstudy["Subject"] % 2,
    )


def _two_rows_per_subject(df: pd.DataFrame) -> pd.DataFrame:
    return df.groupby("Subject").head(2).reset_index(drop=True)


CASES = [
    # (name, formula, data transform, keywords, error, fragment naming the culprit)
    ("missing column", "Reaction ~ Dayz", None, {}, ml.DataError, "unknown column 'Dayz'"),
    ("misspelled column suggests", "Reaction ~ Dayz", None, {}, ml.DataError, "'Days'?"),
    ("empty data", "Reaction ~ Days", lambda d: d.iloc[:0], {}, ml.DataError, "no rows"),
    ("one row", "Reaction ~ Days", lambda d: d.iloc[:1], {}, ml.DataError, "1 row"),
    (
        "infinite predictor",
        "Reaction ~ Days",
        lambda d: d.assign(Days=np.where(d["Days"] == 0, np.inf, d["Days"])),
        {},
        ml.DataError,
        "column 'Days' has 18 infinite",
    ),
    (
        "missing response",
        "Reaction ~ Days",
        lambda d: d.assign(Reaction=np.where(d["Days"] == 3, np.nan, d["Reaction"])),
        {},
        ml.DataError,
        "column 'Reaction' has 18 missing",
    ),
    (
        "missing predictor",
        "Reaction ~ Days",
        lambda d: d.assign(Days=np.where(d["Days"] == 3, np.nan, d["Days"])),
        {},
        ml.DataError,
        "column 'Days' has 18 missing",
    ),
    (
        "infinite response",
        "Reaction ~ Days",
        lambda d: d.assign(Reaction=np.where(d["Days"] == 3, -np.inf, d["Reaction"])),
        {},
        ml.DataError,
        "column 'Reaction' has 18 infinite",
    ),
    (
        "infinite group",
        "Reaction ~ Days + (1 | Subject)",
        lambda d: d.assign(Subject=np.where(d["Days"] == 3, np.inf, d["Subject"])),
        {},
        ml.DataError,
        "'Subject'",
    ),
    (
        "missing group",
        "Reaction ~ Days + (1 | Subject)",
        lambda d: d.assign(Subject=np.where(d["Days"] == 0, np.nan, d["Subject"])),
        {},
        ml.DataError,
        "'Subject'",
    ),
    ("non-numeric response", "txt ~ Days", None, {}, ml.DataError, "response 'txt'"),
    ("constant predictor", "Reaction ~ const", None, {}, ml.ModelError, "column 'const'"),
    (
        "collinear predictors",
        "Reaction ~ Days + Days2",
        None,
        {},
        ml.ModelError,
        "'Days2' of the fixed terms is a linear combination of 'Days'",
    ),
    ("one-level group", "Reaction ~ Days + (1 | txt)", None, {}, ml.DataError, "'txt'"),
    (
        "slope constant within every group",
        "Reaction ~ Days + (1 + pair | Subject)",
        None,
        {},
        ml.DataError,
        "'pair' is constant within every level of 'Subject'",
    ),
    (
        "more group coefficients than rows",
        "Reaction ~ Days + (Days | Subject)",
        _two_rows_per_subject,
        {},
        ml.ModelError,
        "36 group-level coefficients ((Days | Subject): 18 x 2) but only 36 rows",
    ),
    ("unbalanced parentheses", "Reaction ~ Days + (1 | Subject", None, {}, ml.FormulaError, "'('"),
    ("empty group term", "Reaction ~ Days + ( | Subject)", None, {}, ml.FormulaError, "empty"),
    ("bar outside parentheses", "Reaction ~ Days + 1 | Subject", None, {}, ml.FormulaError, "'|'"),
    ("unknown function", "Reaction ~ foo(Days)", None, {}, ml.FormulaError, "function 'foo'"),
    (
        "python code in a term",
        "Reaction ~ __import__('os').system('x')",
        None,
        {},
        ml.FormulaError,
        "cannot read the fixed terms",
    ),
    ("duplicated term", "Reaction ~ Days + Days", None, {}, ml.FormulaError, "'Days' appears"),
    ("response on the right", "Reaction ~ Reaction", None, {}, ml.FormulaError, "'Reaction'"),
    (
        "prior on a missing parameter",
        "Reaction ~ Days",
        None,
        {"priors": ["b_Dayz ~ normal(0, 1)"]},
        ml.PriorError,
        "'b_Dayz'",
    ),
    (
        "malformed prior",
        "Reaction ~ Days",
        None,
        {"priors": ["b ~ normal(0,"]},
        ml.PriorError,
        "'b ~ normal(0,'",
    ),
    (
        "negative scale",
        "Reaction ~ Days",
        None,
        {"priors": ["b ~ normal(0, -1)"]},
        ml.PriorError,
        "sd must be > 0",
    ),
    (
        "improper prior: flat sd with two levels and a flat mean",
        "Reaction ~ Days + (1 | Subject)",
        lambda d: d[d["Subject"].isin([308, 309])],
        {"priors": ["sd ~ flat()", "Intercept ~ flat()"]},
        ml.PriorError,
        "a flat prior on sd_Subject__Intercept makes the posterior improper: the grouping "
        "factor 'Subject' has 2 levels",
    ),
    (
        "improper prior: flat variance with two levels",
        "Reaction ~ Days + (1 | Subject)",
        lambda d: d[d["Subject"].isin([308, 309])],
        {"priors": ["sd^2 ~ flat()"]},
        ml.PriorError,
        "a flat prior on the variance sd_Subject__Intercept^2 makes the posterior improper: "
        "the grouping factor 'Subject' has 2 levels",
    ),
    (
        "improper prior: flat precision",
        "Reaction ~ Days + (1 | Subject)",
        None,
        {"priors": ["sd_Subject^-2 ~ flat()"]},
        ml.PriorError,
        "a flat prior on the precision 1/sd_Subject__Intercept^2 makes the posterior improper",
    ),
    (
        "improper prior: flat sigma with two rows",
        "Reaction ~ 1",
        lambda d: d.iloc[:2],
        {"priors": ["sigma ~ flat()", "Intercept ~ flat()"]},
        ml.PriorError,
        "a flat prior on sigma makes the posterior improper: with 2 rows",
    ),
    (
        "improper prior: flat nu",
        "Reaction ~ Days",
        None,
        {"family": "student", "priors": ["nu ~ flat()"]},
        ml.PriorError,
        "a flat prior on nu makes the posterior improper",
    ),
    ("unknown family", "Reaction ~ Days", None, {"family": "gausian"}, ml.ModelError, "'gausian'"),
    ("unknown link", "Reaction ~ Days", None, {"link": "logt"}, ml.ModelError, "'logt'"),
]


@pytest.mark.parametrize(
    ("formula", "transform", "keywords", "error", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_names_the_culprit(df, formula, transform, keywords, error, fragment):
    data = df if transform is None else transform(df)
    with pytest.raises(error) as caught:
        ml.Model(formula, data, **keywords)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("keyword", "value", "fragment"),
    [
        ("chains", 0, "chains must be a whole number from 1"),
        ("draws", 1.5, "draws must be a whole number"),
        ("seed", -1, "seed must be a whole number from 0"),
        ("target_accept", 1.2, "target_accept must be a number between 0 and 1"),
    ],
)
def test_fit_settings_out_of_range(df, keyword, value, fragment):
    with pytest.raises(ml.ModelError, match=fragment):
        ml.Model("Reaction ~ Days", df).fit(**{keyword: value})


# Files and analysis.toml, end to end through `multilevel run`: exit status 2, one line on
# stderr naming the culprit, no traceback.

TOML = """
[data]
path = "data.csv"
[model]
formula = "Reaction ~ Days + (1 | Subject)"
[fit]
chains = 2
"""
SLEEP_CSV = "Reaction,Days,Subject\n249.56,0,308\n258.7,1,308\n250.8,0,309\n"

FILE_CASES = [
    # (name, analysis.toml text, data file name, data bytes, fragment naming the culprit)
    ("not CSV or Parquet", TOML.replace("data.csv", "data.xlsx"), "data.xlsx", b"PK\x03\x04",
     "data.xlsx' is neither CSV (.csv, .tsv) nor Parquet"),
    ("bad encoding", TOML, "data.csv", SLEEP_CSV.replace("308\n", "3\xe908\n", 1).encode("latin-1"),
     "is not utf-8 text: byte 0xe9 on line 2"),
    ("ragged row", TOML, "data.csv", (SLEEP_CSV + "1,2\n").encode(),
     "line 5 has 2 field(s) but the header has 3"),
    ("corrupt Parquet", TOML.replace("data.csv", "data.parquet"), "data.parquet", b"PAR1 no",
     "cannot read"),
    ("missing data file", TOML.replace("data.csv", "nope.csv"), "data.csv", SLEEP_CSV.encode(),
     "[data] path: no such file 'nope.csv'"),
    ("unknown key", TOML.replace("chains", "chians"), "data.csv", SLEEP_CSV.encode(),
     "[fit]: unknown key 'chians' (did you mean 'chains'?)"),
    ("wrong type", TOML.replace("chains = 2", 'chains = "two"'), "data.csv", SLEEP_CSV.encode(),
     "[fit] chains: expected a whole number"),
    ("chains out of range", TOML.replace("chains = 2", "chains = 0"), "data.csv",
     SLEEP_CSV.encode(), "chains must be a whole number from 1 to 64, got 0"),
    ("draws out of range", TOML.replace("chains = 2", "draws = -5"), "data.csv",
     SLEEP_CSV.encode(), "draws must be a whole number from 1"),
    ("seed out of range", TOML.replace("chains = 2", "seed = -1"), "data.csv",
     SLEEP_CSV.encode(), "seed must be a whole number from 0"),
    ("model error names its section", TOML.replace("Days +", "Dayz +"), "data.csv",
     SLEEP_CSV.encode(), "[model]: the formula names 'Dayz'"),
    ("bad toml", TOML.replace("[fit]", "[fit"), "data.csv", SLEEP_CSV.encode(),
     "is not valid TOML"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("toml", "file", "content", "fragment"),
    [case[1:] for case in FILE_CASES],
    ids=[case[0] for case in FILE_CASES],
)
def test_bad_files_end_in_one_line(tmp_path, capsys, toml, file, content, fragment):
    from multilevel.cli import main

    (tmp_path / "analysis.toml").write_text(toml)
    (tmp_path / file).write_bytes(content)
    assert main(["run", str(tmp_path / "analysis.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("multilevel: error: ") and err.count("\n") == 1, err
    assert fragment in err and "Traceback" not in err
