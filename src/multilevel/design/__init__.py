"""Stage 2: the formula spec plus data gives numeric arrays and the encoding state."""

from ._data import MissingReport, as_frame
from ._design import Design, DparDesign, build_design
from ._fixed import FixedDesign, brms_name
from ._groups import GroupDesign

__all__ = [
    "Design",
    "DparDesign",
    "FixedDesign",
    "GroupDesign",
    "MissingReport",
    "as_frame",
    "brms_name",
    "build_design",
]
