"""How big each benchmark runs: ``full`` (the committed results), ``quick`` (< 2 minutes) and
``smoke`` (unit-test sized: tiny models, one repeat; checks the machinery, not the numbers)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import ConfigError

# one CPU-sized preset per family, and the paper's sizes (the MLP family has none)
CPU_MODELS = ("mlp_s8", "mixer_s8", "vit_tiny_cifar", "bert_tiny")
PAPER_MODELS = ("mixer_cifar_paper", "vit_b16_224", "bert_base")


@dataclass(frozen=True)
class Scale:
    name: str
    warmup: int
    repeats: int
    batch: int  # training batch at CPU size
    paper: dict[str, int] = field(default_factory=dict)  # paper-size preset -> batch
    paper_repeats: int = 3
    tiny: bool = False  # shrink every preset to unit-test size
    eval_batch: int = 64  # forward-only items (probe overhead)
    deploy_epochs: int = 0  # epochs of the demo model; 0: the demo's tiny --quick run (1 epoch)
    exit_models: tuple[str, ...] = ("mixer_s8",)
    throughput_batch: int = 256
    latency_samples: int = 16
    peer_repeats: int = 3
    mfu_models: tuple[str, ...] = (*CPU_MODELS, "mixer_cifar_paper")
    profile_steps: int = 2
    compile_models: tuple[str, ...] = ()


SCALES = {
    "smoke": Scale(
        "smoke", warmup=0, repeats=2, batch=4, tiny=True, eval_batch=4, throughput_batch=8,
        latency_samples=2, peer_repeats=1, mfu_models=("mixer_s8",), profile_steps=1,
    ),
    "quick": Scale(
        "quick", warmup=1, repeats=4, batch=32, paper={"mixer_cifar_paper": 64}, paper_repeats=2,
        eval_batch=32, throughput_batch=128, peer_repeats=2, deploy_epochs=2,
    ),
    "full": Scale(
        "full", warmup=2, repeats=12, batch=64,
        paper={"mixer_cifar_paper": 64, "vit_b16_224": 2, "bert_base": 4}, paper_repeats=3,
        deploy_epochs=10, exit_models=("mixer_s8", "vit_tiny_cifar", "bert_tiny"),
        eval_batch=64, latency_samples=32, peer_repeats=8, profile_steps=3,
        compile_models=CPU_MODELS,
    ),
}  # fmt: skip


def get_scale(name: str) -> Scale:
    if name not in SCALES:
        raise ConfigError(f"unknown bench scale {name!r}; choose one of {', '.join(SCALES)}")
    return SCALES[name]
