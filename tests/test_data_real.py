"""Optional checks against the real datasets in /work/shared/data (skipped where absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from acn.data import load_data

DATA = Path("/work/shared/data")


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ACN_CACHE_DIR", str(tmp_path / "cache"))


def test_cifar10_wds_sample():
    s = load_data(f"wds:{need(DATA / 'cifar10-jpeg-wds')}", limit=100)
    assert s.train.x.shape == (100, 3, 32, 32) and len(s.test) == 100
    assert s.info["classes"][0] == "airplane" and int(s.train.y.max()) <= 9
    assert 0.3 < s.info["mean"][0] < 0.65


def test_sst2_tsv():
    s = load_data(str(need(DATA / "sst2")), limit=200)
    assert s.info["classes"] == ["0", "1"] and s.train.x.shape == (200, 64)
    assert s.info["vocab_size"] == 8192 and torch.bincount(s.test.y).min() > 50


def test_tinyshakespeare_mlm():
    s = load_data(f"text:{need(DATA / 'tinyshakespeare' / 'input.txt')}", max_len=128)
    assert s.train.kind == "mlm" and s.train.x.shape[1] == 128
    assert (
        1500 < len(s.train) < 3000 and abs(len(s.test) / (len(s.train) + len(s.test)) - 0.1) < 0.01
    )
