"""Stage 0, a front end: Stata `mixed` / `me*` commands, SAS PROC MIXED / GLIMMIX
statements and PROC MCMC prior statements, translated into our formula and prior syntax."""

from ._sas import translate_sas
from ._sas_priors import priors_from_sas
from ._stata import translate_stata
from ._translation import Translation

__all__ = ["Translation", "priors_from_sas", "translate_sas", "translate_stata"]
