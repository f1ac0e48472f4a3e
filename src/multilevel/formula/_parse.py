"""Parse lme4/brms formula syntax into a `ModelFormula`.

Only the multilevel parts are parsed here: the `~`, the group terms `( | )` and `( || )`,
and the grouping factors `g`, `a:b`, `a/b`. The fixed part and the terms inside a group
term are left as text for formulaic, which materialises them in the design stage.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from .._errors import FormulaError, did_you_mean
from ._spec import GroupTerm, LinearFormula, ModelFormula

_IDENT = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$|^`[^`]+`$")
_TOKEN = re.compile(r"`[^`]+`|[A-Za-z_.][A-Za-z0-9_.]*")
_LINK_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def parse_formula(text: str) -> ModelFormula:
    """Parse `response ~ terms + (terms | group)`.

    Example:
        >>> f = parse_formula("Reaction ~ Days + (Days | Subject)")
        >>> f.response, f.mu.fixed, f.mu.groups[0].terms, f.mu.groups[0].group
        ('Reaction', 'Days', 'Days', 'Subject')
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be a string, got {type(text).__name__}")
    _check_parentheses(text)
    tilde = _tildes(text)
    if len(tilde) != 1:
        where = tilde[1] if len(tilde) > 1 else None
        raise FormulaError(
            "a formula needs exactly one '~' between response and terms", text, where
        )
    lhs, rhs_start = text[: tilde[0]].strip(), tilde[0] + 1
    if not lhs:
        raise FormulaError("the response (left of '~') is missing", text, 0)
    additions: dict[str, str] = {}
    if "|" in lhs:
        lhs, additions = _additions(text, lhs)
    mu = _parse_rhs(text, rhs_start)
    _check_response_not_on_rhs(lhs, mu, text, rhs_start)
    return ModelFormula(_unquote(lhs), {"mu": mu}, text, additions)


#: brms's response addition terms that are supported: name -> what it gives.
ADDITIONS = {"trials": "the number of trials of a binomial response"}
_ADDITION = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$")


def _additions(text: str, lhs: str) -> tuple[str, dict[str, str]]:
    """`y | trials(n)` -> ("y", {"trials": "n"}); several terms are joined by '+'."""
    bar = text.index("|")
    response, rest = lhs.split("|", 1)
    if not response.strip():
        raise FormulaError("the response is missing before '|'", text, 0)
    out: dict[str, str] = {}
    where = bar + 1  # where the current part starts in `text`
    for part in rest.split("+"):
        m = _ADDITION.match(part)
        if m is None or not m.group(2).strip() or not _balanced(m.group(2)) or "|" in m.group(2):
            raise FormulaError(
                f"'{part.strip()}' is not a response addition term; write e.g. 'y | trials(n)'",
                text,
                bar,
            )
        name = m.group(1)
        at = text.index(name, where)
        if name not in ADDITIONS:
            raise FormulaError(
                f"unknown response addition term '{name}(...)'{did_you_mean(name, ADDITIONS)}; "
                f"supported: {', '.join(f'{k}() ({v})' for k, v in ADDITIONS.items())}",
                text,
                at,
            )
        if name in out:
            raise FormulaError(f"'{name}(...)' appears twice", text, at)
        out[name] = m.group(2).strip()
        where += len(part) + 1
    return response.strip(), out


def _balanced(text: str) -> bool:
    """Whether every ')' in `text` closes a '(' of `text`: `n) | trials(n` is not one argument."""
    depth = 0
    for _, ch, _, _ in _scan(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def parse_dpar_formula(name: str, text: str) -> LinearFormula:
    """Parse the formula of a distributional parameter: `"~ tx"` or `"sigma ~ tx"`.

    Example:
        >>> parse_dpar_formula("sigma", "~ tx").fixed
        'tx'
    """
    if not isinstance(text, str):
        raise FormulaError(f"the formula for {name} must be a string like '~ x', got {text!r}")
    _check_parentheses(text)
    tilde = _tildes(text)
    if len(tilde) > 1:
        raise FormulaError(f"the formula for {name} has more than one '~'", text, tilde[1])
    if not tilde:
        text = "~ " + text
        tilde = [0]
    lhs = text[: tilde[0]].strip()
    if lhs not in ("", name):
        raise FormulaError(
            f"the formula for {name} must have '{name}' or nothing left of '~', not '{lhs}'",
            text,
            0,
        )
    return _parse_rhs(text, tilde[0] + 1)


def _parse_rhs(text: str, start: int) -> LinearFormula:
    fixed: list[str] = []
    groups: list[GroupTerm] = []
    seen: set[str] = set()
    for piece, offset in _split_top_level(text, start, "+"):
        stripped = piece.strip()
        lead = offset + len(piece) - len(piece.lstrip())
        if not stripped:
            raise FormulaError("empty term (two '+' in a row, or a trailing '+')", text, lead)
        if _is_group_term(stripped):
            groups.extend(_parse_group_term(text, lead, stripped))
        elif "|" in stripped:
            top = _top_level_positions(stripped, "|")
            bar = lead + (top[0] if top else stripped.index("|"))
            raise FormulaError(
                "'|' outside a group term: write group terms as '(terms | group)' and add "
                "them with '+'",
                text,
                bar,
            )
        else:
            key = re.sub(r"\s+", "", stripped)
            if key in seen:  # formulaic would merge the two silently
                raise FormulaError(f"the term '{stripped}' appears twice; remove one", text, lead)
            seen.add(key)
            fixed.append(stripped)
    fixed_text = " + ".join(fixed) if fixed else "1"
    if fixed_text.startswith("+"):
        fixed_text = fixed_text[1:].strip()
    return LinearFormula(fixed=fixed_text, groups=tuple(groups), source=text[start:].strip())


def _is_group_term(piece: str) -> bool:
    if not (piece.startswith("(") and _matching_close(piece, 0) == len(piece) - 1):
        return False
    return bool(_top_level_positions(piece[1:-1], "|"))


def _parse_group_term(text: str, offset: int, piece: str) -> list[GroupTerm]:
    inner = piece[1:-1]
    bars = _top_level_positions(inner, "|")
    double = len(bars) == 2 and bars[1] == bars[0] + 1
    link = None
    if len(bars) > 2:
        raise FormulaError(
            "a group term has at most two '|': '(terms | group)', '(terms || group)' or "
            "'(terms |id| group)'",
            text,
            offset + 1 + bars[2],
        )
    if len(bars) == 2 and not double:
        link = inner[bars[0] + 1 : bars[1]].strip()
        if not _LINK_ID.match(link):
            raise FormulaError(
                f"'{link}' is not a correlation id: write '(terms |id| group)' with a name "
                "such as 'p', shared by the group terms whose effects are correlated",
                text,
                offset + 1 + bars[0] + 1,
            )
    bar = bars[0]
    terms = inner[:bar].strip()
    after = inner[bars[-1] + 1 :]
    factor_text = after.strip()
    if not terms:
        raise FormulaError(
            "empty group term: put '1' for a random intercept, as in '(1 | group)'",
            text,
            offset + 1 + bar,
        )
    if not factor_text:
        raise FormulaError("group term without a grouping factor after '|'", text, offset + 1 + bar)
    factor_at = offset + 1 + bars[-1] + 1 + len(after) - len(after.lstrip())
    factors = _parse_factor(text, factor_at, factor_text)
    return [GroupTerm(terms, f, not double, piece, link) for f in factors]


def _parse_factor(text: str, offset: int, factor: str) -> list[tuple[str, ...]]:
    """`g` -> [(g,)]; `a:b` -> [(a, b)]; `a/b` -> [(a,), (a, b)]."""
    expanded: list[tuple[str, ...]] = []
    path: tuple[str, ...] = ()
    at = 0  # where the current name starts in `factor`
    for part in factor.split("/"):
        names = []
        for raw in part.split(":"):
            if not _IDENT.match(raw.strip()):
                # An empty part ('a/', 'a//b') has nothing to point at: point at the factor.
                where = offset + at + len(raw) - len(raw.lstrip()) if raw.strip() else offset
                raise FormulaError(
                    f"the grouping factor '{factor}' must be column names joined by ':' or "
                    "'/' (e.g. 'subject', 'school:class', 'school/class')",
                    text,
                    where,
                )
            names.append(_unquote(raw))
            at += len(raw) + 1
        path = path + tuple(names)
        expanded.append(path)
    return expanded


def _check_response_not_on_rhs(lhs: str, mu: LinearFormula, text: str, rhs_start: int) -> None:
    response = _unquote(lhs)
    if not _IDENT.match(lhs):
        return
    rhs_names = {_unquote(t) for t in _TOKEN.findall(mu.fixed)}
    for g in mu.groups:
        rhs_names |= {_unquote(t) for t in _TOKEN.findall(g.terms)} | set(g.factor)
    if response in rhs_names:
        # rhs_start, not text.index("~"): a quoted name such as `a~b` can hold a '~'.
        pos = next(
            (
                rhs_start + m.start()
                for m in _TOKEN.finditer(text[rhs_start:])
                if _unquote(m.group()) == response
            ),
            rhs_start,
        )
        raise FormulaError(
            f"the response '{response}' also appears on the right-hand side; a response "
            "cannot predict itself",
            text,
            pos,
        )


_QUOTES = "`'\""
_OPENS = {"(": ")", "[": "]", "{": "}"}
_CLOSES = {close: open_ for open_, close in _OPENS.items()}


def _scan(text: str) -> Iterator[tuple[int, str, int, bool]]:
    """(position, character, depth, in_code) for each character outside quotes.

    Backticks quote a name, ' and " a Python string (in `C(g, levels=["a", "b"])`, say):
    nothing inside them is syntax. `depth` counts the brackets around the character (a
    bracket itself is at the depth outside it); `in_code` says whether one of them is
    Python code for formulaic -- the argument list of a call `f(...)`, an index `[...]`
    or a quoted expression `{...}` -- where '~', '^' and '|' are Python operators.
    """
    stack: list[bool] = []  # for each open bracket: does it open Python code?
    quote = None
    for i, ch in enumerate(text):
        if quote is not None:
            if ch == quote:
                quote = None
            continue
        if ch in _QUOTES:
            quote = ch
            continue
        if ch in _CLOSES and stack:
            stack.pop()
        yield i, ch, len(stack), any(stack)
        if ch in _OPENS:
            call = ch == "(" and i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_.")
            stack.append(ch != "(" or call)


def _check_parentheses(text: str) -> None:
    """Brackets must pair up, and quotes close, before anything else is read; control and
    invisible format characters (a pasted zero-width space, say) are refused."""
    stack: list[tuple[str, int]] = []
    quote_at = None
    for i, ch in enumerate(text):
        kind = unicodedata.category(ch)
        if (kind == "Cc" and ch not in "\t\n\r") or (kind == "Cf" and quote_at is None):
            raise FormulaError(
                f"the formula contains the invisible character U+{ord(ch):04X}; retype it "
                "without that character",
                text,
                i,
            )
        if quote_at is not None:
            if ch == text[quote_at]:
                quote_at = None
            continue
        if ch in _QUOTES:
            quote_at = i
        elif ch in _OPENS:
            stack.append((ch, i))
        elif ch in _CLOSES:
            if not stack:
                raise FormulaError(f"unbalanced '{ch}': no '{_CLOSES[ch]}' opens it", text, i)
            opener, at = stack.pop()
            if opener != _CLOSES[ch]:
                raise FormulaError(
                    f"mismatched '{ch}': it closes the '{opener}' at position {at + 1}, "
                    f"which needs '{_OPENS[opener]}'",
                    text,
                    i,
                )
    if quote_at is not None:
        quote = text[quote_at]
        raise FormulaError(f"unbalanced quote {quote}: it is never closed", text, quote_at)
    if stack:
        opener, at = stack[-1]
        raise FormulaError(f"unbalanced '{opener}': it is never closed", text, at)


def _tildes(text: str) -> list[int]:
    """The positions of the formula's '~' (not in quotes or Python code).

    Exactly one must be at the top level: a '~' inside parentheses, as in `y ~ (x ~ g)`
    or `(y ~ x)`, would make formulaic read a formula within the formula.
    """
    tildes = [(i, depth) for i, ch, depth, code in _scan(text) if ch == "~" and not code]
    nested = [i for i, depth in tildes if depth > 0]
    if nested:
        raise FormulaError(
            "'~' inside parentheses: a formula has one '~', between the response and the "
            "terms, outside any parentheses",
            text,
            nested[0],
        )
    return [i for i, _ in tildes]


def _matching_close(text: str, open_at: int) -> int:
    for i, _, depth, _ in _scan(text[open_at:]):
        if depth == 0 and i > 0 and text[open_at + i] in _CLOSES:
            return open_at + i
    return -1


def _top_level_positions(text: str, char: str) -> list[int]:
    return [i for i, ch, depth, _ in _scan(text) if ch == char and depth == 0]


def _split_top_level(text: str, start: int, char: str) -> list[tuple[str, int]]:
    """Pieces of text[start:] between top-level `char`s, each with its offset in `text`."""
    body = text[start:]
    cuts = _top_level_positions(body, char)
    pieces, prev = [], 0
    for c in [*cuts, len(body)]:
        pieces.append((body[prev:c], start + prev))
        prev = c + 1
    return pieces


def _unquote(name: str) -> str:
    name = name.strip()
    return name[1:-1] if name.startswith("`") and name.endswith("`") else name


def formula_names(expr: str) -> set[str]:
    """The identifiers in a formula expression (columns or functions).

    Example:
        >>> sorted(formula_names("scale(x) + a:b"))
        ['a', 'b', 'scale', 'x']
    """
    return {_unquote(t) for t in _TOKEN.findall(expr)}
