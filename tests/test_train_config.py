"""Training config: YAML + dotted overrides, checked against the dataclasses."""

from __future__ import annotations

import pytest

from acn.errors import ConfigError
from acn.runs.config import parse_overrides
from acn.train import TrainConfig, load_config, to_yaml


def test_defaults_are_the_paper_recipe():
    cfg = TrainConfig().validate()
    o = cfg.optim
    assert (o.lr, o.weight_decay, o.label_smoothing, o.grad_clip, o.min_lr) == (
        1e-3,
        0.01,
        0.1,
        1.0,
        1e-6,
    )
    assert (cfg.batch_size, o.warmup_epochs, cfg.augment.cutmix_prob) == (64, 10.0, 0.5)


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: {name: mixer_s8}\noptim: {lr: 3e-4, warmup_epochs: 1}\nepochs: 7\n")
    cfg = load_config(
        path,
        [
            "--epochs=9",
            "--optim.betas=[0.9, 0.95]",
            "--augment.flip=true",
            "--data.classes=[0, 3]",
            "--model.overrides.depth=4",
            "--model.overrides.dropout=1e-1",
            "--data.per_class=none",
        ],
    )
    assert cfg.model.name == "mixer_s8"
    assert cfg.optim.lr == 3e-4  # YAML reads "3e-4" as text; the float field takes it
    assert cfg.epochs == 9
    assert cfg.optim.betas == (0.9, 0.95)
    assert cfg.augment.flip is True
    assert cfg.data.classes == [0, 3]
    assert cfg.data.per_class is None
    assert cfg.model.overrides == {"depth": 4, "dropout": 0.1}


def test_resolved_yaml_round_trips(tmp_path):
    cfg = load_config(None, ["--model.name=mixer_s8", "--optim.lr=2e-3", "--data.classes=5"])
    path = tmp_path / "config.yaml"
    path.write_text(to_yaml(cfg))
    assert load_config(path) == cfg


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("--optim.lrr=1", r"unknown config key optim.lrr; valid keys: lr, weight_decay"),
        ("--nope=1", r"unknown config key nope; valid keys: model, data"),
        ("--optim.lr=fast", r"optim.lr expects float, got 'fast'"),
        ("--epochs=2.5", r"epochs expects int"),
        ("--augment.flip=maybe", r"augment.flip expects bool"),
        ("--optim.betas=[0.9]", r"optim.betas needs 2 values"),
        ("--model.overrides.dept=3", r"unknown model option model.overrides.dept; valid: depth"),
        ("--model.overrides.depth=deep", r"model.overrides.depth expects int"),
        ("--model.name=mixer_xl", r"unknown model 'mixer_xl'"),
        ("--optim.warmup_epochs=400", r"warmup_epochs must be in \[0, 300\)"),
        ("--batch_size=0", r"batch_size must be in \[1, "),
        ("--amp=fp8", r"amp must be auto, off, bf16 or fp16"),
        ("epochs=3", r"expected --key=value"),
    ],
)
def test_bad_overrides_are_one_line_config_errors(override, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_config(None, [override])
    assert "\n" not in str(info.value)


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {name: mixer_s8\nepochs: [1,\n")
    with pytest.raises(ConfigError, match=r"invalid YAML in .*bad.yaml \(line \d+\)") as info:
        load_config(bad)
    assert "\n" not in str(info.value)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(listed)


def test_parse_overrides_nests_dotted_keys():
    out = parse_overrides(["--a.b.c=1", "--a.d=x", "--e=2"])
    assert out == {"a": {"b": {"c": "1"}, "d": "x"}, "e": "2"}


def test_shipped_configs(tmp_path):
    from pathlib import Path

    from acn.experiments.demo import demo_config

    root = Path(__file__).resolve().parents[1] / "configs"
    paper = load_config(root / "cifar_mixer_paper.yaml")
    assert paper.model.name == "mixer_cifar_paper" and paper.augment.cutmix_prob == 0.5
    assert (paper.optim.lr, paper.optim.warmup_epochs, paper.batch_size) == (1e-3, 10.0, 64)
    # the MNIST config is the demo's ACN run, so `acn train` reproduces it
    mnist = load_config(root / "mnist_mixer_acn.yaml", [f"--out_dir={tmp_path}"])
    demo = demo_config("acn", tmp_path, epochs=mnist.epochs, seed=0, quick=False)
    demo.out_dir = str(tmp_path)
    assert mnist == demo
