"""WebDataset tar shards of images: each sample is KEY.jpg|png (+ other image types) + KEY.cls.

Shards whose file name starts with "test" or "val" form the test split, the rest the train
split (the layout of cifar10-jpeg-wds: train-000..009.tar, test-000..001.tar). Without test
shards a stratified `test_fraction` of train is held out.

Decoding 60k JPEGs takes seconds, so the decoded uint8 arrays are cached as one .npz keyed on
the shards' names, sizes and mtimes (see acn.data.cache); later loads just read that file.
"""

from __future__ import annotations

import glob
import io
import multiprocessing
import os
import tarfile
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ...errors import ConfigError, DataError
from .. import cache
from ..dataset import ArrayDataset, DataSplits, make_splits
from ..splits import stratified_split
from .common import (
    class_names,
    existing,
    label_tensor,
    num_classes,
    open_regular,
    parse_label,
    reading,
)

IMAGE_EXTS = {"jpg", "jpeg", "png", "webp", "ppm", "pgm", "bmp"}
MAX_MEMBER_BYTES = 64 << 20  # one encoded image or label; larger is not a dataset sample
SHARD_PATTERNS = ("*.tar", "*.tar.gz", "*.tgz")


def find_shards(path: str) -> tuple[list[Path], list[Path]]:
    """(train_shards, test_shards) from a directory or a glob pattern."""
    if any(ch in path for ch in "*?["):
        shards = [Path(p) for p in sorted(glob.glob(os.path.expanduser(path)))]
        if not shards:
            raise DataError(f"no shards match {path}")
    else:
        d = existing(path)
        shards = [d] if d.is_file() else sorted(f for pat in SHARD_PATTERNS for f in d.glob(pat))
        if not shards:
            raise DataError(f"no .tar shards in {d}")
    is_test = [p.name.startswith(("test", "val")) for p in shards]
    train = [p for p, t in zip(shards, is_test) if not t]
    test = [p for p, t in zip(shards, is_test) if t]
    if not train:
        raise DataError(f"no training shards (names not starting with test/val) in {path}")
    return train, test


def _decode(data: bytes) -> np.ndarray:
    # Pillow only warns between its pixel limit and twice that: refuse both (a decompression bomb
    # is a few bytes in the shard and gigabytes once decoded)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                return np.asarray(im if im.mode in ("L", "RGB") else im.convert("RGB"))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ValueError(f"image too large to decode safely ({e})") from None


def _split_key(name: str) -> tuple[str, str]:
    """WebDataset convention: the key is the path up to the first dot of the base name."""
    head, _, base = name.rpartition("/")
    stem, _, ext = base.partition(".")
    return (f"{head}/{stem}" if head else stem), ext.lower()


def read_shard(shard: Path, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Decode one shard into (uint8 [N,H,W] or [N,H,W,3], int64 [N]); at most `limit` samples."""
    images: list[np.ndarray] = []
    labels: list[int] = []
    sample: dict[str, bytes] = {}
    key = None

    def finish() -> None:
        if key is None:
            return
        img_ext = next((e for e in sample if e in IMAGE_EXTS), None)
        if img_ext is None or "cls" not in sample:
            raise DataError(f"sample {key!r} lacks an image or a .cls label in shard {shard}")
        try:
            img = _decode(sample[img_ext])
            label = sample["cls"].decode()
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"corrupt sample {key!r} in shard {shard}: {exc}") from exc
        labels.append(parse_label(label, f"sample {key!r} in shard {shard}"))
        if images and img.shape != images[0].shape:
            raise DataError(
                f"sample {key!r} is {img.shape}, earlier ones {images[0].shape}, in shard {shard}"
            )
        images.append(img)

    # Streaming mode reads the file once, front to back, and reports a member cut short.
    with (
        open_regular(shard, what="shard") as f,
        reading(shard, "shard"),
        tarfile.open(fileobj=f, mode="r|*") as tf,
    ):
        for member in tf:
            if not member.isfile():
                continue
            if member.size > MAX_MEMBER_BYTES:
                raise DataError(
                    f"member {member.name!r} of shard {shard} is {member.size:,} bytes, more "
                    f"than the {MAX_MEMBER_BYTES:,} of a sample acn reads"
                )
            k, ext = _split_key(member.name)
            if k != key:
                finish()
                if limit is not None and len(images) >= limit:
                    break
                key, sample = k, {}
            sample[ext] = tf.extractfile(member).read()
        else:
            finish()
            _check_end_marker(shard)
    if not images:
        raise DataError(f"no samples in shard {shard}")
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def _check_end_marker(shard: Path) -> None:
    """tarfile silently stops at a cut between members, so check the end-of-archive marker:
    a complete .tar ends in (at least) two zero blocks, while a cut one ends in a header or
    in a member's last data block (image bytes, label digits), never 1024 zero bytes."""
    if shard.suffix != ".tar":
        return  # compressed shards: gzip itself detects a cut-off stream
    with open_regular(shard, what="shard") as f:
        f.seek(max(0, shard.stat().st_size - 1024))
        tail = f.read()
    if len(tail) < 1024 or tail.count(0) != len(tail):
        raise DataError(f"shard is truncated (no end-of-archive marker): {shard}")


def _read_sequential(shards: list[Path], limit: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    remaining = limit
    for s in shards:
        if remaining is not None and remaining <= 0:
            break
        parts.append(read_shard(s, remaining))
        remaining = None if remaining is None else remaining - len(parts[-1][1])
    return parts


def _concat(
    parts: list[tuple[np.ndarray, np.ndarray]], shards: list[Path]
) -> tuple[np.ndarray, np.ndarray]:
    if not parts:
        return np.zeros((0,), np.uint8), np.zeros((0,), np.int64)
    for part, shard in zip(parts, shards):
        if part[0].shape[1:] != parts[0][0].shape[1:]:
            raise DataError(
                f"images in {shard} are {part[0].shape[1:]}, in {shards[0]} {parts[0][0].shape[1:]}"
            )
    x = np.concatenate([p[0] for p in parts])
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # -> NCHW
    return np.ascontiguousarray(x), np.concatenate([p[1] for p in parts])


def _decode_all(train: list[Path], test: list[Path], limit: int | None, workers: int) -> dict:
    if workers > 1 and limit is None and len(train) + len(test) > 1:
        # fork avoids re-importing torch in every worker; the work itself is pure PIL/numpy.
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
        try:
            futures = [[pool.submit(read_shard, s) for s in shards] for shards in (train, test)]
            tr, te = ([f.result() for f in fs] for fs in futures)
        finally:
            pool.shutdown(cancel_futures=True)
    else:
        tr, te = _read_sequential(train, limit), _read_sequential(test, limit)
    (train_x, train_y), (test_x, test_y) = _concat(tr, train), _concat(te, test)
    return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}


def load_wds(
    path: str,
    limit: int | None = None,
    cache_dir: str | None = None,
    workers: int | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> DataSplits:
    """Image classification from WebDataset shards.

    limit: decode at most this many samples per split (quick runs).
    workers: decoding processes (default min(2, CPUs)); cache_dir: see acn.data.cache.
    test_fraction/seed: stratified hold-out used only when there are no test shards.
    """
    if limit is not None and limit <= 0:
        raise ConfigError(f"limit must be positive, got {limit}")
    train_shards, test_shards = find_shards(path)
    shards = train_shards + test_shards
    entry = cache.cache_dir(cache_dir) / (cache.cache_key("wds", shards, limit=limit) + ".npz")
    arrays = cache.load_arrays(entry)
    if arrays is None:
        n_workers = workers if workers is not None else min(2, os.cpu_count() or 1)
        arrays = _decode_all(train_shards, test_shards, limit, n_workers)
        cache.save_arrays(entry, arrays)
    source = str(path)
    train_y = label_tensor(arrays["train_y"], source)
    classes = class_names(num_classes(train_y), source)
    train = ArrayDataset(
        torch.from_numpy(arrays["train_x"]), train_y, classes, "image", source=source
    )
    if test_shards:
        test_y = label_tensor(arrays["test_y"], source)
        test = ArrayDataset(
            torch.from_numpy(arrays["test_x"]), test_y, classes, "image", source=source
        )
    else:
        train, test = stratified_split(train, test_fraction, seed)
    return make_splits(f"wds:{Path(path).name}", source, train, test, cache_file=str(entry))
