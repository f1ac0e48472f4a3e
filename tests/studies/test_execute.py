"""Where replicates run does not change them: this process, the local pool and a Dask
LocalCluster give the same table; a study killed midway resumes from its checkpoints,
losing and recomputing nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import multilevel as ml
from multilevel.studies._execute import Task, run_study

TINY = {"chains": 1, "warmup": 100, "draws": 100}
SIZES = {"n_controls": 12, "groups": 3, "per_group": 3}
SCENARIO = ml.scenarios.partially_clustered(effect=1.0, icc=0.2)
ESTIMATES = ["point", "replicate", "estimate", "lower", "upper", "covered", "excludes_null"]


def study(**keywords):
    return ml.power(SCENARIO, SIZES, replicates=4, seed=5, progress=False, **TINY, **keywords)


def test_a_dask_cluster_gives_the_table_of_the_local_pool():
    distributed = pytest.importorskip("distributed")
    pool = study(workers=1)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_dask = study(client=client)
    # Rows are seeded from (seed, point, replicate) and the draws do not depend on the
    # device count, so the numbers are equal, not close. (A pool of one worker has this
    # machine's device count, as Dask's workers do: they load its compiled programs.)
    pd.testing.assert_frame_equal(pool.table, on_dask.table)
    pd.testing.assert_frame_equal(pool.replicates[ESTIMATES], on_dask.replicates[ESTIMATES])
    assert pool.replicates["worker"].nunique() == 1
    assert not pool.replicates["worker"].str.endswith(f":{os.getpid()}").any()


SCRIPT = """
import multilevel as ml
from multilevel.studies._execute import Task, run_study
if __name__ == "__main__":
    ml.power(
        ml.scenarios.partially_clustered(effect=1.0, icc=0.2),
        {"n_controls": 12, "groups": 3, "per_group": 3},
        replicates=8, seed=5, workers=1, checkpoint=r"%s", progress=False,
        chains=1, warmup=100, draws=100,
    )
"""


def test_a_killed_study_resumes_without_losing_or_recomputing_a_replicate(tmp_path):
    folder = tmp_path / "checkpoint"
    script = tmp_path / "study.py"
    script.write_text(SCRIPT % folder)
    process = subprocess.Popen([sys.executable, str(script)], start_new_session=True)
    replicates = folder / "replicates"
    deadline = time.monotonic() + 240
    while len(list(replicates.glob("*.json"))) < 3:
        assert process.poll() is None, "the study ended before it could be killed"
        assert time.monotonic() < deadline, "no replicates were written"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the study and its pool, with no clean-up
    process.wait()
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in replicates.glob("*.json")}
    assert 3 <= len(before) < 8
    assert not list(replicates.glob(".*")), "a partial file was left behind"

    resumed = ml.power(
        SCENARIO,
        SIZES,
        replicates=8,
        seed=5,
        workers=0,
        checkpoint=folder,
        progress=False,
        **TINY,
    )
    after = {p.name: p for p in replicates.glob("*.json")}
    assert len(after) == 8
    assert resumed.resumed == len(before)
    for name, (mtime, content) in before.items():  # read back, not recomputed
        assert after[name].stat().st_mtime_ns == mtime
        assert after[name].read_bytes() == content
    here = f":{os.getpid()}"
    workers = resumed.replicates["worker"]
    assert (~workers.str.endswith(here)).sum() == len(before)
    assert workers.str.endswith(here).sum() == 8 - len(before)
    # Nothing lost: the table equals that of a study run in one go.
    whole = study(workers=0).replicates[ESTIMATES]
    pd.testing.assert_frame_equal(
        resumed.replicates[ESTIMATES][resumed.replicates["replicate"] < 4].reset_index(drop=True),
        whole.reset_index(drop=True),
    )


def test_a_checkpoint_of_another_study_is_refused(tmp_path):
    folder = tmp_path / "checkpoint"
    study(workers=0, checkpoint=folder)
    with pytest.raises(ml.ModelError, match="holds the replicates of another power"):
        ml.power(
            ml.scenarios.partially_clustered(effect=2.0, icc=0.2),
            SIZES,
            replicates=3,
            seed=5,
            workers=0,
            checkpoint=folder,
            progress=False,
            **TINY,
        )
    manifest = json.loads((folder / "study.json").read_text())
    assert manifest["kind"] == "power" and manifest["study"]["truth"]["b_tx"] == 1.0


class Failing:
    """A study whose replicate 2 fails."""

    kind = "toy"

    def digest(self):
        return "toy"

    def describe(self):
        return {}

    def run(self, task):
        if task.replicate == 2:
            raise ZeroDivisionError("division by zero")
        return {"replicate": task.replicate}


def test_a_failing_replicate_is_named():
    tasks = [Task(0, r) for r in range(4)]
    with pytest.raises(ml.ReplicateError, match="replicate 2 of grid point 0 failed: Zero"):
        run_study(Failing(), tasks, workers=0)


def test_sizes_the_layout_does_not_take_are_named():
    with pytest.raises(ml.ModelError, match=r"partially_clustered_layout.*'arms'"):
        ml.power(SCENARIO, {**SIZES, "arms": 2}, replicates=1, seed=1)


def test_a_checkpointed_study_needs_a_seed(tmp_path):
    with pytest.raises(ml.ModelError, match="needs a seed"):
        ml.power(SCENARIO, SIZES, replicates=1, checkpoint=tmp_path)
