"""An existing study directory met again: is it the same study, and is anything left to run?

`study run --resume-if-exists` makes the README's main command re-runnable: the first run starts
the study, a later one resumes it if its driver stopped, or only reports when its budget is met.
It never continues a *different* study under the same name: the resolved spec (kind,
objectives, search space, base config, budget) must match the one saved in `study.yaml`.
"""

from __future__ import annotations

import os
from pathlib import Path

from depthdif.config import to_dict

from .results import is_orphan, read_results
from .spec import STUDY_FILE, StudySpec, read_study_dir

TUNE_DIR = "tune"
_COMPARED = ("kind", "objectives", "search_space", "experiment", "trials", "early_stopping", "sampler")


def study_exists(study_dir: str | os.PathLike) -> bool:
    """A study was started there (its spec is saved)."""
    return (Path(study_dir) / STUDY_FILE).is_file()


def spec_differences(new: StudySpec, study_dir: str | os.PathLike) -> list[str]:
    """The top-level fields where `new` differs from the study saved in `study_dir`."""
    saved, wanted = to_dict(read_study_dir(study_dir)), to_dict(new)
    return [k for k in _COMPARED if saved.get(k) != wanted.get(k)]


def refuse_other_study(new: StudySpec, study_dir: str | os.PathLike) -> None:
    differ = spec_differences(new, study_dir)
    if differ:
        raise FileExistsError(f"{study_dir}: holds another study named {new.name!r} (its {', '.join(differ)} "
                              "differ from this study file's); pick another --name, or resume the saved one with "
                              f"`depthdif study resume {study_dir}`")


def budget_met(study_dir: str | os.PathLike, budget: int) -> bool:
    """Every trial of the budget finished and none is left RUNNING (orphans do not count)."""
    table = read_results(study_dir)
    rows = table.to_dict("records")
    if any(r["state"] == "RUNNING" for r in rows):
        return False
    return sum(r["state"] != "RUNNING" and not is_orphan(r) for r in rows) >= budget
