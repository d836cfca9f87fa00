"""``acn.runs.Run``: the one reader of a run directory, on a real two-epoch run."""

from __future__ import annotations

import json

import pytest
import torch

from acn.errors import CheckpointError
from acn.runs import Run


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_runs) -> Run:
    return Run(tiny_runs.copy("train", tmp_path_factory.mktemp("run")))


def test_reads_everything_a_finished_run_holds(finished: Run) -> None:
    assert finished.exists and finished.finished and finished.has_checkpoint
    assert finished.config.epochs == 2
    records = finished.metrics()
    assert [r["epoch"] for r in records][-1] == 2
    s = finished.summary
    assert s["accuracy"] == records[-1]["accuracy"]
    assert len(s["accuracy_per_depth"]) == s["depth"] + 1
    model = finished.model()
    assert model.depth == s["depth"] and not model.training
    x = model.example_input(2, generator=torch.Generator().manual_seed(0))
    assert model(x).shape == (2, finished.config.model.overrides.get("num_classes", 4))


@pytest.mark.parametrize(
    "text, words",
    [
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"depth": 3}), "no cutoff_depth"),
        ("{not json", "cannot read"),
    ],
)
def test_a_summary_of_the_wrong_shape_is_one_line(tmp_path, text: str, words: str) -> None:
    (tmp_path / "summary.json").write_text(text)
    with pytest.raises(CheckpointError, match=words):
        _ = Run(tmp_path).summary


def test_missing_parts_are_named(tmp_path) -> None:
    run = Run(tmp_path)
    assert not run.exists and not run.finished and not run.has_checkpoint
    for read, words in [
        (lambda: run.config, "not a run directory"),
        (lambda: run.summary, "has not finished"),
        (lambda: run.model(), "no checkpoint"),
    ]:
        with pytest.raises(CheckpointError, match=words):
            read()
    assert run.metrics() == []
