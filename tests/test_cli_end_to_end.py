"""Every subcommand driven once with its flags, on one tiny run trained on an MNIST-5k subset."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import acn
from acn.cli import COMMANDS, main
from acn.data.lm_tokenizer import TextTokenizer
from acn.runs import Run

# 2 digits, 16 training images each, a 3-block Mixer of width 16: one epoch takes a second
TRAIN = [
    "configs/mnist_mixer_acn.yaml",
    "--epochs=1",
    "--batch-size=16",
    "--eval-batch-size=100",
    "--data.classes=2",
    "--data.per_class=16",
    "--optim.warmup_epochs=0",
    "--model.overrides.depth=3",
    "--model.overrides.dim=16",
    "--model.overrides.token_hidden=8",
    "--model.overrides.channel_hidden=16",
    "--dg_share=true",
    "--grad_stats=true",
    "--no-progress",
]
ROOT = Path(__file__).resolve().parent.parent
TIMING = ["--timing-batch", "4", "--repeats", "1", "--warmup", "0"]
SCORING = ["--batch-size", "100", "--device", "cpu"]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """`acn train CONFIG --out RUN ...`: the run every other command reads."""
    out = tmp_path_factory.mktemp("e2e") / "run"
    argv = ["train", str(ROOT / TRAIN[0]), "--out", str(out), *TRAIN[1:]]
    assert main(argv) == 0
    return out


def commands(run: Path, out: Path) -> dict[str, list[str]]:
    """One invocation per subcommand, each with the flags it takes."""
    r = str(run)
    return {
        "demo": ["--scale", "smoke", "--out", str(out / "demo"), "--seed", "1", "--epochs", "1"],
        "models": ["mixer_*"],
        "reproduce": ["compression", "--scale", "smoke", "--seeds", "1", "--out", str(out / "rep")]
        + ["--runs", str(out / "rep-runs"), "--device", "cpu", "--note", "end-to-end test"],
        "report": ["--out", str(out / "rep")],
        "bench": [
            "--scale",
            "smoke",
            "--only",
            "mfu",
            "--threads",
            "1",
            "--seed",
            "1",
            "--out",
            str(out / "bench"),
        ],
        "cost": [r, "--batch-size", "2", *TIMING, "--json"],
        "compress": [r, "--tolerance", "1", "--out", str(out / "compress"), *SCORING, *TIMING],
        "prune": [r, "--sparsities", "0,50", "--tolerance", "1", "--save-models"]
        + ["--out", str(out / "prune"), *SCORING],
        "train": [
            "--resume",
            r,
            "--epochs=2",
            "--no-progress",
        ],
        "probe": [r, "--tolerance", "1", "--bootstrap", "10", "--seed", "1"]
        + ["--noise-sigma", "0.1", "--salt-pepper", "0.01", "--out", str(out / "probe"), *SCORING],
        "grads": [r, "--normalize", "epoch", "--out", str(out / "grads")],
        "exit": [r, "--heads", "final", "--cutoff-depth", "2", "--latency-samples", "2"]
        + ["--seed", "1", "--out", str(out / "exit"), *SCORING, *TIMING],
        # a language model (the run above is a classifier), written by the test itself
        "generate": [str(out / "gpt.safetensors"), "--prompt", "the cat", "--max-new-tokens", "4"]
        + ["--do-sample", "--temperature", "0.8", "--top-k", "5", "--top-p", "0.9", "--seed", "1"]
        + ["--draft-depth", "1", "--num-draft-tokens", "2", "--json", "--device", "cpu"],
        "export": [r, "--format", "pt2", "--depth", "2", "--all-depths", "--tolerance", "1"]
        + [
            "--out",
            str(out / "export"),
            "--batch-size",
            "8",
            "--atol",
            "1e-4",
            "--data",
            "mnist5k",
        ],
    }


# what each invocation leaves in --out (relative paths)
WRITES = {
    "demo": ["demo/demo.json", "demo/accuracy_vs_depth.png"],
    "reproduce": ["rep/compression.json"],
    "report": ["rep/REPORT.md"],
    "bench": ["bench/benchmarks.json", "bench/BENCHMARKS.md"],
    "compress": ["compress/model.safetensors", "compress/compress.json"],
    "prune": ["prune/prune.csv", "prune/prune.json", "prune/models/run/sparsity-50.safetensors"],
    "probe": ["probe/run.csv", "probe/probe.json", "probe/accuracy_vs_depth.png"],
    "grads": [
        "grads/grad_norms.png",
        "grads/dg_share.png",
        "grads/dg_cosine.png",
        "grads/grads.json",
    ],
    "exit": ["exit/exit_report.json", "exit/sweep.png"],
    "export": ["export/model.d2-all.pt2", "export/model.d2-all.pt2.json"],
}


def test_every_subcommand_has_an_end_to_end_row(tmp_path):
    assert sorted(commands(tmp_path, tmp_path)) == sorted(COMMANDS)


@pytest.mark.parametrize("name", [c for c in COMMANDS if c != "train"] + ["train"])
def test_subcommand_end_to_end(name, run, tmp_path, capsys):
    argv = commands(run, tmp_path)[name]
    if name == "report":  # renders the committed results, copied so the test writes nothing there
        shutil.copytree(ROOT / "docs" / "results", tmp_path / "rep")
    if name == "generate":
        tok = TextTokenizer.train_char("the cat sat on a mat")
        gpt = acn.create_model("gpt_char", "acn", depth=2, dim=16, num_heads=2, max_len=16,
                               vocab_size=tok.vocab_size)  # fmt: skip
        gpt.pretrained_cfg = {"tokenizer": tok.to_json(), "eos_token_id": None}
        acn.save(gpt, tmp_path / "gpt.safetensors")
    assert main([name, *argv]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert out.strip()
    for rel in WRITES.get(name, []):
        assert (tmp_path / rel).is_file(), rel
    if name == "compress":
        assert acn.load(tmp_path / "compress").depth <= 3
    if name == "exit":
        report = json.loads((tmp_path / "exit" / "exit_report.json").read_text())[0]
        assert report["policy"] == "cutoff" and report["tau"] == 2 and report["wall"]
    if name == "cost":
        report = json.loads(out)
        assert report["batch_size"] == 2 and report["speed"]
    if name == "generate":
        assert json.loads(out)["text"] and json.loads(out)["new_tokens"] == 4
    if name == "train":  # last: resumed to epoch 2 in place
        assert [r["epoch"] for r in Run(run).metrics()] == [1, 2]


@pytest.mark.parametrize(
    "name", ["probe", "compress", "prune", "exit", "export", "models", "grads"]
)  # cost: above, with --json already
def test_reporting_commands_print_one_json_document(name, run, tmp_path, capsys):
    argv = commands(run, tmp_path)[name]
    assert main([name, *argv, "--json"]) == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)  # stdout holds the JSON and nothing else
    assert report
    if name in WRITES:  # the files are written as without --json
        assert all((tmp_path / rel).is_file() for rel in WRITES[name])
