"""acn.cost: measured params, bytes on disk, FLOPs and speed."""

import json

import pytest
import torch

import acn
from acn.compress.cost import cost, param_bytes
from acn.compress.flops import count_flops
from acn.compress.latency import time_call, time_interleaved, time_model, time_models
from acn.errors import ConfigError
from acn.models.registry import tiny_overrides
from acn.utils import machine_info


def tiny(name="mixer_s8", mode="acn"):
    return acn.create_model(name, mode, **tiny_overrides(name))


def test_cost_is_exported_and_json_ready():
    report = acn.cost(tiny())
    for key in ("params", "flops", "size_bytes", "macs", "flops_no_attention", "flops_per_depth"):
        assert key in report
    assert json.loads(json.dumps(report)) == report


def test_cost_numbers_are_the_measured_ones(tmp_path):
    model = tiny("vit_tiny_cifar")
    report = cost(model)
    x = model.example_input(1, generator=torch.Generator().manual_seed(0))
    assert report["flops"] == count_flops(model, x).total == 2 * report["macs"]
    assert report["params"] == sum(p.numel() for p in model.parameters())
    assert report["param_bytes"] == 4 * report["params"]
    saved = acn.save(model, tmp_path / "m.safetensors")
    assert report["size_bytes"] == saved.stat().st_size
    assert report["size_bytes"] > report["param_bytes"]
    b = report["flops_breakdown"]
    assert b["matmul"] + b["attention"] + b["other"] == report["flops"]
    assert report["flops"] - b["attention"] == report["flops_no_attention"]
    assert report["flops_per_depth"][-1] == report["flops"]
    assert report["input_shape"] == [1, 3, 16, 16]


def test_tied_parameters_count_once():
    model = tiny("mlp_s4")
    before = cost(model)["params"]
    shared = model.stack.blocks[0].mlp.fc1.weight
    model.stack.blocks[1].mlp.fc1.weight = shared
    assert cost(model)["params"] == before - shared.numel()
    assert param_bytes(model) == 4 * (before - shared.numel())


def test_cost_batch_size_scales_flops_not_params():
    model = tiny()
    one, four = cost(model, 1), cost(model, 4)
    assert four["flops"] == 4 * one["flops"] and four["params"] == one["params"]
    assert four["batch_size"] == 4


def test_truncated_model_costs_its_per_depth_entry():
    model = tiny("bert_tiny")
    full = cost(model)
    for k in range(model.depth + 1):
        small = cost(model.truncate(k))
        assert small["flops"] == full["flops_per_depth"][k]
        assert small["params"] < full["params"] or k == model.depth


def test_timing_reports_speed_and_machine():
    report = cost(tiny(), timing=True, throughput_batch=8, warmup=1, repeats=2)
    s = report["speed"]
    assert s["latency_batch"] == 1 and s["throughput_batch"] == 8
    assert s["latency_ms"] > 0 and s["throughput"] > 0
    m = report["machine"]
    assert m["torch"] == torch.__version__ and m["dtype"] == "float32" and m["cpu_count"] >= 1


def test_time_model_restores_training_mode_and_checks_arguments():
    model = tiny().train()
    t = time_model(model, 2, warmup=0, repeats=3)
    assert model.training and t.batch_size == 2 and t.samples_per_s == 2 / t.median_s
    with pytest.raises(ConfigError):
        time_model(model, 0)
    with pytest.raises(ConfigError):
        time_call(lambda: None, torch.device("cpu"), warmup=0, repeats=0)


def test_models_are_timed_interleaved():
    order = []
    fns = {"a": lambda: order.append("a"), "b": lambda: order.append("b")}
    times = time_interleaved(fns, torch.device("cpu"), warmup=1, repeats=2)
    assert order == ["a", "b"] * 3 and [len(t) for t in times.values()] == [2, 2]
    full = tiny().train()
    small = full.truncate(1).eval()
    timed = time_models({"full": full, "small": small}, 4, warmup=0, repeats=2)
    assert set(timed) == {"full", "small"} and timed["small"].batch_size == 4
    assert full.training and not small.training


def test_time_call_runs_warmup_untimed():
    calls = []
    times = time_call(lambda: calls.append(1), torch.device("cpu"), warmup=2, repeats=3)
    assert len(calls) == 5 and len(times) == 3


def test_machine_info_names_device():
    info = machine_info("cpu", torch.float16)
    assert info["device"] == "cpu" and info["dtype"] == "float16" and info["cpu"]
