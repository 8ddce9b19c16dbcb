"""cluster.yaml validated offline: Ray's own schema checks, then what Ray's schema misses.

Ray's `prepare_config` + `validate_config` catch misspelled keys and inconsistent worker bounds
but not missing `file_mounts` sources, an image whose Ray differs from the pinned one, an exposed
dashboard or a disabled token (RAY_NOTES.md §4), so those are checked here by hand.
"""

from __future__ import annotations

import copy
import re
import subprocess
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version
from ray.autoscaler._private.util import prepare_config, validate_config

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "cluster.yaml"
IMAGE = re.compile(r"^rayproject/ray:(?P<version>\d+\.\d+\.\d+)-py(?P<py>\d+)-(?P<flavour>\w+)$")
TOKEN_PATH = re.compile(r"RAY_AUTH_TOKEN_PATH=(\S+)")
CREDENTIAL_KEYS = re.compile(r"(access_key|secret|password|ssh_private_key|credentials)", re.I)


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(CLUSTER.read_text())


def _pins() -> dict[str, Requirement]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    return {Requirement(d).name: Requirement(d) for d in deps}


def _setup_pins(cfg: dict) -> dict[str, str]:
    """`name==version` pins found in the setup commands."""
    text = " ".join(cfg["setup_commands"])
    return {m[0]: m[1] for m in re.findall(r'"?([A-Za-z_\-]+)(?:\[[^\]]*\])?==([\w.]+)"?', text)}


def test_ray_prepare_and_validate_accept_the_file(raw):
    cfg = prepare_config(copy.deepcopy(raw))
    validate_config(cfg)
    assert cfg["head_node_type"] == "head_cpu"


def test_ray_validation_is_not_vacuous(raw):
    broken = copy.deepcopy(raw)
    broken["available_node_types"]["gpu_1x"]["min_wokers"] = 1
    with pytest.raises(jsonschema.ValidationError, match="min_wokers"):
        validate_config(prepare_config(broken))


def test_every_file_mount_source_exists_in_the_repo(raw):
    for remote, local in raw["file_mounts"].items():
        assert not Path(local).expanduser().is_absolute(), f"file_mounts {remote}: {local} must be repo-relative"
        assert (REPO / local).exists(), f"file_mounts {remote}: source {local} not found under {REPO}"


def test_image_ray_version_matches_pyproject_and_setup_commands(raw):
    match = IMAGE.match(raw["docker"]["image"])
    assert match, f"docker.image {raw['docker']['image']!r} is not rayproject/ray:<version>-py<ver>-<flavour>"
    image_ray = Version(match["version"])
    pins, setup = _pins(), _setup_pins(raw)
    assert pins["ray"].specifier.contains(image_ray), f"image Ray {image_ray} vs pyproject {pins['ray']}"
    assert Version(setup["ray"]) == image_ray
    assert pins["torch"].specifier.contains(Version(setup["torch"]))
    assert match["py"] == "311" and match["flavour"] == "gpu"


def test_autoscaling_bounds_and_node_types(raw):
    cfg = prepare_config(copy.deepcopy(raw))
    types = cfg["available_node_types"]
    workers = {k: v for k, v in types.items() if k != cfg["head_node_type"]}
    assert any(v["node_config"]["InstanceType"].startswith(("g", "p")) for v in workers.values())
    assert not types[cfg["head_node_type"]]["node_config"]["InstanceType"].startswith(("g", "p"))
    for name, node in workers.items():
        assert 0 <= node["min_workers"] <= node["max_workers"] <= cfg["max_workers"], name


def test_token_auth_on_dashboard_private_no_credentials(raw):
    start = raw["head_start_ray_commands"] + raw["worker_start_ray_commands"]
    for commands in (raw["head_start_ray_commands"], raw["worker_start_ray_commands"]):
        assert any("RAY_AUTH_MODE=token" in c and "ray start" in c for c in commands)
    assert not any("0.0.0.0" in c for c in start), "the dashboard must not listen on all interfaces"
    assert "--dashboard-host=127.0.0.1" in " ".join(raw["head_start_ray_commands"])
    assert set(raw["auth"]) == {"ssh_user"}
    flat = yaml.safe_dump(raw)
    assert not CREDENTIAL_KEYS.search(" ".join(re.findall(r"^\s*([\w-]+):", flat, re.M)))


def test_token_file_is_mounted_and_ignored_by_git(raw):
    paths = set(TOKEN_PATH.findall(" ".join(raw["head_start_ray_commands"] + raw["docker"]["run_options"])))
    assert len(paths) == 1
    (remote_token,) = paths
    mount_remote, mount_local = next(iter(raw["file_mounts"].items()))
    relative = remote_token.removeprefix("/home/ray/" + mount_remote.removeprefix("~/") + "/")
    assert relative == ".ray_auth_token" and (REPO / mount_local).resolve() == REPO
    ignored = subprocess.run(["git", "check-ignore", "-q", relative], cwd=REPO)
    assert ignored.returncode == 0, f"{relative} must be ignored by git (it holds the cluster token)"


def test_cluster_holds_the_gpu_studies_shipped_for_it(raw):
    """Every GPU study in studies/ fits: one worker fits a node, all concurrent trials fit the cluster."""
    types = [t for name, t in raw["available_node_types"].items() if name != raw["head_node_type"]]
    total_gpus = sum(t["resources"]["GPU"] * t["max_workers"] for t in types)
    largest = max(types, key=lambda t: t["resources"]["GPU"])["resources"]
    gpu_studies = 0
    for path in sorted((REPO / "studies").glob("*.yaml")):
        study = yaml.safe_load(path.read_text())
        res = study.get("resources", {})
        gpus = res.get("gpus_per_worker", 0.0)
        if gpus <= 0:
            continue
        gpu_studies += 1
        workers, cpus = res.get("workers", 1), res.get("cpus_per_worker", 1.0)
        assert gpus <= largest["GPU"] and cpus <= largest["CPU"], f"{path.name}: a worker fits no node type"
        need = workers * gpus * study.get("concurrency", 1)
        assert need <= total_gpus, f"{path.name}: needs {need} GPUs at once, cluster.yaml allows {total_gpus}"
    assert gpu_studies > 0


def test_shared_storage_is_group_owned_not_world_writable(raw):
    """Tune unpickles study-dir files on resume: the shared mount is for the cluster's group only."""
    init = raw["initialization_commands"]
    joined = " ".join(init)
    assert "1777" not in joined and not re.search(r"chmod\s+(a|o)\+w", joined)
    group = re.search(r"groupadd -f -g (\d+) (\w+)", joined)
    assert group, "the storage group must be created with a fixed gid (the containers join it by number)"
    gid, name = group.groups()
    assert f"chgrp {name} /mnt/cluster_storage" in joined
    mode = int(re.search(r"chmod (\d{4}) /mnt/cluster_storage", joined)[1], 8)
    assert mode & 0o007 == 0 and mode & 0o070 == 0o070 and mode & 0o2000, oct(mode)  # group rwx, setgid
    assert f"--group-add {gid}" in raw["docker"]["run_options"]
