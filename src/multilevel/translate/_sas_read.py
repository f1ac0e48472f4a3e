"""Reading a SAS PROC MIXED / GLIMMIX block: statements, their words and their options.

The block is split into `_Statement`s (`;` ends each; `/* */` and `* ...;` comments are
skipped), each on one line with its whitespace collapsed. A statement's words and its options
after `/` (`_Option`) are split outside parentheses and quotes and keep their positions, so
that `_error` can point into the statement. `_Block` holds what the statements have said so
far, and the name helpers spell each variable as the data's columns do (SAS is
case-insensitive).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .._errors import DataError, TranslationError, did_you_mean
from ._translation import split_top_level

_NAME = r"[A-Za-z_]\w*"


@dataclass(frozen=True)
class _Statement:
    """One statement, whitespace collapsed: `text` ends in `;` and is what errors quote."""

    keyword: str
    text: str


@dataclass(frozen=True)
class _Option:
    """An option after `/`: `key` in lower case with aliases resolved, `value` as written."""

    key: str
    value: str | None
    text: str
    position: int

    @property
    def lower(self) -> str:
        return (self.value or "").lower()


@dataclass
class _Block:
    """What the statements have said so far."""

    data: pd.DataFrame | None
    spelling: dict[str, str] = field(default_factory=dict)
    classes: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    fixed: str | None = None
    family: str = "gaussian"
    link: str | None = None
    random: list[str] = field(default_factory=list)
    dpars: dict[str, str] = field(default_factory=dict)
    response_options: str = ""

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


# --- statements ------------------------------------------------------------------------------


def _statements(text: str) -> list[_Statement]:
    """The statements of `text`, comments dropped, each on one line with `;` at its end."""
    out = []
    for raw in _split_statements(text):
        line = _tidy(raw)
        keyword = re.split(r"[\s;=(/]", line, maxsplit=1)[0].lower()
        equals = _top_equals(line)
        if keyword == "model" and equals > 0:
            line = f"{line[:equals]} = {line[equals + 1 :]}"
        if line:
            out.append(_Statement(keyword, line + ";"))
    return out


def _split_statements(text: str) -> Iterator[str]:
    """Split on `;` outside quotes; drop `/* */` comments and `* ...;` comment statements."""
    buf: list[str] = []
    i, quote = 0, ""
    while i < len(text):
        c = text[i]
        if quote:
            quote = "" if c == quote else quote
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
            buf.append(" ")
            continue
        elif c == "*" and not "".join(buf).strip():
            end = text.find(";", i)
            i = len(text) if end < 0 else end + 1
            continue
        elif c == ";":
            yield "".join(buf)
            buf, i = [], i + 1
            continue
        elif c in "'\"":
            quote = c
        buf.append(c)
        i += 1
    yield "".join(buf)


def _tidy(raw: str) -> str:
    """Whitespace collapsed, and none around `* | @ = ( )`: `type = ar (1)` is `type=ar(1)`."""
    line = re.sub(r" ?([*|@=]) ?", r"\1", " ".join(raw.split()))
    return re.sub(r" ?\( ?", "(", line).replace(" )", ")")


def _top_equals(text: str) -> int:
    """The first `=` outside parentheses (`y(event='1') = x`), or -1."""
    depth = 0
    for i, c in enumerate(text):
        depth += (c == "(") - (c == ")")
        if c == "=" and depth == 0:
            return i
    return -1


def _error(
    message: str, st: _Statement, text: str | None = None, at: int | None = None
) -> TranslationError:
    """A TranslationError on `st`, pointing at `at` or else at the first `text` in it."""
    if at is None and text is not None:
        found = st.text.find(text)
        at = found if found >= 0 else None
    return TranslationError(message, st.text, at)


def _options(st: _Statement, start: int, aliases: dict[str, str]) -> list[_Option]:
    """The options of `st` from `start` (just after its `/`)."""
    out = []
    for token, pos in _split_top(st.text[start:].rstrip(";"), start):
        key, eq, value = token.partition("=")
        key = key.lower()
        out.append(_Option(aliases.get(key, key), value if eq else None, token, pos))
    return out


def _split_top(text: str, offset: int) -> list[tuple[str, int]]:
    """Tokens of `text` split on spaces outside parentheses and quotes, with positions."""
    return [(token, at) for token, at in split_top_level(text, " ", offset) if token]


def _slash(st: _Statement, after: int = 0) -> int:
    """Where the options of `st` start (just after its `/`), or the position of its `;`."""
    depth = 0
    for i in range(after, len(st.text)):
        c = st.text[i]
        depth += (c == "(") - (c == ")")
        if c == "/" and depth == 0:
            return i + 1
    return len(st.text) - 1


def _body(st: _Statement, start: int, end: int) -> list[tuple[str, int]]:
    """The words between `start` and `end` (the `/`), with their positions."""
    return _split_top(st.text[start:end].rstrip("/;"), start)


# --- variables -------------------------------------------------------------------------------


def _name(block: _Block, raw: str, st: _Statement) -> str:
    """The spelling of a variable: the data's (matched case-insensitively), else as written
    where it first appeared."""
    key = raw.lower()
    if key in block.spelling:
        return block.spelling[key]
    spelled = raw
    if block.data is not None:
        columns = {str(c).lower(): str(c) for c in reversed(block.data.columns)}
        if raw not in block.data.columns and key not in columns:
            raise DataError(
                f"the statement '{st.text}' names the variable '{raw}', which is not a column "
                f"of the data{_did_you_mean(key, columns)}; columns: "
                f"{', '.join(columns[c] for c in reversed(columns))}"
            )
        spelled = raw if raw in block.data.columns else columns[key]
    block.spelling[key] = spelled
    return spelled


def _did_you_mean(key: str, columns: dict[str, str]) -> str:
    """did_you_mean, case-insensitive: `dayz` suggests the column `Days`."""
    hint = did_you_mean(key, columns)
    match = re.search(r"'(.*)'", hint)
    return hint.replace(match.group(0), f"'{columns[match.group(1)]}'") if match else ""


def _column(block: _Block, name: str) -> pd.Series | None:
    return None if block.data is None else block.data[name]


def _is_class(block: _Block, name: str) -> bool:
    return name.lower() in block.classes
