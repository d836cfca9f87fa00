"""``acn generate MODEL --prompt TEXT``: continue a text with a trained language model.

MODEL is a run directory, a model file or a pretrained directory of a ``gpt`` model; its
tokenizer travels inside it. Greedy by default; ``--do-sample`` samples (``--temperature``,
``--top-k``, ``--top-p``, ``--seed``). One of ``--depth K`` (the first K blocks only: a cut),
``--draft-depth K|auto`` (lossless self-speculative decoding) or ``--exit-threshold C`` (per-token
early exit, lossy) picks the decoder. The text goes to stdout (``--stream``: as it is decided),
the cost (tokens/s, acceptance) to stderr; ``--json`` prints one JSON object instead.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import ConfigError, DataError
from ..generation import NUM_ASSISTANT_TOKENS, generate_result
from ..generation.draft_depth import choose_draft_depth
from ..generation.sampling import MAX_NEW_TOKENS
from ..generation.text import TextStreamer, encode_prompt, model_tokenizer, new_text
from ..models.gpt import GPTModel
from ..serialization import load, resolve_model_path
from .args import MAX_DEPTH, add_seed, finite_float, int_in, pick_device, probability


def draft_depth(text: str) -> int | str:
    if text == "auto":
        return text
    return int_in(1, MAX_DEPTH)(text)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="continue a text with a trained language model",
        description="Continue --prompt with a gpt model (run directory, model file or "
        "pretrained directory; the model carries its tokenizer). Greedy unless --do-sample. "
        "--depth K decodes with the first K blocks (a cut model), --draft-depth K|auto with "
        "lossless self-speculative decoding (draft with blocks 1..K, verify with the rest; "
        "auto times every K on the prompt and prints the choice), --exit-threshold C with "
        "per-token early exit at shared-head confidence C (lossy). The text goes to stdout, "
        "tokens/s and acceptance to stderr.",
    )
    p.add_argument("model", metavar="MODEL", help="run directory, model file or pretrained dir")
    p.add_argument("--prompt", required=True, help="the text to continue")
    p.add_argument(
        "--max-new-tokens",
        type=int_in(1, MAX_NEW_TOKENS),
        help="tokens to generate (default: fill the model's context)",
    )
    p.add_argument("--do-sample", action="store_true", help="sample instead of greedy decoding")
    p.add_argument("--temperature", type=finite_float, help="sampling temperature > 0 (default 1)")
    p.add_argument("--top-k", type=int_in(1, 1 << 24), help="sample from the k likeliest tokens")
    p.add_argument("--top-p", type=probability, help="nucleus sampling mass in (0, 1]")
    add_seed(p, "sampling")
    how = p.add_mutually_exclusive_group()
    how.add_argument(
        "--depth",
        type=int_in(0, MAX_DEPTH),
        help="keep exactly this many blocks (decode with the first K; 0: the embedding alone)",
    )
    how.add_argument(
        "--draft-depth",
        type=draft_depth,
        metavar="K|auto",
        help="self-speculative draft depth (1..L-1), or auto to calibrate it",
    )
    how.add_argument(
        "--exit-threshold", type=probability, metavar="C", help="per-token early exit confidence"
    )
    p.add_argument(
        "--num-draft-tokens",
        type=int_in(1, 64),
        default=NUM_ASSISTANT_TOKENS,
        help=f"tokens drafted per self-speculative round (default {NUM_ASSISTANT_TOKENS})",
    )
    p.add_argument("--tokenizer", metavar="FILE", help="a tokenizer JSON for a model without one")
    p.add_argument("--stream", action="store_true", help="print the text as it is generated")
    p.add_argument("--json", action="store_true", help="print one JSON object (text and cost)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.set_defaults(func=run)


def sampling_options(args: argparse.Namespace) -> dict:
    given = {
        "--temperature": args.temperature,
        "--top-k": args.top_k,
        "--top-p": args.top_p,
    }
    if not args.do_sample:
        named = [flag for flag, v in given.items() if v is not None]
        if named:
            raise ConfigError(f"{', '.join(named)} applies to sampling; add --do-sample")
        return {"do_sample": False}
    if args.temperature is not None and args.temperature <= 0:
        raise ConfigError(f"--temperature must be > 0 when sampling, got {args.temperature}")
    if args.top_p is not None and args.top_p <= 0:
        raise ConfigError("--top-p must be in (0, 1], got 0")
    return {
        "do_sample": True,
        "temperature": 1.0 if args.temperature is None else args.temperature,
        "top_k": args.top_k,
        "top_p": args.top_p,
        "seed": args.seed,
    }


def run(args: argparse.Namespace) -> int:
    options = sampling_options(args)  # option errors before anything is loaded
    if args.stream and args.json:
        raise ConfigError("give --stream or --json, not both")
    device = pick_device(args.device)
    path = resolve_model_path(args.model)
    model = load(path, device)
    if not isinstance(model, GPTModel):
        raise DataError(f"{path} holds a {model.family} model; acn generate needs a gpt model")
    tok = model_tokenizer(model, args.tokenizer)
    ids = encode_prompt(tok, args.prompt, device)
    room = model.config.max_len - ids.shape[1]
    if room < 1:
        raise DataError(
            f"the prompt is {ids.shape[1]} tokens; the model's context of "
            f"{model.config.max_len} leaves no room to generate"
        )
    max_new = args.max_new_tokens if args.max_new_tokens is not None else room
    for flag, value, low, high in (
        ("--depth", args.depth, 0, model.depth),
        ("--draft-depth", args.draft_depth, 1, model.depth - 1),
    ):
        if isinstance(value, int) and not low <= value <= high:
            raise ConfigError(
                f"{flag} must be in {low}..{high} for this {model.depth}-block model, got {value}"
            )
    if args.depth is not None:
        options["depth"] = args.depth
    if args.exit_threshold is not None:
        options["exit_threshold"] = args.exit_threshold
    choice = None
    if args.draft_depth is not None:
        options["num_assistant_tokens"] = args.num_draft_tokens
        if args.draft_depth == "auto":
            if max_new > room:  # the calibration would hide this behind its own run
                raise DataError(f"max_new_tokens={max_new} exceeds the {room} left in the context")
            choice = choose_draft_depth(model, ids, args.num_draft_tokens)
            options["assistant_early_exit"] = choice.depth
            if not args.json:
                print(choice.line(), file=sys.stderr)
        else:
            options["assistant_early_exit"] = args.draft_depth
    streamer = TextStreamer(tok) if args.stream else None
    if streamer is not None:
        sys.stdout.write(args.prompt)
    result = generate_result(
        model,
        ids,
        max_new_tokens=max_new,
        eos_token_id=tok.eos_token_id,
        streamer=streamer,
        **options,
    )
    text = new_text(tok, result.sequences, ids.shape[1])
    stats = result.stats()
    if args.json:
        out = {"prompt": args.prompt, "text": text, "prompt_tokens": ids.shape[1], **stats}
        if choice is not None:
            out["calibration_tokens_per_s"] = choice.tokens_per_s
        print(json.dumps(out, ensure_ascii=False))
        return 0
    if streamer is None:
        print(args.prompt + text)
    print(_stats_line(stats), file=sys.stderr)
    return 0


def _stats_line(stats: dict) -> str:
    line = (
        f"{stats['new_tokens']} new tokens in {stats['seconds']:.3f} s "
        f"({stats['tokens_per_s']:.1f} tokens/s), {stats['method']}"
    )
    if stats.get("drafted"):
        line += (
            f": acceptance {stats['acceptance_rate']:.1%}, "
            f"{stats['mean_accepted_length']:.2f} drafts kept per round"
        )
    if "mean_exit_depth" in stats:
        line += f": mean exit depth {stats['mean_exit_depth']:.2f}"
    return line
