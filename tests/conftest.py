"""What the test modules share: where the development data lives, tiny trained runs made once per
session, and the markers (``slow``, ``ddp``, ``export``, ``e2e``; registered in pyproject.toml).

The development data (``../shared/data`` beside a
clone) is never part of a user's checkout. Its location is read here and only here: the
environment variable ``ACN_SHARED_DATA``, else ``<repo>/../shared/data``. A test that needs a
dataset asks the ``shared_data`` fixture, which skips it with a reason naming the dataset and the
variable where the data is absent, and fails it instead when ``ACN_REQUIRE_SHARED_DATA=1`` (CI
sets that for its pass with the data, so that a moved dataset cannot turn into silent skips).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from _compress_runs import make_run
from _exits_helpers import trained_run
from _train_helpers import tiny_config
from acn.train import train

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA_VAR = "ACN_SHARED_DATA"
REQUIRE_SHARED_DATA_VAR = "ACN_REQUIRE_SHARED_DATA"


def shared_data_root() -> Path:
    """The folder of development datasets: $ACN_SHARED_DATA, else <repo>/../shared/data."""
    return Path(os.environ.get(SHARED_DATA_VAR) or REPO.parent / "shared" / "data").expanduser()


@pytest.fixture(scope="session")
def shared_data() -> Callable[[str], Path]:
    """``shared_data("sst2")``: the path of a development dataset, or a skip that names it."""

    def get(name: str) -> Path:
        path = shared_data_root() / name
        if not path.exists():
            reason = (
                f"development dataset {name!r} not found at {path} "
                f"(set {SHARED_DATA_VAR} to the folder that holds it)"
            )
            if os.environ.get(REQUIRE_SHARED_DATA_VAR) == "1":
                pytest.fail(f"{reason}; {REQUIRE_SHARED_DATA_VAR}=1 requires it")
            pytest.skip(reason)
        return path

    return get


# -- tiny trained runs, one of each kind per session -----------------------------------------------


def _trained(root: Path) -> Path:
    """``acn.train`` on the tiny quadrant data, 2 epochs of 4 steps: RUN = root/run."""
    return train(tiny_config(root), progress=False, log=None).run_dir


# kind -> builder(root) -> run directory inside root (a builder may put its data file in root too)
RUN_KINDS: dict[str, Callable[[Path], Path]] = {
    # a Mixer trained by 40 plain SGD steps, laid out as `acn train` lays a run out
    "mixer-acn": lambda root: make_run(root, "acn"),
    "mixer-residual": lambda root: make_run(root, "residual"),
    # the real training loop
    "train": _trained,
    "exits": lambda root: trained_run(root, "--loss=exits"),
    "exits-branches": lambda root: trained_run(
        root, "--loss=exits", "--model.overrides.exit_branches=[1,2]"
    ),
}


class TinyRuns:
    """Runs of each kind in :data:`RUN_KINDS`, trained on first use and kept untouched for the
    session; every user gets its own copy, so that what one test writes into a run (a probe/
    folder, a resumed or damaged checkpoint) never reaches another."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._runs: dict[str, Path] = {}

    def _pristine(self, kind: str) -> Path:
        if kind not in self._runs:
            (self.root / kind).mkdir()
            self._runs[kind] = RUN_KINDS[kind](self.root / kind)
        return self._runs[kind]

    def copy(self, kind: str, dest: Path, name: str | None = None) -> Path:
        """A private copy of the ``kind`` run (with its data file) under ``dest``, named ``name``
        or as the original (e.g. ``run_acn``); links inside it stay links."""
        run = self._pristine(kind)
        shutil.copytree(run.parent, dest, symlinks=True, dirs_exist_ok=True)
        if name is None or name == run.name:
            return dest / run.name
        return (dest / run.name).rename(dest / name)


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory) -> TinyRuns:
    return TinyRuns(tmp_path_factory.mktemp("tiny-runs"))


# -- markers -----------------------------------------------------------------------------------------

# "module.py" marks every test in it; "module.py::test_name" one test (all its parameters).
MARKS: dict[str, tuple[str, ...]] = {
    "test_train_ddp.py": ("ddp", "slow"),
    "test_exits_ddp.py": ("ddp", "slow"),
    "test_train_autocut.py::test_two_processes_cut_at_the_same_step_as_one": ("ddp", "slow"),
    "test_export.py": ("export",),
    "test_export_onnx.py": ("export",),
    "test_cli_end_to_end.py": ("e2e", "slow"),
    "test_reproduce_smoke.py::test_every_experiment_at_smoke_scale": ("e2e", "slow"),
    "test_demo.py": ("e2e",),
}


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by these markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.name
        test = getattr(item, "originalname", item.name)
        names = MARKS.get(module, ()) + MARKS.get(f"{module}::{test}", ())
        for name in names:
            item.add_marker(getattr(pytest.mark, name))
        # CI's pass with the development data leaves out `slow and not e2e` (see .ci/run)
        marks = {m.name for m in item.iter_markers()}
        if "slow" in marks and "e2e" not in marks and "shared_data" in item.fixturenames:
            raise pytest.UsageError(
                f"{item.nodeid} is slow and reads the development data: mark it e2e too"
            )
