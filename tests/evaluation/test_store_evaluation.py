"""`depthdif eval` end to end on the tiny synthetic store: Parquet, HTML, summary, config."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from depthdif.cli import main
from depthdif.evaluation.compare import TABLE_COLUMNS
from depthdif.evaluation.store_evaluation import CONFIG_FILE, HTML_FILE, METRICS_FILE, SUMMARY_FILE


def test_eval_baselines_only_writes_parquet_and_html(tiny_store, tmp_path):
    out = tmp_path / "eval"
    # the tiny store's val split has 2-4 profiles per patch; half are withheld
    code = main(["eval", "--checkpoint", "none", "--store", str(tiny_store), "--split", "val", "--out", str(out),
                 "--withheld-fraction", "0.5", "--no-progress"])
    assert code == 0
    table = pd.read_parquet(out / METRICS_FILE)
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert list(dict.fromkeys(table["method"])) == ["climatology", "idw", "oi", "eo_regression", "oi_eo"]
    overall = table[table.scope == "overall"].pivot(index="method", columns="metric", values="value")
    assert overall["rmse_withheld"].notna().all() and (overall["rmse_withheld"] > 0).all()
    # observations carry information: every observation-using method beats the climatology
    assert overall.loc["oi_eo", "rmse_withheld"] < overall.loc["climatology", "rmse_withheld"]
    assert overall.loc["idw", "rmse_withheld"] < overall.loc["climatology", "rmse_withheld"]
    depths = table[(table.scope == "depth") & (table.method == "idw") & (table.metric == "rmse_full")]
    assert depths["depth_index"].tolist() == list(range(8)) and depths["depth_m"].is_monotonic_increasing
    assert set(table[table.scope == "band"]["band"]) == {"0-100m", "100-500m", "500-2000m"}
    assert "climatology" in (out / HTML_FILE).read_text()
    summary = (out / SUMMARY_FILE).read_text()
    assert "| oi_eo |" in summary and "whole floats withheld" in summary and "floats, " in summary
    assert "withheld_fraction: 0.5" in (out / CONFIG_FILE).read_text()


def test_eval_refuses_unknown_methods_and_names_the_allowed(tiny_store, tmp_path, capsys):
    code = main(["eval", "--checkpoint", "none", "--store", str(tiny_store), "--methods", "idw,kriging",
                 "--out", str(tmp_path / "eval")])
    assert code == 2
    err = capsys.readouterr().err
    assert "kriging" in err and "oi_eo" in err
    assert not (tmp_path / "eval").exists()


TINY_MODEL = [
    "data.batch_size=4", "model.unet.base_channels=8", "model.unet.channel_mults=[1, 2]",
    "model.unet.attention_levels=[]", "model.unet.time_embed_dim=16", "model.unet.groups=4",
    "diffusion.timesteps=20", "sampling.steps=2", "training.max_epochs=1", "training.limit_train_batches=1",
    "training.limit_val_batches=1",
]


@pytest.mark.slow
def test_eval_scores_a_checkpoint_with_an_ensemble(tiny_store, tmp_path):
    from depthdif.config.loader import load
    from depthdif.config.schema import ExperimentConfig
    from depthdif.train import run

    cfg = load(ExperimentConfig, None, TINY_MODEL + [f"data.store={tiny_store}"])
    result = run("pixel", cfg, tmp_path / "run", progress=False)
    assert result.ok, result.error
    out = tmp_path / "eval"
    code = main(["eval", "--checkpoint", str(result.checkpoint_dir), "--store", str(tiny_store), "--split", "val",
                 "--out", str(out), "--samples", "2", "--methods", "idw", "--no-progress"])
    assert code == 0
    table = pd.read_parquet(out / METRICS_FILE)
    assert list(dict.fromkeys(table["method"])) == ["model", "idw"]
    model = table[(table.method == "model") & (table.scope == "overall")].set_index("metric")["value"]
    assert math.isfinite(model["crps_withheld"]) and model["spread_withheld"] > 0
    assert math.isfinite(model["crps_full"]) and "crps_full" not in set(table[table.method == "idw"]["metric"])


def untrained_checkpoint(store, path):
    """A checkpoint file in the layout `load_system` reads (hyper-parameters + state dict)."""
    import torch

    from depthdif.config.loader import load
    from depthdif.config.schema import ExperimentConfig
    from depthdif.train.systems import build_system, store_meta

    cfg = load(ExperimentConfig, None, TINY_MODEL + [f"data.store={store}", "sampling.steps=4"])
    system = build_system("pixel", cfg, store_meta(cfg))
    torch.save({"hyper_parameters": dict(system.hparams), "state_dict": system.state_dict()}, path)
    return path


def test_eval_set_overrides_reach_the_loaded_model(tiny_store, tmp_path):
    import torch

    from depthdif.cli import build_parser
    from depthdif.commands.evaluate import resolve
    from depthdif.config import ConfigError
    from depthdif.data.dataset import PatchDataset
    from depthdif.evaluation.store_evaluation import collate

    ckpt = untrained_checkpoint(tiny_store, tmp_path / "model.ckpt")
    parse = build_parser().parse_args
    cfg, system = resolve(parse(["eval", "--checkpoint", str(ckpt), "--store", str(tiny_store), "--set",
                                 "sampling.steps=2", "--withheld-mode", "column"]))
    assert system.cfg is cfg and cfg.sampling.steps == 2 and cfg.data.withheld_mode == "column"
    calls = []
    system.inference_denoiser().register_forward_hook(lambda *_: calls.append(1))
    system.sample(collate([PatchDataset(tiny_store, "val")[0]]), k=1, seed=0)
    assert len(calls) == 2  # the sampler ran the overridden 2 steps, not the checkpoint's 4
    with pytest.raises(ConfigError, match="model.unet.base_channels.*fixed by the checkpoint"):
        resolve(parse(["eval", "--checkpoint", str(ckpt), "--store", str(tiny_store), "--set",
                       "model.unet.base_channels=16"]))
    assert torch.load(ckpt, weights_only=True)["hyper_parameters"]["config"]["sampling"]["steps"] == 4
