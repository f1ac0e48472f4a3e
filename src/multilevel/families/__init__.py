"""Stage 4: one table of likelihoods, links and auxiliary parameters."""

from ._links import LINKS, Link
from ._table import FAMILIES, AuxParameter, Family, get_family

__all__ = ["FAMILIES", "LINKS", "AuxParameter", "Family", "Link", "get_family"]
