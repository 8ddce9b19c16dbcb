"""Import fences (STYLE.md): frameworks stay in their layer and imports flow downstream only.

Walks every module's imports with `ast`, so a stray `import ray` in the data layer fails CI
instead of waiting for review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "depthdif"

# framework -> package paths (relative to depthdif/) allowed to import it; benchmarks may use anything.
FRAMEWORK_HOMES = {
    "xarray": ("data/", "predict.py"),
    "zarr": ("data/", "predict.py"),
    "lightning": ("train/",),
    "pytorch_lightning": (),
    "ray": ("train/worker.py", "train/runner.py", "train/ray_runtime.py", "study/"),
    "optuna": ("study/",),
    "plotly": ("study/plot.py", "evaluation/report.py"),
}

# Layers in data-flow order: a module may import its own layer or anything before it.
LAYERS = ["config", "data", "models|diffusion|baselines|evaluation", "train", "export|predict|study", "commands|cli"]


def layer_of(rel: str) -> int | None:
    top = rel.split("/")[0].removesuffix(".py")
    for i, names in enumerate(LAYERS):
        if top in names.split("|"):
            return i
    return None


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("benchmarks/"):
            continue
        yield rel, ast.parse(path.read_text(), filename=str(path))


def imported_names(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("rel,tree", list(modules()), ids=lambda v: v if isinstance(v, str) else "")
def test_module_respects_fences(rel, tree):
    own = layer_of(rel)
    for name in imported_names(tree):
        root = name.split(".")[0]
        homes = FRAMEWORK_HOMES.get(root)
        if homes is not None:
            assert any(rel.startswith(h) for h in homes), f"depthdif/{rel} imports {root}; allowed only in {homes}"
        if root == "depthdif" and own is not None and "." in name:
            target = layer_of(name.split(".", 1)[1].replace(".", "/"))
            if target is not None:
                assert target <= own, f"depthdif/{rel} (layer {LAYERS[own]}) imports upstream layer {name}"


def test_fence_catches_a_violation(tmp_path):
    """The checker itself must fail on a planted violation (a test that cannot fail is a defect)."""
    tree = ast.parse("import ray\nfrom depthdif.study import runner\n")
    names = list(imported_names(tree))
    assert "ray" in names and "depthdif.study" in names
    assert layer_of("data/store.py") < layer_of("study/runner.py")
