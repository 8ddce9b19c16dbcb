"""Typed configuration: dataclasses (schema.py) and the strict YAML loader (loader.py)."""

from .loader import (ConfigError, apply_overrides, atomic_write_text, dump_yaml, from_dict, load,
                     parse_override, read_yaml, replace_dotted, save, to_dict)
from .schema import (AEConfig, AmbientOcclusionConfig, DataConfig, DiffusionConfig, EMAConfig,
                     EvaluationConfig, ExperimentConfig, LatentConfig, ModelConfig, RayConfig,
                     SamplingConfig, TrainingConfig, UNetConfig)

__all__ = [
    "AEConfig", "AmbientOcclusionConfig", "ConfigError", "DataConfig", "DiffusionConfig", "EMAConfig",
    "EvaluationConfig", "ExperimentConfig", "LatentConfig", "ModelConfig", "RayConfig", "SamplingConfig",
    "TrainingConfig", "UNetConfig", "apply_overrides", "atomic_write_text", "dump_yaml", "from_dict",
    "load", "parse_override", "read_yaml", "replace_dotted", "save", "to_dict",
]
