"""Decoding against independent oracles: recomputation without a cache, the full model's greedy
tokens, the full model's exact sampling distribution (enumerated), and per-depth logits of one
teacher-forced pass."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import acn
from acn.errors import ConfigError, DataError
from acn.generation import exit_cost, generate_result, next_token_probs
from acn.generation.cache import ModelCache
from acn.generation.decode import last_logits, run_blocks
from acn.generation.early_exit import confidence
from acn.models import tiny_overrides


def random_gpt(mode: str, positions: str = "learned", seed: int = 0, **overrides):
    """An untrained model whose depths disagree (untied head, weights scaled up), so drafts are
    rejected and accepted alike and every cache rollback path runs; float64, so that the
    batched verification and one-token steps round alike."""
    torch.manual_seed(seed)
    values = {**tiny_overrides("gpt_char"), "depth": 4, "max_len": 48, "tie_embeddings": False}
    values.update(overrides)
    model = acn.create_model("gpt_char", mode, positions=positions, **values).double().eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            # the wiring's own weights (dense, long-connection, join): off their init, kept near it
            if name.startswith(("stack.dwa", "stack.proj", "stack.long")) or ".wire." in name:
                p.add_(0.1 * torch.randn_like(p))
            elif p.dim() == 2:
                p.mul_(4.0)
    return model


def greedy_by_recomputation(model, ids: torch.Tensor, n: int) -> torch.Tensor:
    """The oracle: the full forward over the whole sequence for every new token, no cache."""
    seq = ids
    with torch.no_grad():
        for _ in range(n):
            seq = torch.cat([seq, model(seq)[:, -1].argmax(-1, keepdim=True)], dim=1)
    return seq


PROMPT = torch.tensor([[3, 14, 15, 9, 26, 5]])


@pytest.mark.slow
@pytest.mark.parametrize("positions", ["learned", "rotary"])
@pytest.mark.parametrize("mode", acn.MODES)
def test_greedy_decoding_is_recomputation_and_self_speculation_is_lossless(mode, positions):
    model = random_gpt(mode, positions)
    expected = greedy_by_recomputation(model, PROMPT, 30)
    assert torch.equal(model.generate(PROMPT, max_new_tokens=30), expected)
    rates = []
    for k in range(1, model.depth):
        for gamma in (1, 4):  # a draft shorter than the agreement runs, and longer
            r = generate_result(
                model, PROMPT, max_new_tokens=30, assistant_early_exit=k, num_assistant_tokens=gamma
            )
            assert torch.equal(r.sequences, expected), (k, gamma)
            assert r.new_tokens == 30 and r.drafted >= r.accepted
            rates.append(r.acceptance_rate)
    if mode != "feedforward":  # its depths share nothing: every draft is rejected
        assert min(rates) < 1 and max(rates) > 0  # both the keep and the rollback paths ran


@pytest.mark.parametrize("mode", ["residual", "acn", "densenet"])
def test_a_cut_model_decodes_as_the_first_blocks_of_the_full_one(mode):
    model = random_gpt(mode, depth=5)
    cut = model.truncate(3)
    expected = greedy_by_recomputation(cut, PROMPT, 20)
    assert torch.equal(model.generate(PROMPT, max_new_tokens=20, depth=3), expected)
    assert torch.equal(cut.generate(PROMPT, max_new_tokens=20), expected)
    for k in (1, 2):
        r = generate_result(cut, PROMPT, max_new_tokens=20, assistant_early_exit=k)
        assert torch.equal(r.sequences, expected)


def test_depth_k_decodes_greedily_off_depth_k_of_one_teacher_forced_pass():
    """Oracle: greedy recomputation reading depth k of ``logits_per_depth`` (k = 0: the
    embedding alone, the model's bigram readout)."""
    model = random_gpt("acn")
    for k in (0, 2):
        seq = PROMPT
        with torch.no_grad():
            for _ in range(12):
                nxt = model.logits_per_depth(seq)[k][:, -1].argmax(-1, keepdim=True)
                seq = torch.cat([seq, nxt], dim=1)
        assert torch.equal(model.generate(PROMPT, max_new_tokens=12, depth=k), seq), k


def test_cached_logits_equal_a_full_forward_at_every_step():
    model = random_gpt("acn", "rotary")
    seq = torch.randint(0, 50, (2, 20), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        full = model(seq)
    cache = ModelCache(model, 20, model.depth)
    with torch.no_grad(), cache.attached():
        x0, _ = model.start(seq[:, :8])
        state = run_blocks(model, model.stack.start(x0), model.depth)
        torch.testing.assert_close(last_logits(model, state), full[:, 7])
        for t in range(8, 20):
            x0, _ = model.start(seq[:, t : t + 1], past_length=t)
            state = run_blocks(model, model.stack.start(x0), model.depth)
            torch.testing.assert_close(last_logits(model, state), full[:, t])


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_a_left_padded_batch_decodes_each_row_as_alone(positions):
    model = random_gpt("acn", positions)
    rows = [torch.tensor([[7, 8, 9]]), PROMPT, torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8, 9]])]
    width = max(r.shape[1] for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        ids[i, width - r.shape[1] :], mask[i, width - r.shape[1] :] = r[0], 1
    out = model.generate(ids, attention_mask=mask, max_new_tokens=12)
    speculative = model.generate(
        ids, attention_mask=mask, max_new_tokens=12, assistant_early_exit=2
    )
    assert torch.equal(speculative, out)
    for i, r in enumerate(rows):
        alone = model.generate(r, max_new_tokens=12)
        assert torch.equal(out[i, width - r.shape[1] :], alone[0])


def test_eos_stops_a_row_and_pads_it_with_eos():
    model = random_gpt("acn")
    free = model.generate(PROMPT, max_new_tokens=25)[0, PROMPT.shape[1] :]
    eos = int(free[4])
    first = int((free == eos).nonzero()[0])
    for kwargs in ({}, {"assistant_early_exit": 2}, {"exit_threshold": 1.0}):
        r = generate_result(model, PROMPT, max_new_tokens=25, eos_token_id=eos, **kwargs)
        new = r.sequences[0, PROMPT.shape[1] :]
        assert torch.equal(new[: first + 1], free[: first + 1]) and r.new_tokens == first + 1
    batch = torch.cat([PROMPT, PROMPT.flip(1)])
    out = model.generate(batch, max_new_tokens=25, eos_token_id=eos)
    row = out[0, PROMPT.shape[1] :]
    assert (row[first:] == eos).all()


@pytest.mark.parametrize("mode", acn.MODES)
def test_early_exit_reads_each_token_off_its_exit_depth(mode):
    """Oracle: one teacher-forced pass over the generated text gives every depth's logits; each
    new token must be the argmax at the first depth whose confidence reaches the threshold."""
    model = random_gpt(mode)
    with torch.no_grad():  # the median top probability of depths 1..L-1 on the model's own text
        text = model.generate(PROMPT, max_new_tokens=30)
        threshold = float(confidence(model.logits_per_depth(text)[1:-1]).median())
    r = generate_result(model, PROMPT, max_new_tokens=30, exit_threshold=threshold)
    seq = r.sequences
    with torch.no_grad():
        per_depth = model.logits_per_depth(seq)  # [L+1, 1, T, V]
    p = PROMPT.shape[1]
    depths = []
    for t in range(p - 1, seq.shape[1] - 1):
        logits = per_depth[1:, 0, t]  # depths 1..L
        conf = confidence(logits)
        k = next((d for d in range(model.depth - 1) if conf[d] >= threshold), model.depth - 1)
        k = model.depth - 1 if t == p - 1 else k  # the prompt's last position runs in full
        assert int(seq[0, t + 1]) == int(logits[k].argmax())
        depths.append(k + 1)
    assert r.exit_depths == depths
    assert 1 < sum(depths) / len(depths) < model.depth  # some tokens exited early, some did not


SMALL_PROMPT = torch.tensor([[0, 3, 1, 4, 1, 2]])  # for the 5-token vocabulary


def _continuation_probs(model, n: int, temperature: float, top_k: int | None) -> dict:
    """Exact probability of every n-token continuation of SMALL_PROMPT under the full model."""
    vocab = model.config.vocab_size
    out = {}
    with torch.no_grad():
        for tail in itertools.product(range(vocab), repeat=n):
            seq = torch.cat([SMALL_PROMPT, torch.tensor([tail])], dim=1)
            logits = model(seq)[0, SMALL_PROMPT.shape[1] - 1 : -1]
            probs = next_token_probs(logits, temperature, top_k)
            out[tail] = float(probs[torch.arange(n), torch.tensor(tail)].prod())
    return out


def _chi2_p(counts: dict, expected: dict, total: int) -> float:
    """p-value of Pearson's chi-square test of ``counts`` against ``expected`` probabilities,
    cells with expected count < 5 pooled into one (Wilson-Hilferty approximation)."""
    big = [t for t, p in expected.items() if p * total >= 5]
    stat, cells = 0.0, 0
    for t in big:
        e = expected[t] * total
        stat += (counts.get(t, 0) - e) ** 2 / e
        cells += 1
    rest_e = total * (1 - sum(expected[t] for t in big))
    if rest_e > 0:
        rest = total - sum(counts.get(t, 0) for t in big)
        stat += (rest - rest_e) ** 2 / rest_e
        cells += 1
    df = cells - 1
    z = ((stat / df) ** (1 / 3) - (1 - 2 / (9 * df))) / math.sqrt(2 / (9 * df))
    return 0.5 * math.erfc(z / math.sqrt(2))


@pytest.mark.slow
def test_self_speculative_sampling_follows_the_full_models_distribution():
    """Sampled continuations of 3 tokens on a 5-token vocabulary (125 outcomes), drafted at
    depth 1: their frequencies against the exact full-model probabilities, and, to show the test
    has the power to tell, the draft's own samples against the same probabilities."""
    model = random_gpt("acn", vocab_size=5, depth=3, dim=16)
    with torch.no_grad():
        model.head.weight.mul_(0.5)  # softer distributions: many outcomes
    n, draws, temperature, top_k = 3, 3000, 0.9, 4
    expected = _continuation_probs(model, n, temperature, top_k)
    p = SMALL_PROMPT.shape[1]

    def sample(**kwargs) -> dict:
        counts: dict = {}
        batch = SMALL_PROMPT.repeat(draws, 1)
        out = generate_result(
            model, batch, max_new_tokens=n, do_sample=True, temperature=temperature,
            top_k=top_k, seed=1, **kwargs,
        )  # fmt: skip
        for row in out.sequences[:, p:].tolist():
            counts[tuple(row)] = counts.get(tuple(row), 0) + 1
        return counts, out

    counts, out = sample(assistant_early_exit=1, num_assistant_tokens=2)
    assert 0.1 < out.acceptance_rate < 0.95  # drafts were both kept and replaced
    assert _chi2_p(counts, expected, draws) > 1e-3
    draft_only, _ = sample(depth=1)
    assert _chi2_p(draft_only, expected, draws) < 1e-6


def test_same_seed_same_samples():
    model = random_gpt("acn")
    kw = dict(max_new_tokens=15, do_sample=True, top_p=0.9, seed=7)
    a, b = model.generate(PROMPT, **kw), model.generate(PROMPT, **kw)
    assert torch.equal(a, b)
    assert not torch.equal(a, model.generate(PROMPT, **{**kw, "seed": 8}))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"input_ids": torch.zeros(1, 0, dtype=torch.long)}, DataError, "prompt is empty"),
        ({"input_ids": torch.tensor([[1, 99]])}, DataError, "vocabulary"),
        ({"input_ids": torch.tensor([[1.0, 2.0]])}, DataError, "integer token ids"),
        ({"input_ids": torch.ones(1, 49, dtype=torch.long)}, DataError, "context"),
        ({"max_new_tokens": 0}, ConfigError, "max_new_tokens"),
        ({"max_new_tokens": 10**9}, ConfigError, "max_new_tokens"),
        ({"max_new_tokens": 45}, DataError, "leaves room for 42"),
        ({"assistant_early_exit": 0}, ConfigError, "1..3"),
        ({"assistant_early_exit": 4}, ConfigError, "1..3"),
        ({"depth": 5}, ConfigError, "depth"),
        ({"do_sample": True, "temperature": 0.0}, ConfigError, "temperature"),
        ({"do_sample": True, "temperature": -1.0}, ConfigError, "temperature"),
        ({"temperature": float("nan")}, ConfigError, "temperature"),
        ({"top_p": float("nan")}, ConfigError, "top_p"),
        ({"top_p": 1.5}, ConfigError, "top_p"),
        ({"top_p": 0.0}, ConfigError, "top_p"),
        ({"top_k": 0}, ConfigError, "top_k"),
        ({"exit_threshold": 0.0}, ConfigError, "exit_threshold"),
        ({"depth": 2, "assistant_early_exit": 1}, ConfigError, "choose one"),
        ({"attention_mask": torch.tensor([[1, 0, 1, 1, 1, 1]])}, DataError, "left padding"),
    ],
)
def test_bad_generation_options_are_one_line_errors(kwargs, error, match):
    model = random_gpt("acn")
    args = {"input_ids": PROMPT, "max_new_tokens": 5, **kwargs}
    with pytest.raises(error, match=match) as info:
        generate_result(model, **args)
    assert "\n" not in str(info.value)


def test_exit_cost_is_the_loss_of_the_exited_predictions():
    model = random_gpt("acn")
    x = torch.randint(0, 50, (4, 17), generator=torch.Generator().manual_seed(2))
    batches = [(x[:, :-1], x[:, 1:])]
    never = exit_cost(model, batches, 1.0)  # no depth reaches confidence 1: all run in full
    always = exit_cost(model, batches, 1e-9)  # every token leaves at depth 1
    with torch.no_grad():
        logits = model.logits_per_depth(x[:, :-1])
    for cost, k in ((never, model.depth), (always, 1)):
        want = torch.nn.functional.cross_entropy(logits[k].flatten(0, 1), x[:, 1:].flatten())
        assert cost["loss"] == pytest.approx(float(want), rel=1e-6)
        assert cost["mean_exit_depth"] == k
    assert never["loss_cost"] == 0 and always["full_loss"] == never["loss"]
