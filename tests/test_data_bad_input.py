"""Hostile and mistyped data files through the command line: one ``acn: error:`` line, exit 2,
nothing written, no hang, and no memory spent on what a header or a label only claims.

Each case is ``acn train CONFIG --data.spec=SPEC`` on a tiny run config. Cases that are about
memory run under a cap on the process's data segment (RLIMIT_DATA, Linux): reading the 2 GB file
or building the 10^12-entry class list would raise MemoryError there instead of passing slowly.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import resource
import sys
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _hardening import one_line_error, tiny_run_config
from _train_helpers import tiny_npz

BIG = 2 << 30  # the 2 GB files of the reports, made sparse: no disk is used


@pytest.fixture
def place(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ACN_CACHE_DIR", str(tmp_path / "cache"))
    tiny_run_config(tmp_path, epochs=1)
    return tmp_path


def snapshot(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def refused(capsys, place: Path, spec: str, match: str) -> str:
    """``acn train`` on ``spec``: one line matching ``match``, exit 2, nothing new on disk."""
    before = snapshot(place)
    argv = ["train", str(place / "tiny.yaml"), "--no-progress", f"--data.spec={spec}"]
    err = one_line_error(capsys, argv, match)
    assert snapshot(place) == before and not (place / "run").exists()
    return err


@contextlib.contextmanager
def memory_cap(extra: int = 256 << 20) -> Iterator[None]:
    """Allow the process only ``extra`` more bytes of heap and anonymous memory meanwhile."""
    if not sys.platform.startswith("linux"):
        pytest.skip("RLIMIT_DATA caps anonymous memory on Linux only")
    status = Path("/proc/self/status").read_text()
    used = int(re.search(r"VmData:\s+(\d+) kB", status).group(1)) * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    resource.setrlimit(resource.RLIMIT_DATA, (used + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def sparse(path: Path, size: int = BIG, head: bytes = b"") -> Path:
    with path.open("wb") as f:
        f.write(head)
        f.truncate(size)
    return path


def fifo(path: Path) -> Path:
    """A FIFO nobody writes to. If the code under test opens it for reading anyway, a watchdog
    opens and closes the writing end after a while, so that the test fails instead of hanging."""
    os.mkfifo(path)

    def release() -> None:
        time.sleep(20)
        with contextlib.suppress(OSError):  # ENXIO: no reader waits, the code did not block
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    threading.Thread(target=release, daemon=True).start()
    return path


def tsv_dir(root: Path, train: str, test: str = "sentence\tlabel\na b\t0\nc d\t1\n") -> Path:
    root.mkdir()
    (root / "train.tsv").write_text(train, encoding="utf-8")
    (root / "test.tsv").write_text(test, encoding="utf-8")
    return root


def wds_dir(root: Path, label: bytes) -> Path:
    """Train and test shards of two 8x8 PNGs each; the first training sample has ``label``."""
    root.mkdir()
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, format="PNG")
    for name, first in (("train-0.tar", label), ("test-0.tar", b"0")):
        with tarfile.open(root / name, "w") as tf:
            for i, cls in enumerate((first, b"1")):
                for ext, data in (("png", buf.getvalue()), ("cls", cls)):
                    info = tarfile.TarInfo(f"s{i}.{ext}")
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
    return root


def npy_member(shape: tuple[int, ...], payload: bytes, descr: str = "<f4") -> bytes:
    """An .npy file whose header claims ``shape`` whatever ``payload`` really holds."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + payload


# -- 2: FIFOs and devices are named as what they are, and never waited on ----------------------


def test_fifos_and_devices_as_data_paths(place, capsys):
    pipe = fifo(place / "pipe.npz")
    refused(capsys, place, f"npz:{pipe}", r"expected a regular file, got a FIFO: .*pipe\.npz")
    refused(capsys, place, str(pipe), r"expected a regular file or a directory, got a FIFO")
    refused(capsys, place, "text:/dev/zero", r"expected a regular file, got a character device")
    refused(capsys, place, "npz:/dev/null", r"expected a regular file, got a character device")
    refused(capsys, place, f"npz:{place}", r"expected a regular file, got a directory")
    refused(capsys, place, f"tsv:{place / 'tiny.yaml'}", r"expected a directory, got a file")


PARTS = {
    "idx": ["train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
    "tsv": ["test.tsv"],
    "wds": [],
    "cifar10": ["test_batch"],
}


@pytest.mark.parametrize(
    ("source", "member"),
    [
        ("idx", "train-images-idx3-ubyte"),
        ("tsv", "train.tsv"),
        ("wds", "train-0.tar"),
        ("cifar10", "data_batch_1"),
    ],
)
def test_a_fifo_inside_a_data_directory(place, capsys, source, member):
    d = place / "data"
    d.mkdir()
    for other in PARTS[source]:  # the rest of the layout, so that the FIFO is what is read
        (d / other).write_text("sentence\tlabel\n" if other.endswith(".tsv") else "")
    fifo(d / member)
    refused(capsys, place, f"{source}:{d}", rf"expected a regular file, got a FIFO: .*{member}")


# -- 15: a label is a class index, never the size of a list to build ---------------------------


def test_a_huge_label_in_npz_tsv_and_webdataset(place, capsys):
    src = np.load(tiny_npz(place / "base.npz"))
    y = src["y"].copy()
    y[3] = 10**12
    np.savez(place / "train-label.npz", x=src["x"], y=y)
    np.savez(place / "test-label.npz", x=src["x"], y=src["y"], x_test=src["x"], y_test=y)
    rows = (
        "sentence\tlabel\n"
        + "".join(f"w{i} v\t{i % 2}\n" for i in range(6))
        + "x y\t1000000000000\n"
    )
    tsv = tsv_dir(place / "tsv", rows)
    wds = wds_dir(place / "wds", b"1000000000000")
    digits = tsv_dir(place / "digits", "sentence\tlabel\na b\t" + "9" * 100_000 + "\n")
    message = r"label 1000000000000 is not a class index acn accepts \(0\.\.99,999\)"
    with memory_cap():
        refused(capsys, place, f"npz:{place / 'train-label.npz'}", message)
        refused(capsys, place, f"npz:{place / 'test-label.npz'}", message)
        refused(capsys, place, f"tsv:{tsv}", message)
        refused(capsys, place, f"wds:{wds}", rf"sample 's0' in shard .*: {message}")
        refused(capsys, place, f"tsv:{digits}", r"label 9999.*\.\.\. is not a class index")


# -- 16: an .npy header is checked against the bytes its member holds --------------------------


def test_a_crafted_npy_header_in_an_npz(place, capsys):
    bad = place / "crafted.npz"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("x.npy", npy_member((10**13,), b"\0" * 64))
        z.writestr("y.npy", npy_member((4,), np.arange(4, dtype="<i8").tobytes(), "<i8"))
    with memory_cap():
        refused(
            capsys,
            place,
            f"npz:{bad}",
            r"array 'x' in .*crafted\.npz claims shape \(10000000000000,\) of float32 "
            r"\(40,000,000,000,000 bytes\) but holds 64 bytes",
        )


def test_arrays_beyond_the_memory_limit_are_refused_by_their_headers(place, capsys, monkeypatch):
    monkeypatch.setattr("acn.data.sources.npz.MAX_ARRAY_BYTES", 1 << 10)
    monkeypatch.setattr("acn.data.sources.idx.MAX_ARRAY_BYTES", 1 << 10)
    refused(
        capsys, place, f"npz:{tiny_npz(place / 'd.npz')}", r"KiB of arrays, more than the 1\.0 KiB"
    )
    idx = place / "idx"
    idx.mkdir()
    dims = b"".join(n.to_bytes(4, "big") for n in (60000, 28, 28))
    sparse(idx / "train-images-idx3-ubyte", 16 + 60000 * 784, b"\x00\x00\x08\x03" + dims)
    for other in PARTS["idx"]:
        (idx / other).write_bytes(b"")
    refused(capsys, place, f"idx:{idx}", r"IDX header promises 44\.9 MiB, more than the 1\.0 KiB")


# -- 17, 18: sizes and magic numbers are checked before the bulk is read ------------------------


def test_a_2gb_text_file_is_refused_by_its_size(place, capsys):
    big = sparse(place / "big.txt")
    tsv = place / "tsv"
    tsv.mkdir()
    sparse(tsv / "train.tsv", head=b"sentence\tlabel\n")
    (tsv / "test.tsv").write_text("sentence\tlabel\na\t0\n")
    with memory_cap():
        refused(
            capsys, place, f"text:{big}", r"text file .*big\.txt is 2\.0 GiB, more than the 256"
        )
        refused(
            capsys, place, f"tsv:{tsv}", r"TSV file .*train\.tsv is 2\.0 GiB, more than the 256"
        )


def test_idx_magic_is_checked_before_the_data_is_read(place, capsys):
    idx = place / "idx"
    idx.mkdir()
    sparse(idx / "train-images-idx3-ubyte", head=b"GARBAGE!")
    sparse(idx / "train-labels-idx1-ubyte", head=b"GARBAGE!")
    with memory_cap():
        refused(capsys, place, f"idx:{idx}", r"not an IDX file \(bad magic number\)")


# -- 19, 20: TSV labels and fields that the csv module or int() would choke on -----------------


def test_tsv_labels_that_only_look_like_digits(place, capsys):
    superscript = tsv_dir(place / "sup", "sentence\tlabel\na b\t0\nc d\t1\ne f\t²\n")
    refused(capsys, place, f"tsv:{superscript}", r"train\.tsv: labels mix class indices")
    # leading zeros are the same class index, in train and test alike
    zeros = tsv_dir(
        place / "zeros", "sentence\tlabel\na b\t00\nc d\t01\n", "sentence\tlabel\nx\t1\n"
    )
    from acn.data import load_data

    s = load_data(f"tsv:{zeros}", vocab_size=20, cache_dir=str(place / "cache"))
    assert (
        s.info["classes"] == ["0", "1"]
        and s.train.y.tolist() == [0, 1]
        and s.test.y.tolist() == [1]
    )


def test_a_tsv_field_over_the_csv_limit(place, capsys):
    d = tsv_dir(place / "long", "sentence\tlabel\nshort\t0\n" + "w" * 200_000 + "\t1\n")
    refused(capsys, place, f"tsv:{d}", r"train\.tsv:3: field larger than field limit")


# -- 21: test labels outside the training classes ------------------------------------------------


def test_npz_test_labels_never_seen_in_training(place, capsys):
    src = np.load(tiny_npz(place / "base.npz"))  # training labels 0..3
    y_test = np.full_like(src["y"], 50)
    np.savez(place / "unseen.npz", x=src["x"], y=src["y"], x_test=src["x"], y_test=y_test)
    refused(
        capsys,
        place,
        f"npz:{place / 'unseen.npz'}",
        r"\(x_test\): label 50 out of range for 4 classes",
    )
