"""``acn train`` end to end on tiny data, and every bad-input path: one line, exit code 2."""

from __future__ import annotations

import json
import re

import pytest
import yaml

import acn
from _train_helpers import TINY_MODEL, tiny_npz
from acn.cli import main
from acn.runs import Run
from acn.train import load_config, register_loss
from acn.train.losses import LOSSES, cross_entropy


@pytest.fixture
def config(tmp_path):
    """A tiny run's YAML config (2 epochs of 4 steps) writing to tmp_path/run."""
    data = tiny_npz(tmp_path / "tiny.npz")
    values = {
        "model": {"name": "mixer_s8", "connectivity": "acn", "overrides": TINY_MODEL},
        "data": {"spec": f"npz:{data}"},
        "optim": {"warmup_epochs": 0.5},
        "epochs": 2,
        "batch_size": 16,
        "eval_batch_size": 16,
        "out_dir": str(tmp_path / "run"),
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def _error(capsys, argv, match):
    """Run the CLI, expect exit 2 with exactly one `acn: error:` line matching ``match``."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("acn: error: ") and "\n" not in err, err
    assert re.search(match, err), err
    return err


def test_train_writes_a_run_directory(config, tmp_path, capsys):
    assert main(["train", str(config), "--seed=3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "epoch 2/2" in out and f"run written to {tmp_path / 'run'}" in out
    run = tmp_path / "run"
    assert load_config(run / "config.yaml").seed == 3
    assert len(Run(run).metrics()) == 2
    assert json.loads((run / "summary.json").read_text())["seed"] == 3
    assert acn.load(run).depth == TINY_MODEL["depth"]


def test_print_config_resolves_overrides_and_writes_nothing(config, tmp_path, capsys):
    assert main(["train", str(config), "--optim.lr=5e-4", "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["optim"]["lr"] == 5e-4 and printed["epochs"] == 2
    assert printed["augment"]["cutmix_prob"] == 0.5  # defaults filled in
    assert not (tmp_path / "run").exists()


def test_resume_from_the_command_line(config, tmp_path, capsys):
    assert main(["train", str(config), "--epochs=1", "--no-progress"]) == 0
    assert main(["train", "--resume", str(tmp_path / "run"), "--epochs=2", "--no-progress"]) == 0
    assert [r["epoch"] for r in Run(tmp_path / "run").metrics()] == [1, 2]
    _error(capsys, ["train", str(config), "--no-progress"], r"already holds a run")
    _error(capsys, ["train", str(config), "--resume", str(tmp_path / "run")], r"not both")
    _error(capsys, ["train", "--resume", str(tmp_path)], r"is not a run directory")


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--optim.lrr=1"], r"unknown config key optim\.lrr; valid keys: lr,"),
        (["--model.name=resnet50"], r"unknown model 'resnet50'"),
        (["--model.connectivity=skip"], r"unknown connectivity 'skip'"),
        (["--data.spec=imagenet"], r"unknown dataset 'imagenet'"),
        (["--data.options.nope=1"], r"does not take option\(s\) nope"),
        (["--data.spec=npz:/no/such/file.npz"], r"data path does not exist"),
        (["--model.overrides.image_size=16"], r"inputs of shape \[1, 8, 8\] but model mixer_s8"),
        (["--model.overrides.num_classes=2"], r"does not fit a model with 2 classes"),
        (["--loss=nope"], r"unknown loss 'nope'"),
        (["--optim.lr"], r"expected --key=value"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(config, tmp_path, capsys, args, match):
    _error(capsys, ["train", str(config), "--no-progress", *args], match)
    assert not (tmp_path / "run" / "checkpoint").exists()


def test_missing_or_broken_files(config, tmp_path, capsys):
    _error(capsys, ["train", str(tmp_path / "nope.yaml")], r"config file not found")
    broken = tmp_path / "broken.yaml"
    broken.write_text("epochs: [1,\n")
    _error(capsys, ["train", str(broken)], r"invalid YAML")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 this is not a zip archive")
    _error(capsys, ["train", str(config), f"--data.spec=npz:{garbage}"], r"cannot read npz file")
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "train-000.tar").write_bytes(b"\x00" * 100 + b"truncated tar")
    _error(capsys, ["train", str(config), f"--data.spec=wds:{shards}"], str(shards))


def test_corrupt_checkpoint_on_resume(config, tmp_path, capsys):
    assert main(["train", str(config), "--epochs=1", "--no-progress"]) == 0
    weights = tmp_path / "run" / "checkpoint" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:500])
    _error(
        capsys,
        ["train", "--resume", str(tmp_path / "run")],
        r"checksum mismatch for .*model.safetensors",
    )


def test_nan_loss_exits_2_and_keeps_the_checkpoint(config, tmp_path, capsys):
    steps = {"n": 0}

    def nan_at_step_6(model, x, y, cfg):
        steps["n"] += 1
        loss, logits = cross_entropy(model, x, y, cfg)
        return (loss + float("inf") if steps["n"] == 6 else loss), logits

    register_loss("test_cli_nan", nan_at_step_6)
    try:
        err = _error(
            capsys,
            ["train", str(config), "--loss=test_cli_nan", "--no-progress"],
            r"loss became inf at epoch 2, step 6 .*last good checkpoint .* epoch 1\) is intact",
        )
    finally:
        LOSSES.pop("test_cli_nan")
    assert "Traceback" not in err
    model = acn.load(tmp_path / "run")  # the epoch-1 checkpoint still loads
    assert model.depth == TINY_MODEL["depth"]


def test_only_train_accepts_key_value_overrides(capsys):
    assert main(["models", "--epochs=3"]) == 2
    assert "unrecognized arguments: --epochs=3" in capsys.readouterr().err


def test_unwritable_run_directory(config, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    _error(
        capsys,
        ["train", str(config), f"--out_dir={blocker / 'run'}"],
        r"cannot write run directory",
    )
    _error(capsys, ["train", str(config), "--out", str(blocker / "run")], r"is a file")


def test_out_sets_the_run_directory_and_hyphens_read_as_underscores(config, tmp_path, capsys):
    argv = ["train", str(config), "--out", str(tmp_path / "elsewhere"), "--batch-size=8"]
    assert main([*argv, "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["out_dir"] == str(tmp_path / "elsewhere") and printed["batch_size"] == 8
    _error(capsys, [*argv, f"--out_dir={tmp_path}"], r"--out or --out_dir, not both")
    _error(capsys, ["train", "--resume", str(tmp_path), "--out", str(tmp_path)], r"cannot change")
