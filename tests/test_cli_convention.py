"""One command-line convention, checked on every registered subcommand (new ones included)."""

from __future__ import annotations

import argparse
import re

import pytest

from acn.cli import args as cli_args
from acn.cli import build_parser

HYPHENATED = re.compile(r"--[a-z0-9]+(-[a-z0-9]+)*")
# one name per concept: these spellings are the other names people reach for
SYNONYMS = {
    "--out-dir": "--out",
    "--output": "--out",
    "--output-dir": "--out",
    "--outdir": "--out",
    "--target-drop": "--tolerance",
    "--tol": "--tolerance",
    "--eval-batch-size": "--batch-size",
    "--bs": "--batch-size",
    "--batch": "--batch-size or --timing-batch",
    "--time": "timing on by default, --no-time",
    "--timing": "timing on by default, --no-time",
    "--split-seed": "--seed",
}
# options whose values form a fixed set must list it with choices=
ENUMERATED = {"connectivity", "policy", "heads", "normalize", "family", "format", "dtype"}
TIMING = {"--repeats", "--warmup", "--timing-batch", "--latency-samples"}
CHECKED_TYPES = {
    cli_args.output_dir: "out",
    cli_args.seed: "seed",
}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def options(p: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in p._actions if not isinstance(a, argparse._HelpAction)]


SUBCOMMANDS = subcommands()


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_flags_are_hyphenated_and_one_name_per_concept(name):
    for action in options(SUBCOMMANDS[name]):
        for flag in action.option_strings:
            assert HYPHENATED.fullmatch(flag), f"acn {name} {flag}: lower-case, hyphenated"
            assert flag not in SYNONYMS, f"acn {name} {flag}: say {SYNONYMS[flag]}"


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_values_are_checked_by_shared_types(name):
    for action in options(SUBCOMMANDS[name]):
        what = f"acn {name} {'/'.join(action.option_strings) or action.dest}"
        # plain float lets NaN through, plain int has no bound on what a typo costs
        assert action.type not in (float, int), f"{what}: use a type from acn.cli.args"
        if action.dest in ENUMERATED:
            assert action.choices, f"{what}: list the values with choices="
        for typ, dest in CHECKED_TYPES.items():
            if action.dest == dest:
                assert action.type is typ, f"{what}: use acn.cli.args.{typ.__name__}"


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_help_says_what_every_option_means(name):
    p = SUBCOMMANDS[name]
    assert p.description, f"acn {name}: give the parser a description"
    for action in options(p):
        assert action.help, f"acn {name} {action.dest}: no help text"
        if "--batch-size" in action.option_strings:
            assert "batch size" in action.help, f"acn {name} --batch-size: say which batch"


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_timing_is_on_by_default_with_no_time(name):
    flags = {f for a in options(SUBCOMMANDS[name]) for f in a.option_strings}
    if flags & TIMING:
        assert "--no-time" in flags, f"acn {name} times: it needs --no-time"


def test_top_level_help_lists_every_subcommand_on_one_line(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    text = build_parser().format_help()
    block = text.split("COMMAND\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.split()[0] for line in block] == list(SUBCOMMANDS), text
    for line in block:
        name, help_text = line.split(None, 1)
        assert help_text.strip(), f"acn {name}: no one-line help"


@pytest.mark.parametrize(
    ("parse", "text", "value"),
    [
        (cli_args.finite_float, "-2.5", -2.5),
        (cli_args.non_negative_float, "0", 0.0),
        (cli_args.probability, "1", 1.0),
        (cli_args.int_in(1, 5), "5", 5),
        (cli_args.seed, str(2**63 - 1), 2**63 - 1),
    ],
)
def test_types_accept_good_values(parse, text, value):
    assert parse(text) == value


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (cli_args.finite_float, "nan"),
        (cli_args.finite_float, "-inf"),
        (cli_args.finite_float, "x"),
        (cli_args.non_negative_float, "NaN"),
        (cli_args.non_negative_float, "-1e-9"),
        (cli_args.probability, "nan"),
        (cli_args.probability, "1.0001"),
        (cli_args.int_in(1, 5), "0"),
        (cli_args.int_in(1, 5), "6"),
        (cli_args.int_in(1, 5), "2.0"),
        (cli_args.int_in(1, 5), "1e3"),
        (cli_args.seed, "-1"),
        (cli_args.seed, str(2**63)),
    ],
)
def test_types_refuse_bad_values(parse, text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse(text)


def test_output_paths(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli_args.output_dir(str(tmp_path / "new" / "deeper")) == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checked, not created
    assert cli_args.output_file(str(tmp_path / "a.json")) == tmp_path / "a.json"
    for parse, text in [
        (cli_args.output_dir, blocker),
        (cli_args.output_dir, blocker / "sub"),
        (cli_args.output_file, tmp_path),
        (cli_args.output_file, blocker / "a.json"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(str(text))


# -- one meaning per flag ----------------------------------------------------------------------
REPORTING = (
    "probe", "compress", "prune", "exit", "cost", "export", "models", "grads", "bench", "reproduce",
    "report",
)  # fmt: skip


def flag(p: argparse.ArgumentParser, name: str) -> argparse.Action | None:
    return next((a for a in options(p) if name in a.option_strings), None)


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_data_is_a_dataset_spec_and_a_folder_of_them_is_data_root(name):
    p = SUBCOMMANDS[name]
    data, root = flag(p, "--data"), flag(p, "--data-root")
    if data is not None:
        assert data.metavar == "SPEC", f"acn {name} --data: a dataset spec (metavar SPEC)"
        assert "spec" in data.help, f"acn {name} --data: say it is a dataset spec"
    if root is not None:
        assert root.metavar == "DIR", f"acn {name} --data-root: a directory (metavar DIR)"


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_depth_keeps_k_blocks(name):
    depth = flag(SUBCOMMANDS[name], "--depth")
    if depth is not None:
        assert "keep exactly this many blocks" in depth.help, f"acn {name} --depth: keeps K blocks"
        assert depth.type(str(0)) == 0, f"acn {name} --depth: 0 blocks is a depth too"


@pytest.mark.parametrize("name", REPORTING)
def test_reporting_commands_print_json_with_a_switch(name):
    action = flag(SUBCOMMANDS[name], "--json")
    assert action is not None, f"acn {name}: add --json (acn.cli.args.add_json)"
    assert action.nargs == 0 and action.const is True, f"acn {name} --json takes no value"
