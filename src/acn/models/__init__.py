"""Model families and the preset registry."""

from .base import ModelConfig, StackModel
from .bert import BertConfig, BertModel
from .gpt import GPTConfig, GPTModel
from .mixer import MixerConfig, MixerModel
from .mlp import MLPConfig, MLPModel
from .registry import (
    FAMILIES,
    PRESETS,
    build_model,
    create_model,
    get_preset,
    list_models,
    tiny_overrides,
)
from .vit import ViTConfig, ViTModel

__all__ = [
    "FAMILIES",
    "PRESETS",
    "BertConfig",
    "BertModel",
    "GPTConfig",
    "GPTModel",
    "MLPConfig",
    "MLPModel",
    "MixerConfig",
    "MixerModel",
    "ModelConfig",
    "StackModel",
    "ViTConfig",
    "ViTModel",
    "build_model",
    "create_model",
    "get_preset",
    "list_models",
    "tiny_overrides",
]
