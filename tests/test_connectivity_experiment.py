"""``acn reproduce connectivity`` at smoke scale: every Mixer wiring trained and measured, the
numbers checked against independent paths (the cut model's FLOPs counted on the truncated model,
DenseNet's projections in closed form, the bootstrap interval around the cutoff), the table and
the README block rendered from the result, and the plan of the paper scale."""

from __future__ import annotations

import json
import shutil

import pytest

from acn.cli import main
from acn.compress.analytic import analytic_flops
from acn.compress.cost import cost
from acn.compress.flops import depth_flops
from acn.connectivity import MODES
from acn.experiments.catalog import experiments
from acn.experiments.catalog.connectivity import (
    CIFAR_TRAIN,
    EXPERIMENT,
    MNIST_TRAIN,
    OTHER_SETTINGS,
    dominance_sentence,
    modes_for,
    table,
)
from acn.experiments.publish import pending, publish
from acn.experiments.recipes import ENV_DATA, SMOKE_MODEL
from acn.experiments.results import read_result
from acn.experiments.runner import RunOptions, run_experiment
from acn.models.registry import create_model
from acn.runs.run import Run

MIXER_MODES = [m for m in MODES if m != "value-residual"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """One smoke-scale result of ``connectivity`` (2 seeds) and its runs directory."""
    root = tmp_path_factory.mktemp("connectivity")
    opts = RunOptions(scale="smoke", seeds=2, out=root / "out", runs=root / "runs")
    run_experiment(EXPERIMENT, opts, log=None)
    return root, read_result(root / "out" / "connectivity.json")


def test_settings_are_registered_with_every_mode_their_family_defines():
    registered = experiments()
    assert {"connectivity", "connectivity-cifar"} <= set(registered)
    assert registered["connectivity-cifar"] is OTHER_SETTINGS[0]
    assert modes_for(MNIST_TRAIN) == MIXER_MODES  # value-residual needs attention
    assert modes_for(CIFAR_TRAIN) == MIXER_MODES
    assert "value-residual" in modes_for({"model": {"name": "vit_tiny_cifar"}})
    assert (
        CIFAR_TRAIN["data"]["classes"] == 5 and CIFAR_TRAIN["model"]["overrides"]["patch_size"] == 8
    )
    assert MNIST_TRAIN["model"]["overrides"]["depth"] == 16


@pytest.mark.parametrize("recipe", [MNIST_TRAIN, CIFAR_TRAIN], ids=["mnist", "cifar"])
def test_the_cpu_scale_flops_of_every_wiring_are_the_closed_form(recipe):
    """The FLOPs the cut/full columns read, counted on one pass, against acn.compress.analytic
    (hyper-connections' width mixes, DenseNet's projections and LAuReL-LR's low-rank terms)."""
    model = recipe["model"]
    for mode in MIXER_MODES:
        built = create_model(model["name"], mode, **model["overrides"])
        counted, closed = depth_flops(built), analytic_flops(built)
        assert [b.total for b in counted.blocks] == closed.blocks, mode
        assert counted.full.total == closed.total, mode


def test_every_arm_is_measured_and_the_numbers_agree_with_independent_paths(smoke):
    root, result = smoke
    assert result["seeds"] == [0, 1]
    for row in result["per_seed"]:
        arms = row["arms"]
        assert list(arms) == MIXER_MODES
        for mode, n in arms.items():
            run = Run(root / "runs" / "connectivity" / "smoke" / f"seed-{row['seed']}" / mode)
            model = run.model("cpu").eval()
            assert model.config.connectivity == mode
            # the cut model's FLOPs: counted on the model truncated at its cutoff, and in closed
            # form (the wiring's matrix products included)
            assert n["cut_flops"] == cost(model.truncate(n["cutoff"]))["flops"]
            closed = analytic_flops(model)
            assert n["cut_flops"] == closed.embed + closed.head + sum(closed.blocks[: n["cutoff"]])
            assert n["flops"] == cost(model)["flops"]
            assert n["accuracy_at_cutoff"] == n["accuracy_per_depth"][n["cutoff"]]
            assert n["cutoff_low"] <= n["cutoff"] <= n["cutoff_high"] <= n["depth"] == 3
            assert n["params"] == model.num_params()
            assert n["step_time_ratio"] > 0 and n["step_time_ms"] > 0
        assert arms["residual"]["step_time_ratio"] == 1.0  # measured against itself
        assert arms["residual"]["wiring_params"] == 0 == arms["acn"]["wiring_params"]
        # DenseNet's input projections: block i reads concat(x_0..x_{i-1}), a D x iD matrix
        dim = SMOKE_MODEL["dim"]
        assert arms["densenet"]["wiring_params"] == sum(i * dim * dim for i in (1, 2, 3))
        hacn = arms["hacn"]
        assert len(hacn["hacn_alpha"]) == 3 and "hacn_alpha" not in arms["acn"]
        assert hacn["hacn_alpha_mean"] == pytest.approx(sum(hacn["hacn_alpha"]) / 3)
        contrasts = row["contrasts"]
        assert contrasts["depth_saved:acn"] == 3 - arms["acn"]["cutoff_high"]
        assert contrasts["flops_minus_acn_cut:hyper"] == (
            arms["hyper"]["cut_flops"] - arms["acn"]["cut_flops"]
        )
    assert sorted(result["plots"]) == [
        "connectivity/accuracy_vs_depth_long.png",
        "connectivity/accuracy_vs_depth_other.png",
        "connectivity/pareto.png",
    ]


def test_the_table_names_each_claims_verdict_and_refuses_a_stale_verdict(smoke):
    _, result = smoke
    text = table(result)
    assert text.count("\n| ") == 1 + len(MIXER_MODES)  # the header's separator, one row a mode
    assert "**Claim 1**" in text and "**Claim 2**" in text
    assert "dominates both residual and ACN in `connectivity`" in text
    stale = {**result, "verdict": "holds" if result["verdict"] != "holds" else "partly"}
    with pytest.raises(ValueError, match="--redecide"):
        table(stale)


def test_the_readme_block_is_pending_until_the_result_exists(smoke, tmp_path):
    root, result = smoke
    readme = tmp_path / "README.md"
    blocks = ["connectivity-table", "connectivity-cifar-table"]
    readme.write_text("".join(f"<!-- {b}:begin -->\nold\n<!-- {b}:end -->\n" for b in blocks))
    results = tmp_path / "results"
    results.mkdir()
    assert publish(results, readme, check=True).stale  # "old" is not the pending line
    publish(results, readme)
    assert pending("connectivity") in readme.read_text()
    assert publish(results, readme, check=True).stale == []
    # a README without the block of an experiment that has no result is not stale
    other = tmp_path / "OTHER.md"
    other.write_text("no blocks\n")
    assert publish(results, other, check=True).stale == []
    # once the result is there the block shows its table, and REPORT.md shows it too
    shutil.copy(root / "out" / "connectivity.json", results)
    readme.write_text(
        readme.read_text() + "<!-- reproduce-headline:begin -->\n<!-- reproduce-headline:end -->\n"
    )
    assert publish(results, readme, check=True).stale
    publish(results, readme)
    text = readme.read_text()
    assert table(result) in text and pending("connectivity-cifar") in text
    assert table(result) in (results / "REPORT.md").read_text()
    assert publish(results, readme, check=True).stale == []
    # a hand-edited verdict cannot be shown: one line naming the block, exit 2
    data = json.loads((results / "connectivity.json").read_text())
    data["verdict"] = "holds" if data["verdict"] != "holds" else "partly"
    (results / "connectivity.json").write_text(json.dumps(data))
    assert main(["report", "--out", str(results), "--readme", str(readme)]) == 2


def test_the_paper_scale_plans_every_wiring_of_the_papers_mixer(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(ENV_DATA, raising=False)
    opts = RunOptions(scale="paper", seeds=3, out=tmp_path / "out", runs=tmp_path / "runs",
                      dry_run=True)  # fmt: skip
    plan = run_experiment(OTHER_SETTINGS[0], opts, log=None)["plan"]
    assert [p["connectivity"] for p in plan] == MIXER_MODES
    assert {p["model"] for p in plan} == {"mixer_cifar_paper"} and {p["epochs"] for p in plan} == {
        100
    }
    assert not (tmp_path / "out").exists()
    flops = {p["connectivity"]: p["flops_per_sample"] for p in plan}
    assert flops["hyper-dynamic"] > flops["hyper"] > flops["residual"] == flops["acn"]


def test_the_dominance_sentence_says_plainly_which_mode_dominates_or_that_none_does():
    say = dominance_sentence
    assert say("x", "holds", {"hyper"}, {"hyper", "acn"}) == (
        "A mode on the Pareto front dominates both residual and ACN in `x`: hyper."
    )
    assert say("x", "holds", {"hyper", "laurel"}, {"hyper"}).endswith(
        "So does laurel, behind the front."
    )
    assert say("x", "holds", {"laurel"}, {"hyper"}).startswith(
        "laurel dominates both residual and ACN in `x`, behind the Pareto front"
    )
    assert say("x", "does-not-hold", set(), {"acn"}) == (
        "No mode dominates both residual and ACN in `x` (every mode is refuted on accuracy or "
        "FLOPs)."
    )
    assert say("x", "partly", set(), {"acn"}).startswith("No mode dominates both")
