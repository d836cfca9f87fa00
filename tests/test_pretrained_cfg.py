"""Self-describing model files: what `acn train` records in a model's ``pretrained_cfg``, and a
text model's tokenizer travelling inside the file (no second file to keep in sync)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer

import acn
from _words import WORDS
from acn.cli import main
from acn.runs import Run, eval_config, eval_data, load_train_data
from acn.train import load_config, train

TINY_BERT = {"depth": 2, "dim": 32, "num_heads": 2, "mlp_hidden": 64}


def write_tsv(folder, seed: int) -> str:
    """Two-class sentences: class 1 mentions a cat."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train.tsv", 96), ("test.tsv", 32)):
        rows = ["sentence\tlabel"]
        for i in range(n):
            words = [WORDS[(i * 5 + j * 3 + seed) % len(WORDS)] for j in range(3 + i % 4)]
            label = int("cat" in words)
            rows.append(f"{' '.join(words)}\t{label}")
        (folder / name).write_text("\n".join(rows) + "\n", encoding="utf-8")
    return f"tsv:{folder}"


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """A BERT classifier trained on a TSV dataset, with the tokenizer cache of its own."""
    root = tmp_path_factory.mktemp("text")
    spec = write_tsv(root / "sst", seed=0)
    cache = root / "cache"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ACN_CACHE_DIR", str(cache))
        cfg = load_config(
            None,
            [
                "--model.name=bert_tiny",
                f"--data.spec={spec}",
                "--data.options.vocab_size=40",
                "--data.options.max_len=12",
                "--epochs=1",
                "--batch_size=32",
                "--optim.warmup_epochs=0",
                f"--out_dir={root / 'run'}",
                *(f"--model.overrides.{k}={v}" for k, v in TINY_BERT.items()),
            ],
        )
        data = load_train_data(cfg)
        result = train(cfg, log=None, progress=False)
    return {
        "run": result.run_dir,
        "spec": spec,
        "cache": cache,
        "test_x": data.splits.test.x.clone(),
        "tokenizer": data.info["tokenizer_path"],
    }


def test_a_text_model_carries_its_tokenizer(text_run, tmp_path, monkeypatch):
    pre = acn.load(text_run["run"]).pretrained_cfg
    assert pre["tokenizer"] == Path(text_run["tokenizer"]).read_text(encoding="utf-8")
    assert pre["max_len"] == 12 and pre["kind"] == "text" and pre["class_names"] == ["0", "1"]
    assert pre["data"]["spec"] == text_run["spec"]
    # a bare copy, on a machine whose tokenizer cache is empty: the same ids as in training
    bare = tmp_path / "bare.safetensors"
    shutil.copy(Run(text_run["run"]).model_path, bare)
    monkeypatch.setenv("ACN_CACHE_DIR", str(tmp_path / "fresh-cache"))
    model = acn.load(bare)
    cfg = eval_config(bare)
    tokenizer = cfg.data.options["tokenizer"]
    assert tokenizer.startswith(str(tmp_path / "fresh-cache"))
    assert Path(tokenizer).read_text(encoding="utf-8") == pre["tokenizer"]
    assert torch.equal(eval_data(model, bare).splits.test.x, text_run["test_x"])


def test_other_text_data_is_read_with_the_models_tokenizer(text_run, tmp_path, monkeypatch):
    """--data on other sentences: encoded with the model's vocabulary, not one trained on them."""
    monkeypatch.setenv("ACN_CACHE_DIR", str(tmp_path / "cache"))
    other = write_tsv(tmp_path / "other", seed=7)
    model = acn.load(text_run["run"])
    data = eval_data(model, text_run["run"], other)
    tok = Tokenizer.from_str(model.pretrained_cfg["tokenizer"])
    first = (tmp_path / "other" / "test.tsv").read_text().splitlines()[1].split("\t")[0]
    ids = tok.encode(first, add_special_tokens=False).ids[: 12 - 2]  # [CLS] ... [SEP] in 12
    assert data.splits.test.x[0, 1 : 1 + len(ids)].tolist() == ids
    out = tmp_path / "probe"
    assert main(["probe", str(text_run["run"]), "--data", other, "--out", str(out), "--json"]) == 0


def test_pretrained_cfg_goes_into_config_json(text_run, tmp_path):
    d = acn.load(text_run["run"]).save_pretrained(tmp_path / "p")
    config = json.loads((d / "config.json").read_text())
    assert (
        config["pretrained_cfg"]["tokenizer"]
        == acn.load(text_run["run"]).pretrained_cfg["tokenizer"]
    )
    assert acn.from_pretrained(d).pretrained_cfg == acn.load(text_run["run"]).pretrained_cfg


@pytest.mark.parametrize(
    "change, words",
    [
        ({"data": "mnist5k"}, "corrupt pretrained_cfg"),
        ({"mean": ["x"]}, "corrupt pretrained_cfg"),
        ({"mean": [0.5], "std": [-1.0]}, "corrupt pretrained_cfg"),
        ({"tokenizer": 3}, "corrupt pretrained_cfg"),
        ({"data": {"spec": "mnist5k", "classes": "three"}}, "corrupt pretrained_cfg"),
    ],
)
def test_a_corrupt_pretrained_cfg_is_one_line(change, words, tmp_path, capsys):
    torch.manual_seed(0)
    model = acn.create_model("mlp_s8", depth=2)
    model.pretrained_cfg = {"data": {"spec": "mnist5k"}, "mean": [0.1], "std": [0.3], **change}
    path = acn.save(model, tmp_path / "m.safetensors")
    assert main(["probe", str(path), "--bootstrap", "2", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("acn: error: ") and "\n" not in err and words in err, err
    assert not (tmp_path / "o").exists()
