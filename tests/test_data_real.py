"""Checks against the real development datasets (see ``shared_data`` in conftest.py: skipped
with a reason where they are absent)."""

from __future__ import annotations

import pytest
import torch

from acn.data import load_data


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ACN_CACHE_DIR", str(tmp_path / "cache"))


def test_cifar10_wds_sample(shared_data):
    s = load_data(f"wds:{shared_data('cifar10-jpeg-wds')}", limit=100)
    assert s.train.x.shape == (100, 3, 32, 32) and len(s.test) == 100
    assert s.info["classes"][0] == "airplane" and int(s.train.y.max()) <= 9
    assert 0.3 < s.info["mean"][0] < 0.65


def test_sst2_tsv(shared_data):
    s = load_data(str(shared_data("sst2")), limit=200)
    assert s.info["classes"] == ["0", "1"] and s.train.x.shape == (200, 64)
    assert s.info["vocab_size"] == 8192 and torch.bincount(s.test.y).min() > 50


def test_tinyshakespeare_mlm(shared_data):
    s = load_data(f"text:{shared_data('tinyshakespeare/input.txt')}", max_len=128)
    assert s.train.kind == "mlm" and s.train.x.shape[1] == 128
    assert (
        1500 < len(s.train) < 3000 and abs(len(s.test) / (len(s.train) + len(s.test)) - 0.1) < 0.01
    )
