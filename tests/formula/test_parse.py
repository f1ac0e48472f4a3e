"""parse_formula / parse_dpar_formula / formula_names: every construct and every error."""

from __future__ import annotations

import re

import pytest

from multilevel import FormulaError, MultilevelError
from multilevel.formula import (
    GroupTerm,
    LinearFormula,
    formula_names,
    parse_dpar_formula,
    parse_formula,
)


def caret_column(err: FormulaError) -> int:
    """The 0-based column the caret in the error text points at, checked against the formula
    line printed above it (both are indented by two spaces)."""
    lines = str(err).splitlines()
    formula_line, caret_line = lines[-2], lines[-1]
    assert formula_line == "  " + err.formula
    assert caret_line.strip() == "^"
    return caret_line.index("^") - 2


def raises_at(text: str, message: str, column: int, *, parser=parse_formula) -> FormulaError:
    """Parse `text`, expect a FormulaError matching `message` with its caret under `column`."""
    with pytest.raises(FormulaError, match=message) as info:
        parser(text)
    err = info.value
    assert err.formula == text
    assert err.position == column
    assert caret_column(err) == column
    assert f"at position {column + 1} of the formula" in str(err)
    return err


# ---------------------------------------------------------------------------------------------
# Constructs
# ---------------------------------------------------------------------------------------------


def test_random_intercept():
    f = parse_formula("y ~ x + (1 | g)")
    assert f.response == "y"
    assert f.mu.fixed == "x"
    assert f.mu.groups == (GroupTerm("1", ("g",), True, "(1 | g)"),)
    assert f.mu.groups[0].group == "g"
    assert f.source == "y ~ x + (1 | g)"
    assert f.mu.source == "x + (1 | g)"
    assert set(f.dpars) == {"mu"}


def test_correlated_slopes_sleepstudy():
    f = parse_formula("Reaction ~ Days + (Days | Subject)")
    (g,) = f.mu.groups
    assert (g.terms, g.factor, g.correlated) == ("Days", ("Subject",), True)


def test_double_bar_is_uncorrelated():
    (g,) = parse_formula("y ~ x + (1 + x || g)").mu.groups
    assert g.terms == "1 + x"
    assert g.factor == ("g",)
    assert g.correlated is False
    assert g.source == "(1 + x || g)"


def test_nested_factor_expands_to_two_terms():
    outer, inner = parse_formula("y ~ (1 | a/b)").mu.groups
    assert outer.factor == ("a",)
    assert inner.factor == ("a", "b")
    assert inner.group == "a:b"
    # Both come from the same source term and keep its terms and correlation flag.
    assert outer.source == inner.source == "(1 | a/b)"
    assert outer.terms == inner.terms == "1"


def test_three_level_nesting_with_interaction_prefix():
    groups = parse_formula("y ~ (1 | a:b/c)").mu.groups
    assert [g.factor for g in groups] == [("a", "b"), ("a", "b", "c")]


def test_interaction_factor_is_one_term():
    (g,) = parse_formula("y ~ (1 | a:b)").mu.groups
    assert g.factor == ("a", "b")
    assert g.group == "a:b"


def test_crossed_factors():
    groups = parse_formula("y ~ x + (1 | subject) + (1 | item)").mu.groups
    assert [g.group for g in groups] == ["subject", "item"]
    assert parse_formula("y ~ x + (1 | subject) + (1 | item)").mu.fixed == "x"


def test_several_terms_per_factor_are_kept_apart():
    groups = parse_formula("y ~ (1 | g) + (0 + x | g)").mu.groups
    assert [(g.terms, g.group) for g in groups] == [("1", "g"), ("0 + x", "g")]


def test_group_terms_between_fixed_terms_keep_fixed_order():
    f = parse_formula("y ~ a + (1 | g) + b*c + (x | h)")
    assert f.mu.fixed == "a + b*c"
    assert [g.group for g in f.mu.groups] == ["g", "h"]


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("y ~ 0 + x", "0 + x"),
        ("y ~ x - 1", "x - 1"),
        ("y ~ -1 + x", "-1 + x"),
        ("y ~ 1", "1"),
        ("y ~ 0", "0"),
        ("y ~ x*z", "x*z"),
        ("y ~ x:z", "x:z"),
    ],
)
def test_fixed_part_is_passed_through(text, fixed):
    assert parse_formula(text).mu.fixed == fixed


def test_only_group_terms_gives_intercept_only_fixed_part():
    assert parse_formula("y ~ (1 | g)").mu.fixed == "1"


@pytest.mark.parametrize(
    "term",
    ["scale(x)", "C(x)", "np.log(x)", "I(x**2)", "poly(x, 2)", "C(x, contr.treatment('b'))"],
)
def test_transforms_stay_whole(term):
    # '+' and '|' inside a call's parentheses must not split the term.
    f = parse_formula(f"y ~ {term} + (1 | g)")
    assert f.mu.fixed == term
    assert [g.group for g in f.mu.groups] == ["g"]


def test_transform_inside_group_term():
    (g,) = parse_formula("y ~ (1 + scale(x) | g)").mu.groups
    assert g.terms == "1 + scale(x)"


def test_plus_inside_a_call_does_not_split():
    assert parse_formula("y ~ I(a + b) + c").mu.fixed == "I(a + b) + c"


def test_backticks():
    f = parse_formula("`my y` ~ `x 1` + (1 | `g g`:h)")
    assert f.response == "my y"
    assert f.mu.fixed == "`x 1`"
    assert f.mu.groups[0].factor == ("g g", "h")


def test_backtick_hides_special_characters():
    # '~' and '+' inside backticks are part of a name, not syntax.
    f = parse_formula("y ~ `a~b` + `c+d` + `weight (kg)`")
    assert f.mu.fixed == "`a~b` + `c+d` + `weight (kg)`"


def test_backtick_hides_an_unbalanced_parenthesis():
    # Regression: _check_parentheses used to count '(' inside backticks.
    assert parse_formula("y ~ `a(b`").mu.fixed == "`a(b`"


def test_transformed_response():
    assert parse_formula("log(y) ~ x").response == "log(y)"


def test_no_spaces():
    f = parse_formula("y~x+(1|g)")
    assert (f.response, f.mu.fixed, f.mu.groups[0].group) == ("y", "x", "g")


def test_dpar_formula_with_and_without_name():
    for text in ("~ tx", "sigma ~ tx", "tx"):
        lin = parse_dpar_formula("sigma", text)
        assert isinstance(lin, LinearFormula)
        assert lin.fixed == "tx"
        assert lin.groups == ()


def test_dpar_formula_with_group_term():
    lin = parse_dpar_formula("sigma", "~ tx + (1 | g)")
    assert lin.fixed == "tx"
    assert lin.groups[0].factor == ("g",)


# ---------------------------------------------------------------------------------------------
# Errors: every message of _parse.py, with the caret under the culprit
# ---------------------------------------------------------------------------------------------


def test_formula_error_is_a_multilevel_error_and_value_error():
    with pytest.raises(FormulaError) as info:
        parse_formula("y ~ (1 | g")
    assert isinstance(info.value, MultilevelError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [None, 3, ["y ~ x"], b"y ~ x"])
def test_non_string_formula(bad):
    with pytest.raises(FormulaError, match=f"a formula must be a string, got {type(bad).__name__}"):
        parse_formula(bad)


def test_unbalanced_open_paren():
    raises_at("y ~ (1 | g", re.escape("unbalanced '(': it is never closed"), 4)


def test_unbalanced_open_paren_points_at_the_unclosed_one():
    # The inner '(' closes; the outer one at column 4 does not.
    raises_at("y ~ (x + (1 | g)", re.escape("unbalanced '('"), 4)


def test_unbalanced_close_paren():
    raises_at("y ~ 1 | g)", re.escape("unbalanced ')': no '(' opens it"), 9)


def test_unbalanced_close_paren_after_balanced_group():
    raises_at("y ~ (1 | g))", re.escape("unbalanced ')'"), 11)


def test_missing_response():
    raises_at("~ x", re.escape("the response (left of '~') is missing"), 0)


def test_blank_response():
    raises_at("   ~ x", re.escape("the response (left of '~') is missing"), 0)


def test_two_tildes_points_at_the_second():
    raises_at("y ~ x ~ z", "a formula needs exactly one '~'", 6)


def test_no_tilde_has_no_caret():
    with pytest.raises(FormulaError, match="a formula needs exactly one '~'") as info:
        parse_formula("y + x")
    assert info.value.position is None
    assert str(info.value).endswith("in the formula:\n  y + x")


def test_response_addition_terms():
    f = parse_formula("incidence | trials(size) ~ period + (1 | herd)")
    assert (f.response, f.additions, f.mu.fixed) == ("incidence", {"trials": "size"}, "period")
    assert parse_formula("y | trials(10) ~ x").additions == {"trials": "10"}


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("y | se(s) ~ x", "unknown response addition term 'se(...)'; supported: trials()", 4),
        ("y | trial(n) ~ x", "(did you mean 'trials'?)", 4),
        ("y | trials() ~ x", "'trials()' is not a response addition term", 2),
        ("y | trials(n) + trials(m) ~ x", "'trials(...)' appears twice", 16),
    ],
)
def test_bad_response_addition_terms(text, message, column):
    raises_at(text, re.escape(message), column)


def test_trailing_plus():
    # The caret sits just after the last character, where the missing term would be.
    raises_at("y ~ x +", re.escape("empty term (two '+' in a row, or a trailing '+')"), 7)


def test_two_plus_in_a_row():
    raises_at("y ~ x + + z", re.escape("empty term"), 8)


def test_bar_outside_parentheses():
    raises_at("y ~ x | g", re.escape("'|' outside a group term"), 6)


def test_bar_outside_parentheses_after_a_group_term():
    # Regression: the caret used to point at the first '|' of the piece, inside '(1 | g)'.
    # The piece is '(1 | g) | h'; the stray '|' is the one at column 16, not the one at 11.
    raises_at("y ~ x + (1 | g) | h", re.escape("'|' outside a group term"), 16)


def test_empty_group_term():
    raises_at("y ~ ( | g)", re.escape("empty group term: put '1' for a random intercept"), 6)


def test_empty_group_term_double_bar():
    raises_at("y ~ x + ( || g)", re.escape("empty group term"), 10)


def test_missing_grouping_factor():
    raises_at("y ~ (1 | )", re.escape("group term without a grouping factor after '|'"), 7)


def test_missing_grouping_factor_double_bar():
    raises_at("y ~ (1 || )", re.escape("group term without a grouping factor"), 7)


def test_correlation_id():
    f = parse_formula("y ~ x + (1 + x |p| g) + (1 | h)")
    linked, plain = f.mu.groups
    assert (linked.terms, linked.factor, linked.correlated, linked.link) == (
        "1 + x",
        ("g",),
        True,
        "p",
    )
    assert plain.link is None
    sigma = parse_dpar_formula("sigma", "~ (1 |p| g)")
    assert sigma.groups[0].link == "p"


def test_correlation_id_must_be_a_name():
    raises_at("y ~ (1 | | g)", re.escape("'' is not a correlation id"), 8)
    raises_at("y ~ (1 |2p| g)", re.escape("'2p' is not a correlation id"), 8)


def test_three_bars():
    raises_at("y ~ (1 | | | g)", re.escape("at most two '|'"), 11)


@pytest.mark.parametrize(
    ("text", "factor", "column"),
    [
        ("y ~ (1 | g-h)", "g-h", 9),
        ("y ~ (1 | a:2b)", "a:2b", 11),  # the caret is on the bad part, not the whole factor
        ("y ~ (1 | a//b)", "a//b", 9),
        ("y ~ (1 | g) + (1 | 3)", "3", 19),
        ("y ~ (1 | a/)", "a/", 9),
    ],
)
def test_bad_grouping_factor(text, factor, column):
    err = raises_at(text, re.escape(f"the grouping factor '{factor}' must be column names"), column)
    assert "'school:class'" in str(err)


def test_response_on_right_hand_side_fixed():
    raises_at("y ~ x + y", re.escape("the response 'y' also appears on the right-hand side"), 8)


def test_response_on_right_hand_side_in_group_terms():
    raises_at("y ~ x + (y | g)", re.escape("the response 'y' also appears"), 9)
    raises_at("y ~ (1|y)", re.escape("the response 'y' also appears"), 7)


def test_response_on_right_hand_side_inside_a_call():
    raises_at("Reaction ~ log(Reaction)", "the response 'Reaction' also appears", 15)


def test_response_prefix_of_another_name_is_not_the_response():
    # 'yy' and 'y_lag' are different columns from 'y'.
    assert parse_formula("y ~ yy + y_lag + (1 | y.g)").mu.fixed == "yy + y_lag"


def test_response_on_right_hand_side_caret_skips_longer_names():
    # Regression: the caret used a substring search and pointed into 'xy'.
    raises_at("y ~ xy + y", re.escape("the response 'y' also appears"), 9)


def test_dpar_formula_wrong_lhs():
    raises_at(
        "mu ~ x",
        re.escape("the formula for sigma must have 'sigma' or nothing left of '~', not 'mu'"),
        0,
        parser=lambda t: parse_dpar_formula("sigma", t),
    )


def test_dpar_formula_two_tildes():
    raises_at(
        "~ x ~ z",
        re.escape("the formula for sigma has more than one '~'"),
        4,
        parser=lambda t: parse_dpar_formula("sigma", t),
    )


def test_dpar_formula_unbalanced():
    raises_at(
        "~ (1 | g",
        re.escape("unbalanced '('"),
        2,
        parser=lambda t: parse_dpar_formula("sigma", t),
    )


def test_dpar_formula_errors_in_terms():
    raises_at(
        "~ tx +",
        re.escape("empty term"),
        6,
        parser=lambda t: parse_dpar_formula("sigma", t),
    )


@pytest.mark.parametrize("bad", [None, 1.5, ("~ x",)])
def test_dpar_formula_non_string(bad):
    with pytest.raises(FormulaError, match=r"the formula for sigma must be a string like '~ x'"):
        parse_dpar_formula("sigma", bad)


# ---------------------------------------------------------------------------------------------
# formula_names
# ---------------------------------------------------------------------------------------------


def test_formula_names():
    assert formula_names("scale(x) + a:b") == {"scale", "x", "a", "b"}
    assert formula_names("np.log(w) + `a b` + I(x**2)") == {"np.log", "w", "a b", "I", "x"}
    assert formula_names("0 + x - 1") == {"x"}
    assert formula_names("1") == set()
