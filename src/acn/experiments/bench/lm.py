"""Items ``lm_train_step`` and ``generate``: acn's gpt against Hugging Face's GPT-2 at equal
shapes, threads and batch, and its own wirings and decoders side by side.

- ``lm_train_step``: one training step (torch's default AdamW on both sides, next-token
  cross-entropy) of our residual gpt vs ``transformers.GPT2LMHeadModel`` with the same shapes and
  the same function (exact GELU, LayerNorm eps 1e-6, tied embeddings, SDPA attention); and the
  ACN / residual step time and activation memory of our own twins.
- ``generate``: greedy KV-cache decoding tokens/s at batch 1 and 8 of our residual gpt vs HF
  ``generate`` (the same weights, so both produce the same tokens), and our self-speculative
  decoder (draft depth L/2) vs our plain decoder on the same model. On an untrained model the
  acceptance rate means nothing: this times the machinery; trained models are compared by
  ``acn reproduce lm`` (:mod:`acn.experiments.decoding`).

Speedup = HF time / acn time (or plain / self-speculative), the median of per-round ratios of
runs interleaved in one process.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...generation import generate_result
from ...models.base import StackModel
from .context import BenchContext, record, skipped
from .steps import Step, saved_activation_bytes, state_bytes
from .timing import interleave, median_ms, ratio

# (preset, batch): nanoGPT's CPU character model, and the CPU BPE model
SHAPES = (("gpt_char", 12), ("gpt_bpe", 8))
VOCAB = {"gpt_char": 65}  # the character vocabulary of tiny-shakespeare
TRAIN_GOAL = GENERATE_GOAL = 1.0  # at least as fast as Hugging Face at equal shapes and threads
PROMPT, NEW_TOKENS = 8, 56


class _FlatLM(nn.Module):
    """Token logits flattened to [B*T, V], so the class-label helpers score every position."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        out = self.model(x)
        logits = out if isinstance(out, Tensor) else out.logits
        return logits.flatten(0, 1)


def lm_step(model: nn.Module, x: Tensor, y: Tensor) -> Step:
    """One step of torch's default AdamW (lr 1e-3) on the next-token cross-entropy."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    flat = _FlatLM(model)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(flat(x), y.flatten()).backward()
        opt.step()

    return step


def hf_gpt2(model: StackModel) -> nn.Module:
    """Hugging Face's GPT2LMHeadModel with ``model``'s shapes and weights (residual, learned
    positions, tied head); raises ImportError without ``transformers``."""
    import transformers

    c = model.config
    hf = transformers.GPT2LMHeadModel(
        transformers.GPT2Config(
            vocab_size=c.vocab_size,
            n_positions=c.max_len,
            n_embd=c.dim,
            n_layer=c.depth,
            n_head=c.num_heads,
            n_inner=int(c.dim * c.mlp_ratio),
            activation_function="gelu",
            layer_norm_epsilon=1e-6,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            bos_token_id=None,
            eos_token_id=None,
        )
    )
    ours = model.state_dict()
    state = {
        "transformer.wte.weight": ours["embed.tok.weight"],
        "transformer.wpe.weight": ours["embed.pos.weight"],
        "transformer.ln_f.weight": ours["norm.weight"],
        "transformer.ln_f.bias": ours["norm.bias"],
    }
    names = {"ln_1": "norm1", "ln_2": "norm2", "attn.c_attn": "attn.qkv"}
    names.update({"attn.c_proj": "attn.proj", "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2"})
    for i in range(c.depth):
        for theirs, mine in names.items():
            w = ours[f"stack.blocks.{i}.{mine}.weight"]
            state[f"transformer.h.{i}.{theirs}.weight"] = w if theirs.startswith("ln") else w.t()
            state[f"transformer.h.{i}.{theirs}.bias"] = ours[f"stack.blocks.{i}.{mine}.bias"]
    missing, unexpected = hf.load_state_dict(state, strict=False)
    if unexpected or any("lm_head" not in k and "attn.bias" not in k for k in missing):
        raise ValueError(f"weights do not map onto GPT-2: {unexpected[:2]} {missing[:2]}")
    hf.tie_weights()
    return hf


def _version() -> str:
    try:
        return importlib.metadata.version("transformers")
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _shapes(ctx: BenchContext) -> list[tuple[str, int]]:
    return [SHAPES[0]] if ctx.scale.tiny else list(SHAPES)


def _model(ctx: BenchContext, preset: str, connectivity: str) -> StackModel:
    vocab = {"vocab_size": VOCAB[preset]} if preset in VOCAB and not ctx.scale.tiny else {}
    return ctx.model(preset, connectivity, **vocab)


def _lm_batch(model: StackModel, size: int, seed: int) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    c = model.config
    ids = torch.randint(0, c.vocab_size, (size, c.max_len + 1), generator=gen)
    return ids[:, :-1], ids[:, 1:]


def lm_train_step(ctx: BenchContext) -> dict[str, Any]:
    try:
        import transformers  # noqa: F401
    except ImportError:
        return skipped("needs transformers (pip install -e '.[bench]')")
    rows = []
    for preset, size in _shapes(ctx):
        size = 2 if ctx.scale.tiny else size
        ours, acn = _model(ctx, preset, "residual"), _model(ctx, preset, "acn")
        hf = hf_gpt2(ours).train()
        x, y = _lm_batch(ours, size, ctx.seed)
        steps = {"acn_residual": lm_step(ours, x, y), "hf_gpt2": lm_step(hf, x, y)}
        steps["acn_acn"] = lm_step(acn, x, y)
        times = interleave(steps, max(ctx.scale.warmup, 1), ctx.scale.repeats)
        speed, acn_ratio = (
            ratio(times, "hf_gpt2", "acn_residual"),
            ratio(times, "acn_acn", "acn_residual"),
        )
        memory = {
            name: saved_activation_bytes(_FlatLM(m), x, y.flatten()) + state_bytes(m)
            for name, m in (("residual", ours), ("acn", acn))
        }
        n_ours, n_hf = ours.num_params(), sum(p.numel() for p in hf.parameters())
        rows.append(
            {
                "model": preset,
                "batch": size,
                "tokens": size * ours.config.max_len,
                "params_acn": n_ours,
                "params_hf": n_hf,
                "acn_residual_ms": round(median_ms(times["acn_residual"]), 2),
                "hf_gpt2_ms": round(median_ms(times["hf_gpt2"]), 2),
                "speedup_vs_hf": round(speed.median, 3),
                "speedup_p25_p75": [round(speed.p25, 3), round(speed.p75, 3)],
                "acn_acn_ms": round(median_ms(times["acn_acn"]), 2),
                "acn_over_residual": round(acn_ratio.median, 3),
                "memory_acn_over_residual": round(memory["acn"] / memory["residual"], 3),
                "threads": torch.get_num_threads(),
            }
        )
        ctx.log(
            f"  lm_train_step {preset} b{size}: vs HF {speed.text()}, acn/res {acn_ratio.text()}"
        )
    worst = min(rows, key=lambda r: r["speedup_vs_hf"])
    return record(
        ", ".join(f"{r['model']} {r['speedup_vs_hf']:.2f}x HF GPT-2" for r in rows),
        rows,
        value=worst["speedup_vs_hf"],
        goal=f">= {TRAIN_GOAL}x HF GPT-2 (same shapes, threads, optimizer)",
        met=all(r["speedup_vs_hf"] >= TRAIN_GOAL for r in rows),
        notes=[
            f"transformers {_version()}: GPT2LMHeadModel, SDPA attention, exact GELU, eps 1e-6, "
            "tied head; both sides torch's default AdamW",
            "acn_over_residual: our ACN / residual twin step time; memory: saved activations + "
            "weights, grads and AdamW moments",
        ],
    )


def _decoders(
    ours: StackModel, hf: nn.Module, ids: Tensor, new: int, self_speculative: bool
) -> dict[str, Any]:
    """The decoders the item times, each generating ``new`` tokens after ``ids``."""

    def hf_decode() -> Tensor:
        with torch.inference_mode():
            return hf.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=new,
                min_new_tokens=new,
                do_sample=False,
                pad_token_id=0,
            )

    fns: dict[str, Any] = {
        "acn": lambda: generate_result(ours, ids, max_new_tokens=new),
        "hf": hf_decode,
    }
    if self_speculative:
        k = max(1, ours.depth // 2)
        fns["acn_self_speculative"] = lambda: generate_result(
            ours, ids, max_new_tokens=new, assistant_early_exit=k
        )
    return fns


def generate(ctx: BenchContext) -> dict[str, Any]:
    try:
        import transformers  # noqa: F401
    except ImportError:
        return skipped("needs transformers (pip install -e '.[bench]')")
    rows = []
    for preset, _ in _shapes(ctx):
        ours = _model(ctx, preset, "residual").eval()
        hf = hf_gpt2(ours).eval()
        new = NEW_TOKENS if not ctx.scale.tiny else 4
        for batch in (1, 8):
            gen = torch.Generator().manual_seed(ctx.seed)
            ids = torch.randint(0, ours.config.vocab_size, (batch, PROMPT), generator=gen)

            fns = _decoders(ours, hf, ids, new, self_speculative=batch == 1)
            same = torch.equal(fns["acn"]().sequences, fns["hf"]())
            times = interleave(fns, max(ctx.scale.warmup, 1), ctx.scale.repeats)
            speed = ratio(times, "hf", "acn")
            row = {
                "model": preset,
                "batch": batch,
                "new_tokens": new,
                "acn_tokens_per_s": round(batch * new / (median_ms(times["acn"]) / 1e3), 1),
                "hf_tokens_per_s": round(batch * new / (median_ms(times["hf"]) / 1e3), 1),
                "speedup_vs_hf": round(speed.median, 3),
                "speedup_p25_p75": [round(speed.p25, 3), round(speed.p75, 3)],
                "same_tokens_as_hf": same,
                "threads": torch.get_num_threads(),
            }
            if "acn_self_speculative" in times:
                spec = ratio(times, "acn", "acn_self_speculative")
                row["self_speculative_over_plain"] = round(spec.median, 3)
            rows.append(row)
            ctx.log(f"  generate {preset} b{batch}: vs HF {speed.text()}")
    worst = min(rows, key=lambda r: r["speedup_vs_hf"])
    return record(
        ", ".join(f"{r['model']} b{r['batch']} {r['speedup_vs_hf']:.2f}x HF" for r in rows),
        rows,
        value=worst["speedup_vs_hf"],
        goal=f">= {GENERATE_GOAL}x HF generate (greedy, KV cache, same weights and threads)",
        met=all(r["speedup_vs_hf"] >= GENERATE_GOAL for r in rows),
        notes=[
            f"transformers {_version()} GPT2LMHeadModel.generate (DynamicCache) vs acn.generate "
            "(preallocated cache), both greedy, prompt of 8 random tokens",
            "self_speculative_over_plain: the same untrained model, draft depth L/2; its "
            "acceptance means nothing on random weights (acn reproduce lm times trained "
            "models)",
        ],
    )
