"""A tiny trained run directory (as `acn train` lays one out) for compress/prune tests.

Data: 4-class 16x16 grayscale images where the class is the bright quadrant, stored as an npz
file so the run's config.yaml can name it with an ordinary data spec.
"""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import acn
from acn.data import AugmentConfig, load_data, prepare_batch
from acn.models.registry import tiny_overrides
from acn.runs import describe_preprocessing, load_train_data
from acn.train import load_config, to_yaml

OVERRIDES = {**tiny_overrides("mixer_s8"), "num_classes": 4}


def quadrant_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    x = rng.integers(0, 60, size=(n, 1, 16, 16)).astype(np.uint8)
    for i, c in enumerate(y):
        r, col = divmod(int(c), 2)
        x[i, 0, r * 8 : r * 8 + 8, col * 8 : col * 8 + 8] += 150
    return x, y


def write_data(path: Path) -> str:
    x, y = quadrant_images(256, 0)
    x_test, y_test = quadrant_images(128, 1)
    np.savez(path, x=x, y=y, x_test=x_test, y_test=y_test)
    return f"npz:{path}"


def make_run(
    root: Path,
    mode: str = "acn",
    steps: int = 40,
    lr: float = 0.1,
    seed: int = 0,
    pretrained_cfg: bool = True,
) -> Path:
    """Train a tiny Mixer for a few steps and save it as RUN/checkpoint/model.safetensors, with
    the ``pretrained_cfg`` acn train records (``pretrained_cfg=False``: a file as older acn
    versions wrote it)."""
    root.mkdir(parents=True, exist_ok=True)
    spec = write_data(root / "quadrants.npz")
    splits = load_data(spec)
    cfg = AugmentConfig.from_info(splits.info)
    torch.manual_seed(seed)
    model = acn.create_model("mixer_s8", mode, **OVERRIDES)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(splits.train), (64,), generator=gen)
        x, y = prepare_batch(splits.train.x[idx], splits.train.y[idx], False, cfg)
        loss = F.cross_entropy(model(x), y)
        model.zero_grad()
        loss.backward()
        with torch.no_grad():  # plain SGD: torch.optim would import torch._dynamo (slow)
            for p in model.parameters():
                p -= lr * p.grad
    run = root / f"run_{mode}" if pretrained_cfg else root / f"run_{mode}_legacy"
    # the config file exactly as `acn train` writes it
    config = load_config(
        overrides={
            "model": {"name": "mixer_s8", "connectivity": mode, "overrides": OVERRIDES},
            "data": {"spec": spec},
            "epochs": 1,
            "optim": {"warmup_epochs": 0},
        }
    )
    if pretrained_cfg:
        model.pretrained_cfg = describe_preprocessing(config, load_train_data(config))
    acn.save(model.eval(), run / "checkpoint" / "model.safetensors")
    (run / "config.yaml").write_text(to_yaml(config))
    return run
