"""Stage 8: the command line: `multilevel describe|fit DATA FORMULA ...`,
`multilevel run analysis.toml`, `multilevel init NAME`, and the studies of many fits,
`multilevel power design.toml` and `multilevel sbc analysis.toml`."""

from ._main import main

__all__ = ["main"]


def _entry() -> None:
    import sys

    sys.exit(main())
