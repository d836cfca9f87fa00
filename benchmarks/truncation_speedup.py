"""Does a trained run's cut ACN buy the speedup its FLOPs promise?: now the `deploy_speedup_vs_flops` item of `acn bench`; this script runs only that item.

    python benchmarks/truncation_speedup.py [--quick] [--out DIR] [--threads N]

Same as `acn bench --only deploy_speedup_vs_flops ...`: results are merged into DIR/benchmarks.json and
DIR/BENCHMARKS.md (default runs/results). See src/acn/experiments/bench/ for what is measured.
"""

import sys

from acn.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--only", "deploy_speedup_vs_flops", *sys.argv[1:]]))
