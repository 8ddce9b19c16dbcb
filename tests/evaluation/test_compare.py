"""compare_methods scores every method on the same withheld profiles; table, Parquet and HTML."""

from __future__ import annotations

import math

import pandas as pd
import torch

from depthdif.baselines.climatology import Climatology
from depthdif.baselines.idw import InverseDistanceWeighting
from depthdif.evaluation.compare import TABLE_COLUMNS, compare_methods, write_table
from depthdif.evaluation.metrics import ReconstructionMetrics
from depthdif.evaluation.report import rmse_by_depth_figure, summary_markdown, write_html
from depthdif.evaluation.withheld import withhold_profiles

DEPTH, MEAN, STD = [5.0, 150.0, 3000.0], [18.0, 10.0, 2.0], [2.0, 1.0, 0.2]


def items(n: int, seed: int) -> list[dict]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        y = torch.randn(3, 8, 8, generator=gen).cumsum(dim=-1) / 3  # smooth-ish along x
        columns = (torch.rand(1, 8, 8, generator=gen) < 0.15).float().expand(3, 8, 8).clone()
        floats = torch.randint(0, 6, (1, 8, 8), generator=gen)  # a few floats, several profiles each
        out.append({"x": y * columns, "x_valid_mask": columns, "y": y, "y_valid_mask": torch.ones_like(y),
                    "eo": y[:1].clone(), "eo_valid_mask": torch.ones(1, 8, 8),
                    "float_ids": torch.where(columns[:1] > 0, floats, -1), "patch_id": torch.tensor(seed * 100 + i)})
    return out


def collate(chunk: list[dict]) -> dict:
    return {k: torch.stack([item[k] for item in chunk]) for k in chunk[0]}


def test_every_method_is_scored_on_the_same_withheld_profiles(tmp_path):
    train, test = items(6, 0), items(6, 1)
    batches = [collate(test[:4]), collate(test[4:])]
    methods = [InverseDistanceWeighting(), Climatology().fit(train)]
    result = compare_methods(methods, batches, depth=DEPTH, depth_mean=MEAN, depth_std=STD,
                             withheld_fraction=0.5, withheld_seed=3, max_depth_m=2000.0, progress=False)
    table = result.table
    assert list(table.columns) == list(TABLE_COLUMNS) and result.n_patches == 6
    assert result.withheld_mode == "float" and result.n_withheld_columns > 0 and 0 < result.n_withheld_floats <= 6
    counts = table[(table.metric == "count_withheld") & (table.scope == "depth")]
    per_method = counts.groupby("method")["value"].apply(list)
    assert per_method["idw"] == per_method["climatology"] and sum(per_method["idw"]) > 0
    # the table holds exactly what a metric fed by hand reports
    reference = ReconstructionMetrics(DEPTH, MEAN, STD)
    for batch in batches:
        held_in, withheld = withhold_profiles(batch, 0.5, 3)
        reference.update(InverseDistanceWeighting().predict(held_in), batch, withheld)
    expected = reference.compute()
    overall = result.overall()
    assert math.isclose(overall.loc["idw", "rmse_withheld"], float(expected["rmse_withheld"]), rel_tol=1e-6)
    band = table[(table.method == "idw") & (table.scope == "band") & (table.metric == "rmse_full")
                 & (table.band == "100-500m")]["value"].item()
    assert math.isclose(band, float(expected["rmse_full_band/100-500m"]), rel_tol=1e-6)
    assert result.by_depth("rmse_withheld").index.tolist() == DEPTH
    # Parquet round trip, HTML and markdown
    path = write_table(table, tmp_path / "eval" / "metrics.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(path), table)
    fig = rmse_by_depth_figure(result)
    assert [t.name for t in fig.data] == ["idw", "climatology"] * 2  # full-field panel, withheld panel
    assert list(fig.data[2].x) == result.by_depth("rmse_withheld")["idw"].tolist()
    html = write_html(fig, tmp_path / "eval" / "rmse_by_depth.html").read_text()
    assert "climatology" in html and "withheld profiles" in html and "plotly" in html
    md = summary_markdown(result)
    assert md.count("| idw |") == 2 and "withheld 0-100m" in md
    assert not list((tmp_path / "eval").glob(".*"))  # no temp files left behind


def test_duplicate_method_names_are_refused():
    try:
        compare_methods([InverseDistanceWeighting(), InverseDistanceWeighting()], [], depth=DEPTH,
                        depth_mean=MEAN, depth_std=STD, withheld_fraction=0.2, withheld_seed=0, progress=False)
    except ValueError as exc:
        assert "unique" in str(exc)
    else:
        raise AssertionError("duplicate names must be refused")
