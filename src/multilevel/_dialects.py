"""Models from Stata commands and SAS statements: translate them, then build a `Model`."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from ._api import Model
from .design import as_frame
from .priors import PriorSpec
from .translate import Translation
from .translate import translate_sas as _translate_sas
from .translate import translate_stata as _translate_stata


def translate_stata(command: str, data: Any = None) -> Translation:
    """A Stata `mixed` / `melogit` / `meprobit` / `mepoisson` / `menbreg` / `meologit` /
    `meoprobit` command in our formula syntax; `data` (optional) settles levels and types.

    Example:
        >>> import multilevel as ml
        >>> t = ml.translate_stata("mixed y tx || cluster: tx, nocons residuals(ind, by(tx))")
        >>> t.formulas
        ('y ~ tx + (0 + tx | cluster)', 'sigma ~ tx')
    """
    return _translate_stata(command, None if data is None else as_frame(data))


def translate_sas(text: str, data: Any = None) -> Translation:
    """PROC MIXED / PROC GLIMMIX statements (`class`, `model`, `random`, `repeated`) in our
    formula syntax; `data` (optional) settles SAS's reference levels and types.

    Example:
        >>> import multilevel as ml
        >>> sas = "class cluster; model y = tx; random tx / subject=cluster; repeated / group=tx;"
        >>> ml.translate_sas(sas).formulas
        ('y ~ tx + (0 + tx | cluster)', 'sigma ~ tx')
    """
    return _translate_sas(text, None if data is None else as_frame(data))


def from_stata(
    command: str,
    data: Any,
    priors: Sequence[str | PriorSpec] | None = None,
    na_action: str = "error",
) -> Model:
    """The `Model` of a Stata command: `ml.from_stata("mixed y tx || cluster: tx, nocons
    residuals(independent, by(tx))", df)` is `ml.Model("y ~ tx + (0 + tx | cluster)", df,
    sigma="~ tx")`. Options with no Bayesian counterpart (`reml`, `variance`) are named in
    one warning; options that change the model and do not translate are errors.

    Example:
        >>> import multilevel as ml, pandas as pd
        >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 7], "g": list("aabbcc")})
        >>> ml.from_stata("mixed y || g:", df).formula
        'y ~ 1 + (1 | g)'
    """
    frame = as_frame(data)
    return _model(_translate_stata(command, frame), frame, priors, na_action)


def from_sas(
    text: str,
    data: Any,
    priors: Sequence[str | PriorSpec] | None = None,
    na_action: str = "error",
) -> Model:
    """The `Model` of PROC MIXED / PROC GLIMMIX statements; PROC MCMC's prior statements
    become `priors=` through `ml.priors_from_sas`.

    Example:
        >>> import multilevel as ml, pandas as pd
        >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 7], "g": list("aabbcc")})
        >>> ml.from_sas("class g; model y = ; random intercept / subject=g;", df).formula
        'y ~ 1 + (1 | g)'
    """
    frame = as_frame(data)
    return _model(_translate_sas(text, frame), frame, priors, na_action)


def model_of(translation: Translation, data: Any, priors=None, na_action: str = "error") -> Model:
    """The `Model` a translation describes, on `data`."""
    return Model(data=data, priors=priors, na_action=na_action, **translation.model_arguments())


def _model(translation: Translation, data: Any, priors, na_action: str) -> Model:
    if translation.notes:
        warnings.warn(
            "translated with notes:\n" + "\n".join(f"  {n}" for n in translation.notes),
            stacklevel=3,
        )
    return model_of(translation, data, priors, na_action)
