"""ArviZ, imported in the background while NUTS runs.

`import arviz` takes about a second (it loads matplotlib and scipy.stats). Nothing needs it
until the draws are in, and compiling and sampling run in XLA without the GIL, so `preload()`
at the start of sampling hides the import behind them.
"""

from __future__ import annotations

import importlib
import sys
import threading
import warnings
from types import ModuleType

# ArviZ 0.23 announces its refactor with a FutureWarning on import.
warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")

_loader: threading.Thread | None = None


def preload() -> None:
    """Start importing ArviZ in a background thread, once."""
    global _loader
    if _loader is None and "arviz" not in sys.modules:
        _loader = threading.Thread(target=importlib.import_module, args=("arviz",), daemon=True)
        _loader.start()


def arviz() -> ModuleType:
    """The arviz module, waiting for a background import if one is under way."""
    if _loader is not None:
        _loader.join()
    return importlib.import_module("arviz")
