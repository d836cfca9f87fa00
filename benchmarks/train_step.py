"""ACN vs residual: time and memory of one training step of the same preset, side by side.

    python benchmarks/train_step.py                         # mixer_cifar_paper, batch 64
    python benchmarks/train_step.py --model vit_tiny_cifar --batch 128 --repeats 30

One step = zero_grad, forward, cross-entropy, backward, AdamW step, on a fixed random batch. The
two twins (same preset, same parameter count) are timed in interleaved repeats, alternating which
goes first, and the MEDIAN step time of each is compared. Memory is measured as

- saved activation bytes: every tensor autograd saves for backward during one forward, counted
  once per storage (``torch.autograd.graph.saved_tensors_hooks``). Deterministic and
  device-independent; this is the activation memory a training step holds at its peak.
- on CUDA also the peak allocated bytes of a step (``torch.cuda.max_memory_allocated``).

Targets (the project's): time ratio acn/residual <= 1.03, peak memory ratio <= 1.05. Printed,
never asserted: numbers depend on the machine, which the output names.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
import torch.nn.functional as F

import acn

TIME_TARGET, MEMORY_TARGET = 1.03, 1.05


def saved_activation_bytes(model, x, y) -> int:
    """Bytes of the distinct storages autograd saves for backward in one forward + loss."""
    seen: dict[tuple, int] = {}

    def pack(t: torch.Tensor):
        if t.device.type != "meta":
            storage = t.untyped_storage()
            seen[(t.device, storage.data_ptr())] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = F.cross_entropy(model(x), y)
    del loss
    params = {(p.device, p.untyped_storage().data_ptr()) for p in model.parameters()}
    return sum(n for key, n in seen.items() if key not in params)  # weights are not activations


def make_step(model, x, y):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return step


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cuda_peak(step, device: torch.device) -> int:
    sync(device)
    torch.cuda.reset_peak_memory_stats(device)
    step()
    sync(device)
    return torch.cuda.max_memory_allocated(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="mixer_cifar_paper")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch's)"
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)  # 1 is far less sensitive to a shared, busy CPU
    device = torch.device(args.device)

    twins, steps, memory = {}, {}, {}
    for conn in ("residual", "acn"):
        torch.manual_seed(args.seed)
        model = acn.create_model(args.model, connectivity=conn).to(device).train()
        gen = torch.Generator().manual_seed(args.seed)
        x = model.example_input(args.batch, generator=gen).to(device)
        y = torch.randint(0, model.config.num_classes, (args.batch,), generator=gen).to(device)
        twins[conn] = model
        steps[conn] = make_step(model, x, y)
        memory[conn] = {"saved_activations": saved_activation_bytes(model, x, y)}
    for conn, step in steps.items():
        for _ in range(args.warmup):
            step()
        if device.type == "cuda":
            memory[conn]["cuda_peak"] = cuda_peak(step, device)

    times: dict[str, list[float]] = {c: [] for c in steps}
    order = list(steps)
    for r in range(args.repeats):
        for conn in order if r % 2 == 0 else order[::-1]:  # alternate who goes first
            sync(device)
            start = time.perf_counter()
            steps[conn]()
            sync(device)
            times[conn].append(time.perf_counter() - start)

    med = {c: statistics.median(t) for c, t in times.items()}
    params = {c: m.num_params() for c, m in twins.items()}
    print(
        f"{args.model} (depth {twins['acn'].depth}), batch {args.batch}, {args.repeats} interleaved "
        f"repeats after {args.warmup} warm-up steps, seed {args.seed}"
    )
    print(
        f"device {device} | {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads | "
        f"torch {torch.__version__} | {platform.platform()}"
    )
    if device.type == "cuda":
        print(f"gpu {torch.cuda.get_device_name(device)}")
    print(f"\n{'':<34}{'residual':>12}{'acn':>12}{'acn/res':>10}")
    rows = [
        ("params", params, "{:,}"),
        ("median step (ms)", {c: v * 1e3 for c, v in med.items()}, "{:.2f}"),
    ]
    rows.append(
        (
            "saved activations (MiB)",
            {c: m["saved_activations"] / 2**20 for c, m in memory.items()},
            "{:.2f}",
        )
    )
    if device.type == "cuda":
        rows.append(
            (
                "CUDA peak allocated (MiB)",
                {c: m["cuda_peak"] / 2**20 for c, m in memory.items()},
                "{:.1f}",
            )
        )
    for label, values, fmt in rows:
        ratio = values["acn"] / values["residual"]
        print(
            f"{label:<34}{fmt.format(values['residual']):>12}{fmt.format(values['acn']):>12}{ratio:>10.3f}"
        )
    spread = {c: (min(t) * 1e3, max(t) * 1e3) for c, t in times.items()}
    print(
        "\nstep time min..max (ms): "
        + ", ".join(f"{c} {a:.2f}..{b:.2f}" for c, (a, b) in spread.items())
    )
    time_ratio = med["acn"] / med["residual"]
    mem_key = "cuda_peak" if device.type == "cuda" else "saved_activations"
    mem_ratio = memory["acn"][mem_key] / memory["residual"][mem_key]
    print(
        f"time ratio {time_ratio:.3f} (target <= {TIME_TARGET}: {'met' if time_ratio <= TIME_TARGET else 'NOT met'}); "
        f"memory ratio ({mem_key}) {mem_ratio:.3f} (target <= {MEMORY_TARGET}: "
        f"{'met' if mem_ratio <= MEMORY_TARGET else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
