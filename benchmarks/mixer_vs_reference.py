"""The paper's 16-layer CIFAR Mixer: acn's training step vs the authors' implementation, side by side.

    python benchmarks/mixer_vs_reference.py                 # AC twin, batch 64, 20 repeats
    python benchmarks/mixer_vs_reference.py --connectivity residual --repeats 30

Both sides compute the same function (same layer sizes, cls token, per-layer tail) on the same
random batch of 64 CIFAR-sized images; the data pipeline is excluded from both.

- reference: `benchmarks/reference_mixer.py`, the authors' structure (Conv2d patches, Conv1d token
  mixing) with their training step: `torch.optim.AdamW` as constructed in their code (default
  implementation for the device), cross-entropy with label smoothing 0.1, `clip_grad_norm_(1.0)`.
- acn: `acn.create_model("mixer_cifar_paper")` with the library's own step pieces: `build_optimizer`
  (the default single decay group, as theirs; fused AdamW where torch has it), the `ce` loss, and
  the trainer's one-call gradient norm + clipping (`GradNorms`), exactly as `acn train` runs them.

Steps are interleaved (alternating which goes first) and the MEDIAN images/s of each is compared.
Also printed: a large fp32 matmul's GFLOP/s on this machine and each side's achieved training
GFLOP/s (3 x forward FLOPs from `acn.cost`), to put both in context. Target: acn / reference >= 1.15.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import acn
from acn.runs.config import OptimSection
from acn.train.grad_norms import GradNorms, clip_with_norm
from acn.train.optim import build_optimizer

sys.path.insert(0, str(Path(__file__).parent))
from reference_mixer import MLPMixer  # noqa: E402


def reference_step(model, x, y):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x)[0], y, label_smoothing=0.1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    return step


def acn_step(model, x, y):
    cfg = OptimSection()
    opt = build_optimizer(model, cfg)
    norms = GradNorms(model)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x).float(), y, label_smoothing=cfg.label_smoothing)
        loss.backward()
        clip_with_norm(norms.params, cfg.grad_clip, norms.measure())
        opt.step()

    return step


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connectivity", default="acn", choices=["acn", "residual"])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()

    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))
    ours = acn.create_model("mixer_cifar_paper", connectivity=args.connectivity)
    ref = MLPMixer(residual=args.connectivity == "residual")
    n_ours = ours.num_params()
    n_ref = sum(p.numel() for p in ref.parameters())
    steps = {"reference": reference_step(ref, x, y), "acn": acn_step(ours, x, y)}

    for step in steps.values():
        for _ in range(args.warmup):
            step()
    times: dict[str, list[float]] = {k: [] for k in steps}
    order = list(steps)
    for r in range(args.repeats):
        for name in order if r % 2 == 0 else order[::-1]:
            t = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - t)

    train_flops = 3 * acn.cost(ours)["flops"]  # forward + backward ~ 3x forward, per image
    peak = matmul_gflops()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(
        f"mixer_cifar_paper ({args.connectivity}), batch {args.batch}, {args.repeats} interleaved repeats; "
        f"params acn {n_ours:,} / reference {n_ref:,}"
    )
    print(f"large fp32 matmul: {peak:.1f} GFLOP/s")
    ips = {}
    for name, ts in times.items():
        med = statistics.median(ts)
        ips[name] = args.batch / med
        gf = train_flops * ips[name] / 1e9
        print(
            f"{name:>10}: {med * 1e3:7.1f} ms/step  {ips[name]:7.1f} images/s  "
            f"{gf:6.1f} GFLOP/s ({100 * gf / peak:.0f}% of matmul)"
        )
    print(f"speed ratio acn / reference: {ips['acn'] / ips['reference']:.2f}  (target >= 1.15)")


if __name__ == "__main__":
    main()
