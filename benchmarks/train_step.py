"""ACN vs residual: time and memory of one training step, every family.

Now the `train_step_ratio` and `peak_memory_ratio` items of `acn bench`; this script runs only them.

    python benchmarks/train_step.py [--quick] [--out DIR] [--threads N]

Same as `acn bench --only train_step_ratio --only peak_memory_ratio ...`: results are merged into
DIR/benchmarks.json and DIR/BENCHMARKS.md (default runs/results). See src/acn/experiments/bench/.
"""

import sys

from acn.cli import main

ITEMS = ["--only", "train_step_ratio", "--only", "peak_memory_ratio"]

if __name__ == "__main__":
    sys.exit(main(["bench", *ITEMS, *sys.argv[1:]]))
