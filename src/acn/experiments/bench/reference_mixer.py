"""The authors' CIFAR-10 AC-Mixer and Res-Mixer, restated for parity tests and speed comparisons.

Source: the first author's public research repository, github.com/vdorovatas/
inter_layer_connectivity_research (the code accompanying arXiv 2506.09714, Dorovatas et al.):

- AC-Mixer: ``mixer/mixer_github/ac_mixer.py`` at commit 285f357df7a8d2c73626e2d22703b4fee76666de,
  built by ``mixer/mixer_github/main.py`` (same commit) with hidden_size=128, hidden_s=64,
  hidden_c=512, num_layers=16, patch_size=4, is_cls_token=True, drop_p=0, off_act=False;
- Res-Mixer: ``mixer/mixer_simple_only_acn_paper_code/res_mixer.py`` at commit
  776cf0ff05d339f1f3b4cbd6f2b24f4f8c34553a (same constructor arguments);
- training step: ``mixer/mixer_simple_only_acn_paper_code/train.py`` (same commit):
  ``optim.AdamW(model.parameters(), lr=0.001)``, label smoothing 0.1, CutMix beta 1 p 0.5,
  ``clip_grad_norm_(1.0)``, 10 warmup epochs then ``CosineAnnealingLR(eta_min=1e-6)``.

Both files derive from omihub777/MLP-Mixer-CIFAR. This is not a verbatim copy: it is the same
computation with the same module names, so its ``state_dict`` keys are the authors'
(``patch_emb.0``, ``cls_token``, ``mixer_layers.i.mlp1/mlp2/linear/ln``, ``ln``, ``clf``) and one
class holds both wirings (the two files differ only in the sub-layer residuals and the forward
loop). Dropout is left out (the paper's runs use drop_p=0, where it is the identity) and einops'
``Rearrange('b d h w -> b (h w) d')`` is written as ``flatten(2).transpose(1, 2)``. ``forward(x, eval_=True)`` returns
the per-depth predictions exactly as the authors' evaluation does: ``clf(ln(rep[:, 0]))`` for the
representation after 0..L layers (the running sum for the AC-Mixer, the stream for the Res-Mixer).
``tests/test_paper_parity.py`` checks ``mixer_cifar_paper`` against it; ``acn bench``'s
``peer_speedup`` times it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class _Tokens(nn.Module):
    """[B, D, H, W] -> [B, H*W, D] (the authors' ``Rearrange('b d h w -> b (h w) d')``)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(2).transpose(1, 2)


class MLP1(nn.Module):
    """Token mixing: LN -> Conv1d(T, hidden_s, 1) -> GELU -> Conv1d(hidden_s, T, 1) (+x in Res)."""

    def __init__(self, num_patches: int, hidden_s: int, hidden_size: int, residual: bool) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(hidden_size)
        self.fc1 = nn.Conv1d(num_patches, hidden_s, kernel_size=1)
        self.fc2 = nn.Conv1d(hidden_s, num_patches, kernel_size=1)
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        out = self.fc2(F.gelu(self.fc1(self.ln(x))))
        return out + x if self.residual else out


class MLP2(nn.Module):
    """Channel mixing: LN -> Linear(D, hidden_c) -> GELU -> Linear(hidden_c, D) (+x in Res)."""

    def __init__(self, hidden_size: int, hidden_c: int, residual: bool) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(hidden_size)
        self.fc1 = nn.Linear(hidden_size, hidden_c)
        self.fc2 = nn.Linear(hidden_c, hidden_size)
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        out = self.fc2(F.gelu(self.fc1(self.ln(x))))
        return out + x if self.residual else out


class MixerLayer(nn.Module):
    """mlp1 -> mlp2 -> the per-layer tail ``LN(ReLU(Linear(h) + x))`` (both wirings keep it)."""

    def __init__(
        self, num_patches: int, hidden_size: int, hidden_s: int, hidden_c: int, residual: bool
    ) -> None:
        super().__init__()
        self.mlp1 = MLP1(num_patches, hidden_s, hidden_size, residual)
        self.mlp2 = MLP2(hidden_size, hidden_c, residual)
        self.linear = nn.Linear(hidden_size, hidden_size)
        self.ln = nn.LayerNorm(hidden_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.ln(F.relu(self.linear(self.mlp2(self.mlp1(x))) + x))


class MLPMixer(nn.Module):
    """AC-Mixer (``residual=False``) or Res-Mixer, with the paper's CIFAR-10 sizes as defaults."""

    def __init__(
        self,
        residual: bool = False,
        in_channels: int = 3,
        img_size: int = 32,
        patch_size: int = 4,
        hidden_size: int = 128,
        hidden_s: int = 64,
        hidden_c: int = 512,
        num_layers: int = 16,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        self.residual = residual
        num_patches = (img_size // patch_size) ** 2 + 1  # + the cls token
        self.patch_emb = nn.Sequential(
            nn.Conv2d(in_channels, hidden_size, kernel_size=patch_size, stride=patch_size),
            _Tokens(),
        )
        self.cls_token = nn.Parameter(torch.randn(1, 1, hidden_size))
        self.mixer_layers = nn.ModuleList(
            MixerLayer(num_patches, hidden_size, hidden_s, hidden_c, residual)
            for _ in range(num_layers)
        )
        self.ln = nn.LayerNorm(hidden_size)
        self.clf = nn.Linear(hidden_size, num_classes)

    def forward(self, x: Tensor, eval_: bool = False) -> tuple[Tensor, list[Tensor]]:
        """(logits, per-depth logits for depth 0..L when ``eval_`` else [])."""
        out = self.patch_emb(x)
        out = torch.cat([self.cls_token.repeat(out.size(0), 1, 1), out], dim=1)
        reps = [out]
        if self.residual:
            for layer in self.mixer_layers:
                out = layer(out)
                reps.append(out)
            final = out
        else:
            current = out
            for layer in self.mixer_layers:
                out = layer(out)
                current = current + out
                reps.append(current)
            final = current
        per_depth = [self.clf(self.ln(r[:, 0])) for r in reps] if eval_ else []
        return self.clf(self.ln(final)[:, 0]), per_depth


def state_from_acn(state: dict[str, Tensor], depth: int, in_chans: int = 3) -> dict[str, Tensor]:
    """The authors' state dict for the weights of an acn ``mixer_cifar_paper``-style model.

    acn's patch embedding is a Linear over (channel, row, column)-ordered patches, the same
    function as the Conv2d here; its token mixing is a Linear over tokens, the Conv1d's kernel.
    """
    dim = state["norm.weight"].shape[0]
    patch = state["embed.patch.proj.weight"]
    p = math.isqrt(patch.shape[1] // in_chans)
    out = {
        "patch_emb.0.weight": patch.reshape(dim, -1, p, p),
        "patch_emb.0.bias": state["embed.patch.proj.bias"],
        "cls_token": state["embed.cls_token"],
        "ln.weight": state["norm.weight"],
        "ln.bias": state["norm.bias"],
        "clf.weight": state["head.weight"],
        "clf.bias": state["head.bias"],
    }
    names = {
        "norm1": "mlp1.ln",
        "token_mlp.fc1": "mlp1.fc1",
        "token_mlp.fc2": "mlp1.fc2",
        "norm2": "mlp2.ln",
        "channel_mlp.fc1": "mlp2.fc1",
        "channel_mlp.fc2": "mlp2.fc2",
        "tail_fc": "linear",
        "tail_norm": "ln",
    }
    for i in range(depth):
        for ours, theirs in names.items():
            for kind in ("weight", "bias"):
                value = state[f"stack.blocks.{i}.{ours}.{kind}"]
                if ours.startswith("token_mlp") and kind == "weight":
                    value = value.unsqueeze(-1)  # Conv1d kernel [out, in, 1]
                out[f"mixer_layers.{i}.{theirs}.{kind}"] = value
    return out
