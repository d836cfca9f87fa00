"""Issue 8 section 5.3-5.6: NaN and out-of-range values in configs, data and model files are
one-line errors (exit code 2 through the CLI) before anything is built or allocated."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

import acn
from _hardening import one_line_error, tiny_run_config
from _train_helpers import tiny_npz
from acn.compress.truncate import choose_depth
from acn.data import AugmentConfig
from acn.data.sources import text as text_source
from acn.errors import CheckpointError, ConfigError, DataError
from acn.evaluation.cutoff import bootstrap_cutoff, cutoff_depth
from acn.models import create_model
from acn.models.registry import (
    MAX_PARAMS,
    count_params,
    meta_model,
    preset_values,
    tiny_overrides,
)
from acn.train import budget


@pytest.fixture
def config(tmp_path):
    return tiny_run_config(tmp_path, epochs=1)


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("--optim.lr=nan", r"optim\.lr must be a finite number, got nan"),
        ("--optim.lr=inf", r"optim\.lr must be a finite number, got inf"),
        ("--optim.weight_decay=nan", r"optim\.weight_decay must be a finite number"),
        ("--optim.grad_clip=nan", r"optim\.grad_clip must be a finite number"),
        ("--optim.label_smoothing=nan", r"optim\.label_smoothing must be a finite number"),
        ("--optim.betas=[2,3]", r"optim\.betas\[0\] must be in \[0, 1\), got 2\.0"),
        ("--optim.betas=[0.9,1.0]", r"optim\.betas\[1\] must be in \[0, 1\)"),
        ("--optim.eps=-1", r"optim\.eps must be in \(0, 1\], got -1\.0"),
        ("--optim.lr=-0.1", r"optim\.lr must be in \(0, "),
        ("--optim.min_lr=1", r"optim\.min_lr must be in \[0, 0\.001\]"),
        ("--seed=1e23", r"seed expects int"),
        ("--seed=100000000000000000000000", r"seed must be in \["),
        ("--epochs=0", r"epochs must be in \[1, "),
        ("--loss_options.weight=.inf", r"loss_options\.weight must be a finite number"),
        ("--model.overrides.num_classes=-5", r"num_classes must be in 1\.\."),
        ("--model.overrides.dropout=2", r"dropout must be in \[0, 1\), got 2"),
        ("--model.overrides.dropout=nan", r"model\.overrides\.dropout must be a finite number"),
        ("--model.overrides.patch_size=0", r"patch_size must be in 1\.\."),
        ("--model.overrides.dim=0", r"dim must be in 1\.\."),
        ("--model.overrides.depth=0", r"depth must be >= 1 to train"),
        ("--model.overrides.depth=200000", r"depth must be in 0\.\.10000"),
        ("--model.overrides.channel_hidden=100000000000", r"channel_hidden must be in 1\.\."),
        (
            "--model.overrides.channel_hidden=16000000 --model.overrides.dim=100",
            # refused by the memory estimate, or by the parameter cap where memory is plentiful
            r"9,648,035,083 parameters.*(needs at least|more than the 4,000,000,000)",
        ),
    ],
)
def test_bad_values_are_one_line_and_exit_2(config, tmp_path, capsys, override, match):
    one_line_error(capsys, ["train", str(config), "--no-progress", *override.split()], match)
    assert not (tmp_path / "run").exists()  # nothing written, no lock left behind


def test_absurd_model_sizes_are_refused_before_allocation(monkeypatch):
    with monkeypatch.context() as m:
        built = layers_built_off_meta(m)
        with pytest.raises(ConfigError, match=r"more than the") as info:
            create_model("mixer_cifar_paper", dim=100_000, channel_hidden=100_000, depth=100)
        assert built == []  # counted on the meta device, never allocated
        create_model("mixer_s8", depth=1)
        assert built  # (the spy sees a real build)
    assert f"{MAX_PARAMS:,}" in str(info.value)
    # the check does not move the global RNG: same seed, same weights
    torch.manual_seed(0)
    a = create_model("mixer_s8", depth=2).state_dict()
    torch.manual_seed(0)
    b = create_model("mixer_s8", depth=2).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_training_memory_is_estimated_before_building(config, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(budget, "available_memory", lambda device: 1000)  # bytes
    err = one_line_error(
        capsys,
        ["train", str(config), "--no-progress"],
        r"needs at least .* GiB but 0\.0 GiB is free",
    )
    assert "batch 16" in err and not (tmp_path / "run").exists()


def test_activation_estimate_counts_each_leaf_output():
    model = meta_model(*preset_values("mlp_s4", "acn", depth=2, in_features=20, dim=16, hidden=32))
    # per example and block: norm 16 + fc1 32 + fc2 16 floats (MLPBlock), plus embed and head
    assert budget.activation_bytes(model, 4) > 4 * 4 * 2 * (16 + 32 + 16)
    assert budget.activation_bytes(model, 8) == 2 * budget.activation_bytes(model, 4)


@pytest.mark.parametrize(
    ("pixel", "kind", "where"),
    [(np.nan, "image", (3, 0, 1, 2)), (np.inf, "vector", (3, 9)), (-np.inf, "image", (5, 0, 0, 0))],
)
def test_non_finite_values_in_a_float_npz(config, tmp_path, capsys, pixel, kind, where):
    src = np.load(tiny_npz(tmp_path / "base.npz"))
    x = src["x"].astype(np.float32) / 255
    if kind == "vector":
        x = x.reshape(len(x), -1)
    x[where] = pixel
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=x, y=src["y"])
    argv = ["train", str(config), "--no-progress", f"--data.spec=npz:{bad}"]
    index = ", ".join(map(str, where))
    one_line_error(
        capsys, argv, rf"array holds a non-finite value \({pixel} at index \[{index}\]\)"
    )


def test_decompression_bomb_in_a_webdataset_shard(tmp_path, monkeypatch, capsys):
    def shard(path, size):
        with tarfile.open(path, "w") as tf:
            for i in range(2):
                buf = io.BytesIO()
                Image.new("L", (size, size)).save(buf, format="PNG")
                for ext, data in (("png", buf.getvalue()), ("cls", b"0")):
                    info = tarfile.TarInfo(f"s{i}.{ext}")
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))

    monkeypatch.setenv("ACN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # stands for Pillow's 89M-pixel limit
    for size in (12, 16):  # 144 pixels: Pillow only warns; 256 (> twice the limit): it raises
        d = tmp_path / f"shards{size}"
        d.mkdir()
        shard(d / "train-0.tar", size)
        shard(d / "test-0.tar", size)
        with pytest.raises(DataError, match=r"image too large to decode safely") as info:
            acn.data.load_data(f"wds:{d}", workers=1)
        assert "\n" not in str(info.value)


def test_text_max_len_is_bounded(tmp_path):
    d = tmp_path / "tsv"
    d.mkdir()
    rows = "sentence\tlabel\n" + "".join(f"word{i} other\t{i % 2}\n" for i in range(20))
    (d / "train.tsv").write_text(rows)
    (d / "test.tsv").write_text(rows)
    with pytest.raises(ConfigError, match=r"max_len must be in 3\.\.8192 .*got 100000"):
        acn.data.load_data(f"tsv:{d}", max_len=100000, cache_dir=str(tmp_path / "c"))


def test_text_memory_is_estimated_before_tokenising(tmp_path, monkeypatch):
    d = tmp_path / "tsv"
    d.mkdir()
    rows = "sentence\tlabel\n" + "".join(f"word{i} other\t{i % 2}\n" for i in range(20))
    (d / "train.tsv").write_text(rows)
    (d / "test.tsv").write_text(rows)
    monkeypatch.setattr(text_source, "MAX_TOKEN_BYTES", 40 * 64 * 8 - 1)
    with pytest.raises(ConfigError, match=r"40 sequences of max_len 64 need .* GiB of token ids"):
        acn.data.load_data(f"tsv:{d}", max_len=64, cache_dir=str(tmp_path / "c"))


# -- crafted model files ---------------------------------------------------------------------------


def _tiny_model():
    return create_model("mixer_s8", depth=2, dim=8, token_hidden=4, channel_hidden=8)


def layers_built_off_meta(m: pytest.MonkeyPatch) -> list[tuple]:
    """Record every nn.Linear built on a real device (the meta device only counts shapes)."""
    built: list[tuple] = []
    real_init = torch.nn.Linear.__init__

    def spy(self, *args, **kwargs):
        if torch.get_default_device().type != "meta":
            built.append(args)
        real_init(self, *args, **kwargs)

    m.setattr(torch.nn.Linear, "__init__", spy)
    return built


def _model_file(path, config):
    """A file with a genuine tiny model's tensors and ``config`` as its recorded architecture."""
    metadata = {"acn_format": "1", "family": "mixer", "config": config}
    save_file(_tiny_model().state_dict(), str(path), metadata=metadata)
    return path


def _tiny_config(**changes):
    return json.dumps({**dataclasses.asdict(_tiny_model().config), **changes})


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (_tiny_config(depth=200000), r"claims depth 200000 but holds only \d+ tensors"),
        (_tiny_config(depth=-3), r"invalid model config: model option depth must be in 0\.\."),
        ("{not json", r"corrupt model config \(not JSON\)"),
        ("[1, 2]", r"corrupt model config \(not a JSON object\)"),
        (_tiny_config(dim="wide"), r"dim must be an integer, got 'wide'"),
        (_tiny_config(dim=-4), r"dim must be in 1\.\."),
        (_tiny_config(dropout="x"), r"dropout must be a number"),
        (_tiny_config(surprise=1), r"unknown option\(s\) surprise"),
        (_tiny_config(dim=12), r"does not match its recorded architecture .*first difference"),
        (_tiny_config(depth=3), r"does not match its recorded architecture .*stack\.blocks\.2"),
    ],
)
def test_crafted_model_file_is_refused_before_building(
    tmp_path, capsys, monkeypatch, config, match
):
    path = _model_file(tmp_path / "crafted.safetensors", config)
    with monkeypatch.context() as m, pytest.raises(CheckpointError, match=match) as info:
        built = layers_built_off_meta(m)
        acn.load(path)
    assert built == [] and "\n" not in str(info.value)  # refused before any layer was built
    one_line_error(capsys, ["compress", str(path), "--data", "mnist5k"], match)


def test_genuine_model_file_still_loads(tmp_path):
    model = create_model("mixer_s8", depth=2, dim=8, token_hidden=4, channel_hidden=8)
    acn.save(model, tmp_path / "m.safetensors")
    loaded = acn.load(tmp_path / "m.safetensors")
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())


# -- library entry points below the CLI ------------------------------------------------------------


def test_nan_tolerance_never_means_depth_0():
    acc = [10.0, 60.0, 89.7, 90.1, 90.0]
    for tolerance in (math.nan, math.inf, -0.5):
        with pytest.raises(ConfigError, match="tolerance must be"):
            cutoff_depth(acc, tolerance)
        with pytest.raises(ConfigError, match="tolerance must be"):
            choose_depth(acc, tolerance=tolerance)
        with pytest.raises(ConfigError, match="tolerance must be"):
            bootstrap_cutoff(torch.ones(3, 10), tolerance)


def test_bootstrap_size_is_bounded(monkeypatch):
    draws = []
    real_randint = torch.randint
    monkeypatch.setattr(torch, "randint", lambda *a, **k: draws.append(a) or real_randint(*a, **k))
    with pytest.raises(
        ConfigError, match=r"takes 1\.\.100,000 resamples, got 100000000000000000000"
    ):
        bootstrap_cutoff(torch.ones(3, 10), 0.5, num_resamples=10**20)
    assert draws == []  # refused before a single resample was drawn
    bootstrap_cutoff(torch.ones(3, 10), 0.5, num_resamples=10)
    assert draws  # (the spy sees the draws of an allowed size)


@pytest.mark.parametrize(
    "field", [{"noise_sigma": math.nan}, {"cutmix_alpha": math.nan}, {"cutmix_prob": math.nan}]
)
def test_augmentation_values_reject_nan(field):
    with pytest.raises(ConfigError, match="nan"):
        AugmentConfig(**field)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('[1, 2]\n{"epoch": 1}\n', r"line 1 in .*metrics\.jsonl is not a JSON object"),
        ('{"epoch": 1, "grad_norm_per_block": "abc"}\n', r"record 1 has a malformed"),
        ('{"epoch": "x", "grad_norm_per_block": [1.0]}\n', r"record 1 has a malformed"),
        ('{"epoch": 1, "accuracy_per_depth": [1, "a"]}\n', r"malformed epoch or incremental"),
    ],
)
def test_grads_on_malformed_metrics(tmp_path, capsys, content, match):
    (tmp_path / "metrics.jsonl").write_text(content)
    one_line_error(capsys, ["grads", str(tmp_path), "--out", str(tmp_path / "out")], match)


@pytest.mark.parametrize("name", ["mlp_s4", "mixer_s8", "vit_tiny_cifar", "bert_tiny_mlm"])
def test_meta_count_equals_the_built_model(name):
    values = tiny_overrides(name)
    state = torch.get_rng_state()
    n = count_params(*preset_values(name, "acn", **values))
    assert torch.equal(torch.get_rng_state(), state)  # the meta build draws no random numbers
    assert n == create_model(name, **values).num_params()
