"""Fuzz tests of the formula parser and the design stage behind it.

The property: whatever string a user types as a formula,

* `parse_formula` either returns a spec or raises `FormulaError` -- never an IndexError,
  ValueError, StopIteration, RecursionError or an exception of formulaic or pandas;
* every spec it returns goes through `build_design` on a small data frame to a design or
  to one of our errors (`MultilevelError`: FormulaError, DataError, ModelError, ...), and
  such an error's message carries no terminal colour codes.

Two generators feed it: text drawn from an alphabet weighted toward formula characters
(with some arbitrary unicode), and formulas built from a small grammar of formula tokens
(names, operators, group bars, calls such as scale(x) or poly(x, 2), parentheses) that
are then mutated by inserting or deleting tokens. The runs are derandomized and write no
example database, so CI sees the same examples every time; every escape found so far is
pinned with `@example` and its new error checked by the tests at the end of the file.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from multilevel import DataError, FormulaError, MultilevelError
from multilevel.design import build_design
from multilevel.formula import parse_formula

#: Derandomized and without an example database: the same examples on every run. About
#: 20 s for both tests on two cores; the grammar's examples cost more (most reach formulaic).
SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(20240611)
    return pd.DataFrame(
        {
            "y": rng.uniform(0.5, 5.0, size=12).round(3),  # positive: log(y) works
            "x": rng.normal(size=12).round(3),
            "g": list("abc") * 4,
            "Days": np.arange(12.0),  # 0 on the first row: log(Days) is -inf there
            "Subject": ["s1", "s2", "s3", "s4"] * 3,
            "n": rng.integers(5, 10, size=12),
        }
    )


FRAME = _frame()


def check(text: str) -> None:
    """The property: a formula or a FormulaError, and a design or a MultilevelError."""
    try:
        spec = parse_formula(text)
    except FormulaError:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy's 'divide by zero in log', say
        try:
            build_design(spec, FRAME.copy())
        except MultilevelError as err:
            assert "\x1b" not in str(err), f"colour codes in the message of {text!r}"


# ---------------------------------------------------------------------------------------------
# Random text
# ---------------------------------------------------------------------------------------------

FORMULA_CHARACTERS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    " ~+-*/:|().^,01_'\"[]{}=!@#$%&\\\n`"
)
# One arbitrary character in five (rarely a control or invisible one); the rest are
# formula characters.
_characters = st.one_of(
    *[st.sampled_from(FORMULA_CHARACTERS)] * 4,
    st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from("\t\r\x00\x1b\u200b"),
)
random_text = st.tuples(
    st.sampled_from(["", "", "y ~ ", "y ~ x + ", "Days ~ (", "y | trials(n) ~ "]),
    st.text(_characters, max_size=30),
).map("".join)


@settings(SETTINGS, max_examples=2500)
@given(random_text)
@example("`a~b` ~ `a~b`")  # StopIteration: the response check looked for '~' inside backticks
@example("y ~ (x ~ C(g) || g/Subject)")  # AttributeError: formulaic gave a 2-part ModelMatrices
@example("+y~([Subject)")  # AttributeError 'Token' has no 'fixity' (unbalanced '[')
@example("y ~ expr")  # ValueError: 'expr' resolved to encode()'s local variable
@example("Reaction ~ Days +* 2")  # colour codes in formulaic's message
@example("y ~ \x1b")  # a raw control character went on to formulaic and into the message
@example("y ~ context")  # ValueError: 'context' resolved to encode()'s local variable
def test_random_text(text: str) -> None:
    check(text)


# ---------------------------------------------------------------------------------------------
# Formulas from a grammar, then mutated
# ---------------------------------------------------------------------------------------------

NAMES = ["y", "x", "g", "Days", "Subject", "n"]
CALLS = ["scale(x)", "C(g)", "np.log(x)", "log(Days)", "trials(n)", "I(x**2)", "poly(x, 2)"]
NUMBERS = ["0", "1", "2", "-1"]
OPERATORS = [" + ", " - ", " * ", " / ", ":", " ^ ", " ** ", " %in% ", " | ", ", ", " ~ "]
BARS = [" | ", " || ", " |p| ", "|"]
FACTORS = ["g", "Subject", "g:Subject", "g/Subject", "x", "Days"]
MUTATIONS = ["(", ")", "|", "~", "+", "^", "`", "[", "]", "{", "}", "'", ":", "0", "."]

_atom = st.sampled_from(NAMES) | st.sampled_from(CALLS) | st.sampled_from(NUMBERS) | st.just(".")


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from(OPERATORS), inner).map("".join),
        inner.map(lambda e: f"({e})"),
        st.tuples(inner, st.sampled_from(BARS), st.sampled_from(FACTORS)).map(
            lambda t: f"({t[0]}{t[1]}{t[2]})"
        ),
        inner.map(lambda e: f"-{e}"),
        st.tuples(inner, st.sampled_from(["2", "3", "(0)", "1.5", "x"])).map(
            lambda t: f"({t[0]})^{t[1]}"
        ),
    )


terms = st.recursive(_atom, _extend, max_leaves=8)
responses = st.sampled_from(["y", "y", "Days", "g", "log(y)", "y | trials(n)", "n", "", "x"])


@st.composite
def grammar_formulas(draw: st.DrawFn) -> str:
    text = draw(responses) + draw(st.sampled_from([" ~ ", "~", " ~"])) + draw(terms)
    for group in draw(st.lists(st.tuples(terms, st.sampled_from(BARS)), max_size=2)):
        text += f" + ({group[0]}{group[1]}{draw(st.sampled_from(FACTORS))})"
    for _ in range(draw(st.integers(0, 2))):  # break it here and there
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(st.sampled_from(MUTATIONS)) + text[at:]
        else:
            text = text[:at] + text[at + 1 :]
    return text


@settings(SETTINGS, max_examples=2000)
@given(grammar_formulas())
@example("y ~ (Days:scale(x)) ^ (0)")  # StopIteration in formulaic's power operator
@example("y ~ x ^ 1000000000")  # formulaic builds a list of 1e9 terms: hours and all memory
@example("y ~ (x + g + Days + Subject + n)^9")  # 5**9 products to enumerate
@example("y ~ log(Days) + x")  # LinAlgError: SVD did not converge on -inf
@example("y ~ x + (1 | g) + (x ~ g | Subject)")  # AttributeError: ModelMatrices has no columns
@example("n ~ y ^ ([y %in% g)")  # AttributeError 'Token' has no 'fixity'
@example("y | trials(n) | trials(n) ~ x")  # read 'n) | trials(n' as trials()'s argument
@example("y ~ I(1/Days)")  # built a design with inf in it
def test_grammar_formulas(text: str) -> None:
    check(text)


# ---------------------------------------------------------------------------------------------
# The escapes found, each with the error it now gives
# ---------------------------------------------------------------------------------------------


def _error(text: str) -> MultilevelError:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(MultilevelError) as info:
            build_design(parse_formula(text), FRAME.copy())
    return info.value


@pytest.mark.parametrize(
    ("text", "kind", "message", "column"),
    [
        ("`a~b` ~ `a~b`", FormulaError, "the response 'a~b' also appears on the right", 8),
        ("y ~ (x ~ g)", FormulaError, "'~' inside parentheses", 7),
        ("(y ~ x)", FormulaError, "'~' inside parentheses", 3),
        ("y ~ (x ~ C(g) || g)", FormulaError, "'~' inside parentheses", 7),
        ("+y~([Subject)", FormulaError, "mismatched ')': it closes the '[' at position 5", 12),
        ("y ~ x[0", FormulaError, "unbalanced '[': it is never closed", 5),
        ("y ~ x}", FormulaError, "unbalanced '}': no '{' opens it", 5),
        ("y ~ `x", FormulaError, "unbalanced quote `: it is never closed", 4),
        ("y ~ (1 | g) + (x | g ~ z)", FormulaError, "'~' inside parentheses", 21),
        ("y ~ \x1b", FormulaError, "the invisible character U+001B", 4),
        ("y ~ \u200bx", FormulaError, "the invisible character U+200B", 4),
    ],
)
def test_parser_escapes_are_formula_errors_with_a_caret(text, kind, message, column):
    with pytest.raises(kind, match=re.escape(message)) as info:
        parse_formula(text)
    assert info.value.position == column
    assert str(info.value).splitlines()[-1] == "  " + " " * column + "^"


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        # formulaic's power operator: next() of an empty exponent
        ("y ~ (Days:scale(x)) ^ (0)", FormulaError, "must be a whole number from 1 up"),
        # [arg] * 1000000000 in formulaic: hangs and fills memory
        ("y ~ x ^ 1000000000", FormulaError, "the interaction order 1000000000 after '^'"),
        ("y ~ (x + g + Days + Subject + n)^9", FormulaError, "orders above 5 add nothing"),
        ("y ~ (x*g*Days*Subject)^4", FormulaError, "15 terms into 15^4 products"),
        ("y ~ (x | g) + (1 + x^99999999 | Subject)", FormulaError, "interaction order"),
        # numpy's LinAlgError on -inf
        ("y ~ log(Days) + x", DataError, "column(s) 'log(Days)' have infinite values on 1 row"),
        ("y ~ I(1/Days)", DataError, "infinite values"),
        # names resolved to encode()'s local variables and module globals
        ("y ~ expr", DataError, "unknown column 'expr'"),
        ("y ~ context", DataError, "unknown column 'context'"),
        ("y ~ frame + x", DataError, "unknown column 'frame'"),
        ("y | trials(n) | trials(n) ~ x", FormulaError, "is not a response addition term"),
    ],
)
def test_design_escapes_are_our_errors(text, kind, message):
    err = _error(text)
    assert type(err) is kind
    assert message in str(err)


@pytest.mark.parametrize(
    "text", ["Reaction ~ Days +* 2", "y ~ x @ g", "y ~ x ^ -1", "y ~ x %% g", "y ~ 'x'"]
)
def test_formulaic_messages_have_no_colour_codes(text):
    data = FRAME.rename(columns={"y": "Reaction"}) if text.startswith("Reaction") else FRAME
    with pytest.raises(FormulaError) as info:
        build_design(parse_formula(text), data)
    message = str(info.value)
    assert "\x1b" not in message
    assert "⧛" not in message and "⧚" not in message
    # formulaic's marks are a caret line under the offending text instead
    assert re.search(r"\n {2,}\^+$", message), message


def test_colour_code_free_message_points_at_the_operator():
    data = FRAME.rename(columns={"y": "Reaction"})
    with pytest.raises(FormulaError) as info:
        build_design(parse_formula("Reaction ~ Days +* 2"), data)
    *_, source, caret = str(info.value).splitlines()
    assert source == "  Days + * 2"
    assert caret == "       ^^^"


def test_function_calls_keep_their_python_operators():
    # '~' and '^' inside a call are Python's (not, xor), not formula syntax.
    spec = parse_formula("y ~ I(~(x > 0)) + (1 | g)")
    assert spec.mu.fixed == "I(~(x > 0))"
    build_design(spec, FRAME.copy())
    assert parse_formula("y ~ C(g, levels=['a', 'b)', 'c'])").mu.fixed.startswith("C(g")
