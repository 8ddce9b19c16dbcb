"""One tiny real study (3 trials, 2 epochs, local Ray) serves the study-experience checks of issue 14:
report.html (self-contained, rendered in headless Chromium), what optuna-dashboard reads back,
`--resume-if-exists`, `status` marks, `study list`, and the export links the report shows."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import optuna
import pytest
from plotly.io.json import to_json_plotly

from depthdif.cli import main
from depthdif.study.dashboard import EXPORTS_ATTR, journal_storage
from depthdif.study.report import REPORT_HTML, build_report
from depthdif.train.run_dir import RunDir

from _browser import chromium, load, rendered_figures
from _study_helpers import TINY_EXPERIMENT, write_study

OBJECTIVES = [{"metric": "val/rmse_withheld", "direction": "minimize"},
              {"metric": "cost/train_seconds", "direction": "minimize"}]
FIGURES = {"fig-pareto", "fig-hypervolume", "fig-curves", "fig-parallel", "fig-importance", "fig-depth", "fig-map"}
BASELINES = {"climatology", "idw", "oi", "eo_regression", "oi_eo"}


@pytest.fixture(scope="module")
def study(tmp_path_factory, tiny_store, ray_session):
    """(study file, study dir) after `depthdif study run … --resume-if-exists` (report included)."""
    root = tmp_path_factory.mktemp("report")
    experiment = {**TINY_EXPERIMENT, "training": {**TINY_EXPERIMENT["training"], "max_epochs": 2}}
    path = write_study(root, tiny_store, name="rep", trials=3, experiment=experiment, objectives=OBJECTIVES)
    assert main(["study", "run", str(path), "--resume-if-exists", "--quiet"]) == 0
    return path, root / "studies" / "rep"


def test_study_run_writes_one_self_contained_report(study):
    _, study_dir = study
    page = (study_dir / REPORT_HTML).read_text()
    assert page.count("plotly.js v") == 1  # the library's banner: embedded once, not per figure
    assert not re.search(r"<script[^>]*\bsrc=", page)  # nothing loaded from elsewhere: opens offline
    for figure in FIGURES:
        assert f'<div id="{figure}"' in page
    for title in ("val/rmse_withheld (°C, ↓ better)", "cost/train_seconds (s, ↓ better)"):  # axes with units
        assert to_json_plotly(title)[1:-1] in page  # as plotly's JSON spells it
    assert "optuna-dashboard " in page and "optuna.journal" in page


@pytest.mark.skipif(chromium() is None, reason="no Chromium installed (.ci/run installs Debian's chromium)")
def test_report_renders_in_headless_chromium(study, tmp_path):
    _, study_dir = study
    dom, console = load(study_dir / REPORT_HTML, screenshot=tmp_path / "report.png")
    assert console == []  # no error, warning or log line from the page
    drawn = rendered_figures(dom)
    assert set(drawn) == FIGURES and all(drawn.values()), drawn
    assert (tmp_path / "report.png").stat().st_size > 50_000  # a page with pixels, not a blank


def test_report_record_compares_the_front_with_the_baselines_level_by_level(study):
    _, study_dir = study
    report = build_report(study_dir)  # baselines come from the cache the first report wrote
    assert (study_dir / "report" / "baselines_by_depth.parquet").exists()
    depth = report.depth
    assert BASELINES <= set(depth["method"])
    front = report.pareto.front
    for row in front.to_dict("records"):
        run = RunDir(row["run_dir"])
        epoch = run.best_record()["epoch"]
        logged = next(m for m in run.metrics() if m["epoch"] == epoch)
        mine = depth[(depth["method"] == f"trial #{row['trial_number']}") & (depth["metric"] == "rmse_withheld")]
        for k, value in zip(mine["depth_index"], mine["value"]):
            assert value == pytest.approx(logged[f"val/rmse_withheld_depth/{k}"])
    oi = depth[(depth["method"] == "oi_eo") & (depth["metric"] == "rmse_full")]
    assert len(oi) > 0 and oi["value"].map(math.isfinite).all()
    rec = report.reconstruction
    assert rec is not None and rec.mean.shape == rec.truth.shape == rec.spread.shape
    ocean = np.isfinite(rec.truth)
    assert ocean.any() and np.isfinite(rec.mean[ocean]).all() and (rec.spread[ocean] >= 0).all()
    assert np.allclose(rec.error[ocean], rec.mean[ocean] - rec.truth[ocean])
    assert set(report.importances) == {"val/rmse_withheld", "cost/train_seconds"}


def test_dashboard_reads_names_learning_curves_and_file_links(study):
    path, study_dir = study
    ostudy = optuna.load_study(study_name="rep", storage=journal_storage(study_dir))
    assert ostudy.metric_names == ["val/rmse_withheld", "cost/train_seconds"]
    complete = [t for t in ostudy.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 3
    for trial in complete:
        run = RunDir(trial.user_attrs["run_dir"])
        assert Path(trial.user_attrs["checkpoint_path"]).is_file() and run.exists()
        logged = {m["epoch"]: m["val/rmse_withheld"] for m in run.metrics()}
        assert trial.intermediate_values == pytest.approx(logged)  # one value per epoch: learning curves
        assert sorted(trial.intermediate_values) == [1, 2]


def test_export_is_linked_from_the_dashboard_and_the_report(study, tmp_path, capsys):
    _, study_dir = study
    assert main(["study", "export", str(study_dir), "--best", "val/rmse_withheld", "--out", str(tmp_path)]) == 0
    (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith("trial_")]
    ostudy = optuna.load_study(study_name="rep", storage=journal_storage(study_dir))
    number = json.loads((folder / "metadata.json").read_text())["trial_number"]
    assert ostudy.user_attrs[EXPORTS_ATTR] == {str(number): [str(folder.resolve())]}
    out = tmp_path / "page.html"
    assert main(["study", "report", str(study_dir), "--out", str(out), "--no-map"]) == 0
    assert folder.resolve().as_uri() in out.read_text()


def test_rerunning_the_command_resumes_or_reports_and_never_mixes_studies(study, capsys):
    path, study_dir = study
    assert main(["study", "run", str(path), "--resume-if-exists", "--no-report", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "nothing to run" in err and "optuna-dashboard " in err
    assert main(["study", "run", str(path), "--resume-if-exists", "--set", "trials=5"]) == 2
    assert "holds another study named 'rep'" in capsys.readouterr().err
    assert main(["study", "run", str(path)]) == 2  # without the flag an existing study is refused
    assert "--resume-if-exists" in capsys.readouterr().err


def test_status_marks_the_pareto_trials_and_list_shows_the_study(study, capsys):
    _, study_dir = study
    assert main(["study", "status", str(study_dir)]) == 0
    out = capsys.readouterr().out
    front = build_report(study_dir, baselines=False, reconstruction=False).pareto.front
    marked = [line for line in out.splitlines() if line.startswith("* #")]
    assert len(marked) == len(front) and all(f" {tid} " in "".join(marked) for tid in front["trial_id"])
    assert main(["study", "list", str(study_dir.parent)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("rep") and "3/3 finished" in line and "report.html" in line and "driver idle" in line
