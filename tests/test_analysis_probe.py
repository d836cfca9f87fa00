"""Block influence from the one per-depth pass, and the probe result built on it."""

from __future__ import annotations

import csv
import io
import json

import pytest
import torch
import torch.nn.functional as F

import acn
from acn.analysis.influence import block_influence
from acn.analysis.probe import COLUMNS, incremental, probe
from acn.evaluation import evaluate_per_depth
from acn.models import tiny_overrides


def manual_influence(model, x: torch.Tensor) -> tuple[list[float], list[float]]:
    """BI by running the blocks by hand (ACN or residual wiring), mean over every token."""
    with torch.no_grad():
        x0, kwargs = model.start(x)
        h, out = x0, x0
        chain, readout = [], []
        for block in model.stack.blocks:
            new_h = block(h, **kwargs)
            new_out = out + new_h if model.config.connectivity == "acn" else new_h
            chain.append(float((1 - F.cosine_similarity(h, new_h, dim=-1)).mean()))
            readout.append(float((1 - F.cosine_similarity(out, new_out, dim=-1)).mean()))
            h, out = new_h, new_out
    return chain, readout


@pytest.mark.parametrize("preset", ["mlp_s4", "mixer_s8"])
@pytest.mark.parametrize("connectivity", ["acn", "residual"])
def test_block_influence_matches_hand_computation(preset, connectivity):
    torch.manual_seed(0)
    model = acn.create_model(preset, connectivity, **tiny_overrides(preset))
    x = model.example_input(6)
    bi = block_influence(model, [(x[:4], None), (x[4:], None)])  # two batches, unequal sizes
    chain, readout = manual_influence(model.eval(), x)
    assert bi["chain"] == pytest.approx(chain, rel=1e-5)
    assert bi["readout"] == pytest.approx(readout, rel=1e-5)
    if connectivity == "residual":  # the head reads the stream itself
        assert bi["chain"] == pytest.approx(bi["readout"])
    else:  # partial sums change less than the chain
        assert bi["chain"] != pytest.approx(bi["readout"])


def test_probe_reads_everything_off_one_pass_per_batch():
    torch.manual_seed(0)
    model = acn.create_model("mlp_s4", **tiny_overrides("mlp_s4"))
    xs = [torch.randn(8, 20) for _ in range(3)]
    ys = [torch.randint(0, 10, (8,)) for _ in range(3)]
    calls = []
    handles = [b.register_forward_hook(lambda *_: calls.append(1)) for b in model.stack.blocks]
    result = probe(model, zip(xs, ys), name="toy", tolerance=1.0, bootstrap=50, seed=0)
    assert len(calls) == 3 * model.depth  # each block ran once per batch
    for h in handles:
        h.remove()
    ev = evaluate_per_depth(model, zip(xs, ys))
    assert result.accuracy == ev.accuracy
    assert result.loss == pytest.approx(ev.loss)
    bi = block_influence(model, zip(xs, ys))
    assert result.bi_chain == pytest.approx(bi["chain"])
    assert result.bi_readout == pytest.approx(bi["readout"])
    assert result.num_samples == 24 and result.depth == model.depth
    assert result.label == "toy (acn)"
    assert result.cutoff.num_resamples == 50 and result.cutoff.tolerance == 1.0


def test_incremental_contribution():
    assert incremental([10.0, 30.0, 25.0]) == [None, 20.0, -5.0]


def test_result_exports_agree():
    torch.manual_seed(0)
    model = acn.create_model("mlp_s4", "residual", **tiny_overrides("mlp_s4"))
    batches = [(torch.randn(10, 20), torch.randint(0, 10, (10,)))]
    r = probe(model, batches, name="r", bootstrap=20)
    rows = list(csv.DictReader(io.StringIO(r.to_csv())))
    assert tuple(rows[0]) == COLUMNS and len(rows) == model.depth + 1
    assert [float(row["accuracy"]) for row in rows] == pytest.approx(r.accuracy)
    assert rows[0]["incremental"] == "" and rows[0]["bi_chain"] == ""
    assert [float(row["bi_readout"]) for row in rows[1:]] == pytest.approx(r.bi_readout)
    data = json.loads(r.to_json())
    assert data["accuracy"] == r.accuracy and data["incremental"] == r.incremental
    assert data["cutoff"]["cutoff"] == r.cutoff.cutoff and data["depth"] == model.depth
    table = r.table().splitlines()
    assert len(table) == 2 + model.depth + 1 + 1
    assert f"cutoff depth {r.cutoff.cutoff} of {model.depth}" in table[-1]


def test_json_replaces_non_finite_numbers():
    torch.manual_seed(0)
    model = acn.create_model("mlp_s4", **tiny_overrides("mlp_s4"))
    r = probe(model, [(torch.randn(4, 20), torch.randint(0, 10, (4,)))], bootstrap=5)
    r.loss = float("nan")
    assert json.loads(r.to_json())["loss"] is None
