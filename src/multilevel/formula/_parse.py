"""Parse lme4/brms formula syntax into a `ModelFormula`.

Only the multilevel parts are parsed here: the `~`, the group terms `( | )` and `( || )`,
and the grouping factors `g`, `a:b`, `a/b`. The fixed part and the terms inside a group
term are left as text for formulaic, which materialises them in the design stage.
"""

from __future__ import annotations

import re

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
    tilde = _top_level_positions(text, "~")
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
    _check_response_not_on_rhs(lhs, mu, text)
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
        if m is None or not m.group(2).strip():
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


def parse_dpar_formula(name: str, text: str) -> LinearFormula:
    """Parse the formula of a distributional parameter: `"~ tx"` or `"sigma ~ tx"`.

    Example:
        >>> parse_dpar_formula("sigma", "~ tx").fixed
        'tx'
    """
    if not isinstance(text, str):
        raise FormulaError(f"the formula for {name} must be a string like '~ x', got {text!r}")
    _check_parentheses(text)
    tilde = _top_level_positions(text, "~")
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
    factor_text = inner[bars[-1] + 1 :].strip()
    if not terms:
        raise FormulaError(
            "empty group term: put '1' for a random intercept, as in '(1 | group)'",
            text,
            offset + 1 + bar,
        )
    if not factor_text:
        raise FormulaError("group term without a grouping factor after '|'", text, offset + 1 + bar)
    factors = _parse_factor(text, offset + 1 + inner.index(factor_text), factor_text)
    return [GroupTerm(terms, f, not double, piece, link) for f in factors]


def _parse_factor(text: str, offset: int, factor: str) -> list[tuple[str, ...]]:
    """`g` -> [(g,)]; `a:b` -> [(a, b)]; `a/b` -> [(a,), (a, b)]."""
    nested = [p.strip() for p in factor.split("/")]
    expanded: list[tuple[str, ...]] = []
    path: tuple[str, ...] = ()
    for part in nested:
        names = tuple(_unquote(n.strip()) for n in part.split(":"))
        for raw in part.split(":"):
            if not _IDENT.match(raw.strip()):
                where = offset + factor.find(raw.strip()) if raw.strip() else offset
                raise FormulaError(
                    f"the grouping factor '{factor}' must be column names joined by ':' or "
                    "'/' (e.g. 'subject', 'school:class', 'school/class')",
                    text,
                    where,
                )
        path = path + names
        expanded.append(path)
    return expanded


def _check_response_not_on_rhs(lhs: str, mu: LinearFormula, text: str) -> None:
    response = _unquote(lhs)
    if not _IDENT.match(lhs):
        return
    rhs_names = {_unquote(t) for t in _TOKEN.findall(mu.fixed)}
    for g in mu.groups:
        rhs_names |= {_unquote(t) for t in _TOKEN.findall(g.terms)} | set(g.factor)
    if response in rhs_names:
        rhs_start = text.index("~") + 1
        pos = next(
            rhs_start + m.start()
            for m in _TOKEN.finditer(text[rhs_start:])
            if _unquote(m.group()) == response
        )
        raise FormulaError(
            f"the response '{response}' also appears on the right-hand side; a response "
            "cannot predict itself",
            text,
            pos,
        )


def _check_parentheses(text: str) -> None:
    depth_stack: list[int] = []
    quoted = False
    for i, ch in enumerate(text):
        if ch == "`":
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth_stack.append(i)
        elif ch == ")":
            if not depth_stack:
                raise FormulaError("unbalanced ')': no '(' opens it", text, i)
            depth_stack.pop()
    if depth_stack:
        raise FormulaError("unbalanced '(': it is never closed", text, depth_stack[-1])


def _matching_close(text: str, open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _top_level_positions(text: str, char: str) -> list[int]:
    depth, found, quoted = 0, [], False
    for i, ch in enumerate(text):
        if ch == "`":
            quoted = not quoted
        elif quoted:
            continue
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == char and depth == 0:
            found.append(i)
    return found


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
