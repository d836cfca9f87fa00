"""Global magnitude pruning: which weights, how many, really zero, and the sweep."""

import pytest
import torch
from safetensors.torch import load_file

import acn
from acn.compress.prune import global_magnitude_prune, measure_sparsity, prunable_weights
from acn.compress.sweep import plot_curves, prune_sweep
from acn.errors import ConfigError
from acn.models.registry import tiny_overrides
from acn.runs.evaldata import eval_data


def tiny(name="vit_tiny_cifar", mode="acn"):
    torch.manual_seed(0)
    return acn.create_model(name, mode, **tiny_overrides(name))


def test_prunable_weights_are_the_block_linears_only():
    model = tiny("vit_tiny_cifar")
    names = set(prunable_weights(model))
    per_block = {"attn.qkv.weight", "attn.proj.weight", "mlp.fc1.weight", "mlp.fc2.weight"}
    assert names == {f"stack.blocks.{i}.{n}" for i in range(model.depth) for n in per_block}
    mixer = tiny("mixer_cifar_paper")
    assert "stack.blocks.0.tail_fc.weight" in prunable_weights(mixer)
    assert all(n.startswith("stack.blocks.") for n in prunable_weights(mixer))


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.37, 0.9, 1.0])
def test_prunes_exactly_the_requested_fraction_of_smallest_weights(fraction):
    model = tiny("mixer_s8")
    before = {n: w.detach().clone() for n, w in prunable_weights(model).items()}
    pruned, sparsity = global_magnitude_prune(model, fraction)
    total = sum(w.numel() for w in before.values())
    assert sparsity.zeros == round(fraction * total) and sparsity.total == total
    # one global threshold: every zeroed weight is no larger than every kept one
    after = prunable_weights(pruned)
    dropped = torch.cat([before[n][after[n] == 0].abs() for n in before])
    kept = torch.cat([before[n][after[n] != 0].abs() for n in before])
    if len(dropped) and len(kept):
        assert dropped.max() <= kept.min()
    # the original is untouched, and nothing outside the block Linear weights changed
    assert all(torch.equal(before[n], w) for n, w in prunable_weights(model).items())
    for name, value in pruned.state_dict().items():
        if name not in before:
            assert torch.equal(value, model.state_dict()[name]), name


def test_pruned_model_saves_with_its_zeros_and_no_reparametrisation(tmp_path):
    model, sparsity = global_magnitude_prune(tiny("bert_tiny"), 0.6)
    path = acn.save(model, tmp_path / "p.safetensors")
    tensors = load_file(str(path))
    assert not any(k.endswith(("_orig", "_mask")) for k in tensors)
    zeros = sum(int((tensors[n] == 0).sum()) for n in prunable_weights(model))
    assert zeros == sparsity.zeros
    assert measure_sparsity(acn.load(path)).zeros == sparsity.zeros
    assert sparsity.overall < sparsity.blocks  # embedding, head and norms are kept


def test_inplace_and_bad_fractions():
    model = tiny("mlp_s4")
    pruned, _ = global_magnitude_prune(model, 0.5, inplace=True)
    assert pruned is model and measure_sparsity(model).blocks == pytest.approx(0.5, abs=1e-3)
    for bad in (-0.1, 1.5):
        with pytest.raises(ConfigError):
            global_magnitude_prune(model, bad)
    with pytest.raises(ConfigError, match="no Linear"):
        global_magnitude_prune(acn.create_model("mlp_s4", depth=0, in_features=8, dim=4), 0.5)


def test_sweep_scores_saved_models_at_every_level(tmp_path, tiny_runs):
    run = tiny_runs.copy("mixer-acn", tmp_path)
    model = acn.load(run)
    data = eval_data(model, run)

    def batches():
        return data.test_batches(500, torch.device("cpu"))

    levels = [0.0, 0.5, 1.0]
    curve = prune_sweep(model, batches, levels, label="a", save_dir=tmp_path / "kept")
    assert [lv.target for lv in curve.levels] == levels
    assert [lv.sparsity for lv in curve.levels] == pytest.approx(levels, abs=1e-3)
    assert all(len(lv.accuracy) == model.depth + 1 for lv in curve.levels)
    # unpruned level equals the model itself; fully pruned blocks leave only embed + head
    assert curve.levels[0].accuracy[-1] == pytest.approx(
        acn.evaluation.evaluate_per_depth(model, batches()).accuracy[-1]
    )
    kept = sorted(p.name for p in (tmp_path / "kept").iterdir())
    assert kept == [
        "sparsity-00.safetensors",
        "sparsity-100.safetensors",
        "sparsity-50.safetensors",
    ]
    assert measure_sparsity(acn.load(tmp_path / "kept" / "sparsity-50.safetensors")).blocks == (
        curve.levels[1].sparsity
    )
    rows = curve.rows()
    assert rows[1]["accuracy_cutoff"] == round(curve.levels[1].accuracy[curve.cutoff_depth], 4)
    png = plot_curves([curve], tmp_path / "p.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
