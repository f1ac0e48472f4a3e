"""`multilevel translate --from stata|sas|sas-priors TEXT`: a Stata command, SAS statements
or PROC MCMC prior statements in our syntax, printed for the user to learn and copy."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .._dialects import translate_sas, translate_stata
from .._errors import MultilevelError
from ..translate import Translation, priors_from_sas

DIALECTS = ("stata", "sas", "sas-priors")


def source_text(text: str) -> str:
    """The command or statements: `-` reads standard input, an existing file (`.do`, `.sas`)
    is read, anything else is the text itself."""
    if text == "-":
        return sys.stdin.read()
    path = Path(text)
    if len(text) < 260 and "\n" not in text and path.suffix and path.is_file():
        return path.read_text(encoding="utf-8")
    return text


def translate(
    dialect: str, text: str, data: pd.DataFrame | None = None, names: Sequence[str] = ()
) -> str:
    """What `multilevel translate` prints."""
    text = source_text(text)
    if dialect == "sas-priors":
        return "\n".join(priors_from_sas(text, _names(names)))
    if names:
        raise MultilevelError(
            "--name maps PROC MCMC parameter names: use it with --from sas-priors"
        )
    translation = (translate_stata if dialect == "stata" else translate_sas)(text, data)
    return show(translation)


def show(t: Translation) -> str:
    """What `translate` prints: the formulas, family and notes, then the `ml.Model` call."""
    return f"{t}\npython: {t.code()}"


def _names(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        sas, sep, ours = item.partition("=")
        if not sep or not sas.strip() or not ours.strip():
            raise MultilevelError(
                f"--name takes SAS=OURS (e.g. s2u=sd_cluster__tx^2), got {item!r}"
            )
        out[sas.strip()] = ours.strip()
    return out
