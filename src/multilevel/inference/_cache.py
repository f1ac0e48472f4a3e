"""JAX's persistent compilation cache, on by default in the user's cache folder."""

from __future__ import annotations

import os
from pathlib import Path

import jax

ENV = "MULTILEVEL_CACHE_DIR"


def cache_dir() -> Path | None:
    """Where compiled programs are kept: `$MULTILEVEL_CACHE_DIR`, else the user cache folder;
    None when `MULTILEVEL_CACHE_DIR=off`."""
    setting = os.environ.get(ENV, "")
    if setting.lower() == "off":
        return None
    if setting:
        return Path(setting).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "multilevel" / "jax"


def configure_cache() -> Path | None:
    """Point JAX's persistent cache at `cache_dir()`, unless the user set one already.

    Must run before the first compilation of the process to take effect.
    """
    path = cache_dir()
    if path is None or jax.config.jax_compilation_cache_dir:
        return None if path is None else Path(jax.config.jax_compilation_cache_dir)
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
