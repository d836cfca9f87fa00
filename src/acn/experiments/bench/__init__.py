"""``acn bench``: every family against its residual twin, against the peers people use instead,
and against the machine's own limit. See ``runner.py`` for the items and ``report.py`` for the
files written (``OUT/benchmarks.json``, a result of :mod:`acn.experiments.results`, and
``BENCHMARKS.md``)."""

from .report import extract_block, render_markdown, summary_block
from .runner import ITEMS, JSON_FILE, MD_FILE, run_bench, update_readme, write_results
from .scale import SCALES, get_scale

__all__ = [
    "ITEMS", "JSON_FILE", "MD_FILE", "SCALES", "extract_block", "get_scale", "render_markdown",
    "run_bench", "summary_block", "update_readme", "write_results",
]  # fmt: skip
