"""Data frames from polars: the same checks and the same model as from pandas.

`as_frame` turns a polars frame into the pandas frame that pandas itself would have read:
nulls as NaN in float64 columns, String as pandas' `str`, Categorical as an unordered
categorical of its values sorted, Enum as an ordered categorical in the Enum's order.
"""

from __future__ import annotations

import decimal

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.design import as_frame

pl = pytest.importorskip("polars")


# ---------------------------------------------------------------------------------------------
# Column by column
# ---------------------------------------------------------------------------------------------


def test_float_and_int_nulls_become_nan_in_float64_columns():
    frame = as_frame(
        pl.DataFrame(
            {
                "f": pl.Series([1.0, None, 3.0]),
                "nan": pl.Series([1.0, float("nan"), 3.0]),
                "i": pl.Series([1, None, 3], dtype=pl.Int64),
                "u": pl.Series([1, None, 3], dtype=pl.UInt8),
                "whole": pl.Series([1, 2, 3], dtype=pl.Int64),
            }
        )
    )
    for name in ("f", "nan", "i", "u"):
        assert frame[name].dtype == np.float64, name
        assert frame[name].isna().tolist() == [False, True, False], name
    assert frame["whole"].dtype == np.int64


def test_text_and_booleans_are_as_pandas_has_them():
    frame = as_frame(
        pl.DataFrame(
            {
                "s": pl.Series(["a", None, "c"]),
                "b": pl.Series([True, False, True]),
                "bn": pl.Series([True, None, True]),
            }
        )
    )
    reference = pd.DataFrame({"s": ["a", None, "c"], "b": [True, False, True]})
    assert frame["s"].dtype == reference["s"].dtype
    assert frame["s"].isna().tolist() == [False, True, False]
    assert frame["b"].dtype == np.bool_
    # A boolean column with nulls is an object column of True/False/None, as in pandas.
    assert frame["bn"].dtype == object
    assert frame["bn"].isna().tolist() == [False, True, False]


def test_categorical_has_its_values_sorted_as_categories():
    # polars encodes categories in the order it first meets them, and sorts them lexically.
    column = pl.Series(["zeta", "b", "a", "b", None], dtype=pl.Categorical)
    frame = as_frame(pl.DataFrame({"c": column}).filter(pl.col("c") != "zeta"))
    dtype = frame["c"].dtype
    assert isinstance(dtype, pd.CategoricalDtype)
    assert not dtype.ordered
    assert list(dtype.categories) == ["a", "b"]
    assert frame["c"].tolist() == ["b", "a", "b"]


def test_enum_is_an_ordered_categorical_in_its_order():
    levels = ["low", "mid", "high"]
    column = pl.Series(["high", "low", None, "mid"], dtype=pl.Enum(levels))
    frame = as_frame(pl.DataFrame({"e": column}))
    dtype = frame["e"].dtype
    assert isinstance(dtype, pd.CategoricalDtype)
    assert dtype.ordered
    assert list(dtype.categories) == levels
    assert frame["e"].isna().tolist() == [False, False, True, False]


def test_decimal_and_128_bit_integers_become_float64():
    frame = as_frame(
        pl.DataFrame(
            {
                "d": pl.Series([decimal.Decimal("1.5"), None]),
                "i128": pl.Series([1, None], dtype=pl.Int128),
            }
        )
    )
    assert frame["d"].dtype == np.float64
    assert frame["d"].tolist()[0] == 1.5
    assert frame["i128"].dtype == np.float64
    assert frame["i128"].isna().tolist() == [False, True]


def test_pyarrow_backed_pandas_columns_become_plain(partially_clustered):
    polars_frame = pl.from_pandas(partially_clustered).with_columns(
        pl.when(pl.col("subject") == 3).then(None).otherwise(pl.col("tx")).alias("tx"),
        pl.col("group").cast(pl.Enum(sorted(partially_clustered["group"].unique()))),
    )
    arrow_backed = polars_frame.to_pandas(use_pyarrow_extension_array=True)
    assert all(isinstance(dtype, pd.ArrowDtype) for dtype in arrow_backed.dtypes)
    frame = as_frame(arrow_backed)
    pd.testing.assert_frame_equal(frame, as_frame(polars_frame))
    assert frame["tx"].dtype == np.float64 and frame["tx"].isna().sum() == 1
    assert frame["group"].cat.ordered


def test_a_column_pandas_cannot_hold_is_named():
    data = pl.DataFrame({"y": [1.0], "nested": pl.Series([[1]], dtype=pl.List(pl.Int128))})
    with pytest.raises(ml.DataError, match=r"column 'nested' has the polars dtype List\(Int128\)"):
        as_frame(data)


def test_lazy_frame_is_collected_and_series_is_refused():
    lazy = pl.DataFrame({"y": [1.0, 2.0], "x": [0.0, 1.0]}).lazy()
    assert as_frame(lazy).shape == (2, 2)
    with pytest.raises(ml.DataError, match=r"polars Series \(for a Series, use series.to_frame"):
        as_frame(pl.Series("y", [1.0, 2.0]))


# ---------------------------------------------------------------------------------------------
# The same model from pandas and from polars
# ---------------------------------------------------------------------------------------------


def _log_density(model: ml.Model, theta: np.ndarray) -> float:
    compiled = model._compiled
    return float(jax.jit(compiled.log_density())(jnp.asarray(theta), compiled.data))


def _assert_same_model(from_pandas: ml.Model, from_polars: ml.Model) -> None:
    assert from_polars.describe() == from_pandas.describe()
    pd.testing.assert_frame_equal(from_polars.priors(), from_pandas.priors())
    a, b = from_pandas._compiled, from_polars._compiled
    assert b.fingerprint == a.fingerprint
    assert a.data.keys() == b.data.keys()
    for key in a.data:
        np.testing.assert_array_equal(np.asarray(b.data[key]), np.asarray(a.data[key]), key)
    theta = np.random.default_rng(1).normal(0.0, 0.3, a.dim)
    expected = _log_density(from_pandas, theta)
    assert np.isfinite(expected)
    assert _log_density(from_polars, theta) == pytest.approx(expected, rel=1e-12)


def test_sleepstudy_from_polars_is_the_same_model(sleepstudy):
    formula = "Reaction ~ Days + (Days | Subject)"
    _assert_same_model(ml.Model(formula, sleepstudy), ml.Model(formula, pl.from_pandas(sleepstudy)))


def test_partially_clustered_from_polars_is_the_same_model(partially_clustered):
    def model(data):
        return ml.Model(
            "y ~ tx + (0 + tx | cluster)",
            data,
            priors=["b_Intercept ~ normal(20, 5)", "sd_cluster__tx^2 ~ inv_gamma(1, 1)"],
            sigma="~ tx",
        )

    _assert_same_model(model(partially_clustered), model(pl.from_pandas(partially_clustered)))


def test_categorical_grouping_factor_is_read_as_text_is(partially_clustered):
    """A polars Categorical gives the levels a String column gives (sorted), whatever order
    polars encoded them in."""
    shuffled = partially_clustered.sample(frac=1.0, random_state=3).reset_index(drop=True)
    as_text = pl.from_pandas(shuffled)
    as_categorical = as_text.with_columns(pl.col("cluster", "group").cast(pl.Categorical))
    formula = "y ~ group + (1 | cluster)"
    _assert_same_model(ml.Model(formula, shuffled), ml.Model(formula, as_categorical))
    _assert_same_model(ml.Model(formula, shuffled), ml.Model(formula, as_text))


def test_cumulative_model_with_an_enum_response(wine):
    """An Enum response is an ordered factor: its order, not the text's, sets the levels."""
    levels = ["1", "2", "3", "4", "5"]
    rating = wine["rating"].astype(str)
    ordered = wine.assign(rating=pd.Categorical(rating, categories=levels, ordered=True))
    enum = pl.from_pandas(wine).with_columns(pl.col("rating").cast(pl.String).cast(pl.Enum(levels)))
    formula = "rating ~ temp + contact + (1 | judge)"
    from_polars = ml.Model(formula, enum, family="cumulative")
    _assert_same_model(ml.Model(formula, ordered, family="cumulative"), from_polars)
    # Against the plain numbers (whose order is the same): the same model again.
    _assert_same_model(ml.Model(formula, wine, family="cumulative"), from_polars)
    # A reversed Enum reverses the levels, hence the codes of the response.
    reversed_enum = enum.with_columns(pl.col("rating").cast(pl.String).cast(pl.Enum(levels[::-1])))
    backwards = ml.Model(formula, reversed_enum, family="cumulative")._compiled
    np.testing.assert_array_equal(
        np.asarray(backwards.data["y"]), 4 - np.asarray(from_polars._compiled.data["y"])
    )


# ---------------------------------------------------------------------------------------------
# Bad input: the same error, word for word
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def df(sleepstudy) -> pd.DataFrame:
    return sleepstudy.assign(txt="a")


BAD = [
    # (name, formula, data transform)
    ("missing column", "Reaction ~ Dayz", None),
    (
        "null in response",
        "Reaction ~ Days",
        lambda d: d.assign(Reaction=np.where(d["Days"] == 3, np.nan, d["Reaction"])),
    ),
    (
        "null in predictor",
        "Reaction ~ Days",
        lambda d: d.assign(Days=np.where(d["Days"] == 0, np.nan, d["Days"])),
    ),
    (
        "null in group",
        "Reaction ~ Days + (1 | Subject)",
        lambda d: d.assign(Subject=np.where(d["Days"] == 0, np.nan, d["Subject"])),
    ),
    ("empty frame", "Reaction ~ Days", lambda d: d.iloc[:0]),
    ("non-numeric response", "txt ~ Days", None),
]


@pytest.mark.parametrize(
    ("formula", "transform"), [case[1:] for case in BAD], ids=[case[0] for case in BAD]
)
def test_bad_input_gives_the_same_error_from_polars(df, formula, transform):
    data = df if transform is None else transform(df)
    with pytest.raises(ml.MultilevelError) as from_pandas:
        ml.Model(formula, data)
    with pytest.raises(ml.MultilevelError) as from_polars:
        ml.Model(formula, pl.from_pandas(data))
    assert type(from_polars.value) is type(from_pandas.value)
    assert str(from_polars.value) == str(from_pandas.value)


def test_nan_and_null_are_both_missing(df):
    reaction = np.where(df["Days"] == 3, np.nan, df["Reaction"])
    with_nan = pl.from_pandas(df.assign(Reaction=reaction), nan_to_null=False)
    with_null = pl.from_pandas(df.assign(Reaction=reaction))
    assert with_nan["Reaction"].null_count() == 0
    assert with_null["Reaction"].null_count() == 18
    for data in (with_nan, with_null):
        with pytest.raises(ml.DataError, match="column 'Reaction' has 18 missing value"):
            ml.Model("Reaction ~ Days", data)


def test_null_in_an_integer_predictor_is_named(df):
    days = pl.from_pandas(df).with_columns(
        pl.when(pl.col("Days") == 0).then(None).otherwise(pl.col("Days")).alias("Days")
    )
    assert days.schema["Days"] == pl.Int64
    with pytest.raises(ml.DataError, match="column 'Days' has 18 missing value"):
        ml.Model("Reaction ~ Days", days)
