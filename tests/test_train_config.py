"""Training config: YAML + dotted overrides, checked against the dataclasses."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from acn.data import AugmentConfig, Batches
from acn.errors import ConfigError
from acn.experiments.demo import demo_config
from acn.models import create_model, tiny_overrides
from acn.runs.config import parse_overrides
from acn.runs.inputs import check_fit, load_train_data, model_values
from acn.train import TrainConfig, get_loss, load_config, to_yaml
from acn.train.optim import build_optimizer

ROOT = Path(__file__).resolve().parents[1]


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
    assert o.decay_params == "all"  # one group, as the authors' AdamW(model.parameters())


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
        ("--optim.warmup_epochs=400", r"warmup_epochs must be >= 0 and shorter than .*epochs: 300"),
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
    root = ROOT / "configs"
    paper = load_config(root / "cifar_mixer_paper.yaml")
    assert paper.model.name == "mixer_cifar_paper" and paper.augment.cutmix_prob == 0.5
    assert (paper.optim.lr, paper.optim.warmup_epochs, paper.batch_size) == (1e-3, 10.0, 64)
    # the MNIST config is the demo's ACN run, so `acn train` reproduces it
    mnist = load_config(root / "mnist_mixer_acn.yaml", [f"--out_dir={tmp_path}"])
    demo = demo_config("acn", tmp_path, epochs=mnist.epochs, seed=0, quick=False)
    demo.out_dir = str(tmp_path)
    assert mnist == demo


def test_cifar_paper_config_is_the_authors_recipe():
    """configs/cifar_mixer_paper.yaml + defaults = the authors' mixer train.py:
    AdamW(params, lr=1e-3) (one group, torch's defaults: decay 0.01 on everything), 10 warmup
    epochs, cosine to 1e-6, label smoothing 0.1, CutMix beta 1 p 0.5, clip 1.0, batch 64, 100 epochs
    (Fig. 2)."""
    cfg = load_config(ROOT / "configs" / "cifar_mixer_paper.yaml")
    o = cfg.optim
    assert (cfg.model.name, cfg.model.connectivity, cfg.epochs, cfg.batch_size) == (
        "mixer_cifar_paper",
        "acn",
        100,
        64,
    )
    assert (o.warmup_epochs, o.min_lr, o.label_smoothing, o.grad_clip) == (10, 1e-6, 0.1, 1.0)
    assert (cfg.augment.cutmix_prob, cfg.augment.cutmix_alpha, cfg.augment.crop_padding) == (
        0.5,
        1.0,
        4,
    )
    model = create_model(cfg.model.name, **tiny_overrides(cfg.model.name))
    ours = build_optimizer(model, o).param_groups
    theirs = torch.optim.AdamW(model.parameters(), lr=1e-3).param_groups
    keys = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize")
    assert len(ours) == len(theirs) == 1
    assert [ours[0][k] for k in keys] == [theirs[0][k] for k in keys]
    assert [id(p) for p in ours[0]["params"]] == [id(p) for p in theirs[0]["params"]]


def test_bare_defaults_fit_and_train_one_step(tmp_path):
    cfg = load_config(None, [f"--out_dir={tmp_path / 'run'}", "--device=cpu"])
    torch.manual_seed(0)
    data = load_train_data(cfg)
    model = create_model(cfg.model.name, cfg.model.connectivity, **model_values(cfg, data.info))
    check_fit(model, data)  # raised for mixer_cifar_paper (3x32x32) on mnist5k (1x28x28)
    # the augment section is the data pipeline's own AugmentConfig, completed with the stats
    assert isinstance(cfg.augment, AugmentConfig) and cfg.augment.mean is None
    assert data.augment == replace(cfg.augment, mean=data.augment.mean, std=data.augment.std)
    assert data.augment.mean is not None
    opt = build_optimizer(model, cfg.optim)
    x, y = next(iter(Batches(data.splits.train, 8, shuffle=True, seed=0)))
    x, y = data.prepare(x, y, True, torch.Generator().manual_seed(0), model.config.num_classes)
    before = [p.detach().clone() for p in model.parameters()]
    loss, _ = get_loss(cfg.loss)(model, x, y, cfg)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert all(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
