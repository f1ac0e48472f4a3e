"""blackjax NUTS with Stan's windowed adaptation, warmup and sampling fused in one program.

One compiled program advances a group of chains by a fixed-length chunk of iterations; each
iteration reads its role (adapting fast or slow, closing a window, ending warmup, sampling,
padding) from a schedule passed in as data. The same program therefore serves warmup and
sampling and any number of iterations, and calling it chunk by chunk gives a progress bar
without host callbacks, which would keep it out of JAX's persistent cache.

Within a device, chains run one after the other (`lax.map`), not vmapped: measured on
sleepstudy on the 2-core CPU machine, vmapping NUTS's nested while loops costs more to trace
and compile (cold fit 13.5 s vs 11.3 s) than lockstep execution saves (warm 8.3 s vs 7.3 s).
Instead, equal groups of chains run side by side, one group per device (per core on a CPU),
in one SPMD program (`shard_map` over the chain axis): compiled once for all devices, where
one program per device on its own thread compiled it once per device (at 10^4 group levels,
~430 MB of compiler memory each).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from blackjax.adaptation.mass_matrix import mass_matrix_adaptation
from blackjax.adaptation.staged_adaptation import build_schedule
from blackjax.adaptation.step_size import dual_averaging_adaptation
from blackjax.mcmc import hmc, nuts
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from .._errors import ModelError

CHUNK = 100
INIT_RADIUS = 2.0
INIT_TRIES = 100


@dataclass(frozen=True)
class SamplerSettings:
    """How to run NUTS. `target_accept` is brms's adapt_delta."""

    chains: int = 4
    warmup: int = 1000
    draws: int = 1000
    seed: int = 0
    target_accept: float = 0.8
    max_treedepth: int = 10
    progress: bool | None = None
    metric: str = "diag"

    @property
    def dense(self) -> bool:
        return self.metric == "dense"


@dataclass(frozen=True)
class SamplerOutput:
    """Draws of the unconstrained vector and the sampler's statistics, chains first."""

    positions: np.ndarray
    stats: dict[str, np.ndarray]
    step_size: np.ndarray
    inverse_mass_matrix: np.ndarray
    seconds: float


class _Chain(NamedTuple):
    state: hmc.HMCState
    step_size: jax.Array
    inverse_mass_matrix: jax.Array
    da: tuple
    mm: tuple
    key: jax.Array


class _Step(NamedTuple):
    first: jax.Array
    stage: jax.Array
    window_end: jax.Array
    warmup: jax.Array
    last_warmup: jax.Array
    active: jax.Array


def _schedule(warmup: int, draws: int) -> _Step:
    total = warmup + draws
    padded = -(-total // CHUNK) * CHUNK
    stage = np.zeros(padded, dtype=np.int32)
    window_end = np.zeros(padded, dtype=bool)
    if warmup:
        plan = build_schedule(warmup)
        stage[:warmup] = [s for s, _ in plan]
        window_end[:warmup] = [e for _, e in plan]
    steps = np.arange(padded)
    return _Step(steps == 0, stage, window_end, steps < warmup, steps == warmup - 1, steps < total)


def _iteration(log_density: Callable, settings: SamplerSettings) -> Callable:
    kernel = nuts.build_kernel()
    da_init, da_update, da_final = dual_averaging_adaptation(settings.target_accept)
    mm_init, mm_update, mm_final = mass_matrix_adaptation(is_diagonal_matrix=not settings.dense)

    def start(chain: _Chain, data) -> _Chain:
        """Stan's initialisation: the given point, redrawn uniformly in (-2, 2) on the
        unconstrained scale while the log density or its gradient is not finite."""
        density = partial(log_density, data=data)
        dim = chain.state.position.shape[0]

        def unusable(carry):
            tries, _, state = carry
            finite = jnp.isfinite(state.logdensity) & jnp.all(jnp.isfinite(state.logdensity_grad))
            return (tries < INIT_TRIES) & ~finite

        def redraw(carry):
            tries, key, _ = carry
            key, sub = jax.random.split(key)
            position = jax.random.uniform(sub, (dim,), minval=-INIT_RADIUS, maxval=INIT_RADIUS)
            return tries + 1, key, hmc.init(position, density)

        first = hmc.init(chain.state.position, density)
        _, key, state = jax.lax.while_loop(unusable, redraw, (0, chain.key, first))
        metric = jnp.eye(dim) if settings.dense else jnp.ones(dim)
        return _Chain(state, jnp.ones(()), metric, da_init(1.0), mm_init(dim), key)

    def adapt(chain: _Chain, step: _Step, position, acceptance) -> _Chain:
        da = da_update(chain.da, acceptance)
        mm = jax.lax.cond(step.stage == 1, lambda m: mm_update(m, position), lambda m: m, chain.mm)
        step_size, imm = jnp.exp(da.log_step_size), chain.inverse_mass_matrix

        def close_window(args):
            mm, da = args
            mm = mm_final(mm)
            da = da_init(da_final(da))
            return mm, da, jnp.exp(da.log_step_size), mm.inverse_mass_matrix

        mm, da, step_size, imm = jax.lax.cond(
            step.window_end, close_window, lambda a: (*a, step_size, imm), (mm, da)
        )
        final_step = jnp.where(step.last_warmup, jnp.exp(da.log_step_size_avg), step_size)
        return chain._replace(da=da, mm=mm, step_size=final_step, inverse_mass_matrix=imm)

    def one_chain(chain: _Chain, step: _Step, data) -> tuple[_Chain, dict]:
        chain = jax.lax.cond(step.first, lambda c: start(c, data), lambda c: c, chain)
        key, sub = jax.random.split(chain.key)
        density = partial(log_density, data=data)
        state, info = kernel(
            sub,
            chain.state,
            density,
            chain.step_size,
            chain.inverse_mass_matrix,
            settings.max_treedepth,
        )
        moved = chain._replace(state=state, key=key)
        moved = jax.lax.cond(
            step.warmup,
            lambda c: adapt(c, step, state.position, info.acceptance_rate),
            lambda c: c,
            moved,
        )
        new = jax.tree.map(lambda a, b: jnp.where(step.active, a, b), moved, chain)
        record = {
            "position": state.position,
            "lp": state.logdensity,
            "diverging": info.is_divergent,
            "n_steps": info.num_integration_steps,
            "tree_depth": info.num_trajectory_expansions,
            "acceptance_rate": info.acceptance_rate,
            "energy": info.energy,
            "step_size": chain.step_size,
        }
        return new, record

    return one_chain


RECORD = ("position", "lp", "diverging", "n_steps", "tree_depth", "acceptance_rate", "energy")
RECORD += ("step_size",)

#: Turns a function and example arguments into a compiled function; `_programs.program`
#: is the one fits use (it keeps traced programs on disk), `plain_jit` the simplest.
Compiler = Callable[[Callable, tuple, Any], Callable]


def plain_jit(fn: Callable, args: tuple, out_structure: Any) -> Callable:
    return jax.jit(fn)


def _chunk_fn(log_density: Callable, settings: SamplerSettings, mesh: Mesh) -> Callable:
    """One chunk of iterations for every chain: each device advances its own chains; the
    records come back (iterations, chains, ...)."""
    one_chain = _iteration(log_density, settings)

    def run_chunk(chains: _Chain, steps: _Step, data):
        def body(carry, step):
            return jax.lax.map(lambda c: one_chain(c, step, data), carry)

        return jax.lax.scan(body, chains, steps)

    sharded = jax.shard_map(
        run_chunk,
        mesh=mesh,
        in_specs=(P("chains"), P(), P()),
        out_specs=(P("chains"), P(None, "chains")),
        check_vma=False,
    )
    sharded.__name__ = "run_chunk"
    return sharded


def _first_carry(settings: SamplerSettings, dim: int, rng: np.random.Generator) -> _Chain:
    """Starting points and keys for every chain; the rest is filled in by the program's
    first iteration (see `start`), so only the structure is needed here."""
    da_init, _, _ = dual_averaging_adaptation(settings.target_accept)
    mm_init, _, _ = mass_matrix_adaptation(is_diagonal_matrix=not settings.dense)

    def template() -> _Chain:
        z = jnp.zeros(dim)
        metric = jnp.zeros((dim, dim)) if settings.dense else z
        return _Chain(hmc.HMCState(z, 0.0, z), 1.0, metric, da_init(1.0), mm_init(dim), 0)

    shapes = jax.eval_shape(template)
    n = settings.chains
    carry = jax.tree.map(lambda s: np.zeros((n, *s.shape), s.dtype), shapes)
    positions = rng.uniform(-INIT_RADIUS, INIT_RADIUS, size=(n, dim))
    state = carry.state._replace(position=positions)
    return carry._replace(state=state, key=random_keys(rng, n))


def random_keys(rng: np.random.Generator, n: int) -> jax.Array:
    """n independent PRNG keys from numpy's generator, without running JAX ops eagerly."""
    data = rng.integers(0, 2**32, size=(n, 2), dtype=np.uint32)
    return jax.random.wrap_key_data(data, impl="threefry2x32")


def chain_groups(chains: int, devices: int) -> int:
    """How many equal groups of chains run side by side: the most that divide `chains`
    without exceeding the devices."""
    return max(g for g in range(1, min(chains, devices) + 1) if chains % g == 0)


def run_nuts(
    log_density: Callable,
    data,
    dim: int,
    settings: SamplerSettings,
    compiler: Compiler = plain_jit,
) -> SamplerOutput:
    """Run `settings.chains` chains of NUTS on `log_density(theta, data)`.

    The chains are split into equal groups, one per device (one per core on a CPU, see
    `multilevel._host`), advanced side by side by one SPMD program.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(settings.seed)
    schedule = _schedule(settings.warmup, settings.draws)
    progress = _Progress(settings)
    devices = jax.local_devices()
    mesh = Mesh(np.array(devices[: chain_groups(settings.chains, len(devices))]), ("chains",))
    replicated = NamedSharding(mesh, P())
    chains = jax.device_put(_first_carry(settings, dim, rng), NamedSharding(mesh, P("chains")))
    data = jax.device_put(data, replicated)
    first_steps = jax.device_put(_Step(*(a[:CHUNK] for a in schedule)), replicated)
    out_structure = jax.tree.structure((chains, dict.fromkeys(RECORD, 0)))
    run_chunk = compiler(
        _chunk_fn(log_density, settings, mesh), (chains, first_steps, data), out_structure
    )
    records = []
    for begin in range(0, len(schedule.active), CHUNK):
        steps = jax.device_put(_Step(*(a[begin : begin + CHUNK] for a in schedule)), replicated)
        chains, record = jax.block_until_ready(run_chunk(chains, steps, data))
        record = jax.tree.map(np.asarray, record)
        if begin == 0:
            _check_start(record)
        records.append(record)
        progress.update(begin + CHUNK)
    progress.close()
    keep = slice(settings.warmup, settings.warmup + settings.draws)
    joined = {k: np.concatenate([r[k] for r in records])[keep].swapaxes(0, 1) for k in records[0]}
    positions = joined.pop("position")
    return SamplerOutput(
        positions=positions,
        stats=joined,
        step_size=np.asarray(chains.step_size),
        inverse_mass_matrix=np.asarray(chains.inverse_mass_matrix),
        seconds=time.perf_counter() - start,
    )


def _check_start(record: dict) -> None:
    if not np.all(np.isfinite(record["lp"][0])):
        raise ModelError(
            f"no finite starting point found in {INIT_TRIES} tries: the log density is not "
            "finite anywhere it was tried; check the priors and the data"
        )


class _Progress:
    """A one-line progress bar on stderr, shown when stderr is a terminal (or when asked)."""

    def __init__(self, settings: SamplerSettings):
        shown = settings.progress if settings.progress is not None else sys.stderr.isatty()
        self.shown, self.settings, self.start = shown, settings, time.perf_counter()

    def update(self, done: int) -> None:
        if not self.shown:
            return
        s = self.settings
        warm, draws = min(done, s.warmup), min(max(done - s.warmup, 0), s.draws)
        sys.stderr.write(
            f"\rNUTS, {s.chains} chains: warmup {warm}/{s.warmup}, draws {draws}/{s.draws} "
            f"({time.perf_counter() - self.start:.1f} s)"
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
