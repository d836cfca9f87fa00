"""Probing: accuracy at every depth through the shared head, cutoff with a bootstrap interval,
incremental contribution and block influence per layer, all from one forward pass per batch.

Language models (``lm=True``) add the loss (nats/token) and perplexity of every depth, and their
cutoff is by loss: the smallest depth within a tolerance of the best depth's loss, its bootstrap
resampling sequences (:func:`acn.evaluation.cutoff.bootstrap_loss_cutoff`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..evaluation import evaluate_per_depth
from ..evaluation.cutoff import CutoffInterval, bootstrap_cutoff, bootstrap_loss_cutoff
from ..models.base import StackModel
from ..utils import json_safe
from .influence import BlockInfluence

COLUMNS = ("depth", "accuracy", "incremental", "bi_chain", "bi_readout")
NOISE_COLUMNS = ("clean_accuracy", "noise_drop")  # with test-time noise
LM_COLUMNS = ("depth", "loss", "perplexity", "accuracy", "bi_chain", "bi_readout")


def incremental(accuracy: list[float]) -> list[float | None]:
    """acc(k) - acc(k-1) for k = 1..L; None at depth 0, which has no layer of its own."""
    return [None] + [b - a for a, b in zip(accuracy, accuracy[1:])]


@dataclass
class ProbeResult:
    """What :func:`probe` measured for one model.

    ``accuracy`` and ``incremental`` have one entry per depth 0..L; ``bi_chain``/``bi_readout``
    (see :mod:`acn.analysis.influence`) one per block 1..L. When the probe ran on noisy inputs,
    ``clean_accuracy`` holds the same model's accuracy on the clean inputs and ``noise_drop``
    the difference (clean minus noisy) at every depth.
    """

    name: str
    connectivity: str
    accuracy: list[float]
    bi_chain: list[float]
    bi_readout: list[float]
    cutoff: CutoffInterval
    num_samples: int
    loss: float
    info: dict[str, Any] = field(default_factory=dict)
    clean_accuracy: list[float] | None = None
    loss_per_depth: list[float] | None = None  # language models: nats/token at depth 0..L

    @property
    def is_lm(self) -> bool:
        return self.loss_per_depth is not None

    @property
    def perplexity(self) -> list[float] | None:
        return None if self.loss_per_depth is None else [math.exp(v) for v in self.loss_per_depth]

    @property
    def depth(self) -> int:
        return len(self.accuracy) - 1

    @property
    def label(self) -> str:
        return f"{self.name} ({self.connectivity})"

    @property
    def incremental(self) -> list[float | None]:
        return incremental(self.accuracy)

    @property
    def noise_drop(self) -> list[float] | None:
        """Clean minus noisy accuracy at every depth (points), when the probe ran on noise."""
        if self.clean_accuracy is None:
            return None
        return [c - a for c, a in zip(self.clean_accuracy, self.accuracy)]

    @property
    def columns(self) -> tuple[str, ...]:
        if self.is_lm:
            return LM_COLUMNS
        return COLUMNS + (NOISE_COLUMNS if self.clean_accuracy is not None else ())

    def rows(self) -> list[dict[str, Any]]:
        """One dict per depth 0..L with the keys in :attr:`columns` (None where undefined)."""
        bi = [None, *self.bi_chain], [None, *self.bi_readout]
        if self.is_lm:
            return [
                dict(zip(LM_COLUMNS, (k, loss, ppl, acc, bi[0][k], bi[1][k])))
                for k, (loss, ppl, acc) in enumerate(
                    zip(self.loss_per_depth, self.perplexity, self.accuracy)
                )
            ]
        rows = [
            dict(zip(COLUMNS, (k, acc, inc, bi[0][k], bi[1][k])))
            for k, (acc, inc) in enumerate(zip(self.accuracy, self.incremental))
        ]
        if self.clean_accuracy is not None and self.noise_drop is not None:
            for row, clean, drop in zip(rows, self.clean_accuracy, self.noise_drop):
                row.update(clean_accuracy=clean, noise_drop=drop)
        return rows

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["incremental"] = self.incremental
        out["noise_drop"] = self.noise_drop
        out["depth"] = self.depth
        if self.is_lm:
            out["perplexity"] = self.perplexity
        return out

    def to_json(self) -> str:
        return json.dumps(json_safe(self.to_dict()), indent=2, allow_nan=False)

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        for row in self.rows():
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        return buf.getvalue()

    def table(self) -> str:
        """The terminal table: one line per depth, then the cutoff with its interval."""
        if self.is_lm:
            return self._lm_table()
        lines = [f"{self.label}: {self.num_samples} test samples, loss {self.loss:.4f}"]
        noisy = self.clean_accuracy is not None
        head = f"{'depth':>5} {'acc %':>7} {'incr':>7} {'BI chain':>9} {'BI read':>9}"
        lines.append(head + (f" {'clean %':>7} {'drop':>7}" if noisy else ""))
        for r in self.rows():
            cells = [f"{r['depth']:>5}", f"{r['accuracy']:>7.2f}"]
            cells.append(_fmt(r["incremental"], "+7.2f"))
            cells += [_fmt(r["bi_chain"], "9.4f"), _fmt(r["bi_readout"], "9.4f")]
            if noisy:
                cells += [f"{r['clean_accuracy']:>7.2f}", f"{r['noise_drop']:>+7.2f}"]
            lines.append(" ".join(cells))
        c = self.cutoff
        if self.clean_accuracy is not None and self.noise_drop is not None:
            lines.append(
                f"noise: clean {self.clean_accuracy[-1]:.2f}% -> noisy {self.accuracy[-1]:.2f}% "
                f"at full depth, a drop of {self.noise_drop[-1]:.2f} points"
            )
        lines.append(
            f"cutoff depth {c.cutoff} of {self.depth} (within {c.tolerance:g} points of the full "
            f"model); bootstrap 95% interval [{c.low}, {c.high}], mode {c.mode}, "
            f"{c.num_resamples} resamples"
        )
        return "\n".join(lines)

    def _lm_table(self) -> str:
        lines = [f"{self.label}: {self.num_samples} validation tokens, loss {self.loss:.4f}"]
        lines.append(
            f"{'depth':>5} {'loss':>7} {'ppl':>8} {'acc %':>7} {'BI chain':>9} {'BI read':>9}"
        )
        for r in self.rows():
            cells = [f"{r['depth']:>5}", f"{r['loss']:>7.4f}", f"{r['perplexity']:>8.3f}"]
            cells.append(f"{r['accuracy']:>7.2f}")
            cells += [_fmt(r["bi_chain"], "9.4f"), _fmt(r["bi_readout"], "9.4f")]
            lines.append(" ".join(cells))
        c = self.cutoff
        lines.append(
            f"cutoff depth {c.cutoff} of {self.depth} (within {c.tolerance:g} nats/token of the "
            f"best depth); bootstrap 95% interval over sequences [{c.low}, {c.high}], mode "
            f"{c.mode}, {c.num_resamples} resamples"
        )
        return "\n".join(lines)


def _fmt(value: float | None, spec: str) -> str:
    """``value`` formatted with ``spec`` (whose width starts it), or a right-aligned dash."""
    width = int("".join(ch for ch in spec.split(".")[0] if ch.isdigit()))
    return f"{'-':>{width}}" if value is None else format(value, spec)


@torch.no_grad()
def probe(
    model: StackModel,
    batches: Iterable[tuple[Tensor, Tensor]],
    *,
    name: str = "model",
    tolerance: float = 0.5,
    bootstrap: int = 1000,
    seed: int = 0,
    device: str | torch.device | None = None,
    info: dict[str, Any] | None = None,
    clean_accuracy: list[float] | None = None,
    lm: bool = False,
) -> ProbeResult:
    """Probe ``model`` on prepared (x, y) test batches; one forward pass per batch.
    ``clean_accuracy``: when the batches are noisy, the model's accuracy on the clean ones.
    ``lm``: a language model, whose cutoff is by loss (``tolerance`` in nats/token)."""
    meter = BlockInfluence(model.depth)
    evaluation = evaluate_per_depth(model, batches, device, on_step=meter)
    bi = meter.result()
    if lm:
        cutoff = bootstrap_loss_cutoff(evaluation.nll_per_row(), tolerance, bootstrap, seed)
    else:
        cutoff = bootstrap_cutoff(evaluation.correct, tolerance, bootstrap, seed)
    return ProbeResult(
        name=name,
        connectivity=model.config.connectivity,
        accuracy=evaluation.accuracy,
        bi_chain=bi["chain"],
        bi_readout=bi["readout"],
        cutoff=cutoff,
        num_samples=evaluation.num_samples,
        loss=evaluation.loss,
        info=dict(info or {}),
        clean_accuracy=clean_accuracy,
        loss_per_depth=evaluation.loss_per_depth if lm else None,
    )
