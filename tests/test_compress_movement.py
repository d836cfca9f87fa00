"""Movement pruning: the score, the global threshold, masks that survive AdamW, the sweep, and
the non-zero parameters of the model as deployed."""

from __future__ import annotations

import csv
import json

import pytest
import torch
import torch.nn.functional as F

import acn
from _compress_runs import make_run
from acn.cli import main
from acn.compress.movement import MovementPruner, MovementSettings, count_nonzero
from acn.compress.prune import measure_sparsity, prunable_weights
from acn.compress.sweep import movement_sweep, prune_sweep
from acn.errors import ConfigError
from acn.models.registry import tiny_overrides
from acn.runs.config import OptimSection
from acn.runs.evaldata import eval_data
from acn.train.optim import build_optimizer


def tiny(mode: str = "acn"):
    torch.manual_seed(0)
    return acn.create_model("mlp_s4", mode, **tiny_overrides("mlp_s4"))


def batch(model, n: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, *model.example_input(1).shape[1:]), generator=g)
    return x, torch.randint(0, model.config.num_classes, (n,), generator=g)


def step(model, pruner, optimizer, seed: int) -> None:
    x, y = batch(model, seed=seed)
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    pruner.after_backward()
    optimizer.step()


def test_score_is_abs_weight_times_gradient_accumulated():
    model = tiny()
    pruner = MovementPruner(model)
    weights = list(prunable_weights(model).values())
    expected = [torch.zeros_like(w) for w in weights]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for seed in range(3):
        # the oracle: |W * dL/dW| of this step, from its own autograd call, before the update
        x, y = batch(model, seed=seed)
        grads = torch.autograd.grad(F.cross_entropy(model(x), y), weights)
        for e, w, g in zip(expected, weights, grads):
            e += (w.detach() * g).abs()
        step(model, pruner, opt, seed)
    for got, want in zip(pruner.scores, expected):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-8)


def test_global_threshold_hits_the_sparsity_and_removes_the_lowest_scores():
    model = tiny()
    pruner = MovementPruner(model)
    g = torch.Generator().manual_seed(1)
    for s in pruner.scores:
        s.copy_(torch.rand(s.shape, generator=g))
    flat = torch.cat([s.flatten() for s in pruner.scores])
    total = flat.numel()
    pruner.prune_to(0.3)
    assert pruner.pruned == round(0.3 * total) == measure_sparsity(model).zeros
    masks = torch.cat([m.flatten() for m in pruner.masks])
    assert flat[~masks].max() < flat[masks].min()  # one threshold over all the layers
    first = masks.clone()
    pruner.prune_to(0.6)
    masks = torch.cat([m.flatten() for m in pruner.masks])
    assert pruner.pruned == round(0.6 * total) and not (masks & ~first).any()  # stays pruned
    pruner.prune_to(0.4)  # lower than reached: nothing comes back
    assert pruner.pruned == round(0.6 * total)
    with pytest.raises(ConfigError):
        pruner.prune_to(1.5)


def test_pruned_weights_stay_exactly_zero_through_adamw_steps():
    model = tiny()
    pruner = MovementPruner(model)
    optimizer = build_optimizer(model, OptimSection(lr=1e-2, weight_decay=0.1))
    for seed in range(3):  # moments of every weight are non-zero before the pruning
        step(model, pruner, optimizer, seed)
    pruner.prune_to(0.5, optimizer)
    for seed in range(3, 8):
        step(model, pruner, optimizer, seed)
    for w, mask in zip(pruner.weights, pruner.masks):
        assert torch.all(w[~mask] == 0)
        assert torch.all(w[mask] != 0)
    assert measure_sparsity(model).blocks == pytest.approx(0.5, abs=1e-3)


def test_movement_sweep_and_the_deployed_size(tmp_path):
    run = make_run(tmp_path, "acn")
    model = acn.load(run)
    data = eval_data(model, run)
    before = {k: v.clone() for k, v in model.state_dict().items()}

    def batches():
        return data.test_batches(500, torch.device("cpu"))

    settings = MovementSettings(lr=1e-3, batch_size=64)
    curve = movement_sweep(model, data, batches, [0.2, 0.4], settings, label="m")
    assert curve.method == "movement"
    assert [lv.target for lv in curve.levels] == [0.0, 0.2, 0.4]
    assert [lv.sparsity for lv in curve.levels] == pytest.approx([0.0, 0.2, 0.4], abs=1e-3)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # a copy
    # the model as deployed is the pruned model cut at the unpruned model's cutoff
    k = curve.cutoff_depth
    for lv in curve.levels:
        assert lv.deployed_depth == k and lv.deployed_accuracy == lv.accuracy[k]
    magnitude = prune_sweep(model, batches, [0.0, 0.5], label="g")
    pruned, _ = acn.compress.prune.global_magnitude_prune(model, 0.5)
    assert magnitude.levels[1].deployed_nonzero_params == count_nonzero(pruned.truncate(k))
    full = count_nonzero(model)
    assert magnitude.levels[0].deployed_nonzero_params <= full
    assert magnitude.levels[1].deployed_nonzero_params < magnitude.levels[0].deployed_nonzero_params


def test_deployed_size_counts_only_the_kept_blocks():
    model = tiny()
    small = model.truncate(1, keep_branches=False)
    dropped = sum(int((p != 0).sum()) for b in model.stack.blocks[1:] for p in b.parameters())
    assert dropped > 0 and count_nonzero(model) - count_nonzero(small) == dropped


def test_prune_cli_movement(tmp_path, capsys):
    run = make_run(tmp_path, "acn")
    out = tmp_path / "out"
    argv = ["prune", str(run), "--method", "movement", "--sparsities", "40", "--lr", "1e-3"]
    assert main([*argv, "--train-batch-size", "64", "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "prune.csv").open()))
    assert [r["method"] for r in rows] == ["movement"] * 2  # dense after epoch 1, then 40 %
    assert [float(r["target_sparsity"]) for r in rows] == [0.0, 0.4]
    assert int(rows[1]["deployed_nonzero_params"]) < int(rows[0]["deployed_nonzero_params"])
    report = json.loads((out / "prune.json").read_text())
    assert report["method"] == "movement" and report["movement"]["lr"] == 1e-3
    assert report["runs"][0]["levels"][1]["deployed_accuracy"] is not None
    assert (out / "prune_deployed.png").read_bytes()[:4] == b"\x89PNG"
    for bad in (["--sparsities", "0"], ["--lr", "0"], ["--recovery-epochs", "0"]):
        assert main(["prune", str(run), "--method", "movement", *bad, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("acn: error: ") for line in err)
