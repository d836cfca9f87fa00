"""Analysis of trained ACNs: probing every depth, cutoff intervals, block influence, gradients.

- :mod:`.probe`: accuracy / incremental gain / block influence per depth and the cutoff, one pass;
- :mod:`.cutoff`: the cutoff rule and its bootstrap interval over test samples;
- :mod:`.influence`: ShortGPT-style block influence (1 - cos) from the per-depth pass;
- :mod:`.gradients`: the direct-gradient share ||DG_i|| / ||FG_i|| per block;
- :mod:`.history` and :mod:`.plots`: blocks x epochs views of ``metrics.jsonl`` and the PNGs
  (imported on demand: they pull in matplotlib).
"""

from ..evaluation.cutoff import CutoffInterval, bootstrap_cutoff, cutoff_depth
from ..train.gradient_share import direct_gradient_share
from .influence import block_influence
from .probe import ProbeResult, probe

__all__ = [
    "CutoffInterval",
    "ProbeResult",
    "block_influence",
    "bootstrap_cutoff",
    "cutoff_depth",
    "direct_gradient_share",
    "probe",
]
