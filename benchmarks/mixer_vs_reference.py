"""acn's models vs vit-pytorch, Hugging Face BERT and the authors' Mixer: now the `peer_speedup` item of `acn bench`; this script runs only that item.

    python benchmarks/mixer_vs_reference.py [--quick] [--out DIR] [--threads N]

Same as `acn bench --only peer_speedup ...`: results are merged into DIR/benchmarks.json and
DIR/BENCHMARKS.md (default runs/results). See src/acn/experiments/bench/ for what is measured.
"""

import sys

from acn.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--only", "peer_speedup", *sys.argv[1:]]))
