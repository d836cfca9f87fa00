"""Compression by truncation: depth choice, the standalone file, and the before/after report."""

import pytest
import torch
import yaml

import acn
from _compress_runs import make_run, write_data
from acn.compress.report import comparison_rows
from acn.compress.truncate import choose_depth, compress
from acn.errors import ConfigError, DataError
from acn.runs.evaldata import eval_config, eval_data


def batches(data, size=500):
    return lambda: data.test_batches(size, torch.device("cpu"))


def test_choose_depth_given_or_by_tolerance():
    acc = [10.0, 60.0, 89.7, 90.1, 90.0]
    assert choose_depth(acc, depth=1) == 1
    assert choose_depth(acc, tolerance=0.5) == 2
    assert choose_depth(acc, tolerance=0.0) == 3
    assert choose_depth(acc, tolerance=100.0) == 0
    for bad in (-1, 5):
        with pytest.raises(ConfigError, match="0..4"):
            choose_depth(acc, depth=bad)
    with pytest.raises(ConfigError):
        choose_depth(acc, tolerance=-0.1)


@pytest.fixture(scope="module")
def acn_run(tmp_path_factory, tiny_runs):
    return tiny_runs.copy("mixer-acn", tmp_path_factory.mktemp("runs"))


def test_compress_writes_a_standalone_model_that_matches_depth_k(acn_run, tmp_path):
    model = acn.load(acn_run)
    data = eval_data(model, acn_run)
    result = compress(model, batches(data), tmp_path / "small.safetensors", depth=2)
    small = acn.load(result.path)
    assert small.depth == 2 and result.depth == 2
    x, _ = next(iter(batches(data, 16)()))
    torch.testing.assert_close(small(x), model.logits_per_depth(x)[2])
    r = result.report
    assert r["after"]["depth"] == 2 and r["before"]["depth"] == model.depth
    assert r["after"]["accuracy"] == pytest.approx(result.accuracy_per_depth[2])
    assert r["before"]["accuracy"] == pytest.approx(result.accuracy_per_depth[-1])
    assert r["after"]["params"] == small.num_params() < r["before"]["params"]
    assert r["after"]["flops"] == acn.cost(model)["flops_per_depth"][2]
    assert r["after"]["size_bytes"] == result.path.stat().st_size
    assert r["num_test_samples"] == 128 and "latency_ms" not in r["after"]


def test_compress_by_tolerance_cuts_at_the_cutoff(acn_run, tmp_path):
    model = acn.load(acn_run)
    data = eval_data(model, acn_run)
    timing = {"throughput_batch": 8, "repeats": 2, "warmup": 1}
    result = compress(model, batches(data), tmp_path / "cut.safetensors", timing=timing)
    acc = result.accuracy_per_depth
    assert result.depth == next(k for k, a in enumerate(acc) if a >= acc[-1] - 0.5)
    assert result.report["after"]["throughput_batch"] == 8
    labels = [row[0] for row in comparison_rows(result.report)]
    assert "latency @ batch 1 (ms)" in labels and "throughput @ batch 8 (/s)" in labels


def test_a_bare_model_file_carries_its_data_and_preparation(acn_run, tmp_path):
    """Copied away from its run, the model file alone rebuilds the same test batches."""
    bare = tmp_path / "elsewhere" / "model.safetensors"
    bare.parent.mkdir()
    bare.write_bytes((acn_run / "checkpoint" / "model.safetensors").read_bytes())
    model = acn.load(bare)
    cfg = eval_config(bare)
    assert cfg.data.spec.startswith("npz:") and cfg.augment.mean == tuple(
        model.pretrained_cfg["mean"]
    )
    from_file, from_run = eval_data(model, bare), eval_data(model, acn_run)
    for (xa, ya), (xb, yb) in zip(batches(from_file, 50)(), batches(from_run, 50)()):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_eval_batches_are_normalised_with_train_statistics(acn_run):
    data = eval_data(acn.load(acn_run), acn_run)
    x, y = next(iter(batches(data, 128)()))
    mean, std = data.splits.info["mean"][0], data.splits.info["std"][0]
    raw = data.splits.test.x[:128].float() / 255
    torch.testing.assert_close(x, (raw - mean) / std)
    assert y.dtype == torch.int64 and x.dtype == torch.float32


def test_other_data_keeps_the_models_class_subset_and_normalisation(acn_run, tmp_path):
    model = acn.load(acn_run)
    model.pretrained_cfg["data"]["classes"] = 2
    model.pretrained_cfg["mean"], model.pretrained_cfg["std"] = [0.25], [0.5]
    spec = write_data(tmp_path / "d.npz")
    cfg = eval_config(acn_run, spec, model.pretrained_cfg)
    assert (cfg.data.spec, cfg.data.classes, cfg.augment.mean, cfg.augment.std) == (
        spec,
        2,
        (0.25,),
        (0.5,),
    )
    data = eval_data(model, acn_run, spec)
    assert data.info["num_classes"] == 2 and set(data.splits.test.y.tolist()) == {0, 1}
    x, _ = next(iter(batches(data, 8)()))
    raw = data.splits.test.x[:8].float() / 255
    torch.testing.assert_close(x, (raw - 0.25) / 0.5)  # the model's statistics, not the data's


def test_files_written_before_pretrained_cfg_use_their_runs_config(tmp_path):
    legacy = make_run(tmp_path, "acn", steps=1, pretrained_cfg=False)
    model = acn.load(legacy)
    assert model.pretrained_cfg == {}
    values = yaml.safe_load((legacy / "config.yaml").read_text())
    values["data"]["classes"] = 2
    (legacy / "config.yaml").write_text(yaml.safe_dump(values))
    assert eval_data(model, legacy).info["num_classes"] == 2  # a run directory: its config
    bare = legacy / "checkpoint" / "model.safetensors"  # the file alone: nothing walks up
    with pytest.raises(ConfigError, match=r"does not record the data .*pass --data SPEC"):
        eval_config(bare)
    assert eval_config(bare, "mnist5k").data.spec == "mnist5k"
    (legacy / "config.yaml").write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        eval_config(legacy)


def test_data_that_does_not_fit_the_model_is_rejected(acn_run, tmp_path):
    spec = write_data(tmp_path / "d.npz")
    three = acn.create_model("mixer_s8", num_classes=3, image_size=16, patch_size=4, depth=1)
    with pytest.raises(DataError, match="3 classes"):
        eval_data(three, tmp_path / "model.safetensors", spec)
    with pytest.raises(DataError, match="shape"):
        eval_data(acn.load(acn_run), tmp_path / "model.safetensors", "mnist5k")
