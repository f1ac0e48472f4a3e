"""Stage 8: the command line: `multilevel describe|fit DATA FORMULA ...`,
`multilevel run analysis.toml` and `multilevel init NAME`."""

from ._main import main

__all__ = ["main"]


def _entry() -> None:
    import sys

    sys.exit(main())
