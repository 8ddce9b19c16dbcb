"""Import fences (STYLE.md): frameworks stay in their layer and imports flow downstream only.

Walks every module's imports with `ast` (absolute and relative), so a stray `import ray` in the
data layer, or a `from ..study import runner` there, fails CI instead of waiting for review. The
checker itself is run on planted violations below: a fence that cannot fail is no fence.
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
    "ray": ("train/worker.py", "train/ray_runtime.py", "study/"),
    "optuna": ("study/",),
    "plotly": ("study/plot.py", "study/report_figures.py", "study/report_page.py", "evaluation/report.py"),
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


def package_of(rel: str) -> list[str]:
    """The package a module file belongs to, as dotted parts (`study/trial.py` → depthdif.study)."""
    parts = ["depthdif", *rel.removesuffix(".py").split("/")]
    return parts[:-1]  # a package's own __init__ drops "__init__", any other module its own name


def imported_names(tree: ast.AST, rel: str = "x.py"):
    """Absolute dotted names of everything `tree` (the module at `rel`) imports."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package upwards
                base = package_of(rel)[: len(package_of(rel)) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            yield module
            if module == "depthdif" or not node.module:  # `from depthdif import train`, `from . import x`
                yield from (f"{module}.{alias.name}" for alias in node.names)


def violations(rel: str, tree: ast.AST) -> list[str]:
    """Every fence the module at `rel` crosses (empty when it respects them all)."""
    found, own = [], layer_of(rel)
    for name in imported_names(tree, rel):
        root = name.split(".")[0]
        homes = FRAMEWORK_HOMES.get(root)
        if homes is not None and not any(rel.startswith(h) for h in homes):
            found.append(f"depthdif/{rel} imports {root}; allowed only in {homes}")
        if root == "depthdif" and own is not None and "." in name:
            target = layer_of(name.split(".", 1)[1].replace(".", "/"))
            if target is not None and target > own:
                found.append(f"depthdif/{rel} (layer {LAYERS[own]}) imports upstream layer {name}")
    return found


@pytest.mark.parametrize("rel,tree", list(modules()), ids=lambda v: v if isinstance(v, str) else "")
def test_module_respects_fences(rel, tree):
    assert violations(rel, tree) == []


@pytest.mark.parametrize("code, where, expected", [
    ("import ray\n", "data/store.py", ["imports ray"]),
    ("from depthdif.study import runner\n", "data/store.py", ["imports upstream layer depthdif.study"]),
    ("from ..study import runner\n", "data/store.py", ["imports upstream layer depthdif.study"]),
    ("from .. import study\n", "data/ingest/build.py", []),  # ../ of data/ingest is data/
    ("from ... import study\n", "data/ingest/build.py", ["imports upstream layer depthdif.study"]),
    ("from depthdif import train\n", "models/unet.py", ["imports upstream layer depthdif.train"]),
    ("from . import worker\n", "train/__init__.py", []),
    ("import lightning.pytorch as pl\n", "study/trial.py", ["imports lightning"]),
    ("from ray import tune\nfrom ..train import run_dir\n", "study/trial.py", []),
])
def test_the_checker_catches_planted_violations(code, where, expected):
    """Run the real checker on planted code: each violation is reported, clean code passes."""
    found = violations(where, ast.parse(code))
    assert len(found) == len(expected) and all(e in f for e, f in zip(expected, found)), found


def test_relative_imports_resolve_to_absolute_modules():
    tree = ast.parse("from .results import objective_key\nfrom ..config import loader\nfrom . import spec\n")
    assert list(imported_names(tree, "study/trial.py")) == [
        "depthdif.study.results", "depthdif.config", "depthdif.study", "depthdif.study.spec"]
    assert list(imported_names(ast.parse("from . import run_dir\n"), "train/__init__.py")) == [
        "depthdif.train", "depthdif.train.run_dir"]


def test_fence_homes_are_files_that_exist():
    """A home that names a missing file is a fence nobody checks (a rename would slip through)."""
    homes = {h for paths in FRAMEWORK_HOMES.values() for h in paths}
    missing = [h for h in homes if not (PACKAGE / h).exists()]
    assert not missing, f"FRAMEWORK_HOMES lists paths that do not exist: {missing}"
    layers = {name for names in LAYERS for name in names.split("|")}
    tops = {p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert layers <= tops, f"LAYERS names what depthdif/ lacks: {sorted(layers - tops)}"
