"""Does early exit's FLOP saving become wall-clock time?: now the `early_exit_speedup` item of `acn bench`; this script runs only that item.

    python benchmarks/early_exit_speed.py [--quick] [--out DIR] [--threads N]

Same as `acn bench --only early_exit_speedup ...`: results are merged into DIR/benchmarks.json and
DIR/BENCHMARKS.md (default runs/results). See src/acn/experiments/bench/ for what is measured.
"""

import sys

from acn.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--only", "early_exit_speedup", *sys.argv[1:]]))
