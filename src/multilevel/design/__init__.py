"""Stage 2: the formula spec plus data gives numeric arrays and the encoding state."""

from ._collapse import Collapsed, collapse_rows
from ._data import MissingReport, as_frame
from ._design import Design, DparDesign, Link, build_design
from ._fixed import FixedDesign, brms_name, spec_variables
from ._groups import GroupDesign

__all__ = [
    "Collapsed",
    "Design",
    "DparDesign",
    "FixedDesign",
    "GroupDesign",
    "Link",
    "MissingReport",
    "as_frame",
    "brms_name",
    "build_design",
    "collapse_rows",
    "spec_variables",
]
