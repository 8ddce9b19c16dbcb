"""The fused step (fused AdamW, foreach clipping and EMA, epoch-mean logging) trains like the reference path."""

from __future__ import annotations

import pytest
import torch

from depthdif.train import run
from depthdif.train.optim_step import adamw, clip_gradients
from depthdif.train.run_dir import RunDir

from ._tiny import tiny_config

AMBIENT = {"model.ambient_occlusion.enabled": True, "model.ambient_occlusion.further_drop_prob": 0.3}


def trained(store, folder, fused: bool) -> tuple[list[dict], dict[str, torch.Tensor]]:
    cfg = tiny_config(store, **AMBIENT, **{"training.fused_step": fused, "training.grad_clip": 0.05,
                                           "training.limit_train_batches": 4, "training.val_every_n_epochs": 100})
    result = run("pixel", cfg, folder, progress=False)
    assert result.status == "completed", result.error
    state = torch.load(RunDir(folder).latest().file, weights_only=True)["state_dict"]
    return RunDir(folder).metrics(), state


def test_fused_and_reference_steps_give_the_same_losses_and_weights(tiny_store, tmp_path):
    fused_log, fused = trained(tiny_store, tmp_path / "fused", True)
    reference_log, reference = trained(tiny_store, tmp_path / "reference", False)
    assert len(fused_log) == len(reference_log) == 2  # two epochs of 4 steps, clipped (grad_clip 0.05)
    for a, b in zip(fused_log, reference_log):
        for key in ("train/loss", "train/ambient_further_drop_fraction", "train/ambient_observed_fraction_further"):
            assert a[key] == pytest.approx(b[key], rel=1e-4), key
    assert fused.keys() == reference.keys()
    for name in fused:
        assert torch.allclose(fused[name], reference[name], rtol=1e-4, atol=1e-5), name
    ema = [n for n in fused if n.startswith("ema.model.") and fused[n].dtype.is_floating_point]
    start = {n: fused[n.replace("ema.model.", "denoiser.")] for n in ema}
    assert ema and any(not torch.equal(fused[n], start[n]) for n in ema)  # the EMA averaged, not copied


def test_fused_adamw_and_foreach_clipping_match_the_per_tensor_defaults():
    torch.manual_seed(0)
    nets = [torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Linear(7, 2)) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    optimizers = [adamw(net.parameters(), lr=1e-2, weight_decay=0.1, fused_step=fused)
                  for net, fused in zip(nets, (True, False))]
    assert optimizers[0].defaults["fused"] and not optimizers[1].defaults["fused"]
    assert adamw(nets[0].parameters(), lr=1, weight_decay=0, fused_step=True, precision="16-mixed").defaults["foreach"]
    for step in range(5):
        x = torch.randn(16, 5)
        for net, optimizer, foreach in zip(nets, optimizers, (True, False)):
            optimizer.zero_grad()
            (net(x) ** 2).mean().backward()
            clip_gradients(optimizer, 0.1, "norm" if step % 2 else "value", foreach=foreach)
            optimizer.step()
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="allowed values"):
        clip_gradients(optimizers[0], 1.0, "l1", foreach=True)
