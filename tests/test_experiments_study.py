"""The declared study: the worked example in ``acn.experiments.study``'s docstring is a whole
experiment file, and it runs as written; contrasts are oriented by ``higher_is_better``."""

from __future__ import annotations

import re
import sys
import types

import pytest

import acn.experiments.study as study_module
from acn.experiments.measures import Measure
from acn.experiments.results import read_result
from acn.experiments.runner import RunOptions, run_experiment
from acn.experiments.study import Contrast


def example_source() -> str:
    block = re.search(r"\.\. code-block:: python\n\n(.*?)\n\"\"\"", study_module.__doc__ + '\n"""',
                      re.S)  # fmt: skip
    lines = block.group(1).splitlines()
    return "\n".join(line[4:] for line in lines).strip() + "\n"


def load_example():
    """The example, as if it were a module of the catalog (its relative imports resolve)."""
    name = "acn.experiments.catalog.half_lr"
    module = types.ModuleType(name)
    module.__package__ = "acn.experiments.catalog"
    sys.modules[name] = module
    try:
        exec(compile(example_source(), "half_lr.py", "exec"), module.__dict__)
    finally:
        del sys.modules[name]
    return module.EXPERIMENT


def test_the_worked_example_is_short_and_runs_at_smoke_scale(tmp_path):
    assert len(example_source().splitlines()) <= 30
    exp = load_example()
    assert exp.name == "half-lr" and set(exp.scales) == {"smoke", "cpu"}
    opts = RunOptions(scale="smoke", seeds=2, out=tmp_path / "out", runs=tmp_path / "runs")
    run_experiment(exp, opts, log=None)
    result = read_result(tmp_path / "out" / "half-lr.json")
    for row in result["per_seed"]:
        cutoff = {arm: numbers["cutoff"] for arm, numbers in row["arms"].items()}
        assert row["contrasts"]["residual_minus_acn_cutoff"] == cutoff["residual"] - cutoff["acn"]
        assert len(row["runs"]) == 2
    config = (
        tmp_path / "runs" / "half-lr" / "smoke" / "seed-0" / "acn" / "config.yaml"
    ).read_text()
    assert "lr: 0.001\n" in config  # half the recipe's 2e-3
    assert result["plots"] == ["half-lr/accuracy_vs_depth.png"]


def test_a_contrast_is_how_much_better_the_arm_is():
    arms = {"a": {"acc": 90.0, "loss": 0.2}, "b": {"acc": 80.0, "loss": 0.5}}
    accuracy = Measure("acc", lambda t: 0.0, higher_is_better=True)
    loss = Measure("loss", lambda t: 0.0, higher_is_better=False)
    assert Contrast.gain("x", accuracy, "a", over="b").fn(arms) == 10.0
    assert Contrast.gain("x", loss, "a", over="b").fn(arms) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="not a score"):
        Contrast.gain("x", Measure("depth", lambda t: 0), "a", over="b")
