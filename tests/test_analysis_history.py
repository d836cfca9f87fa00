"""Blocks x epochs matrices from metrics.jsonl records, and the PNGs drawn from them."""

from __future__ import annotations

import json
import math

import pytest
import torch
from PIL import Image

import acn
from acn.analysis.history import (
    Heatmap,
    early_late_ratio,
    early_late_ratios,
    history_heatmap,
    normalize_epochs,
    run_heatmaps,
)
from acn.analysis.plots import plot_accuracy_vs_depth, plot_heatmaps, shared_range
from acn.analysis.probe import ProbeResult, probe
from acn.errors import ConfigError, DataError
from acn.evaluation.cutoff import CutoffInterval
from acn.models import tiny_overrides


def record(epoch: int, acc: list[float], norms: list[float], dg: list[float] | None = None):
    r = {"epoch": epoch, "step": epoch * 10, "accuracy_per_depth": acc}
    r["grad_norm_per_block"] = norms
    if dg is not None:
        r["dg_share"] = dg
    return r


RECORDS = [
    record(1, [10.0, 40.0, 45.0], [3.0, 1.0], [0.5, 1.0]),
    record(2, [10.0, 60.0, 70.0], [2.0, 4.0], [0.25, 1.0]),
    record(3, [10.0, 80.0, 81.0], [0.5, 0.25]),
]


def write_run(path, records) -> None:
    path.mkdir(parents=True)
    lines = "".join(json.dumps(r) + "\n" for r in records)
    (path / "metrics.jsonl").write_text(lines)


def test_matrices_are_blocks_by_epochs():
    norms = history_heatmap(RECORDS, "grad_norm", "run")
    assert norms.epochs == [1, 2, 3]
    assert norms.values == [[3.0, 2.0, 0.5], [1.0, 4.0, 0.25]]
    inc = history_heatmap(RECORDS, "incremental")
    assert inc.values == [[30.0, 50.0, 70.0], [5.0, 10.0, 1.0]]
    dg = history_heatmap(RECORDS, "dg_share")
    assert dg.epochs == [1, 2] and dg.values == [[0.5, 0.25], [1.0, 1.0]]
    assert history_heatmap([record(1, [1.0, 2.0], [1.0])], "dg_share") is None


def test_a_later_record_replaces_the_same_epoch():
    redo = record(2, [10.0, 20.0, 30.0], [9.0, 9.0])
    assert history_heatmap([*RECORDS, redo], "grad_norm").values[0] == [3.0, 9.0, 0.5]


def test_mismatched_block_counts_are_a_data_error():
    with pytest.raises(DataError, match="disagree on the number of blocks"):
        history_heatmap([*RECORDS, record(4, [1.0, 2.0], [1.0])], "grad_norm")


def test_epoch_normalisation_divides_by_the_column_peak():
    heat = normalize_epochs(Heatmap("r", [1, 2], [[2.0, 0.0], [-4.0, 0.0]]))
    assert heat.values == [[0.5, 0.0], [-1.0, 0.0]]


def test_run_heatmaps_reads_the_run_and_normalises_only_grad_norms(tmp_path):
    write_run(tmp_path / "run", RECORDS)
    maps = run_heatmaps(tmp_path / "run", "run", normalize="epoch")
    assert set(maps) == {"grad_norm", "dg_share", "incremental"}
    assert maps["grad_norm"].values == [[1.0, 0.5, 1.0], [1 / 3, 1.0, 0.5]]
    assert maps["dg_share"].values == [[0.5, 0.25], [1.0, 1.0]]
    assert maps["incremental"].values[0] == [30.0, 50.0, 70.0]


def test_training_step_statistics_are_views_and_probe_norms_are_normalised(tmp_path):
    stats = {"dg_cosine": [0.9, 1.0], "dg_norm_ratio": [0.3, 1.0], "probe_grad_norm": [4.0, 1.0]}
    write_run(tmp_path / "run", [{**RECORDS[0], **stats}, RECORDS[1]])
    maps = run_heatmaps(tmp_path / "run", "run", normalize="epoch")
    assert maps["dg_cosine"].values == [[0.9], [1.0]]
    assert maps["dg_norm_ratio"].values == [[0.3], [1.0]]
    assert maps["probe_grad_norm"].values == [[1.0], [0.25]]  # divided by the epoch's peak


def test_early_late_ratio_is_first_quarter_over_last_quarter():
    # 8 blocks: quarters are blocks 1-2 and 7-8
    values = [[v, 2 * v] for v in (8.0, 4.0, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0)]
    assert early_late_ratio(values, 0) == pytest.approx((8 + 4) / (2 + 1))
    heat = Heatmap("r", [1, 2], values)
    assert early_late_ratios(heat) == pytest.approx([4.0, 4.0])
    assert early_late_ratios(normalize_epochs(heat)) == pytest.approx([4.0, 4.0])
    assert early_late_ratio([[3.0], [1.5]], 0) == pytest.approx(2.0)  # fewer than 4 blocks
    assert math.isnan(early_late_ratio([[3.0], [0.0]], 0))


def test_run_heatmaps_errors(tmp_path):
    with pytest.raises(DataError, match="not a run directory"):
        run_heatmaps(tmp_path / "missing", "x")
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(DataError, match="no metrics.jsonl"):
        run_heatmaps(tmp_path / "empty_run", "x")
    write_run(tmp_path / "no_records", [])
    with pytest.raises(DataError, match="no evaluation records"):
        run_heatmaps(tmp_path / "no_records", "x")
    with pytest.raises(ConfigError, match="unknown normalization"):
        run_heatmaps(tmp_path / "no_records", "x", normalize="global")


def assert_png(path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()


def test_heatmap_png_uses_one_colour_scale_for_all_panels(tmp_path):
    a = Heatmap("a", [1, 2], [[1.0, 2.0], [float("nan"), 3.0]])
    b = Heatmap("b", [1], [[-1.0], [0.5], [7.0]])
    assert shared_range([a, b]) == (-1.0, 7.0)
    assert shared_range([a, b], symmetric=True) == (-7.0, 7.0)
    assert plot_heatmaps([a, b], tmp_path / "h.png", "title", "bar") == (-1.0, 7.0)
    assert_png(tmp_path / "h.png")
    lo, hi = shared_range([Heatmap("c", [1], [[2.0]])])  # constant data still gets a range
    assert lo < 2.0 < hi


def test_accuracy_plot_draws_the_probed_numbers(tmp_path):
    torch.manual_seed(0)
    results = []
    for mode in ("acn", "residual"):
        model = acn.create_model("mlp_s4", mode, **tiny_overrides("mlp_s4"))
        batch = [(torch.randn(6, 20), torch.randint(0, 10, (6,)))]
        results.append(probe(model, batch, name="m", bootstrap=10))
    drawn = plot_accuracy_vs_depth(results, tmp_path / "acc.png")
    assert drawn == {"m (acn)": results[0].accuracy, "m (residual)": results[1].accuracy}
    assert_png(tmp_path / "acc.png")


def test_accuracy_plot_of_a_depth_zero_model(tmp_path):
    ci = CutoffInterval(0, 0, 0, 0, [5], 5, 0.5, 0)
    r = ProbeResult("z", "acn", [50.0], [], [], ci, 4, math.log(2))
    assert plot_accuracy_vs_depth([r], tmp_path / "z.png") == {"z (acn)": [50.0]}
