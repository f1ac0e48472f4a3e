"""Traced programs kept on disk, so a warm run skips tracing and lowering too.

JAX's persistent cache skips XLA compilation, but every process still traces the Python
functions and lowers them to StableHLO first: about a second for NUTS. Here each program is
exported once with `jax.export` and stored under a key that covers everything it depends on:
the model's fingerprint (its structure and the constants baked into the log density), the
argument shapes and dtypes, the versions of JAX and blackjax, and the source of this package.
Arguments and results travel as flat lists of arrays; their pytree structure is rebuilt here.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import jax
from jax import export

from .._recent import Recent

Program = Callable[..., Any]

#: Programs ready to call in this process, by key, most recently used last: a second fit of
#: the same structure (a study's next replicate) neither lowers the program nor reads the
#: executable back from the persistent cache (about 0.2 s each).
_LOADED: Recent[Program] = Recent(32)


@cache
def _source_hash() -> str:
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _versions() -> str:
    return ";".join(f"{p}={metadata.version(p)}" for p in ("jax", "jaxlib", "blackjax"))


def _signature(leaves: list) -> str:
    return ";".join(f"{jax.typeof(x).str_short()}" for x in leaves)


def program(
    fn: Callable, args: tuple, out_structure: Any, fingerprint: str, directory: Path | None
) -> Program:
    """`fn` as a compiled function of `args`, loaded from `directory` when exported before.

    `out_structure` is the pytree structure of `fn`'s result (`jax.tree.structure` of an
    example). With `directory=None` nothing is stored, but the program still goes through
    `jax.export`, so that draws do not depend on whether the cache is on.
    """
    leaves, in_tree = jax.tree.flatten(args)
    mesh = _mesh(leaves)
    key = hashlib.sha256(
        "\n".join(
            (
                fingerprint,
                getattr(fn, "__name__", ""),
                str(in_tree),
                _signature(leaves),
                _devices(mesh),
                _versions(),
                _source_hash(),
            )
        ).encode()
    ).hexdigest()[:40]
    return _LOADED.get(
        key, lambda: _ready(fn, leaves, in_tree, out_structure, mesh, key, directory)
    )


def _ready(fn, leaves, in_tree, out_structure, mesh, key: str, directory: Path | None) -> Program:
    """The program of `key`, loaded from `directory` or exported (and stored) there."""
    path = None if directory is None else directory / "programs" / f"{key}.jaxexport"
    exported = None if path is None else _load(path)
    shardings = None if mesh is None else [x.sharding for x in leaves]
    if exported is None:

        def flat(*flat_args):
            return jax.tree.leaves(fn(*jax.tree.unflatten(in_tree, flat_args)))

        exported = export.export(jax.jit(flat, in_shardings=shardings))(*leaves)
        if path is not None:
            _store(path, exported.serialize())
    if shardings is None:
        call = jax.jit(exported.call)
    else:  # an SPMD program: called on the devices it was exported for
        call = jax.jit(
            exported.call,
            in_shardings=shardings,
            out_shardings=list(exported.out_shardings_jax(mesh)),
        )

    def run(*call_args):
        return jax.tree.unflatten(out_structure, call(*jax.tree.leaves(call_args)))

    return run


def _devices(mesh: jax.sharding.Mesh | None) -> str:
    """The devices an SPMD program is exported for: it can only be called on as many, so
    processes with different device counts (a pool's workers) must not share it."""
    return "one device" if mesh is None else f"mesh {dict(mesh.shape)}"


def _mesh(leaves: list) -> jax.sharding.Mesh | None:
    """The mesh of the first argument laid out over several devices, if any."""
    for x in leaves:
        sharding = getattr(x, "sharding", None)
        if isinstance(sharding, jax.sharding.NamedSharding):
            return sharding.mesh
    return None


def _load(path: Path) -> export.Exported | None:
    try:
        return export.deserialize(bytearray(path.read_bytes()))
    except FileNotFoundError:
        return None
    except Exception:  # a truncated or foreign file: export again and overwrite it
        return None


def _store(path: Path, data: bytes | bytearray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
