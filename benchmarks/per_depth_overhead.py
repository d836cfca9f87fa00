"""What does reading every depth cost? logits_per_depth(x) vs one model(x): now the `probe_overhead_ratio` item of `acn bench`; this script runs only that item.

    python benchmarks/per_depth_overhead.py [--quick] [--out DIR] [--threads N]

Same as `acn bench --only probe_overhead_ratio ...`: results are merged into DIR/benchmarks.json and
DIR/BENCHMARKS.md (default runs/results). See src/acn/experiments/bench/ for what is measured.
"""

import sys

from acn.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--only", "probe_overhead_ratio", *sys.argv[1:]]))
