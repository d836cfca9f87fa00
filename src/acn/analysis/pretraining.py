"""The masked-LM pretraining gate on a finished run (see :mod:`acn.evaluation.masked_lm`).

The run's model is scored on its own held-out text with the fixed masks every evaluation of that
run uses (:mod:`acn.runs.inputs`), and its full-depth accuracy on the positions whose input is
``[MASK]`` is set against the unigram rate of the same positions.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import ConfigError
from ..evaluation.masked_lm import GATE_MARGIN, MaskedLMGate, masked_lm_gate
from ..runs.evaldata import eval_data
from ..serialization import load


def pretraining_gate(
    run: str | Path,
    margin: float = GATE_MARGIN,
    *,
    device: str | torch.device = "cpu",
    batch_size: int = 256,
) -> MaskedLMGate:
    """The gate of the masked-LM run directory (or model file) at ``run``: passed iff its full-depth
    accuracy on the ``[MASK]``-input positions of its held-out text exceeds the unigram rate of
    the same positions by ``margin`` points."""
    model = load(run, device)
    if getattr(model.config, "head", None) != "mlm":
        raise ConfigError(f"{run} is not a masked-LM model (head {model.config.head!r})")
    data = eval_data(model, run)
    batches = data.test_batches(batch_size, torch.device(device))
    return masked_lm_gate(model, batches, margin, mask_id=data.info["mask_id"])
