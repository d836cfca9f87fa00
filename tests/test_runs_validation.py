"""data.validation: training on part of the train split, evaluating on the rest, never the test."""

from __future__ import annotations

import pytest

from acn.errors import ConfigError
from acn.runs.config import load_config
from acn.runs.inputs import load_train_data


def test_validation_is_carved_from_train_and_replaces_test():
    full = load_train_data(load_config(None, ["--data.spec=mnist5k"]))
    cfg = load_config(None, ["--data.spec=mnist5k", "--data.validation=0.2"])
    data = load_train_data(cfg)
    n = len(full.splits.train)
    assert len(data.splits.train) + len(data.splits.test) == n
    assert len(data.splits.test) == pytest.approx(0.2 * n, abs=10)
    assert "validation" in data.splits.describe()
    # the held-out rows are training rows: each appears in the full train split
    train_rows = {bytes(r.numpy()) for r in full.splits.train.x}
    assert all(bytes(r.numpy()) in train_rows for r in data.splits.test.x[:50])
    again = load_train_data(
        load_config(None, ["--data.spec=mnist5k", "--data.validation=0.2", "--seed=3"])
    )
    assert (again.splits.test.x == data.splits.test.x).all()  # the same rows for every seed
    with pytest.raises(ConfigError, match="validation"):
        load_train_data(load_config(None, ["--data.spec=mnist5k", "--data.validation=1.5"]))
