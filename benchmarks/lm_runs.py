"""The table of finished language-model runs: what each trained and what it reached.

    python benchmarks/lm_runs.py NAME=RUN [NAME=RUN ...] [--out docs/results/lm_runs.json]

For every run (read with acn.runs.Run): wiring, depth, loss, seed, steps, training windows and
budget, validation loss and perplexity at every depth, the cutoff (the run's own rule), training
time and the machine it ran on; printed as a table and written as JSON with the git commit.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from lm_decoding import git_commit

from acn.runs import Run


def row(name: str, run: Run) -> dict:
    s, cfg = run.summary, run.config
    return {
        "name": name,
        "path": str(run.path),
        "connectivity": s["connectivity"],
        "depth": s["depth"],
        "loss": cfg.loss,
        "loss_options": cfg.loss_options,
        "seed": s["seed"],
        "steps": s["steps"],
        "batch_size": cfg.batch_size,
        "train_windows": cfg.data.options.get("train_windows"),
        "val_loss": s["val_loss"],
        "loss_per_depth": s["loss_per_depth"],
        "perplexity_per_depth": [math.exp(v) for v in s["loss_per_depth"]],
        "cutoff_depth": s["cutoff_depth"],
        "cutoff_tolerance": s["cutoff_tolerance"],
        "train_time_s": s["train_time_s"],
        "machine": s["machine"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", metavar="NAME=RUN")
    p.add_argument("--out", type=Path, default=Path("docs/results/lm_runs.json"))
    args = p.parse_args()
    rows = []
    for item in args.runs:
        name, _, path = item.partition("=")
        rows.append(row(name, Run(path)))
    for r in rows:
        depths = " ".join(f"{v:.3f}" for v in r["loss_per_depth"][1:])
        print(
            f"{r['name']:18s} {r['connectivity']:9s} L{r['depth']} {r['loss']:9s} seed {r['seed']} "
            f"steps {r['steps']:5d}  val {r['val_loss']:.4f}  per depth {depths}  "
            f"cutoff {r['cutoff_depth']}  {r['train_time_s']:.0f} s"
        )
    result = {
        "what": "finished language-model runs (benchmarks/lm_runs.py)",
        "rows": rows,
        "git_commit": git_commit(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
