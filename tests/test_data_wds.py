"""WebDataset shard reader: round trip, cache, limit and corrupt shards."""

from __future__ import annotations

import io
import os
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from acn.data import load_data
from acn.data.sources import wds
from acn.errors import DataError


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ACN_CACHE_DIR", str(tmp_path / "cache"))


def encode(img: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG" if fmt == "jpg" else "PNG", quality=95)
    return buf.getvalue()


def write_shard(path, samples) -> None:
    """samples: (key, {ext: bytes}) in order."""
    with tarfile.open(path, "w") as tf:
        for key, files in samples:
            for ext, data in files.items():
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))


def image_samples(prefix, n, labels, fmt="png", seed=0, shape=(6, 5, 3)):
    rng = np.random.default_rng(seed)
    imgs = [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(n)]
    samples = [
        (f"{prefix}{i:04d}", {fmt: encode(img, fmt), "cls": str(lab).encode()})
        for i, (img, lab) in enumerate(zip(imgs, labels))
    ]
    return imgs, samples


@pytest.fixture
def shard_dir(tmp_path):
    d = tmp_path / "shards"
    d.mkdir()
    imgs_a, a = image_samples("a", 4, [0, 1, 2, 0], seed=1)
    imgs_b, b = image_samples("b", 3, [1, 2, 0], seed=2)
    imgs_t, t = image_samples("t", 2, [2, 1], seed=3)
    write_shard(d / "train-000.tar", a)
    write_shard(d / "train-001.tar", b)
    write_shard(d / "test-000.tar", t)
    return d, imgs_a + imgs_b, imgs_t


def test_png_round_trip_and_cache(shard_dir, tmp_path, monkeypatch):
    d, train_imgs, test_imgs = shard_dir
    s = load_data(f"wds:{d}", workers=1)
    assert s.train.x.shape == (7, 3, 6, 5) and s.test.x.shape == (2, 3, 6, 5)
    assert np.array_equal(s.train.x.permute(0, 2, 3, 1).numpy(), np.stack(train_imgs))
    assert s.train.y.tolist() == [0, 1, 2, 0, 1, 2, 0] and s.test.y.tolist() == [2, 1]
    cache_files = list((tmp_path / "cache").glob("wds-*.npz"))
    assert len(cache_files) == 1 and s.info["cache_file"] == str(cache_files[0])

    def boom(*a, **k):
        raise AssertionError("decoded again although cached")

    monkeypatch.setattr(wds, "read_shard", boom)
    again = load_data(str(d))  # bare directory of .tar -> wds, served from the cache
    assert torch.equal(again.train.x, s.train.x)
    # Changing a shard (size/mtime) invalidates the entry.
    _, more = image_samples("a", 5, [0, 1, 2, 0, 1], seed=9)
    write_shard(d / "train-000.tar", more)
    with pytest.raises(AssertionError, match="decoded again"):
        load_data(str(d), workers=1)


def test_jpeg_grayscale_and_option_cache_dir(tmp_path):
    d = tmp_path / "g"
    d.mkdir()
    imgs, samples = image_samples("k", 3, [0, 1, 0], fmt="jpg", shape=(8, 8))
    imgs = [np.full((8, 8), 40 * (i + 1), np.uint8) for i in range(3)]  # flat: JPEG keeps them
    samples = [
        (k, {"jpg": encode(img, "jpg"), "cls": f["cls"]}) for (k, f), img in zip(samples, imgs)
    ]
    write_shard(d / "train-0.tar", samples)
    write_shard(d / "val-0.tar", samples[:1])
    s = load_data(f"wds:{d}", cache_dir=str(tmp_path / "mine"))
    assert s.train.x.shape == (3, 1, 8, 8) and s.test.x.shape == (1, 1, 8, 8)
    assert (s.train.x[:, 0].float() - torch.from_numpy(np.stack(imgs)).float()).abs().max() <= 2
    assert list((tmp_path / "mine").glob("wds-*.npz"))


def test_limit_and_parallel_decode_agree(shard_dir):
    d, train_imgs, _ = shard_dir
    small = load_data(f"wds:{d}", limit=5, workers=1)
    assert (len(small.train), len(small.test)) == (5, 2)
    assert np.array_equal(small.train.x.permute(0, 2, 3, 1).numpy(), np.stack(train_imgs[:5]))
    seq = wds._decode_all(*wds.find_shards(str(d)), None, 1)
    par = wds._decode_all(*wds.find_shards(str(d)), None, 2)
    assert all(np.array_equal(seq[k], par[k]) for k in seq)


def test_glob_without_test_shards_splits_stratified(tmp_path):
    _, samples = image_samples("s", 10, [0, 1] * 5)
    write_shard(tmp_path / "part-0.tar", samples)
    s = load_data(f"wds:{tmp_path}/part-*.tar", test_fraction=0.2)
    assert (len(s.train), len(s.test)) == (8, 2) and sorted(s.test.y.tolist()) == [0, 1]


def test_truncated_shard_names_it(shard_dir):
    d, _, _ = shard_dir
    shard = d / "train-001.tar"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2 + 100])
    with pytest.raises(DataError, match="train-001.tar"):
        load_data(f"wds:{d}", workers=1)
    # A cut exactly between two samples: tarfile alone would just see fewer samples.
    with tarfile.open(d / "train-000.tar") as tf:
        boundary = tf.getmembers()[4].offset  # header of the third sample
    shard = d / "train-000.tar"
    shard.write_bytes(shard.read_bytes()[:boundary])
    with pytest.raises(DataError, match="truncated.*train-000.tar"):
        wds.read_shard(shard)


def test_corrupt_image_and_missing_label(tmp_path):
    _, samples = image_samples("c", 2, [0, 1])
    samples[1][1]["png"] = b"\x89PNG garbage"
    write_shard(tmp_path / "train-0.tar", samples)
    with pytest.raises(DataError, match="corrupt sample 'c0001' in shard .*train-0.tar"):
        load_data(f"wds:{tmp_path}")
    _, samples = image_samples("c", 2, [0, 1])
    del samples[0][1]["cls"]
    write_shard(tmp_path / "train-0.tar", samples)
    with pytest.raises(DataError, match="'c0000' lacks .*train-0.tar"):
        load_data(f"wds:{tmp_path}")


def test_mixed_image_sizes_across_shards(tmp_path):
    write_shard(tmp_path / "train-0.tar", image_samples("a", 2, [0, 1])[1])
    write_shard(tmp_path / "train-1.tar", image_samples("b", 2, [0, 1], shape=(7, 7, 3))[1])
    with pytest.raises(DataError, match="train-1.tar are"):
        load_data(f"wds:{tmp_path}", workers=1)


def test_not_a_tar_and_empty_dir(tmp_path):
    (tmp_path / "train-0.tar").write_bytes(os.urandom(300))
    with pytest.raises(DataError, match="train-0.tar"):
        load_data(f"wds:{tmp_path}")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=f"no .tar shards in {empty}"):
        load_data(f"wds:{empty}")
    with pytest.raises(DataError, match="no shards match"):
        load_data(f"wds:{tmp_path}/zzz-*.tar")
