"""Issue 8 section 5.2: one process per run directory (a lock), and a resume that would not
continue the run exactly is refused unless asked for explicitly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from _hardening import one_line_error, tiny_run_config, train_cli
from acn.errors import ConfigError
from acn.runs import Run
from acn.runs.lock import LOCK_FILE, RunLock
from acn.train.checkpoint import read_state


@pytest.fixture
def config(tmp_path):
    return tiny_run_config(tmp_path)


def test_second_process_on_a_run_directory_is_refused(config, tmp_path, capsys):
    run = tmp_path / "run"
    with RunLock(run):  # another process (here: another open file) trains into run/
        assert (run / LOCK_FILE).read_text().strip() == str(os.getpid())
        one_line_error(
            capsys,
            ["train", str(config), "--no-progress"],
            rf"run directory .*run is in use by process {os.getpid()}",
        )
    assert not (run / "metrics.jsonl").exists()  # the refused process wrote nothing
    assert train_cli(str(config)) == 0  # released: the run goes ahead
    assert not (run / LOCK_FILE).exists()


def test_lock_held_by_another_os_process(config, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, str(os.getpid()).encode()); "
            "print('locked', flush=True); sys.stdin.read()",
            str(run / LOCK_FILE),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        one_line_error(
            capsys, ["train", str(config), "--no-progress"], rf"in use by process {holder.pid}"
        )
    finally:
        holder.communicate("")  # the holder exits; the kernel drops its lock
    assert train_cli(str(config)) == 0


def test_stale_lock_of_a_dead_process_is_taken_over(config, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    (run / LOCK_FILE).write_text(dead.stdout.decode())  # left behind by a kill -9
    assert train_cli(str(config)) == 0
    assert len(Run(run).metrics()) == 2 and not (run / LOCK_FILE).exists()


def test_lock_in_an_unwritable_place_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot write run directory") as info:
        RunLock(blocker / "run").acquire()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("change", "names"),
    [
        (["--batch_size=32"], "batch_size"),
        (["--optim.lr=0.01", "--seed=5"], "optim.lr, seed"),
        (["--augment.cutmix_prob=0"], "augment.cutmix_prob"),
    ],
)
def test_resume_with_changed_settings_needs_explicit_consent(
    config, tmp_path, capsys, change, names
):
    run = tmp_path / "run"
    assert train_cli(str(config), "--epochs=1") == 0
    capsys.readouterr()
    argv = ["train", "--resume", str(run), "--epochs=2", *change, "--no-progress"]
    one_line_error(capsys, argv, rf"resuming with changed {names} .*--allow-changed-config")
    assert read_state(run)["epoch"] == 1 and len(Run(run).metrics()) == 1  # nothing changed
    assert train_cli("--resume", str(run), "--epochs=2", *change, "--allow-changed-config") == 0
    assert read_state(run)["epoch"] == 2


def test_more_epochs_and_other_evaluation_settings_resume_freely(config, tmp_path):
    run = tmp_path / "run"
    assert train_cli(str(config), "--epochs=1") == 0
    assert train_cli("--resume", str(run), "--epochs=2", "--eval_batch_size=8") == 0
    assert [r["epoch"] for r in Run(run).metrics()] == [1, 2]


def test_allow_changed_config_needs_resume(config, capsys):
    one_line_error(
        capsys, ["train", str(config), "--allow-changed-config"], "only applies with --resume"
    )
