"""Our residual (post-LN) BERT against Hugging Face ``transformers`` with the same weights copied
over: the embedding output and every layer's hidden state, the pooler + classifier logits
(``BertForSequenceClassification``) and the masked-LM logits (``BertForMaskedLM``), with padding.

HF runs its eager attention, an implementation independent of our SDPA call. Every parameter is
drawn at random first (biases and LayerNorm weights too), so that a weight copied to the wrong
place cannot hide behind an initialisation of zeros and ones. Skipped where transformers is not
installed; the ``test`` extra installs it (``pip install -e ".[test]"``).
"""

from __future__ import annotations

import pytest
import torch

import acn
from acn.models import tiny_overrides

transformers = pytest.importorskip(
    "transformers",
    reason="HF transformers (the outside oracle) is not installed; pip install -e '.[test]'",
)


def ours(name: str) -> acn.StackModel:
    torch.manual_seed(0)
    model = acn.create_model(name, "residual", **tiny_overrides(name))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5)
    return model.eval()


def hf_config(model: acn.StackModel, **extra) -> transformers.BertConfig:
    c = model.config
    return transformers.BertConfig(
        vocab_size=c.vocab_size,
        hidden_size=c.dim,
        num_hidden_layers=c.depth,
        num_attention_heads=c.num_heads,
        intermediate_size=c.mlp_hidden,
        hidden_act="gelu",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=c.max_len,
        type_vocab_size=1,
        layer_norm_eps=1e-12,
        pad_token_id=c.pad_id,
        attn_implementation="eager",
        **extra,
    )


# HF's head modules -> ours (a weight and a bias each)
CLS_HEAD = {"bert.pooler.dense": "head.dense", "classifier": "head.classifier"}
MLM_HEAD = {
    "cls.predictions.transform.dense": "head.dense",
    "cls.predictions.transform.LayerNorm": "head.norm",
}


def hf_weights(model: acn.StackModel, head: dict[str, str]) -> dict[str, torch.Tensor]:
    """Our parameters under the names of HF's ``BertModel`` (prefix ``bert.``) and ``head``."""
    s, d = model.state_dict(), model.config.dim
    out = {
        "bert.embeddings.word_embeddings.weight": s["embed.word.weight"],
        "bert.embeddings.position_embeddings.weight": s["embed.position.weight"],
        "bert.embeddings.token_type_embeddings.weight": s["embed.token_type.weight"],
        "bert.embeddings.LayerNorm.weight": s["embed.norm.weight"],
        "bert.embeddings.LayerNorm.bias": s["embed.norm.bias"],
    }
    for i in range(model.depth):
        ours_, hf = f"stack.blocks.{i}.", f"bert.encoder.layer.{i}."
        for j, part in enumerate(("query", "key", "value")):  # qkv rows: q, then k, then v
            for kind in ("weight", "bias"):
                rows = s[f"{ours_}attn.qkv.{kind}"][j * d : (j + 1) * d]
                out[f"{hf}attention.self.{part}.{kind}"] = rows
        for kind in ("weight", "bias"):
            out[f"{hf}attention.output.dense.{kind}"] = s[f"{ours_}attn.proj.{kind}"]
            out[f"{hf}attention.output.LayerNorm.{kind}"] = s[f"{ours_}norm1.{kind}"]
            out[f"{hf}intermediate.dense.{kind}"] = s[f"{ours_}mlp.fc1.{kind}"]
            out[f"{hf}output.dense.{kind}"] = s[f"{ours_}mlp.fc2.{kind}"]
            out[f"{hf}output.LayerNorm.{kind}"] = s[f"{ours_}norm2.{kind}"]
    for hf, ours_ in head.items():
        for kind in ("weight", "bias"):
            out[f"{hf}.{kind}"] = s[f"{ours_}.{kind}"]
    return out


def load_into(hf: torch.nn.Module, weights: dict[str, torch.Tensor]) -> torch.nn.Module:
    missing, unexpected = hf.load_state_dict(weights, strict=False)
    assert not unexpected, unexpected
    assert all("position_ids" in k or "token_type_ids" in k for k in missing), missing
    return hf.eval()


def padded_ids(model: acn.StackModel) -> torch.Tensor:
    ids = model.example_input(3, generator=torch.Generator().manual_seed(1))
    ids[1, -5:] = model.config.pad_id
    ids[2, 4:] = model.config.pad_id
    return ids


def test_classifier_bert_matches_hf_layer_by_layer():
    model = ours("bert_tiny")
    config = hf_config(model, num_labels=model.config.num_classes)
    hf = transformers.BertForSequenceClassification(config)
    hf = load_into(hf, hf_weights(model, CLS_HEAD))
    ids = padded_ids(model)
    mask = (ids != model.config.pad_id).long()
    with torch.no_grad():
        want = hf(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        got = model(ids, output_hidden_states=True, return_dict=True)
        implicit = model(ids)  # the key mask taken from the pad ids
    assert len(got.hidden_states) == len(want.hidden_states) == model.depth + 1
    for k, (a, b) in enumerate(zip(got.hidden_states, want.hidden_states)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5, msg=f"hidden state {k}")
    torch.testing.assert_close(got.logits, want.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(implicit, want.logits, atol=1e-5, rtol=1e-5)


def test_masked_lm_bert_matches_hf():
    model = ours("bert_tiny_mlm")
    weights, s = hf_weights(model, MLM_HEAD), model.state_dict()
    weights["cls.predictions.decoder.weight"] = s["embed.word.weight"]  # tied, as in BERT
    weights["cls.predictions.bias"] = weights["cls.predictions.decoder.bias"] = s["head.bias"]
    hf = load_into(transformers.BertForMaskedLM(hf_config(model)), weights)
    ids = padded_ids(model)
    with torch.no_grad():
        want = hf(input_ids=ids, attention_mask=(ids != model.config.pad_id).long()).logits
        got = model(ids)
    assert got.shape == want.shape == (*ids.shape, model.config.vocab_size)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
