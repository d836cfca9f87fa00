"""The DG/FG cosine (the authors' statistic) and norm ratio per block: closed forms on linear toys,
an explicit acn-dg twin, and the training-step measurement (``grad_stats: true``)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import acn
from _train_helpers import tiny_config
from acn.blocks import MixerBlock, TransformerBlock
from acn.models import tiny_overrides
from acn.runs import Run
from acn.train import train
from acn.train.gradient_share import gradient_probe, gradient_statistics


def linear_stack(mode: str, weights: list[torch.Tensor]) -> acn.ConnectedStack:
    """Blocks x -> W x (no bias): the linear toy of the paper's section 3.1 in any dimension."""
    blocks = []
    for w in weights:
        layer = nn.Linear(w.shape[1], w.shape[0], bias=False).double()
        with torch.no_grad():
            layer.weight.copy_(w)
        blocks.append(layer)
    return acn.connect(blocks, mode=mode)


def sum_loss(out: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    return out.sum() if c is None else (out * c).sum()


def backward_term(mode: str, w: list[float], i: int) -> float:
    """The 1-D backward term of block i (1-based): ACN 1 + sum_{j>i} prod_{k=i+1..j} w_k,
    residual prod_{k>i} (1 + w_k); DG is its term "1"."""
    if mode == "acn":
        return 1 + sum(math.prod(w[i:j]) for j in range(i + 1, len(w) + 1))
    return math.prod(1 + v for v in w[i:])


@pytest.mark.parametrize("mode", ["acn", "residual"])
def test_1d_cosine_is_the_sign_of_the_backward_term(mode):
    # w_2 = -3 makes block 1's backward term negative in both wirings: its DG points against FG
    w = [0.5, -3.0, 0.4, 2.0]
    stack = linear_stack(mode, [torch.tensor([[v]], dtype=torch.float64) for v in w])
    stats = gradient_statistics(stack, torch.tensor([[1.3]], dtype=torch.float64), None, sum_loss)
    backward = [backward_term(mode, w, i) for i in range(1, 5)]
    assert stats.cosine == pytest.approx([math.copysign(1.0, b) for b in backward], abs=1e-12)
    assert stats.cosine[0] == pytest.approx(-1.0)  # the check is not all +1
    assert stats.norm_ratio == pytest.approx([1 / abs(b) for b in backward], rel=1e-12)
    # FG_i = backward_i * forward_i * dL/dy, forward_i = prod_{m<i} w_m (or 1 + w_m) x0
    forward = [math.prod((v if mode == "acn" else 1 + v) for v in w[: i - 1]) for i in range(1, 5)]
    full = [abs(b * f * 1.3) for b, f in zip(backward, forward)]
    assert stats.full_norm == pytest.approx(full, rel=1e-12)
    assert stats.probe_norm == pytest.approx(full, rel=1e-12)  # the block's only weight


def test_2d_cosine_by_hand():
    # y = x0 + W1 x0 + W2 W1 x0, L = c.y: dL/dW1 = (I + W2)^T c x0^T (full), c x0^T (direct), so
    # cos = c^T (I + W2) c / (|(I + W2)^T c| |c|). With c = e1 and W2 = [[-3, 1], [0, 0]]:
    # (I + W2)^T c = (-2, 1), c^T (I + W2) c = -2: cos = -2 / sqrt(5), ratio = 1 / sqrt(5).
    w1 = torch.tensor([[0.7, -0.2], [0.1, 0.4]], dtype=torch.float64)
    w2 = torch.tensor([[-3.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    c = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    x0 = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    stats = gradient_statistics(linear_stack("acn", [w1, w2]), x0, c, sum_loss)
    assert stats.cosine == pytest.approx([-2 / math.sqrt(5), 1.0], rel=1e-12)
    assert stats.norm_ratio == pytest.approx([1 / math.sqrt(5), 1.0], rel=1e-12)
    # |FG_1| = |(-2, 1)| |x0| = sqrt(5) sqrt(5)
    assert stats.full_norm[0] == pytest.approx(5.0, rel=1e-12)


@pytest.mark.parametrize("name", ["mixer_s8", "mixer_cifar_paper", "mlp_s4", "vit_tiny_cifar"])
@pytest.mark.parametrize("connectivity", ["acn", "residual"])
def test_one_block_network_has_dg_equal_to_fg(name, connectivity):
    torch.manual_seed(0)
    model = acn.create_model(name, connectivity, **{**tiny_overrides(name), "depth": 1}).double()
    x = model.example_input(4).double()
    stats = gradient_statistics(model, x, torch.randint(0, 2, (4,)))
    assert stats.cosine == pytest.approx([1.0], abs=1e-12)
    assert stats.norm_ratio == pytest.approx([1.0], abs=1e-12)


def test_mixer_cosine_matches_the_explicit_dg_twin():
    # ACN's direct gradient is the gradient of its acn-dg twin (same weights): the cosine of the
    # channel-MLP fc1 weight's two gradients, computed by hand
    torch.manual_seed(0)
    over = {**tiny_overrides("mixer_s8"), "depth": 3}
    model = acn.create_model("mixer_s8", "acn", **over).double()
    twin = acn.create_model("mixer_s8", "acn-dg", **over).double()
    twin.load_state_dict(model.state_dict())
    x, y = model.example_input(6).double(), torch.randint(0, 10, (6,))
    grads = []
    for m in (twin, model):
        m.zero_grad()
        nn.functional.cross_entropy(m(x), y).backward()
        grads.append([b.channel_mlp.fc1.weight.grad.flatten() for b in m.stack.blocks])
    expected = [float(nn.functional.cosine_similarity(d, f, dim=0)) for d, f in zip(*grads)]
    stats = gradient_statistics(model, x, y)
    assert stats.cosine == pytest.approx(expected, rel=1e-7)
    assert stats.cosine[-1] == pytest.approx(1.0) and min(stats.cosine[:-1]) < 0.999


def test_gradient_probe_is_the_first_weight_of_the_blocks_mlp():
    mixer = MixerBlock(4, 8, 6, 12, residual=True)
    assert gradient_probe(mixer) is mixer.channel_mlp.fc1.weight  # not the token-mixing MLP
    bert = TransformerBlock(8, 2, 12, residual=False, norm_first=False)
    assert gradient_probe(bert) is bert.mlp.fc1.weight  # not attention's qkv
    plain = nn.Sequential(nn.LayerNorm(3), nn.Linear(3, 5), nn.Linear(5, 3))
    assert gradient_probe(plain) is plain[1].weight
    with pytest.raises(acn.errors.ConfigError, match="no MLP or Linear weight"):
        gradient_probe(nn.LayerNorm(3))


def test_training_records_grad_stats_and_trains_identically(tmp_path):
    plain = train(tiny_config(tmp_path, "--model.overrides.dropout=0.1", name="plain"), log=None)
    measured = train(
        tiny_config(tmp_path, "--model.overrides.dropout=0.1", "--grad_stats=true", name="stats"),
        log=None,
    )
    # the replayed pass draws the same dropout masks and restores the random stream and .grad
    for a, b in zip(plain.model.state_dict().values(), measured.model.state_dict().values()):
        assert torch.equal(a, b)
    records = Run(measured.run_dir).metrics()
    depth = measured.model.depth
    for r in records:
        assert len(r["dg_cosine"]) == len(r["dg_norm_ratio"]) == len(r["probe_grad_norm"]) == depth
        assert all(-1 - 1e-6 <= c <= 1 + 1e-6 for c in r["dg_cosine"])  # float32
        assert r["dg_cosine"][-1] == pytest.approx(1.0, abs=1e-5)  # the last block: DG = FG
        assert r["dg_norm_ratio"][-1] == pytest.approx(1.0, abs=1e-5)
        assert all(v > 0 for v in r["probe_grad_norm"])
    assert "dg_cosine" not in Run(plain.run_dir).metrics()[0]


def test_training_statistics_are_the_mean_over_the_measured_steps(tmp_path):
    # one epoch of 4 steps measured every 2nd step: the record is the mean of steps 0 and 2,
    # recomputed here from the model's weights before those steps
    cfg = tiny_config(
        tmp_path,
        "--epochs=1",
        "--batch_size=16",
        "--grad_stats=true",
        "--grad_stats_every=2",
        "--optim.label_smoothing=0",
        "--augment.cutmix_prob=0",
        "--augment.crop_padding=0",
        name="every2",
    )
    seen: list[dict[str, torch.Tensor]] = []
    from acn.train import loop

    original = loop.Trainer.train_step

    def spy(self, x, y, gen):
        seen.append(
            (
                {k: v.clone() for k, v in self.model.state_dict().items()},
                self.data.prepare(x, y, True, torch.Generator(), self.num_classes),
            )
        )
        return original(self, x, y, gen)

    loop.Trainer.train_step = spy
    try:
        result = train(cfg, log=None)
    finally:
        loop.Trainer.train_step = original
    record = Run(result.run_dir).metrics()[0]
    model = acn.load(result.run_dir)
    expected = []
    for state, (x, y) in (seen[0], seen[2]):
        model.load_state_dict(state)
        expected.append(gradient_statistics(model.train(), x, y).cosine)
    mean = [(a + b) / 2 for a, b in zip(*expected)]
    assert record["dg_cosine"] == pytest.approx(mean, rel=1e-4, abs=1e-6)
