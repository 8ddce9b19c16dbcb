"""The metric names each trainer kind reports, so a study's objectives are checked before Ray.

A misspelt objective (`val/rmse_typo`) used to start Ray, train every trial, then fail each one
with "objective is nan". The names are derived from the code that produces them where it can
be called cheaply: the validation keys from ReconstructionMetrics itself (computed once on a
tiny dummy batch, so a key added there is allowed here at once), the ambient fractions from
`ambient_fractions`, the config-derived objectives from study/trial.py. The few names written
out below (losses, the autoencoder's renaming, the latent extras) are checked against real
training runs of each kind by tests/study/test_objectives.py, which fails when they drift.

Per-level keys (`val/rmse_depth/<k>`) match any level index k below the store's level count.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from depthdif.config import ConfigError, ExperimentConfig, replace_dotted

LEVEL = "<k>"
_LEVEL_SUFFIX = re.compile(r"/\d+$")
BEST_PREFIX = "best/"  # the trainer's best-so-far of a validation metric; objectives use it by default
COST_METRICS = ("cost/train_seconds",)  # train/callbacks.py adds it to every epoch's metrics


@dataclass(frozen=True)
class MetricNames:
    """The names one trainer kind reports; per-level names carry `<k>`."""

    kind: str
    names: frozenset[str]
    n_levels: int | None = None

    def __contains__(self, metric: str) -> bool:
        metric = metric.removeprefix(BEST_PREFIX)
        if metric in self.names:
            return True
        match = _LEVEL_SUFFIX.search(metric)
        if not match or _LEVEL_SUFFIX.sub(f"/{LEVEL}", metric) not in self.names:
            return False
        return self.n_levels is None or int(match.group()[1:]) < self.n_levels

    def allowed(self) -> list[str]:
        return sorted(self.names)

    def did_you_mean(self, metric: str) -> list[str]:
        candidates = [n.replace(LEVEL, "0") for n in self.names]
        return difflib.get_close_matches(metric, candidates, n=3, cutoff=0.5)


def reconstruction_keys(cfg: ExperimentConfig) -> set[str]:
    """The keys ReconstructionMetrics.compute() returns under `cfg` (no prefix; levels as <k>)."""
    import torch

    from depthdif.evaluation.metrics import ReconstructionMetrics

    ev = cfg.evaluation
    metric = ReconstructionMetrics([1.0, 2.0], [0.0, 0.0], [1.0, 1.0], ev.max_depth_m, ev.depth_bands_m)
    members = 2 if cfg.sampling.ensemble_size > 1 else 1  # spread/CRPS keys exist only for ensembles
    ones = torch.ones(1, 2, 1, 1)
    batch = {"x": ones, "y": ones, "x_valid_mask": ones, "y_valid_mask": ones}
    metric.update(torch.zeros(members, 1, 2, 1, 1), batch, torch.zeros_like(ones))
    return {_LEVEL_SUFFIX.sub(f"/{LEVEL}", key) for key in metric.compute()}


def _diffusion_names(cfg: ExperimentConfig) -> set[str]:
    """pixel (and latent) diffusion: DiffusionSystem's losses, fractions and validation metrics."""
    names = {"train/loss", "val/loss"} | {f"val/{k}" for k in reconstruction_keys(cfg)}
    if cfg.model.ambient_occlusion.enabled:
        import torch

        from depthdif.diffusion.ambient import ambient_fractions

        fractions = ambient_fractions(torch.ones(1), torch.ones(1))
        names |= {f"{split}/{k}" for k in fractions for split in ("train", "val")}
    return names


def _latent_names(cfg: ExperimentConfig) -> set[str]:
    names = _diffusion_names(cfg) | {"model/latent_channels"}  # LatentDiffusionSystem.log_latent_width
    if cfg.latent.freeze != "full":  # the AE trains too: its reconstruction term is logged
        names |= {"train/ae_recon_loss", "val/ae_recon_loss"}
    return names


def _ae_names(cfg: ExperimentConfig) -> set[str]:
    """AutoencoderSystem renames the full-field keys: rmse_full → val/ae_rmse, and so on."""
    keys = reconstruction_keys(cfg)
    names = {"train/loss", "val/loss", "val/ae_rmse", "val/pca_rmse", "model/latent_channels"}
    names |= {"val/ae_" + k for k in keys if k.startswith("rmse_depth/")}
    names |= {f"val/{code}_rmse_band/" + k.split("/", 1)[1]  # the AE and the PCA of its width
              for k in keys if k.startswith("rmse_full_band/") for code in ("ae", "pca")}
    return names


KIND_NAMES = {"pixel": _diffusion_names, "latent": _latent_names, "ae": _ae_names}


def emitted_metrics(kind: str, cfg: ExperimentConfig, n_levels: int | None = None) -> MetricNames:
    """What a trial of `kind` trained with `cfg` reports (trainer metrics + config-derived ones)."""
    from .config_metrics import CONFIG_METRICS

    names = KIND_NAMES[kind](cfg) | set(COST_METRICS)
    names |= {key for key, derive in CONFIG_METRICS.items() if derive(kind, cfg) is not None}
    return MetricNames(kind, frozenset(names), n_levels)


def study_metrics(kind: str, cfg: ExperimentConfig, space: Any, n_levels: int | None = None) -> MetricNames:
    """Union over the base config and each searched value that may change the reported names
    (`sampling.ensemble_size`, `model.ambient_occlusion.enabled`, `latent.freeze`, ...)."""
    names = set(emitted_metrics(kind, cfg, n_levels).names)
    for param in space.params:
        spec = param.spec
        values = spec.choices if spec.type == "categorical" else [spec.low, spec.high]
        if spec.type == "int":
            values = [int(v) for v in values]
        for value in values or []:
            try:
                variant = replace_dotted(cfg, {param.key: value}, "search space")
            except (ConfigError, ValueError):
                continue  # a value only valid together with other params: the base covers it
            names |= emitted_metrics(kind, variant, n_levels).names
    return MetricNames(kind, frozenset(names), n_levels)


def check_objectives(metrics: MetricNames, objectives: list[Any], source: str) -> None:
    """Raise ConfigError for the first objective the trainer never reports (with a did-you-mean)."""
    for i, objective in enumerate(objectives):
        if objective.metric in metrics:
            continue
        close = metrics.did_you_mean(objective.metric)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        levels = f" ({LEVEL} < {metrics.n_levels})" if metrics.n_levels else f" ({LEVEL}: a depth level index)"
        raise ConfigError(source, f"objectives[{i}].metric",
                          f"{objective.metric!r} is not a metric the {metrics.kind} trainer reports; {hint}"
                          f"allowed: {metrics.allowed()}{levels}")
