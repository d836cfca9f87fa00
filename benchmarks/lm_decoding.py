"""Decoding speed at equal quality: trained language models, decoded every lossless way acn offers.

    python benchmarks/lm_decoding.py --baseline RES_RUN --model NAME=RUN [--model ...]
        [--prompts 8] [--new-tokens 56] [--repeats 5] [--threads 1] [--out FILE.json]

For every run: its validation loss at every depth (one pass over the whole validation text) and
its cutoff (acn.evaluation.cutoff.LM_TOLERANCE); then greedy decoding at batch 1 of ``--prompts``
prompts (the first tokens of validation windows) by

- ``plain``: the full model with its KV cache;
- ``cut``: the model truncated at its cutoff (lossless up to the tolerance: its own loss);
- ``self_speculative``: every draft depth K of the full model and of the cut model (lossless:
  the tokens of the model it verifies with);
- ``early_exit``: per-token early exit at a few confidence thresholds (lossy: its teacher-forced
  loss is reported beside it).

Every decoder runs once per round, rounds interleaved (so load from other processes hits all
alike); tokens/s is new tokens over wall time of all prompts, and each decoder's speedup is the
median over rounds of its tokens/s over the baseline run's plain decoding in the same round.
The JSON records seeds, hardware, versions, git commit, load and wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import torch

import acn
from acn.evaluation import evaluate_per_depth
from acn.evaluation.cutoff import LM_TOLERANCE, loss_cutoff_depth
from acn.generation import exit_cost, generate_result
from acn.runs import Run
from acn.runs.evaldata import eval_data
from acn.utils import machine_info

THRESHOLDS = (0.8, 0.5)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
        return out.stdout.strip() or "?"
    except OSError:
        return "?"


def evaluate(run: Run, eval_batch: int) -> dict[str, Any]:
    model = run.model()
    data = eval_data(model, run.path)
    ev = evaluate_per_depth(model, data.batches(eval_batch))
    losses = ev.loss_per_depth
    prompts = [x for x, _ in data.batches(eval_batch)]
    return {
        "model": model,
        "data": data,
        "loss_per_depth": losses,
        "cutoff": loss_cutoff_depth(losses, LM_TOLERANCE),
        "windows": torch.cat(prompts),
        "config": run.config,
    }


def decoders(name: str, info: dict[str, Any]) -> dict[str, tuple]:
    """label -> (model, generate kwargs, loss of what it decodes, description)."""
    model, losses, cut = info["model"], info["loss_per_depth"], info["cutoff"]
    out = {f"{name}/plain": (model, {}, losses[-1], f"depth {model.depth}")}
    for k in range(1, model.depth):
        out[f"{name}/self_speculative_K{k}"] = (
            model, {"assistant_early_exit": k}, losses[-1], f"draft depth {k} of {model.depth}"
        )  # fmt: skip
    if 0 < cut < model.depth:
        small = model.truncate(cut)
        out[f"{name}/cut{cut}"] = (small, {}, losses[cut], f"cut at {cut}")
        for k in range(1, cut):
            out[f"{name}/cut{cut}_self_speculative_K{k}"] = (
                small, {"assistant_early_exit": k}, losses[cut], f"cut at {cut}, draft depth {k}"
            )  # fmt: skip
    for c in THRESHOLDS:
        out[f"{name}/early_exit_{c:g}"] = (model, {"exit_threshold": c}, None, f"threshold {c:g}")
    return out


def decode_all(model, kwargs: dict, prompts: torch.Tensor, new: int) -> dict[str, float]:
    seconds = tokens = drafted = accepted = rounds = 0.0
    depths: list[int] = []
    for row in prompts:
        r = generate_result(model, row[None], max_new_tokens=new, **kwargs)
        seconds += r.seconds
        tokens += r.new_tokens
        drafted, accepted, rounds = drafted + r.drafted, accepted + r.accepted, rounds + r.rounds
        depths += r.exit_depths
    out = {"tokens_per_s": tokens / seconds, "tokens": tokens}
    if drafted:
        out["acceptance_rate"] = accepted / drafted
        out["mean_accepted_length"] = accepted / rounds
    if depths:
        out["mean_exit_depth"] = sum(depths) / len(depths)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--baseline", required=True, help="run directory of the residual baseline")
    p.add_argument("--model", action="append", default=[], metavar="NAME=RUN")
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--prompt-tokens", type=int, default=8)
    p.add_argument("--new-tokens", type=int, default=56)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--eval-batch", type=int, default=200)
    p.add_argument("--out", type=Path, default=Path("docs/results/lm_decoding.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    started, load_before = time.perf_counter(), os.getloadavg()
    runs = {"baseline": args.baseline}
    for item in args.model:
        name, _, path = item.partition("=")
        runs[name] = path
    infos = {name: evaluate(Run(path), args.eval_batch) for name, path in runs.items()}
    table: dict[str, tuple] = {}
    for name, info in infos.items():
        table.update(decoders(name, info))
    prompts = {
        name: info["windows"][: args.prompts, : args.prompt_tokens] for name, info in infos.items()
    }
    speeds: dict[str, list[float]] = {label: [] for label in table}
    stats: dict[str, dict[str, float]] = {}
    with torch.inference_mode():
        for r in range(args.repeats + 1):  # round 0 warms up
            order = list(table) if r % 2 else list(table)[::-1]
            for label in order:
                model, kwargs, _, _ = table[label]
                owner = label.split("/")[0]
                out = decode_all(model, kwargs, prompts[owner], args.new_tokens)
                if r:
                    speeds[label].append(out["tokens_per_s"])
                    stats[label] = out
    base = speeds["baseline/plain"]
    rows = []
    for label, (model, kwargs, loss, what) in table.items():
        owner = label.split("/")[0]
        if "exit_threshold" in kwargs:
            batches = infos[owner]["data"].batches(args.eval_batch)
            cost = exit_cost(infos[owner]["model"], batches, kwargs["exit_threshold"])
            loss = cost["loss"]
        ratios = [s / b for s, b in zip(speeds[label], base)]
        rows.append(
            {
                "decoder": label,
                "what": what,
                "depth": model.depth,
                "val_loss": loss,
                "loss_minus_baseline": None if loss is None else loss - infos["baseline"]["loss_per_depth"][-1],
                "tokens_per_s": statistics.median(speeds[label]),
                "speedup_vs_baseline_plain": statistics.median(ratios),
                "speedup_p25_p75": statistics.quantiles(ratios, n=4)[::2] if len(ratios) > 1 else ratios * 2,
                **{k: v for k, v in stats[label].items() if k not in ("tokens_per_s",)},
            }
        )  # fmt: skip
    for row in rows:
        print(
            f"{row['decoder']:42s} loss {row['val_loss'] if row['val_loss'] is None else round(row['val_loss'], 4)!s:>7} "
            f"{row['tokens_per_s']:8.1f} tok/s  x{row['speedup_vs_baseline_plain']:.2f}"
            + (f"  acc {row['acceptance_rate']:.2f}" if "acceptance_rate" in row else "")
        )  # fmt: skip
    result = {
        "what": "greedy decoding at batch 1 of trained language models (benchmarks/lm_decoding.py)",
        "runs": {
            name: {
                "path": str(runs[name]),
                "connectivity": info["model"].config.connectivity,
                "depth": info["model"].depth,
                "seed": info["config"].seed,
                "steps": Run(runs[name]).summary.get("steps"),
                "loss_per_depth": info["loss_per_depth"],
                "cutoff": info["cutoff"],
            }
            for name, info in infos.items()
        },
        "rows": rows,
        "prompts": args.prompts,
        "prompt_tokens": args.prompt_tokens,
        "new_tokens": args.new_tokens,
        "repeats": args.repeats,
        "threads": args.threads,
        "cutoff_tolerance": LM_TOLERANCE,
        "machine": machine_info("cpu", torch.float32),
        "load_before": [round(v, 2) for v in load_before],
        "load_after": [round(v, 2) for v in os.getloadavg()],
        "git_commit": git_commit(),
        "acn": acn.__version__,
        "wall_s": round(time.perf_counter() - started, 1),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
