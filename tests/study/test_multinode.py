"""A real multi-node run (issue 12): a two-node Ray cluster on this machine with token auth on,
a study whose trials each drive a 2-worker TorchTrainer placed across both nodes, on storage
both nodes see, driven by the README's cluster flow end to end:

    ray job submit --working-dir . -- depthdif study run STUDY.yaml     (the driver on the head)
    ray job stop …                                                      (the driver is killed)
    ray job submit --working-dir . -- depthdif study resume STUDY_DIR   (a new driver takes over)

and the budget is met with unique trials, the trial finished before the kill kept as it was.
"""

from __future__ import annotations

import urllib.error
from collections import defaultdict
from pathlib import Path

import optuna
import pytest

from depthdif.study.driver_lock import driver_state
from depthdif.study.results import is_orphan, read_results
from depthdif.study.runner import optuna_storage
from _local_cluster import LocalCluster
from _study_helpers import TINY_EXPERIMENT, write_study

REPO = Path(__file__).resolve().parents[2]
TRIALS = 2


def _states(study_dir: Path) -> list[str]:
    try:
        return list(read_results(study_dir)["state"])
    except Exception:  # noqa: BLE001 - not written yet, or mid-replace
        return []


@pytest.fixture
def cluster():
    # snapshot Tune's experiment state every second, so a killed driver's running trial resumes
    local = LocalCluster(cpus_per_node=1, extra_env={"TUNE_GLOBAL_CHECKPOINT_S": "1"})
    try:
        yield local.start()
    finally:
        local.shutdown()


@pytest.mark.slow
def test_cluster_flow_across_two_nodes_survives_a_stopped_driver(tmp_path, tiny_store, cluster):
    # token auth is on: the Jobs API refuses a request without the token, and a wrong token
    with pytest.raises(urllib.error.HTTPError, match="401"):
        cluster.get("/api/jobs/", token=None)
    with pytest.raises(urllib.error.HTTPError, match="403"):
        cluster.get("/api/jobs/", token="0" * 64)
    nodes = {n["node_id"] for n in cluster.alive_nodes()}
    assert len(nodes) == 2

    # 2 workers x 0.6 CPU cannot pack onto one 1-CPU node: each trial's TorchTrainer spans both
    shared = tmp_path / "shared"  # a path both nodes see (same machine); NFS on a real cluster
    study = write_study(tmp_path, tiny_store, name="cluster", trials=TRIALS, storage=str(shared),
                        experiment={**TINY_EXPERIMENT, "training": {**TINY_EXPERIMENT["training"], "max_epochs": 2}},
                        resources={"workers": 2, "cpus_per_worker": 0.6})
    study_dir = shared / "cluster"
    cluster.ray("job", "submit", "--working-dir", str(REPO), "--submission-id", "study-run", "--no-wait",
                "--", "depthdif", "study", "run", str(study), "--no-report")
    cluster.wait_for(lambda: _states(study_dir).count("COMPLETE") == 1 and "RUNNING" in _states(study_dir),
                     420, "one trial finished and the next one running")
    assert driver_state(study_dir).alive
    cluster.ray("job", "stop", "study-run")
    assert cluster.get("/api/jobs/study-run")["status"] == "STOPPED"
    assert not driver_state(study_dir).alive  # the kill released the study's lock
    before = read_results(study_dir)
    kept = before[before["state"] == "COMPLETE"].set_index("trial_id")

    resumed = cluster.ray("job", "submit", "--working-dir", str(REPO), "--submission-id", "study-resume",
                          "--", "depthdif", "study", "resume", str(study_dir), "--no-report")
    assert cluster.get("/api/jobs/study-resume")["status"] == "SUCCEEDED", resumed.stdout[-4000:]

    df = read_results(study_dir)
    assert df["trial_id"].is_unique and df["trial_number"].is_unique
    counted = df[[not is_orphan(r) for r in df.to_dict("records")]]
    assert list(counted["state"]) == ["COMPLETE"] * TRIALS, df[["trial_id", "state", "error"]]
    assert (counted["num_workers"] == 2).all() and (counted["fidelity"] == 2).all()
    for trial_id, row in kept.iterrows():  # finished before the kill: kept, not re-run
        assert df.set_index("trial_id").loc[trial_id, "objective/val/loss"] == row["objective/val/loss"]
    ostudy = optuna.load_study(study_name="cluster", storage=optuna_storage(study_dir))
    assert sorted(t.number for t in ostudy.trials if t.state.name == "COMPLETE") == sorted(counted["trial_number"])
    assert not [t for t in ostudy.trials if t.state.name == "RUNNING"]

    # every TorchTrainer's two workers ran on the two different nodes
    workers = cluster.state("actors", class_name="RayTrainWorker")
    by_group = defaultdict(set)
    for actor in workers:
        by_group[actor["placement_group_id"]].add(actor["node_id"])
    assert len(by_group) >= TRIALS and all(spread == nodes for spread in by_group.values()), by_group
