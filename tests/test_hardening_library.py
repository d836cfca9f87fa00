"""Bad inputs to model files, pretrained directories, configs and exports: one line, exit 2,
nothing written, never a hang, a traceback or memory spent before the check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import save_model

import acn
from _hardening import one_line_error
from acn.cli import main
from acn.errors import CheckpointError
from acn.models import tiny_overrides
from acn.runs import Run
from acn.utils import _HOST, atomic_write

MLP_RUN = {
    "model": {"name": "mlp_s8", "connectivity": "acn", "overrides": {"depth": 3, "dim": 32}},
    "data": {"spec": "mnist5k", "per_class": 10},
    "epochs": 1,
    "batch_size": 50,
    "optim": {"warmup_epochs": 0},
}


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory) -> Path:
    """An MLP trained on images (mnist5k, [1, 28, 28]) through `acn train`."""
    root = tmp_path_factory.mktemp("mlp")
    config = root / "mlp.yaml"
    config.write_text(yaml.safe_dump({**MLP_RUN, "out_dir": str(root / "run")}))
    assert main(["train", str(config), "--no-progress"]) == 0
    return root / "run"


def tiny_model() -> acn.StackModel:
    torch.manual_seed(0)
    return acn.create_model("mixer_s8", **tiny_overrides("mixer_s8")).eval()


def files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


# -- 1: an MLP trained on images exports in both formats ---------------------------------------


@pytest.mark.parametrize("fmt", ["pt2", "onnx"])
def test_an_mlp_trained_on_images_exports_and_takes_images(mlp_run, tmp_path, fmt, capsys):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime", reason="the export extra is not installed")
    out = tmp_path / "run-export"
    assert main(["export", str(mlp_run), "--format", fmt, "--out", str(out)]) == 0, (
        capsys.readouterr().err
    )
    assert "64 test inputs" in capsys.readouterr().out
    # a bare copy of the model file: the same with --data, and on example inputs without
    bare = tmp_path / "bare.safetensors"
    bare.write_bytes(Run(mlp_run).model_path.read_bytes())
    assert (
        main(
            [
                "export",
                str(bare),
                "--format",
                fmt,
                "--data",
                "mnist5k",
                "--out",
                str(tmp_path / "a"),
            ]
        )
        == 0
    )
    assert main(["export", str(bare), "--format", fmt, "--out", str(tmp_path / "b")]) == 0
    if fmt == "pt2":  # the graph takes what the model was trained on: [B, 1, 28, 28] images
        program = torch.export.load(str(tmp_path / "b" / "model.d3.pt2")).module()
        x = torch.rand(5, 1, 28, 28)
        with torch.no_grad():
            torch.testing.assert_close(program(x), acn.load(bare)(x), atol=1e-5, rtol=0)


def test_an_mlp_run_records_what_using_it_needs(mlp_run):
    cfg = acn.load(mlp_run).pretrained_cfg
    assert cfg["input_shape"] == [1, 28, 28] and cfg["kind"] == "image"
    assert cfg["data"]["spec"] == "mnist5k" and len(cfg["class_names"]) == 10
    assert len(cfg["mean"]) == len(cfg["std"]) == 1 and cfg["loss"] == "ce"


# -- 2: a FIFO (or any non-regular file) where a file is read never hangs -----------------------


@contextmanager
def fifo(path: Path) -> Iterator[list[bool]]:
    """A FIFO at ``path``; should anything open it for reading (and block), a rescuer opens its
    write end, so the test fails instead of hanging. Yields [whether a reader was rescued]."""
    os.mkfifo(path)
    rescued, done = [False], threading.Event()

    def rescue() -> None:
        while not done.wait(0.2):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: no reader waiting
                continue
            rescued[0] = True
            os.close(fd)

    thread = threading.Thread(target=rescue, daemon=True)
    thread.start()
    try:
        yield rescued
    finally:
        done.set()
        thread.join()


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "{fifo}", "--format", "pt2"],
        ["probe", "{fifo}"],
        ["cost", "{fifo}", "--no-time"],
        ["train", "{fifo}", "--print-config"],
    ],
)
def test_a_fifo_as_a_model_or_config_path_is_refused(tmp_path, argv):
    # in a process of its own: a reader blocked in safetensors' open holds the GIL, so nothing
    # in this process could rescue it; the timeout turns a hang into a failure
    path = tmp_path / "x.safetensors"
    os.mkfifo(path)
    cmd = [sys.executable, "-m", "acn", *(a.format(fifo=path) for a in argv)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    err = proc.stderr.strip()
    assert proc.returncode == 2 and err.startswith("acn: error: ") and "\n" not in err, err
    assert "not a regular file" in err


def test_a_fifo_inside_a_pretrained_directory_is_refused(tmp_path):
    d = tiny_model().save_pretrained(tmp_path / "p")
    (d / "config.json").unlink()
    save_model(tiny_model(), str(d / "model.safetensors"))  # plain weights: config.json is read
    with fifo(d / "config.json") as rescued, pytest.raises(CheckpointError, match="regular file"):
        acn.from_pretrained(d)
    assert not rescued[0]


# -- 3: a YAML alias bomb is refused before it is expanded --------------------------------------

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
)  # 10^9 values once expanded, in 500 bytes


def test_a_yaml_alias_bomb_is_refused(tmp_path, capsys):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    start = time.monotonic()
    one_line_error(capsys, ["train", str(bomb), "--print-config"], "expands to more than 100,000")
    # the same bomb as one command-line value
    flow = "{" + ", ".join(line.replace(": &", ": &", 1) for line in BOMB.splitlines()) + "}"
    one_line_error(capsys, ["train", f"--loss_options={flow}", "--print-config"], "expands to")
    assert time.monotonic() - start < 30


def test_an_export_of_a_run_holding_an_alias_bomb_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    acn.save(tiny_model(), run / "checkpoint" / "model.safetensors")  # no pretrained_cfg
    (run / "config.yaml").write_text(BOMB)
    before = files(tmp_path)
    one_line_error(capsys, ["export", str(run), "--format", "pt2"], "expands to more than")
    assert files(tmp_path) == before


def test_a_self_referencing_alias_is_refused(tmp_path, capsys):
    bomb = tmp_path / "loop.yaml"
    bomb.write_text("model: &m {overrides: *m}\n")
    one_line_error(capsys, ["train", str(bomb), "--print-config"], "refers to its own anchor")


# -- 4 and 5: deeply nested or huge JSON in model files and config.json ---------------------------

DEEP = "[" * 200_000 + "]" * 200_000


def test_deeply_nested_config_json_is_one_line(tmp_path, capsys):
    d = tiny_model().save_pretrained(tmp_path / "p")
    save_model(tiny_model(), str(d / "model.safetensors"))  # plain weights: config.json is read
    (d / "config.json").write_text(DEEP)
    with pytest.raises(CheckpointError, match="nested too deeply"):
        acn.from_pretrained(d)
    one_line_error(capsys, ["export", str(d), "--format", "pt2"], "nested too deeply")
    assert not (d / "export").exists()


@pytest.mark.parametrize("key", ["config", "pretrained_cfg"])
def test_deeply_nested_metadata_is_one_line(tmp_path, capsys, key):
    model = tiny_model()
    meta = {"acn_format": "1", "family": model.family, "config": json.dumps(
        {k: list(v) if isinstance(v, tuple) else v for k, v in vars(model.config).items()}
    )}  # fmt: skip
    meta[key] = DEEP
    path = tmp_path / "m.safetensors"
    save_model(model, str(path), metadata=meta)
    with pytest.raises(CheckpointError, match="nested too deeply"):
        acn.load(path)
    one_line_error(capsys, ["export", str(path), "--format", "pt2"], "nested too deeply")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_a_huge_config_json_is_refused_before_it_is_read(tmp_path):
    d = tiny_model().save_pretrained(tmp_path / "p")
    save_model(tiny_model(), str(d / "model.safetensors"))
    with (d / "config.json").open("wb") as f:  # 2 GB, sparse: no disk spent
        f.truncate(2 << 30)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=r"config.json .* is 2048.00 MiB, more than"):
            acn.from_pretrained(d)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20


# -- 6: hub ids and URLs are named as what they are -------------------------------------------


@pytest.mark.parametrize(
    "name", ["bert-base-uncased", "google/vit-base-patch16-224", "https://huggingface.co/gpt2"]
)
def test_from_pretrained_says_hub_ids_are_never_downloaded(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError) as info:
        acn.from_pretrained(name)
    message = str(info.value)
    assert f"{name!r} does not exist" in message and "never downloads" in message
    assert "\n" not in message


# -- 22: killed writes, override syntax ---------------------------------------------------------


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_write_removes_the_temporary_files_of_killed_writes(tmp_path):
    target = tmp_path / "model.d3.pt2"
    atomic_write(target, lambda tmp: Path(tmp).write_text("first"))
    # what a write killed mid-way leaves (this host, a process that is gone), what a write in
    # progress holds (this process), and files that are not ours
    stale = tmp_path / f".model.d3.pt2.{_HOST}-{dead_pid()}-k1ll3d.tmp"
    live = tmp_path / f".model.d3.pt2.{_HOST}-{os.getpid()}-busy.tmp"
    other_host = tmp_path / f".model.d3.pt2.00000000-{dead_pid()}-far.tmp"
    other_target = tmp_path / f".model.d2.pt2.{_HOST}-{dead_pid()}-k1ll3d.tmp"
    for p in (stale, live, other_host, other_target):
        p.write_text("partial")
    atomic_write(target, lambda tmp: Path(tmp).write_text("second"))
    assert target.read_text() == "second"
    assert not stale.exists()
    assert live.exists() and other_host.exists() and other_target.exists()


def test_an_export_cleans_up_after_a_killed_export(mlp_run, tmp_path, capsys):
    out = tmp_path / "exp"
    out.mkdir()
    stale = out / f".model.d3.pt2.{_HOST}-{dead_pid()}-k1ll3d.tmp"
    stale.write_bytes(b"half an export")
    assert main(["export", str(mlp_run), "--format", "pt2", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["model.d3.pt2", "model.d3.pt2.json"]


def test_a_mapping_override_merges_and_is_never_a_config_path(tmp_path, capsys):
    assert main(["train", "--model.overrides={depth: 2}", "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["overrides"] == {"depth": 2}
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"model": {"overrides": {"depth": 3, "dim": 16}}}))
    for argv in (
        ["train", str(config), "--model.overrides={depth: 2}", "--print-config"],
        ["train", "--model.overrides={depth: 2}", str(config), "--print-config"],
    ):
        assert main(argv) == 0
        printed = yaml.safe_load(capsys.readouterr().out)
        assert printed["model"]["overrides"] == {"depth": 2, "dim": 16}
    assert main(["train", str(config), "--model.overrides={}", "--print-config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["model"]["overrides"] == {}  # {} clears
