"""Filters and derived columns: evaluated column-wise, never by `eval`; mistakes named."""

import numpy as np
import pandas as pd
import pytest

from multilevel.cli._expressions import ExpressionError, evaluate


@pytest.fixture
def df() -> pd.DataFrame:
    return pd.DataFrame(
        {"rating": [0, 5, 40, 99], "arm": ["a", "b", "a", "c"], "w": [1.0, np.nan, 2.0, 3.0]}
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rating / 100", [0.0, 0.05, 0.4, 0.99]),
        ("-rating + 1", [1, -4, -39, -98]),
        ("log1p(rating)", list(np.log1p([0, 5, 40, 99]))),
        ("rating > 0 and arm == 'a'", [False, False, True, False]),
        ("not (rating > 0) or arm in ['c']", [True, False, False, True]),
        ("arm not in ['a', 'b']", [False, False, False, True]),
        ("0 < rating < 50", [False, True, True, False]),
        ("isna(w)", [False, True, False, False]),
    ],
)
def test_expressions_match_pandas(df, text, expected):
    value = evaluate(text, df)
    np.testing.assert_allclose(np.asarray(value, dtype=float), np.asarray(expected, float))


def test_operator_precedence_is_pythons(df):
    np.testing.assert_array_equal(evaluate("rating ** 2 // 10 % 7", df), df.rating**2 // 10 % 7)


def test_cut_bins_into_ordered_half_open_intervals(df):
    binned = evaluate("cut(rating, [0, 1, 10, 100])", df)
    assert binned.cat.ordered
    assert binned.astype(str).tolist() == ["[0, 1)", "[1, 10)", "[10, 100)", "[10, 100)"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("ratin / 100", "'ratin', which is not a column (did you mean 'rating'?)"),
        ("__import__('os').system('x')", "which is not allowed"),
        ("__import__('os')", "calls '__import__'"),
        ("rating.__class__", "uses 'rating.__class__', which is not allowed"),
        ("open('f')", "calls 'open'"),
        ("lambda: 1", "which is not allowed"),
        ("rating >", "is not an expression"),
        ("cut(rating, [0, 50])", "value(s) 99 lie outside [0, 50)"),
        ("cut(rating, [5, 1])", "increasing"),
        ("rating and arm == 'a'", "combines 'rating', which is not true/false"),
        ("arm in 'a'", "column in [value, ...]"),
        ("rating + arm", "cannot evaluate 'rating + arm'"),
        ("[x for x in rating]", "which is not allowed"),
    ],
)
def test_bad_expressions_are_named(df, text, fragment):
    with pytest.raises(ExpressionError) as caught:
        evaluate(text, df)
    assert fragment in str(caught.value)
