"""Hugging Face-style directories: save_pretrained / acn.from_pretrained, and every model path."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_model

import acn
from acn.errors import CheckpointError
from acn.models import tiny_overrides
from acn.serialization import resolve_model_path


def tiny(name: str = "mixer_s8") -> acn.StackModel:
    torch.manual_seed(0)
    return acn.create_model(name, connectivity="acn", **tiny_overrides(name)).eval()


@pytest.mark.parametrize("name", ["mlp_s4", "mixer_cifar_paper", "vit_tiny_cifar", "bert_tiny_mlm"])
def test_save_pretrained_round_trip(name, tmp_path):
    model = tiny(name)
    x = model.example_input(2)
    d = model.save_pretrained(tmp_path / "pretrained")
    assert sorted(p.name for p in d.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((d / "config.json").read_text())
    assert config["family"] == model.family and config["depth"] == model.depth
    assert config["architectures"] == [type(model).__name__]
    for loaded in (acn.from_pretrained(d), acn.load(d), acn.load(d / "model.safetensors")):
        assert loaded.config == model.config
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), model(x))


def test_weights_without_acn_metadata_load_through_config_json(tmp_path):
    model = tiny()
    d = model.save_pretrained(tmp_path / "p")
    save_model(model, str(d / "model.safetensors"))  # plain weights, as other tools write them
    x = model.example_input(2)
    with torch.no_grad():
        torch.testing.assert_close(acn.from_pretrained(d)(x), model(x))


def test_pretrained_errors_are_one_line(tmp_path):
    with pytest.raises(CheckpointError, match="not a pretrained directory"):
        acn.from_pretrained(tmp_path)
    d = tiny().save_pretrained(tmp_path / "p")
    (d / "config.json").write_text("{}")
    save_model(tiny(), str(d / "model.safetensors"))
    with pytest.raises(CheckpointError, match="not an acn config.json"):
        acn.from_pretrained(d)
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match="not a directory"):
        tiny().save_pretrained(tmp_path / "file")


def test_run_dir_model_file_and_pretrained_dir_resolve(tmp_path):
    model = tiny()
    run = tmp_path / "run"
    acn.save(model, run / "checkpoint" / "model.safetensors")
    pre = model.save_pretrained(tmp_path / "pre")
    file = acn.save(model, tmp_path / "m.safetensors")
    assert resolve_model_path(run) == run / "checkpoint" / "model.safetensors"
    assert resolve_model_path(pre) == pre / "model.safetensors"
    assert resolve_model_path(file) == file


def test_pretrained_cfg_travels_with_the_model(tmp_path) -> None:
    """What a user needs besides the weights survives save/load, save_pretrained/from_pretrained
    and truncate; a file written without one loads with {}."""
    model = acn.create_model("mlp_s8", connectivity="acn", depth=3)
    cfg = {"mean": [0.1307], "std": [0.3081], "class_names": ["zero", "one"], "input_size": [784]}
    plain = acn.save(model, tmp_path / "plain.safetensors")
    assert acn.load(plain).pretrained_cfg == {}
    model.pretrained_cfg = cfg
    assert acn.load(acn.save(model, tmp_path / "m.safetensors")).pretrained_cfg == cfg
    assert acn.from_pretrained(model.save_pretrained(tmp_path / "d")).pretrained_cfg == cfg
    assert model.truncate(2).pretrained_cfg == cfg


def test_a_corrupt_pretrained_cfg_is_one_line(tmp_path) -> None:
    model = acn.create_model("mlp_s8", connectivity="acn", depth=2)
    meta = {"acn_format": "1", "family": "mlp", "config": json.dumps(model.config.__dict__)}
    for bad, words in [("[1]", "not a JSON object"), ("[" * 100_000, "not JSON")]:
        path = tmp_path / "bad.safetensors"
        save_model(model, str(path), metadata={**meta, "pretrained_cfg": bad})
        with pytest.raises(CheckpointError, match=words):
            acn.load(path)
