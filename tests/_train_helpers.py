"""Tiny data and configs for the training tests (a few ms per step)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from acn.train import TrainConfig, load_config

TINY_MODEL = {
    "image_size": 8,
    "patch_size": 4,
    "dim": 16,
    "token_hidden": 8,
    "channel_hidden": 16,
    "depth": 3,
}


def tiny_npz(path: Path, n_train: int = 64, n_test: int = 32, classes: int = 4) -> Path:
    """An .npz of 1x8x8 uint8 images whose class is which quadrant is bright (learnable)."""
    rng = np.random.default_rng(0)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % classes
        x = rng.integers(0, 60, size=(n, 1, 8, 8)).astype(np.uint8)
        for i, c in enumerate(y):
            r, q = divmod(int(c), 2)
            x[i, 0, 4 * r : 4 * r + 4, 4 * q : 4 * q + 4] += 150
        return x, y.astype(np.int64)

    x, y = make(n_train)
    xt, yt = make(n_test)
    np.savez(path, x=x, y=y, x_test=xt, y_test=yt)
    return path


def tiny_config(tmp_path: Path, *extra: str, name: str = "run") -> TrainConfig:
    """A 2-epoch config on the tiny npz data writing to tmp_path/name."""
    data = tmp_path / "tiny.npz"
    if not data.exists():
        tiny_npz(data)
    overrides = [f"--model.overrides.{k}={v}" for k, v in TINY_MODEL.items()]
    return load_config(
        None,
        [
            "--model.name=mixer_s8",
            f"--data.spec=npz:{data}",
            "--epochs=2",
            "--batch_size=16",
            "--eval_batch_size=16",
            "--optim.warmup_epochs=0.5",
            f"--out_dir={tmp_path / name}",
            *overrides,
            *extra,
        ],
    )
