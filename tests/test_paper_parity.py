"""acn's ``mixer_cifar_paper`` computes the authors' AC-Mixer and Res-Mixer (float64, same weights).

The reference is ``acn.experiments.bench.reference_mixer``, the authors' model restated with their module
names (its docstring names the official files and commits).
"""

from __future__ import annotations

import pytest
import torch

import acn
from acn.experiments.bench.reference_mixer import MLPMixer, state_from_acn


@pytest.mark.parametrize("connectivity", ["acn", "residual"])
def test_paper_preset_equals_the_authors_mixer(connectivity: str) -> None:
    torch.manual_seed(0)
    ours = acn.create_model("mixer_cifar_paper", connectivity=connectivity).double().eval()
    theirs = MLPMixer(residual=connectivity == "residual").double().eval()
    state = state_from_acn(ours.state_dict(), ours.depth)
    assert set(state) == set(theirs.state_dict())  # every one of their parameters is mapped
    theirs.load_state_dict(state)
    assert ours.num_params() == sum(p.numel() for p in theirs.parameters())
    x = torch.randn(3, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        logits, per_depth = theirs(x, eval_=True)
        assert torch.allclose(ours(x), logits, rtol=0, atol=1e-10)
        ours_per_depth = ours.logits_per_depth(x)
        assert ours_per_depth.shape == (17, 3, 10)
        assert torch.allclose(ours_per_depth, torch.stack(per_depth), rtol=0, atol=1e-10)
    assert logits.abs().max() > 0.1  # the comparison is not between two near-zero outputs
