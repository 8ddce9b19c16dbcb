"""Never delete or write over what depthdif did not write (issue 12 row 2): a foreign Zarr as the
study's store, a store synthesized with other parameters, and foreign study, export and run dirs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from depthdif.cli import main
from depthdif.data.schema import COMPLETE_MARKER
from depthdif.export import export_checkpoint
from depthdif.study.runner import ensure_store, run_study
from depthdif.study.spec import load_study_spec
from _study_helpers import write_study

SYNTH = {"nlat": 32, "nlon": 32, "ntime": 2, "n_levels": 4, "patch_size": 16, "stride": 16, "seed": 0}


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_a_foreign_zarr_at_data_store_is_refused_not_replaced(tmp_path):
    """e.g. a `depthdif predict` output given as data.store of a study with data.synthetic."""
    store = tmp_path / "pred.zarr"
    xr.Dataset({"temperature_mean": (("t", "x"), np.ones((2, 3), np.float32))}).to_zarr(store, zarr_format=3)
    before = _tree(store)
    spec = load_study_spec(write_study(tmp_path, store, data={"store": str(store), "synthetic": SYNTH}))
    with pytest.raises(FileExistsError, match=r"pred.zarr: exists and is not a depthdif store .* refusing to replace"):
        ensure_store(spec)
    assert _tree(store) == before


def test_a_store_synthesized_with_other_parameters_is_refused(tmp_path):
    store = tmp_path / "synth.zarr"
    first = load_study_spec(write_study(tmp_path / "a", store, data={"store": str(store), "synthetic": SYNTH}))
    ensure_store(first)
    marker = (store / COMPLETE_MARKER).stat().st_mtime_ns
    ensure_store(first)  # same parameters: reused as is, not rebuilt
    assert (store / COMPLETE_MARKER).stat().st_mtime_ns == marker
    other = load_study_spec(write_study(tmp_path / "b", store, data={"store": str(store),
                                                                       "synthetic": {**SYNTH, "seed": 3}}))
    before = _tree(store)
    with pytest.raises(FileExistsError, match=r"synth.zarr was not synthesized with this study's data.synthetic "
                                              r"parameters \(seed: store 0 vs study 3\)"):
        ensure_store(other)
    assert _tree(store) == before


def test_a_foreign_folder_is_not_used_as_a_study_directory(tmp_path, tiny_store):
    path = write_study(tmp_path, tiny_store, name="mine")
    folder = tmp_path / "studies" / "mine"
    folder.mkdir(parents=True)
    (folder / "thesis.tex").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"mine: exists and is not a depthdif study directory"):
        run_study(load_study_spec(path), progress=False)
    assert sorted(p.name for p in folder.iterdir()) == ["thesis.tex"]


def test_overwrite_replaces_only_our_exports(tmp_path):
    folder = tmp_path / "exports" / "trial_x"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"trial_x: exists and is not a depthdif export folder"):
        export_checkpoint(tmp_path / "missing.ckpt", folder, overwrite=True)
    assert (folder / "notes.txt").read_text() == "keep me"


def test_train_refuses_a_foreign_run_directory(tmp_path, tiny_store, capsys):
    run_dir = tmp_path / "runs" / "demo"
    run_dir.mkdir(parents=True)
    (run_dir / "data.csv").write_text("keep me")
    rc = main(["train", "pixel", "--workers", "0", "--storage", str(tmp_path / "runs"), "--name", "demo",
               "--set", f"data.store={tiny_store}"])
    assert rc == 2 and "demo: exists and is not a depthdif run directory" in capsys.readouterr().err
    assert sorted(p.name for p in run_dir.iterdir()) == ["data.csv"]


def test_a_study_on_unusable_storage_is_one_line(tmp_path, tiny_store, capsys):
    """Storage that cannot be written (here a file in the way) is one line naming it, not a traceback."""
    blocker = tmp_path / "storage"
    blocker.write_text("a file where the study storage folder should be")
    path = write_study(tmp_path, tiny_store, name="s")
    assert main(["study", "run", str(path), "--storage", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"depthdif: error: {blocker}: File exists (EEXIST) while calling mkdir in make_study_dir")
    assert "Traceback" not in err and blocker.read_text().startswith("a file where")
