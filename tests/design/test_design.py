"""build_design: the data checks, group-term encoding and brms names."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from multilevel import DataError, FormulaError, ModelError
from multilevel.design import MissingReport, as_frame, brms_name, build_design
from multilevel.formula import parse_formula


def design(formula: str, data, **kw):
    return build_design(parse_formula(formula), data, **kw)


@pytest.fixture
def small() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "y": [1.0, 2.0, 3.5, 4.0, 5.0, 6.5],
            "x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            "g": list("aabbcc"),
            "s": list("pqrpqr"),
        }
    )


@pytest.fixture
def clustered_with_missing(partially_clustered) -> pd.DataFrame:
    """Controls (tx == 0) have no therapy group at all, as in a real partially clustered trial."""
    df = partially_clustered.copy()
    df["cluster"] = df["cluster"].where(df["tx"] == 1)
    return df


# ---------------------------------------------------------------------------------------------
# Shapes on the shared data sets
# ---------------------------------------------------------------------------------------------


def test_sleepstudy_design(sleepstudy):
    d = design("Reaction ~ Days + (Days | Subject)", sleepstudy)
    assert d.n_rows == 180
    assert d.response_name == "Reaction"
    np.testing.assert_array_equal(d.response.to_numpy(), sleepstudy["Reaction"].to_numpy())
    fixed = d.dpars["mu"].fixed
    assert fixed.has_intercept
    assert fixed.names == ("Days",)
    np.testing.assert_array_equal(fixed.matrix[:, 0], sleepstudy["Days"].to_numpy())
    (g,) = d.groups
    assert g.group == "Subject"
    assert g.coefs == ("Intercept", "Days")
    assert g.n_levels == 18
    np.testing.assert_array_equal(g.z[:, 0], 1.0)
    np.testing.assert_array_equal(g.z[:, 1], sleepstudy["Days"].to_numpy())
    np.testing.assert_array_equal(g.rows_per_level(), np.full(18, 10))
    assert g.rows_without_effect == 0
    assert g.rows_missing_group == 0
    assert g.levels_without_data == 0
    assert g.index.dtype == np.int32


def test_numeric_group_labels_print_as_integers(sleepstudy):
    (g,) = design("Reaction ~ Days + (1 | Subject)", sleepstudy).groups
    assert g.levels[:3] == ("308", "309", "310")
    # The index follows the sorted numeric labels, row by row.
    labels = np.array(g.levels)[g.index]
    np.testing.assert_array_equal(labels, sleepstudy["Subject"].astype(str).to_numpy())


def test_integral_float_group_labels_print_as_integers(sleepstudy):
    df = sleepstudy.assign(Subject=sleepstudy["Subject"].astype(float))
    (g,) = design("Reaction ~ Days + (1 | Subject)", df).groups
    assert g.levels[0] == "308"


def test_numbers_sort_numerically_not_as_text():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "g": [10, 10, 9, 9, 100, 100]})
    (g,) = design("y ~ (1 | g)", df).groups
    assert g.levels == ("9", "10", "100")
    assert g.index.tolist() == [1, 1, 0, 0, 2, 2]


def test_non_integral_numeric_labels_follow_r():
    # R: levels(factor(c(1.5, 2))) is c("1.5", "2"). Regression: '2' used to print as '2.0'.
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "g": [1.5, 1.5, 2.0, 2.0]})
    assert design("y ~ (1 | g)", df).groups[0].levels == ("1.5", "2")


def test_ratings_factorial_design(ratings):
    d = design("rating ~ C(blockType) * C(CSType) + (C(blockType) * C(CSType) | subject)", ratings)
    names = ("CblockType1", "CCSType1", "CblockType1:CCSType1")
    assert d.dpars["mu"].fixed.names == names
    (g,) = d.groups
    assert g.coefs == ("Intercept", *names)
    assert g.n_levels == ratings["subject"].nunique()
    np.testing.assert_array_equal(g.z[:, 3], (ratings["blockType"] == 1) & (ratings["CSType"] == 1))


def test_interaction_factor_levels_joined_by_underscore(ratings):
    (g,) = design("rating ~ 1 + (1 | subject:blockType)", ratings).groups
    assert g.group == "subject:blockType"
    assert g.n_levels == 2 * ratings["subject"].nunique()
    assert g.levels[:2] == ("s01_0", "s01_1")
    labels = np.array(g.levels)[g.index]
    expected = ratings["subject"] + "_" + ratings["blockType"].astype(str)
    np.testing.assert_array_equal(labels, expected.to_numpy())


def test_nested_factor_gives_outer_and_interaction(small):
    outer, inner = design("y ~ (1 | g/s)", small).groups
    assert outer.levels == ("a", "b", "c")
    assert inner.group == "g:s"
    assert inner.levels == ("a_p", "a_q", "b_p", "b_r", "c_q", "c_r")
    assert [inner.levels[i] for i in inner.index] == [
        f"{g}_{s}" for g, s in zip(small["g"], small["s"], strict=True)
    ]


# ---------------------------------------------------------------------------------------------
# Unknown columns
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        (
            "Reacton ~ Days + (Days | Subject)",
            "unknown column 'Reacton' (response) "
            "(did you mean 'Reaction'?); the data has columns: Reaction, Days, Subject",
        ),
        (
            "Reaction ~ Dys + (Days | Subject)",
            "unknown column 'Dys' in the fixed terms 'Dys' (did you mean 'Days'?)",
        ),
        (
            "Reaction ~ Days + (Days | Subjct)",
            "unknown column 'Subjct' (grouping factor) (did you mean 'Subject'?)",
        ),
        (
            "Reaction ~ Days + (Dys | Subject)",
            "unknown column 'Dys' in the group term (Dys | Subject)",
        ),
        (
            "Reaction ~ Days:Dys",
            "unknown column 'Dys' in the fixed terms 'Days:Dys' (did you mean 'Days'?)",
        ),
    ],
)
def test_unknown_column_with_suggestion(sleepstudy, formula, message):
    with pytest.raises(DataError, match=re.escape(message)):
        design(formula, sleepstudy)


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        (
            "Reaction ~ scale(Dys)",
            "unknown column 'Dys' in the fixed terms 'scale(Dys)' (did you mean 'Days'?)",
        ),
        (
            "Reaction ~ C(Dys)",
            "unknown column 'Dys' in the fixed terms 'C(Dys)' (did you mean 'Days'?)",
        ),
        ("np.log(Reacton) ~ Days", "unknown column 'Reacton' in the response"),
    ],
)
def test_unknown_column_inside_a_call_with_suggestion(sleepstudy, formula, message):
    # Regression: formulaic reports these as "NameError: name 'Dys' is not defined", which
    # used to come out as a FormulaError without the suggestion.
    with pytest.raises(DataError, match=re.escape(message)):
        design(formula, sleepstudy)


def test_unknown_column_without_close_match(sleepstudy):
    with pytest.raises(DataError, match="unknown column 'zzz'") as info:
        design("Reaction ~ zzz", sleepstudy)
    assert "did you mean" not in str(info.value)


def test_unknown_column_in_dpar_formula(partially_clustered):
    from multilevel.formula import ModelFormula, parse_dpar_formula

    f = parse_formula("y ~ tx")
    spec = ModelFormula("y", {**f.dpars, "sigma": parse_dpar_formula("sigma", "~ txx")})
    with pytest.raises(DataError, match="unknown column 'txx' in the formula for sigma"):
        build_design(spec, partially_clustered)


# ---------------------------------------------------------------------------------------------
# Missing and infinite values, sizes
# ---------------------------------------------------------------------------------------------


def test_nan_in_response(sleepstudy):
    df = sleepstudy.copy()
    df.loc[[3, 7], "Reaction"] = np.nan
    with pytest.raises(
        DataError,
        match=re.escape(
            "column 'Reaction' has 2 missing value(s) (rows 3, 7); remove them or "
            "pass na_action='drop'"
        ),
    ):
        design("Reaction ~ Days + (Days | Subject)", df)


def test_nan_in_predictor(sleepstudy):
    df = sleepstudy.copy()
    df.loc[[0, 1, 2, 3, 4, 5, 6], "Days"] = np.nan
    with pytest.raises(
        DataError, match=re.escape("column 'Days' has 7 missing value(s) (rows 0, 1, 2, 3, 4, ...)")
    ):
        design("Reaction ~ Days + (1 | Subject)", df)


def test_nan_in_predictor_used_only_in_group_term(sleepstudy):
    df = sleepstudy.copy()
    df.loc[5, "Days"] = np.nan
    with pytest.raises(DataError, match="column 'Days' has 1 missing value"):
        design("Reaction ~ 1 + (Days | Subject)", df)


def test_nan_in_unused_column_is_ignored(sleepstudy):
    df = sleepstudy.assign(other=np.nan)
    assert design("Reaction ~ Days + (1 | Subject)", df).n_rows == 180


def test_na_action_drop_drops_and_reports(sleepstudy):
    df = sleepstudy.copy()
    df.loc[[0, 5], "Reaction"] = np.nan
    df.loc[[5, 9], "Days"] = np.nan
    d = design("Reaction ~ Days + (Days | Subject)", df, na_action="drop")
    assert d.missing == MissingReport(3, ("Days", "Reaction"))
    assert d.n_rows == 177
    assert len(d.response) == 177
    assert d.dpars["mu"].fixed.matrix.shape == (177, 1)
    assert d.groups[0].index.shape == (177,)
    kept = df.dropna().reset_index(drop=True)
    np.testing.assert_array_equal(d.response.to_numpy(), kept["Reaction"].to_numpy())
    # Subject 308 lost rows 0, 5, 9: 7 rows left.
    assert d.groups[0].rows_per_level()[0] == 7


def test_no_missing_gives_empty_report(sleepstudy):
    assert design("Reaction ~ Days", sleepstudy).missing == MissingReport(0, ())


def test_unknown_na_action(small):
    with pytest.raises(
        DataError, match=re.escape("na_action must be one of ('error', 'drop'), got 'omit'")
    ):
        design("y ~ x", small, na_action="omit")


@pytest.mark.parametrize("column", ["y", "x"])
@pytest.mark.parametrize("na_action", ["error", "drop"])
def test_infinite_values_fail(small, column, na_action):
    df = small.copy()
    df.loc[[1, 4], column] = [np.inf, -np.inf]
    with pytest.raises(
        DataError,
        match=re.escape(
            f"column '{column}' has 2 infinite value(s) (rows 1, 4); replace or remove"
        ),
    ):
        design("y ~ x + (1 | g)", df, na_action=na_action)


def test_empty_frame(small):
    with pytest.raises(DataError, match="the data frame has no rows"):
        design("y ~ x", small.iloc[:0])


def test_one_row_frame(small):
    with pytest.raises(DataError, match="the data has 1 row; a model needs at least 2"):
        design("y ~ 1", small.iloc[:1])


def test_two_rows_are_enough(small):
    assert design("y ~ 1", small.iloc[:2]).n_rows == 2


def test_dropping_down_to_one_row_fails(small):
    df = small.copy()
    df.loc[1:, "x"] = np.nan
    with pytest.raises(DataError, match="the data has 1 row"):
        design("y ~ x", df, na_action="drop")


def test_dropping_every_row_fails(small):
    with pytest.raises(DataError, match="every row has a missing value in x"):
        design("y ~ x", small.assign(x=np.nan), na_action="drop")


# ---------------------------------------------------------------------------------------------
# Grouping factors
# ---------------------------------------------------------------------------------------------


def test_group_factor_with_one_level(small):
    with pytest.raises(
        DataError,
        match=re.escape(
            "the grouping factor 'g' of (1 | g) has 1 level ('a'); a group effect "
            "needs at least 2 levels"
        ),
    ):
        design("y ~ x + (1 | g)", small.assign(g="a"))


def test_missing_group_allowed_where_group_columns_are_zero(clustered_with_missing):
    d = design("y ~ tx + (0 + tx | cluster)", clustered_with_missing)
    (g,) = d.groups
    assert g.rows_missing_group == 100
    assert g.n_levels == 10
    assert g.rows_without_effect == 100
    assert g.levels_without_data == 0
    controls = (clustered_with_missing["tx"] == 0).to_numpy()
    np.testing.assert_array_equal(g.index[controls], g.n_levels)
    np.testing.assert_array_equal(
        np.array(g.levels)[g.index[~controls]],
        clustered_with_missing["cluster"][~controls].to_numpy(),
    )


def test_missing_group_with_nonzero_group_columns_fails(clustered_with_missing):
    with pytest.raises(
        DataError,
        match=re.escape(
            "100 row(s) have a missing value in the grouping column(s) 'cluster' "
            "of (1 | cluster) but non-zero group-term columns (Intercept)"
        ),
    ):
        design("y ~ tx + (1 | cluster)", clustered_with_missing)


def test_blank_group_label_counts_as_missing(small):
    df = small.assign(g=["a", "a", "b", "b", " ", ""])
    with pytest.raises(DataError, match=re.escape("2 row(s) have a missing value")):
        design("y ~ (1 | g)", df)
    (g,) = design("y ~ (0 + x | g)", df.assign(x=[1.0, 1, 1, 1, 0, 0])).groups
    assert g.levels == ("a", "b")
    assert g.rows_missing_group == 2


def test_levels_with_all_zero_z_are_left_out(partially_clustered):
    # Every control has its own cluster label c001..c100 but tx == 0: those 100 levels carry
    # no information about the treatment-arm effect and are left out.
    (g,) = design("y ~ tx + (0 + tx | cluster)", partially_clustered).groups
    assert g.n_levels == 10
    assert g.levels == tuple(f"g{i:02d}" for i in range(1, 11))
    assert g.levels_without_data == 100
    assert g.rows_without_effect == 100
    assert g.rows_missing_group == 0
    np.testing.assert_array_equal(g.rows_per_level(), np.full(10, 10))
    # level_codes are positions in the full sorted factor (c001..c100 sort before g01..g10).
    np.testing.assert_array_equal(g.level_codes, np.arange(100, 110))


def test_fewer_than_two_levels_with_data_fails(small):
    df = small.assign(x=[1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    with pytest.raises(
        DataError, match=re.escape("only 1 level(s) of 'g' have rows with non-zero columns (x)")
    ):
        design("y ~ (0 + x | g)", df)


def test_categorical_group_factor_keeps_category_order(small):
    df = small.assign(g=pd.Categorical(small["g"], categories=["c", "b", "a"]))
    (g,) = design("y ~ (1 | g)", df).groups
    assert g.levels == ("c", "b", "a")
    assert g.index.tolist() == [2, 2, 1, 1, 0, 0]


def test_group_factor_may_also_be_a_predictor(small):
    d = design("y ~ s + (1 | s)", small)
    assert d.dpars["mu"].fixed.names == ("sq", "sr")
    assert d.groups[0].levels == ("p", "q", "r")


# ---------------------------------------------------------------------------------------------
# Duplicate coefficients
# ---------------------------------------------------------------------------------------------


def test_duplicate_coefficient_on_same_factor(small):
    with pytest.raises(
        ModelError,
        match=re.escape("'Intercept' varies by 'g' twice: in (1 | g) and in (1 | g); remove one"),
    ):
        design("y ~ (1 | g) + (1 | g)", small)


def test_duplicate_slope_on_same_factor(small):
    with pytest.raises(ModelError, match="'x' varies by 'g' twice"):
        design("y ~ (1 + x | g) + (0 + x | g)", small)


def test_nested_factor_and_outer_term_duplicate(small):
    with pytest.raises(ModelError, match="'Intercept' varies by 'g' twice"):
        design("y ~ (1 | g/s) + (1 | g)", small)


def test_different_coefficients_on_same_factor_are_fine(small):
    groups = design("y ~ (1 | g) + (0 + x | g) + (1 | s)", small).groups
    assert [(g.group, g.coefs) for g in groups] == [
        ("g", ("Intercept",)),
        ("g", ("x",)),
        ("s", ("Intercept",)),
    ]


def test_columns_with_the_same_brms_name_fail():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "a b": [1.0, 2, 3, 5], "ab": [0.0, 1, 0, 1]})
    with pytest.raises(ModelError, match="both get the parameter name 'ab'"):
        design("y ~ `a b` + ab", df)


# ---------------------------------------------------------------------------------------------
# Categorical predictors and transforms
# ---------------------------------------------------------------------------------------------


def test_string_predictor_gives_brms_names(small):
    fixed = design("y ~ s", small).dpars["mu"].fixed
    assert fixed.names == ("sq", "sr")
    assert fixed.columns == ("s[T.q]", "s[T.r]")
    np.testing.assert_array_equal(fixed.matrix[:, 0], small["s"] == "q")


def test_categorical_predictor_with_custom_order(small):
    df = small.assign(s=pd.Categorical(small["s"], categories=["r", "q", "p"]))
    fixed = design("y ~ s", df).dpars["mu"].fixed
    # The first category is the reference, as in R's factor(levels = ...).
    assert fixed.names == ("sq", "sp")


def test_c_wrapper(small):
    assert design("y ~ C(s)", small).dpars["mu"].fixed.names == ("Csq", "Csr")


def test_numeric_column_as_factor(ratings):
    fixed = design("rating ~ C(blockType)", ratings).dpars["mu"].fixed
    assert fixed.names == ("CblockType1",)


def test_no_intercept_gives_every_level(small):
    for formula in ("y ~ 0 + s", "y ~ s - 1", "y ~ -1 + s"):
        fixed = design(formula, small).dpars["mu"].fixed
        assert not fixed.has_intercept
        assert fixed.names == ("sp", "sq", "sr")
        np.testing.assert_array_equal(fixed.means, np.zeros(3))


def test_categorical_in_group_term(small):
    df = pd.concat([small, small], ignore_index=True)
    (g,) = design("y ~ 1 + (1 + s | g)", df).groups
    assert g.coefs == ("Intercept", "sq", "sr")


def test_transforms(small):
    fixed = design("y ~ scale(x) + np.log(x + 1)", small).dpars["mu"].fixed
    assert fixed.names == ("scalex", "np.logxP1")
    x = small["x"].to_numpy()
    # formulaic's scale() uses the sample sd (ddof=1), like R's scale().
    np.testing.assert_allclose(fixed.matrix[:, 0], (x - x.mean()) / x.std(ddof=1), rtol=1e-12)
    np.testing.assert_allclose(fixed.matrix[:, 1], np.log(x + 1), rtol=1e-12)


def test_transformed_response(sleepstudy):
    d = design("np.log(Reaction) ~ Days", sleepstudy)
    np.testing.assert_allclose(d.response.to_numpy(), np.log(sleepstudy["Reaction"]), rtol=1e-14)


def test_centring_means(sleepstudy):
    fixed = design("Reaction ~ Days + I(Days**2)", sleepstudy).dpars["mu"].fixed
    days = sleepstudy["Days"].to_numpy(dtype=float)
    # Days is 0..9 for every subject: mean 4.5, mean of squares 28.5, exactly representable.
    np.testing.assert_array_equal(fixed.means, [4.5, 28.5])
    np.testing.assert_array_equal(fixed.means, fixed.matrix.mean(axis=0))
    np.testing.assert_array_equal(fixed.matrix[:, 1], days**2)


def test_no_centring_without_intercept(sleepstudy):
    fixed = design("Reaction ~ 0 + Days", sleepstudy).dpars["mu"].fixed
    assert not fixed.has_intercept
    np.testing.assert_array_equal(fixed.means, [0.0])


def test_bad_formulaic_syntax_is_a_formula_error(small):
    with pytest.raises(FormulaError, match="cannot build the fixed terms"):
        design("y ~ x +* s", small)


# ---------------------------------------------------------------------------------------------
# Input types
# ---------------------------------------------------------------------------------------------


def test_dict_of_columns():
    d = design("y ~ x + (1 | g)", {"y": [1.0, 2, 3, 4], "x": [0.0, 1, 0, 1], "g": [1, 1, 2, 2]})
    assert d.n_rows == 4
    assert d.groups[0].levels == ("1", "2")
    assert isinstance(d.frame, pd.DataFrame)


def test_object_with_to_pandas(small):
    class Frame:
        def to_pandas(self):
            return small

    assert design("y ~ x", Frame()).n_rows == 6


def test_polars_frame(small):
    pl = pytest.importorskip("polars")
    d = design("y ~ x + (1 | g)", pl.from_pandas(small))
    assert d.n_rows == 6
    assert d.groups[0].levels == ("a", "b", "c")


def test_other_input_types_fail():
    with pytest.raises(
        DataError,
        match=r"data must be a pandas DataFrame, a dict of columns .* "
        "got list",
    ):
        design("y ~ x", [[1.0, 2.0]])


def test_index_is_reset(small):
    frame = as_frame(small.set_index(pd.Index([10, 20, 30, 40, 50, 60])))
    assert frame.index.tolist() == list(range(6))


def test_frame_index_does_not_matter(small):
    shuffled_index = small.set_index(pd.Index([5, 3, 1, 0, 2, 4]))
    d = design("y ~ x + (1 | g)", shuffled_index)
    np.testing.assert_array_equal(d.response.to_numpy(), small["y"].to_numpy())
    assert d.groups[0].index.tolist() == [0, 0, 1, 1, 2, 2]


# ---------------------------------------------------------------------------------------------
# brms_name
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "name"),
    [
        ("x", "x"),
        ("Intercept", "Intercept"),
        ("s[T.q]", "sq"),
        ("s[q]", "sq"),
        ("C(blockType)[T.1]:CSType", "CblockType1:CSType"),
        ("scale(x)", "scalex"),
        ("poly(x, 2)[1]", "polyx21"),
        ("I(x / 2)", "IxD2"),
        ("x^2", "xE2"),
        ("a+b", "aPb"),
        ("x[a-b]", "xaMb"),
        ("a*b", "aMUb"),
        ("a=b", "aEQb"),
        ("C(s, contr.treatment('q'))[T.p]", "Cscontr.treatmentqp"),
    ],
)
def test_brms_name(column, name):
    assert brms_name(column) == name


def test_drop_removes_rows_without_a_group_and_reports_them(partially_clustered):
    df = partially_clustered.copy()
    df.loc[df.tx == 0, "cluster"] = np.nan  # allowed: no group effect on these rows
    df.loc[150, "cluster"] = np.nan  # a treated row without a cluster: cannot be placed
    d = design("y ~ tx + (0 + tx | cluster)", df, na_action="drop")
    assert d.n_rows == 199
    assert d.missing.rows == 1 and d.missing.columns == ("cluster",)
    assert d.groups[0].rows_missing_group == 100


def test_terms_sharing_an_id_are_linked(small):
    d = design("y ~ x + (1 |p| g) + (0 + x |p| g) + (1 | s)", small)
    (link,) = d.links
    assert (link.id, link.terms, link.columns) == ("p", (0, 1), (slice(0, 1), slice(1, 2)))
    assert link.codes.tolist() == [0, 1, 2]
    assert d.link_of(2) is None


def test_an_id_alone_links_nothing(small):
    assert design("y ~ x + (1 |p| g)", small).links == ()


def test_terms_sharing_an_id_need_the_same_factor(small):
    with pytest.raises(ModelError, match="share the correlation id 'p' but not their grouping"):
        design("y ~ x + (1 |p| g) + (0 + x |p| s)", small)
