"""Readers for the embedded MNIST-5k, IDX, CIFAR pickles and npz, plus the spec grammar."""

from __future__ import annotations

import gzip
import os
import pickle
import struct

import numpy as np
import pytest
import torch

from acn.data import detect, list_datasets, load_data
from acn.errors import ConfigError, DataError


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ACN_CACHE_DIR", str(tmp_path / "cache"))


# --- mnist5k ---------------------------------------------------------------------------


def test_mnist5k_split_is_stratified_and_fixed():
    torch.manual_seed(123)  # the split must not depend on global RNG
    a = load_data()
    torch.manual_seed(7)
    b = load_data("mnist5k")
    assert (len(a.train), len(a.test)) == (4000, 1000)
    assert torch.bincount(a.train.y).tolist() == [400] * 10
    assert torch.bincount(a.test.y).tolist() == [100] * 10
    assert a.train.x.dtype == torch.uint8 and a.train.x.shape[1:] == (1, 28, 28)
    assert int(a.train.x.min()) == 0 and int(a.train.x.max()) == 255
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert a.info["num_classes"] == 10 and a.info["kind"] == "image"
    assert 0.1 < a.info["mean"][0] < 0.16 and 0.27 < a.info["std"][0] < 0.34


def test_mnist5k_takes_no_path_or_options():
    with pytest.raises(ConfigError, match="takes no path"):
        load_data("mnist5k:/tmp")
    with pytest.raises(ConfigError, match="limit"):
        load_data("mnist5k", limit=5)
    load_data("mnist5k", limit=None)  # None means "not given"


# --- IDX -------------------------------------------------------------------------------


def write_idx(path, arr: np.ndarray, compress: bool) -> None:
    header = b"\x00\x00\x08" + bytes([arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def make_idx_dir(d, compress=True):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (6, 5, 4)),
        "train-labels-idx1-ubyte": np.array([0, 1, 2, 0, 1, 2]),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (3, 5, 4)),
        "t10k-labels-idx1-ubyte": np.array([2, 1, 0]),
    }
    d.mkdir(exist_ok=True)
    for name, arr in arrays.items():
        write_idx(d / (name + (".gz" if compress else "")), arr, compress)
    return arrays


@pytest.mark.parametrize("compress", [True, False])
def test_idx_round_trip(tmp_path, compress):
    arrays = make_idx_dir(tmp_path / "mnist", compress)
    for spec in (f"idx:{tmp_path / 'mnist'}", str(tmp_path / "mnist")):
        s = load_data(spec)
        assert s.train.x.shape == (6, 1, 5, 4)
        assert np.array_equal(s.train.x[:, 0].numpy(), arrays["train-images-idx3-ubyte"])
        assert s.test.y.tolist() == [2, 1, 0]
        assert s.info["num_classes"] == 3


def test_idx_truncated_names_file(tmp_path):
    make_idx_dir(tmp_path, compress=False)
    f = tmp_path / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-7])
    with pytest.raises(DataError, match="truncated") as e:
        load_data(f"idx:{tmp_path}")
    assert str(f) in str(e.value)


def test_idx_bad_gzip_and_missing_file(tmp_path):
    make_idx_dir(tmp_path)
    f = tmp_path / "t10k-labels-idx1-ubyte.gz"
    f.write_bytes(f.read_bytes()[:12])  # cut-off gzip stream
    with pytest.raises(DataError, match=str(f)):
        load_data(f"idx:{tmp_path}")
    f.unlink()
    with pytest.raises(DataError, match="t10k-labels"):
        load_data(f"idx:{tmp_path}")


# --- CIFAR -----------------------------------------------------------------------------


def write_batch(path, n, label_key="labels", seed=0, bytes_keys=False, **extra):
    rng = np.random.default_rng(seed)
    batch = {
        "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        label_key: list(range(n)),
        **extra,
    }
    if bytes_keys:  # what Python-2 pickles of the real files contain
        batch = {k.encode(): v for k, v in batch.items()}
    path.write_bytes(pickle.dumps(batch, protocol=2))
    return batch


def test_cifar10_round_trip(tmp_path):
    b1 = write_batch(tmp_path / "data_batch_1", 4, seed=1, bytes_keys=True)
    b2 = write_batch(tmp_path / "data_batch_2", 3, seed=2)
    bt = write_batch(tmp_path / "test_batch", 2, seed=3)
    names = [f"c{i}" for i in range(10)]
    (tmp_path / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))
    s = load_data(f"cifar10:{tmp_path}")
    assert s.train.x.shape == (7, 3, 32, 32) and s.test.x.shape == (2, 3, 32, 32)
    expect = np.concatenate([b1[b"data"], b2["data"]]).reshape(-1, 3, 32, 32)
    assert np.array_equal(s.train.x.numpy(), expect)
    assert np.array_equal(s.test.x.numpy(), bt["data"].reshape(-1, 3, 32, 32))
    assert s.train.y.tolist() == [0, 1, 2, 3, 0, 1, 2] and s.info["classes"] == names
    assert detect(str(tmp_path)) == "cifar10"


def test_cifar100_fine_and_coarse(tmp_path):
    write_batch(tmp_path / "train", 5, "fine_labels", coarse_labels=[0, 1, 0, 1, 0])
    write_batch(tmp_path / "test", 2, "fine_labels", coarse_labels=[1, 1])
    (tmp_path / "meta").write_bytes(
        pickle.dumps({"fine_label_names": [f"f{i}" for i in range(100)]})
    )
    s = load_data(f"cifar100:{tmp_path}")
    assert s.info["num_classes"] == 100 and s.train.y.tolist() == [0, 1, 2, 3, 4]
    c = load_data(str(tmp_path), labels="coarse")
    assert c.info["num_classes"] == 20 and c.test.y.tolist() == [1, 1]
    with pytest.raises(ConfigError):
        load_data(f"cifar100:{tmp_path}", labels="medium")


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_cifar_pickle_refuses_code(tmp_path):
    evil = _Evil()
    evil.marker = tmp_path / "pwned"
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({"data": evil}, protocol=2))
    write_batch(tmp_path / "test_batch", 2)
    with pytest.raises(DataError, match="refusing") as e:
        load_data(f"cifar10:{tmp_path}")
    assert "data_batch_1" in str(e.value) and not evil.marker.exists()


def test_cifar_truncated_and_bad_labels(tmp_path):
    write_batch(tmp_path / "data_batch_1", 12)  # labels 0..11: too many for 10 classes
    write_batch(tmp_path / "test_batch", 2)
    with pytest.raises(DataError, match="data_batch_1: label 11 out of range"):
        load_data(f"cifar10:{tmp_path}")
    write_batch(tmp_path / "data_batch_1", 10)
    f = tmp_path / "test_batch"
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(DataError, match=str(f)):
        load_data(f"cifar10:{tmp_path}")


# --- npz -------------------------------------------------------------------------------


def test_npz_nhwc_images_with_test_split(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    p = tmp_path / "d.npz"
    np.savez(p, x=x, y=np.arange(6) % 3, x_test=x[:2], y_test=np.array([2, 0]))
    s = load_data(f"npz:{p}")
    assert s.train.kind == "image" and s.train.x.shape == (6, 3, 8, 8)
    assert np.array_equal(s.train.x.permute(0, 2, 3, 1).numpy(), x)
    assert s.test.y.tolist() == [2, 0] and s.info["num_classes"] == 3


def test_npz_vectors_stratified_split(tmp_path):
    p = tmp_path / "v.npz"
    np.savez(p, x=np.arange(200, dtype=np.float64).reshape(50, 4), y=np.arange(50) % 2)
    s = load_data(str(p))
    assert s.train.kind == "vector" and s.train.x.dtype == torch.float32
    assert (len(s.train), len(s.test)) == (40, 10)
    assert torch.bincount(s.test.y).tolist() == [5, 5]
    assert torch.equal(load_data(str(p)).test.x, s.test.x)  # deterministic


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": np.zeros((4, 3), np.float32), "y": np.zeros(3, int)}, "4 inputs but 3 labels"),
        ({"x": np.zeros((4, 3), np.float32)}, "lacks array 'y'"),
        ({"x": np.full((4, 2, 2), 3.0), "y": np.zeros(4, int)}, r"\[0, 1\]"),
        (
            {
                "x": np.zeros((4, 3)),
                "y": np.zeros(4, int),
                "x_test": np.zeros((1, 3)),
                "y_test": [7],
                "classes": np.array(["a", "b"]),
            },
            "label 7 out of range for 2 classes",
        ),
        ({"x": np.zeros((4, 3)), "y": np.array([0, -1, 0, 0])}, "negative label"),
    ],
)
def test_npz_errors(tmp_path, arrays, message):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(DataError, match=message) as e:
        load_data(f"npz:{p}")
    assert str(p) in str(e.value)


def test_npz_corrupt_file(tmp_path):
    p = tmp_path / "c.npz"
    p.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match=str(p)):
        load_data(f"npz:{p}")


# --- spec grammar ----------------------------------------------------------------------


def test_spec_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown dataset type 'foo'.*mnist5k"):
        load_data("foo:bar")
    with pytest.raises(ConfigError, match="unknown dataset 'cifar11'"):
        load_data("cifar11")
    with pytest.raises(ConfigError, match="empty"):
        load_data(" ")
    with pytest.raises(ConfigError, match="needs a path"):
        load_data("npz:")
    with pytest.raises(ConfigError, match="'wds' needs a path: wds:DIR"):
        load_data("wds")
    missing = tmp_path / "nope.npz"
    with pytest.raises(DataError, match=str(missing)):
        load_data(f"npz:{missing}")
    with pytest.raises(DataError, match="does not exist"):
        load_data(str(missing))
    (tmp_path / "odd.bin").write_bytes(b"x")
    with pytest.raises(DataError, match="cannot tell"):
        load_data(str(tmp_path / "odd.bin"))


def test_options_are_checked_and_coerced(tmp_path):
    p = tmp_path / "v.npz"
    np.savez(p, x=np.zeros((10, 2)), y=np.arange(10) % 2)
    with pytest.raises(ConfigError, match="does not take option.*bogus.*valid: test_fraction"):
        load_data(f"npz:{p}", bogus=1)
    with pytest.raises(ConfigError, match="test_fraction expects float"):
        load_data(f"npz:{p}", test_fraction="half")
    assert len(load_data(f"npz:{p}", test_fraction="0.5", seed="3").test) == 6


def test_list_datasets_names_every_source():
    names = list_datasets()
    assert set(names) == {
        "mnist5k",
        "idx",
        "cifar10",
        "cifar100",
        "wds",
        "npz",
        "tsv",
        "text",
        "lm",
    }
    assert "limit" in names["wds"]
