"""Replicates run anywhere: in this process, on a local process pool, or on a Dask cluster.

A study is a picklable object with `kind`, `digest()` and `run(task) -> row`; each task is
(grid point, replicate), and the study seeds it from (seed, point, replicate), so a row does
not depend on where or in which order it ran. Rows are checkpointed as they arrive (see
`_checkpoint`), and a rerun on the same folder runs only the missing ones.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .._errors import ModelError, MultilevelError
from ._checkpoint import Checkpoint

Row = dict[str, Any]


@dataclass(frozen=True, order=True)
class Task:
    point: int
    replicate: int

    @property
    def name(self) -> str:
        return f"p{self.point:04d}-r{self.replicate:06d}"


class Study(Protocol):
    kind: str

    def digest(self) -> str: ...

    def describe(self) -> dict[str, Any]: ...

    def run(self, task: Task) -> Row: ...


class ReplicateError(MultilevelError):
    """A replicate failed; the message names it and gives the cause."""


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_study(
    study: Study,
    tasks: Sequence[Task],
    workers: int | None = None,
    client: Any = None,
    checkpoint: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> tuple[list[Row], int]:
    """Every task's row, in task order, and how many were read back from `checkpoint`
    rather than run. The others run
    (on `client`, a `distributed.Client`, when given; else on `workers` local processes,
    by default one per core; `workers=0` runs them in this process)."""
    store = Checkpoint.open(checkpoint, study) if checkpoint is not None else None
    rows: dict[Task, Row] = {}
    if store is not None:
        done = store.rows()
        rows = {t: done[t.name] for t in tasks if t.name in done}
    pending = [t for t in tasks if t not in rows]
    resumed = len(rows)
    bar = Progress(study.kind, len(tasks), resumed, progress)
    try:
        for task, row in _execute(study, pending, workers, client):
            rows[task] = row
            if store is not None:
                store.write(task.name, row)
            bar.update(len(rows))
    finally:
        bar.close()
    return [rows[t] for t in tasks], resumed


def _execute(study, tasks, workers, client) -> Iterator[tuple[Task, Row]]:
    if not tasks:
        return iter(())
    if client is not None:
        return _on_dask(study, tasks, client)
    if workers is None:
        workers = available_cores()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ModelError(f"workers must be a whole number >= 0 (0: this process), got {workers!r}")
    if workers == 0:
        return (run_task(study, t) for t in tasks)
    return _on_pool(study, tasks, min(workers, len(tasks)))


def run_task(study: Study, task: Task) -> tuple[Task, Row]:
    """One replicate, with where and how long it ran; any failure names the replicate."""
    start = time.perf_counter()
    try:
        row = study.run(task)
    except Exception as error:
        raise ReplicateError(
            f"{study.kind} replicate {task.replicate} of grid point {task.point} failed: "
            f"{type(error).__name__}: {error}"
        ) from error
    row["seconds"] = round(time.perf_counter() - start, 3)
    row["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return task, row


def _run_packed(arguments: tuple[Study, Task]) -> tuple[Task, Row]:
    return run_task(*arguments)


def _on_pool(study: Study, tasks: Sequence[Task], workers: int) -> Iterator[tuple[Task, Row]]:
    """A spawned pool (JAX cannot be forked); each worker gets an equal share of the cores
    as XLA devices, which changes no draw: chains are placed on devices, never split."""
    context = multiprocessing.get_context("spawn")
    with _worker_environment(max(1, available_cores() // workers)):
        pool = context.Pool(workers)
    try:
        yield from pool.imap_unordered(_run_packed, [(study, t) for t in tasks])
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def _on_dask(study: Study, tasks: Sequence[Task], client: Any) -> Iterator[tuple[Task, Row]]:
    from distributed import as_completed

    shared = client.scatter(study, broadcast=True)
    prefix = f"multilevel-{study.kind}-{study.digest()[:12]}"
    futures = [
        client.submit(run_task, shared, t, key=f"{prefix}-{t.name}", pure=False) for t in tasks
    ]
    try:
        for _, result in as_completed(futures, with_results=True):
            yield result
    finally:
        client.cancel(futures)


_DEVICES = re.compile(r"--xla_force_host_platform_device_count=\d+")


@contextlib.contextmanager
def _worker_environment(devices: int) -> Iterator[None]:
    """XLA_FLAGS for the processes started inside (JAX reads it once, at start-up, which
    for a worker is before any task); this process's own setting is restored after."""
    before = os.environ.get("XLA_FLAGS")
    flags = _DEVICES.sub("", before or "").strip()
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={devices}".strip()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("XLA_FLAGS", None)
        else:
            os.environ["XLA_FLAGS"] = before


class Progress:
    """`power: 37/120 replicates (12 resumed), 5.1 per min, about 16 min left` on stderr,
    shown when stderr is a terminal (or when asked)."""

    def __init__(self, kind: str, total: int, resumed: int, shown: bool | None):
        self.kind, self.total, self.resumed = kind, total, resumed
        self.shown = sys.stderr.isatty() if shown is None else shown
        self.start = time.perf_counter()
        self.update(resumed)

    def update(self, done: int) -> None:
        if not self.shown:
            return
        ran = done - self.resumed
        elapsed = time.perf_counter() - self.start
        resumed = f" ({self.resumed} resumed)" if self.resumed else ""
        line = f"{self.kind}: {done}/{self.total} replicates{resumed}"
        if ran > 0 and elapsed > 0:
            rate = ran / elapsed * 60
            left = (self.total - done) / rate * 60 if rate > 0 else float("inf")
            line += f", {rate:.1f} per min, {_duration(left)} left"
        sys.stderr.write(f"\r{line}\033[K")
        sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"about {seconds:.0f} s"
    if seconds < 90 * 60:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"
