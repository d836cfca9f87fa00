"""``acn reproduce lm`` and ``lm-controls`` at smoke scale on the generated corpus (no data root):
every arm trained, measured and decoded, the numbers checked against independent paths (the loss
cutoff recomputed from the per-depth losses, the cut-depth residual's depth from the G2 model's
cutoff, the training budgets), the tables and README blocks rendered from the results and
pending without them; the cpu recipe is the committed nanoGPT config."""

from __future__ import annotations

import dataclasses

import pytest

from acn.evaluation.cutoff import LM_TOLERANCE
from acn.experiments.catalog import _lm_claims as claims
from acn.experiments.catalog import experiments
from acn.experiments.catalog._lm_tables import controls_table, lm_table
from acn.experiments.catalog.lm import EXPERIMENT, OTHER_SETTINGS
from acn.experiments.context import planned_size
from acn.experiments.publish import pending, publish
from acn.experiments.recipes import (
    CIFAR_MIXER,
    ENV_DATA,
    GPT2_SMALL_OWT,
    GPT_CHAR_NANOGPT,
    Sources,
    scale_windows,
    train_config,
)
from acn.experiments.results import read_result
from acn.experiments.runner import RunOptions, run_experiment
from acn.runs.config import load_config, merge

CONTROLS = OTHER_SETTINGS[0]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Smoke results of ``lm`` and ``lm-controls`` (2 seeds, one runs directory: the controls
    reuse lm's runs)."""
    root = tmp_path_factory.mktemp("lm")
    mp = pytest.MonkeyPatch()
    mp.delenv(ENV_DATA, raising=False)
    try:
        for exp in (EXPERIMENT, CONTROLS):
            opts = RunOptions(scale="smoke", seeds=2, out=root / "out", runs=root / "runs")
            run_experiment(exp, opts, log=None)
    finally:
        mp.undo()
    out = root / "out"
    return root, read_result(out / "lm.json"), read_result(out / "lm-controls.json")


def test_both_experiments_are_registered():
    assert experiments()["lm"] is EXPERIMENT and experiments()["lm-controls"] is CONTROLS


def loss_cutoff(losses: list[float]) -> int:
    """The smallest depth within the tolerance of the best depth's loss (depths 1..L)."""
    best = min(losses[1:])
    return min(k for k in range(1, len(losses)) if losses[k] <= best + LM_TOLERANCE)


def test_every_arm_is_measured_and_decoded(smoke):
    _, result, _ = smoke
    assert result["seeds"] == [0, 1]
    for row in result["per_seed"]:
        arms = row["arms"]
        assert list(arms) == [claims.RESIDUAL, *claims.ACN_FAMILY]
        for name, a in arms.items():
            depth, losses = a["depth"], a["loss_per_depth"]
            assert len(losses) == depth + 1, name
            assert a["val_loss"] == pytest.approx(losses[depth], abs=1e-6), name
            assert a["cutoff"] == loss_cutoff(losses), name
            assert a["loss_at_cutoff"] == losses[a["cutoff"]], name
            decoders = a["decoders"]
            assert {f"spec-K{k}" for k in range(1, depth)} <= set(decoders), name
            assert ("cut" in decoders) == (a["cutoff"] < depth), name
            assert a["lossless_identical"] is True, name
            best = decoders[a["best_lossless_decoder"]]
            assert best["lossless"] and a["best_lossless_speedup"] == max(
                d["speedup"] for d in decoders.values() if d["lossless"]
            )
            assert len(a["best_lossless_seconds"]) == result["scale_params"]["decode"]["repeats"]
        # the ACN family trains on twice the residual's windows
        assert {arms[a]["steps"] for a in claims.ACN_FAMILY} == {2 * arms[claims.RESIDUAL]["steps"]}
        numbers = {a: {k: arms[a][k] for k in ("val_loss", "cutoff", "loss_at_cutoff")}
                   for a in arms}  # fmt: skip
        assert row["contrasts"]["g2_model"] == claims.g2_model(numbers)
        assert arms[claims.RESIDUAL]["plain_speedup"] == 1.0  # the reference over itself


def test_the_cut_depth_residuals_are_trained_at_the_g2_models_cutoff(smoke):
    _, _, result = smoke
    for row in result["per_seed"]:
        arms, chosen = row["arms"], row["contrasts"]["g2_model"]
        cut = arms[chosen]["cutoff"]
        assert row["contrasts"]["g2_cutoff"] == cut
        for control in (claims.CUT_RESIDUAL_1X, claims.CUT_RESIDUAL):
            assert arms[control]["depth"] == cut, control
        assert arms[claims.CUT_RESIDUAL]["steps"] == 2 * arms[claims.CUT_RESIDUAL_1X]["steps"]
        assert arms[claims.CUT_RESIDUAL]["steps"] == arms[chosen]["steps"]


def test_the_tables_render_each_verdict_and_refuse_a_stale_one(smoke):
    _, lm, controls = smoke
    text = lm_table(lm)
    assert text.count("\n| ") == 1 + 4 and "**G1**" in text and "**G2**" in text
    assert controls_table(controls).count("\n| ") == 1 + 2 + len(claims.CONTROLS)
    stale = {**lm, "verdict": "holds" if lm["verdict"] != "holds" else "does-not-hold"}
    with pytest.raises(ValueError, match="--redecide"):
        lm_table(stale)


def test_the_readme_blocks_are_pending_until_the_results_exist(smoke, tmp_path):
    root, lm, _ = smoke
    readme = tmp_path / "README.md"
    blocks = ["lm-table", "lm-controls-table"]
    readme.write_text("".join(f"<!-- {b}:begin -->\nold\n<!-- {b}:end -->\n" for b in blocks))
    results = tmp_path / "results"
    results.mkdir()
    assert publish(results, readme, check=True).stale
    publish(results, readme)
    assert pending("lm") in readme.read_text() and pending("lm-controls") in readme.read_text()
    assert publish(results, readme, check=True).stale == []
    (results / "lm.json").write_bytes((root / "out" / "lm.json").read_bytes())
    readme.write_text(
        readme.read_text() + "<!-- reproduce-headline:begin -->\n<!-- reproduce-headline:end -->\n"
    )
    publish(results, readme)
    assert lm_table(lm) in readme.read_text() and pending("lm-controls") in readme.read_text()
    assert publish(results, readme, check=True).stale == []


def test_the_cpu_recipe_is_the_committed_nanogpt_config(tmp_path):
    sources = Sources(data_root=tmp_path, generated=tmp_path / "gen")
    spec = {"data": {"spec": "lm:/work/shared/data/tinyshakespeare/input.txt"}}
    ours = train_config(GPT_CHAR_NANOGPT, "residual", 0, sources, spec)
    committed = load_config("configs/gpt_char_nanogpt.yaml", spec)  # its text where it lies
    fields = ("model", "data", "augment", "optim", "loss", "epochs", "batch_size")
    assert {f: getattr(ours, f) for f in fields} == {f: getattr(committed, f) for f in fields}
    # the 2x budget: twice the windows, the same 100 warmup steps (nanoGPT's), 4,000 steps
    twice = merge(GPT_CHAR_NANOGPT, scale_windows(GPT_CHAR_NANOGPT, 2.0))
    windows = twice["data"]["options"]["train_windows"]
    assert windows == 48000 and windows // twice["batch_size"] == 4000
    warmup = twice["optim"]["warmup_epochs"] * windows / twice["batch_size"]
    assert warmup == pytest.approx(100)
    layerskip = load_config("configs/gpt_char_layerskip.yaml")
    lm_twice = train_config(twice, "residual", 0, sources, merge(spec, {"loss": "layerskip"}))
    assert dataclasses.asdict(lm_twice.optim) == dataclasses.asdict(layerskip.optim)
    assert lm_twice.data.options == layerskip.data.options


def test_the_cpu_plan_trains_every_arm_at_its_budget(shared_data, tmp_path):
    """The dry run of lm-controls at cpu scale: all eight arms on tiny-shakespeare, 2,000 or
    4,000 steps of 12 windows, the cut-depth residuals planned at half depth."""
    root = shared_data("tinyshakespeare").parent
    opts = RunOptions(scale="cpu", seeds=3, out=tmp_path / "out", runs=tmp_path / "runs",
                      data_root=root, dry_run=True)  # fmt: skip
    plan = {p["key"]: p for p in run_experiment(CONTROLS, opts, log=None)["plan"]}
    assert list(plan) == [claims.RESIDUAL, *claims.ACN_FAMILY, *claims.CONTROLS]
    once = {claims.RESIDUAL, claims.CUT_RESIDUAL_1X}
    assert {k: p["train_samples"] for k, p in plan.items()} == {
        k: 24000 if k in once else 48000 for k in plan
    }
    assert {p["data"] for p in plan.values()} == {f"lm:{root}/tinyshakespeare/input.txt"}
    full = plan[claims.RESIDUAL]["flops_per_sample"]
    assert plan[claims.CUT_RESIDUAL]["flops_per_sample"] < 0.6 * full  # 2 of 4 blocks
    assert not (tmp_path / "out").exists()


def test_a_plan_counts_the_recipes_windows_when_the_text_is_absent(tmp_path):
    sources = Sources(data_root=tmp_path, generated=tmp_path / "gen")
    cfg = train_config(GPT2_SMALL_OWT, "acn", 0, sources)
    assert planned_size(cfg) == GPT2_SMALL_OWT["data"]["options"]["train_windows"]
    mixer = train_config(CIFAR_MIXER, "acn", 0, sources)
    assert planned_size(mixer) == 50_000  # the standard CIFAR-10 train split
