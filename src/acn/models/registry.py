"""Named presets: ``create_model(name, connectivity=..., **overrides)`` and ``list_models``."""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from ..errors import ConfigError
from .base import StackModel
from .bert import BertModel
from .gpt import GPTModel
from .mixer import MixerModel
from .mlp import MLPModel
from .vit import ViTModel

FAMILIES: dict[str, type[StackModel]] = {
    m.family: m for m in (MLPModel, MixerModel, ViTModel, BertModel, GPTModel)
}


@dataclass(frozen=True)
class Preset:
    family: str
    defaults: dict[str, Any]
    description: str
    # overrides that make the preset small enough for a unit test on CPU
    tiny: dict[str, Any] = field(default_factory=dict)


def derive(base: Preset, description: str, **changes: Any) -> Preset:
    """A preset that differs from ``base`` only in ``changes`` (same family, same tiny sizes)."""
    return dataclasses.replace(base, defaults={**base.defaults, **changes}, description=description)


_TINY_IMAGE = {"image_size": 16, "patch_size": 4, "depth": 3}
_TINY_MIXER = dict(_TINY_IMAGE, dim=16, token_hidden=8, channel_hidden=32)
_TINY_VIT = dict(_TINY_IMAGE, dim=16, num_heads=2)
_TINY_BERT = dict(depth=3, vocab_size=50, max_len=12, dim=16, num_heads=2, mlp_hidden=32)
_TINY_GPT = dict(depth=3, vocab_size=50, max_len=16, dim=16, num_heads=2)

_MLP_S4 = Preset(
    "mlp",
    dict(depth=4, in_features=784, dim=256, hidden=512),
    "4-block MLP for flattened 28x28 images",
    dict(dim=16, hidden=32, depth=3, in_features=20),
)
_MIXER_S8 = Preset(
    "mixer",
    dict(
        depth=8,
        image_size=28,
        in_chans=1,
        patch_size=4,
        dim=64,
        token_hidden=32,
        channel_hidden=256,
        tail=True,
        pool="cls",
    ),
    "8-layer paper-style Mixer for 28x28 grayscale (the demo model)",
    _TINY_MIXER,
)
_MIXER_CIFAR_PAPER = Preset(
    "mixer",
    dict(
        depth=16,
        image_size=32,
        in_chans=3,
        patch_size=4,
        dim=128,
        token_hidden=64,
        channel_hidden=512,
        tail=True,
        pool="cls",
    ),
    "the paper's 16-layer CIFAR-10 Mixer, as the authors' code builds it",
    _TINY_MIXER,
)
_VIT_B16 = Preset(
    "vit",
    dict(
        depth=12,
        image_size=224,
        patch_size=16,
        dim=768,
        num_heads=12,
        mlp_ratio=4.0,
        num_classes=1000,
    ),
    "ViT-B/16 at 224 px (the paper's ImageNet size)",
    _TINY_VIT,
)
_BERT_BASE = Preset(
    "bert",
    dict(
        depth=12,
        vocab_size=32768,
        max_len=128,
        dim=768,
        num_heads=12,
        mlp_hidden=3072,
        head="cls",
        num_classes=2,
    ),
    "BERT-base (vocab 32,768 as the authors' WordPiece), classification head",
    _TINY_BERT,
)
_BERT_TINY = derive(
    _BERT_BASE,
    "4-layer 128-d BERT for CPU, classification head",
    depth=4,
    vocab_size=8192,
    max_len=64,
    dim=128,
    num_heads=2,
    mlp_hidden=512,
)
# GPT-2 124M's shapes (tied embeddings, learned positions, 4x MLP); the character and BPE models
# below are its CPU-sized twins.
_GPT2_SMALL = Preset(
    "gpt",
    dict(depth=12, vocab_size=50257, max_len=1024, dim=768, num_heads=12, mlp_ratio=4.0),
    "GPT-2 small (124M) shapes: 12 layers, 12 heads, width 768, context 1024",
    _TINY_GPT,
)
# nanoGPT's CPU shakespeare_char model (its README's CPU command); vocab_size comes from the data
_GPT_CHAR = derive(
    _GPT2_SMALL,
    "character GPT at nanoGPT's CPU scale: 4 layers, 4 heads, width 128, context 64",
    depth=4,
    vocab_size=256,
    max_len=64,
    dim=128,
    num_heads=4,
)

PRESETS: dict[str, Preset] = {
    "mlp_s4": _MLP_S4,
    "mlp_s8": derive(_MLP_S4, "8-block MLP for flattened 28x28 images", depth=8),
    "mixer_s8": _MIXER_S8,
    "mixer_std_s8": derive(
        _MIXER_S8,
        "8-layer standard (timm-style) Mixer for 28x28 grayscale",
        tail=False,
        pool="mean",
    ),
    "mixer_cifar_paper": _MIXER_CIFAR_PAPER,
    "vit_b16_224": _VIT_B16,
    "vit_tiny_cifar": derive(
        _VIT_B16,
        "6-block ViT for 32x32 images, CPU-sized",
        depth=6,
        image_size=32,
        patch_size=4,
        dim=96,
        num_heads=3,
        num_classes=10,
    ),
    "bert_base": _BERT_BASE,
    "bert_base_mlm": derive(_BERT_BASE, "BERT-base with the masked-LM head", head="mlm"),
    "bert_tiny": _BERT_TINY,
    "bert_tiny_mlm": derive(_BERT_TINY, "4-layer 128-d BERT for CPU, masked-LM head", head="mlm"),
    "gpt_char": _GPT_CHAR,
    "gpt_char_deep": derive(
        _GPT_CHAR, "deeper character GPT for cut experiments: 12 layers, width 128", depth=12
    ),
    "gpt_bpe": derive(
        _GPT2_SMALL,
        "BPE GPT for CPU: 6 layers, 4 heads, width 256, context 128, 4,096-token vocabulary",
        depth=6,
        vocab_size=4096,
        max_len=128,
        dim=256,
        num_heads=4,
    ),
    "gpt2_small": _GPT2_SMALL,
}


def list_models(pattern: str = "*") -> list[str]:
    """Preset names matching a shell-style wildcard, sorted."""
    return sorted(n for n in PRESETS if fnmatch.fnmatch(n, pattern))


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(
            f"unknown model {name!r}; `acn models` lists them (e.g. {', '.join(list_models()[:4])})"
        )
    return PRESETS[name]


def build_config(family: str, values: dict[str, Any]):
    """The family's config dataclass from plain values; unknown keys are a one-line error."""
    if family not in FAMILIES:
        raise ConfigError(f"unknown model family {family!r}; choose one of {', '.join(FAMILIES)}")
    cls = FAMILIES[family].config_class
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for {family} models; valid: {', '.join(sorted(names))}"
        )
    return cls(**values)


MAX_PARAMS = 4_000_000_000  # 64 GB of AdamW state in float32: far beyond what acn trains


_RANDOM_FACTORIES = frozenset({"randn", "rand", "zeros", "ones", "full"})


class _ShapesOnly(TorchFunctionMode):
    """While building on the meta device, skip what only sets values: in-place ops on meta
    tensors (the weight inits) and random or constant factories (made ``empty`` instead).

    Done generically by torch, these route through its reference implementations, which import
    torch._dynamo and sympy: seconds on first use, for values a meta tensor does not have."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        # torch.nn.init functions pass their tensor by keyword
        target = args[0] if args else kwargs.get("tensor")
        in_place = name.endswith("_") and not name.startswith("_") and name != "resize_"
        if in_place and isinstance(target, torch.Tensor) and target.is_meta:
            return target
        if name in _RANDOM_FACTORIES and kwargs.get("device") in (None, "meta"):
            size = args[0] if args and isinstance(args[0], (tuple, list, torch.Size)) else args
            if name == "full":
                size = args[0]
            return torch.empty(
                tuple(size),
                dtype=kwargs.get("dtype"),
                device="meta",
                requires_grad=kwargs.get("requires_grad", False),
            )
        return func(*args, **kwargs)


def meta_model(family: str, values: dict[str, Any]) -> StackModel:
    """The model ``values`` describe on the ``meta`` device: shapes only, no memory, no use of
    the global RNG (for counting and checking before anything is allocated)."""
    cls, config = FAMILIES[family], build_config(family, values)
    with torch.device("meta"), torch.random.fork_rng(devices=[]), _ShapesOnly():
        return cls(config)


def count_params(family: str, values: dict[str, Any]) -> int:
    return meta_model(family, values).num_params()


def build_model(family: str, values: dict[str, Any]) -> StackModel:
    """A model of ``family`` from its config values (what checkpoints store).

    More than :data:`MAX_PARAMS` parameters (counted before anything is allocated) is a one-line
    ConfigError.
    """
    if torch.get_default_device().type != "meta":
        n = count_params(family, values)
        if n > MAX_PARAMS:
            raise ConfigError(
                f"this {family} config has {n:,} parameters, more than the {MAX_PARAMS:,} acn "
                "builds; check its sizes (depth, dim, hidden, vocab_size)"
            )
    return FAMILIES[family](build_config(family, values))


def preset_values(name: str, connectivity: str = "acn", **overrides: Any) -> tuple[str, dict]:
    """(family, config values) of preset ``name`` with ``overrides`` (``None`` ones ignored)."""
    preset = get_preset(name)
    values = {**preset.defaults, **{k: v for k, v in overrides.items() if v is not None}}
    values.update(name=name, connectivity=connectivity)
    return preset.family, values


def create_model(name: str, connectivity: str = "acn", **overrides: Any) -> StackModel:
    """Build preset ``name`` with the given connectivity; ``overrides`` replace config fields.

    ``None`` overrides are ignored (so CLI defaults can be passed straight through).
    """
    return build_model(*preset_values(name, connectivity, **overrides))


def tiny_overrides(name: str) -> dict[str, Any]:
    """Overrides that shrink preset ``name`` to unit-test size."""
    return dict(get_preset(name).tiny)
