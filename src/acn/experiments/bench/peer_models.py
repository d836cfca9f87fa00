"""The models people use instead of ``acn``, loaded only if installed (``pip install acn[bench]``).

Each loader returns ``(model, description)`` or raises :class:`PeerMissing` with the reason, which
the ``peer_speedup`` item reports as a skipped row instead of failing.

- ``vit-pytorch``: its package ``__init__`` imports torchvision (which it does not declare with a
  pinned CPU torch), so its ``vit.py`` module file is loaded directly.
- Hugging Face ``transformers``: ``BertForSequenceClassification`` with SDPA attention.
- The authors' Mixer: :mod:`.reference_mixer` (their ``ac_mixer.py`` restated; its docstring
  names the official file and commit), shipped with acn.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from pathlib import Path
from types import ModuleType

from torch import nn

from .reference_mixer import MLPMixer

# the peer configs: ViT 32 px / patch 4 / dim 192 / depth 6 / 3 heads / MLP 768;
# BERT 4 layers / hidden 256 / 4 heads / FFN 1024 / seq 128
VIT = dict(image_size=32, patch_size=4, num_classes=10, dim=192, depth=6, heads=3, mlp_dim=768)
BERT = dict(layers=4, hidden=256, heads=4, ffn=1024, seq=128, vocab=8192, num_labels=2)


class PeerMissing(Exception):
    """The peer's package or file is not available here."""


def _module_from_file(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PeerMissing(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as e:
        raise PeerMissing(f"{path.name} needs {e.name or e}") from None
    return module


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def vit_pytorch() -> tuple[nn.Module, str]:
    spec = importlib.util.find_spec("vit_pytorch")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise PeerMissing(
            "vit-pytorch is not installed (pip install --no-deps vit-pytorch==1.26.11)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "vit.py"
    vit = _module_from_file("acn_bench_vit_pytorch_vit", path)
    return vit.ViT(**VIT), f"vit-pytorch {_version('vit-pytorch')} vit.ViT"


def hf_bert() -> tuple[nn.Module, str]:
    try:
        transformers = importlib.import_module("transformers")
    except ImportError:
        raise PeerMissing("transformers is not installed (pip install -e '.[bench]')") from None
    b = BERT
    config = transformers.BertConfig(
        vocab_size=b["vocab"],
        hidden_size=b["hidden"],
        num_hidden_layers=b["layers"],
        num_attention_heads=b["heads"],
        intermediate_size=b["ffn"],
        max_position_embeddings=b["seq"],
        hidden_dropout_prob=0.0,  # acn's BERT default (the authors' recipe)
        attention_probs_dropout_prob=0.0,
        num_labels=b["num_labels"],
        attn_implementation="sdpa",
    )
    model = transformers.BertForSequenceClassification(config)
    return model, f"transformers {transformers.__version__} BertForSequenceClassification (sdpa)"


def reference_mixer() -> tuple[nn.Module, str]:
    # the authors' ac_mixer.py @ 285f357 (see the module's docstring), restated in acn
    described = f"authors' AC-Mixer (acn.experiments.bench.reference_mixer, acn {_version('acn')})"
    return MLPMixer(residual=False), described
