"""Batches over an in-memory dataset: resumable and DDP-shardable by construction.

Contract (the training loop relies on it):
- The order of epoch e depends only on (seed, e), drawn from a local torch.Generator, so
  `set_epoch(e)` + `skip(n)` makes a resumed run see exactly the batches an uninterrupted
  run would have seen from batch n of epoch e on.
- Distributed: with world_size w and per-rank batch_size B, the epoch is cut into global
  batches of g = B*w rows; rank r yields rows [r*g//w : (r+1)*g//w] of every global batch.
  So w processes with per-rank batch B/w see together exactly the global batch one process
  sees with batch B. Every rank yields the same number of batches per epoch. A final partial
  global batch of m rows (drop_last=False) is cut the same way (shards differ by at most one
  row); it is dropped if m < w, so no rank ever gets an empty batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..errors import ConfigError
from .dataset import ArrayDataset

_MIX = 0x9E3779B97F4A7C15  # golden-ratio constant: spreads (seed, epoch) over the seed space


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled row order of one epoch; a pure function of (n, seed, epoch)."""
    gen = torch.Generator().manual_seed((int(seed) * _MIX + int(epoch)) % (2**63))
    return torch.randperm(n, generator=gen)


class Batches:
    """Iterable of (x, y) CPU tensor batches of `ds` (see module docstring for the contract).

    Each full pass advances the epoch by one, so a plain `for epoch ...: for x, y in batches`
    reshuffles every epoch; `set_epoch(e)` overrides it (e.g. when resuming).
    """

    def __init__(
        self,
        ds: ArrayDataset,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size <= 0:
            raise ConfigError(f"batch_size must be positive, got {batch_size}")
        if world_size <= 0 or not 0 <= rank < world_size:
            raise ConfigError(f"rank {rank} is not valid for world_size {world_size}")
        self.ds, self.batch_size = ds, batch_size
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self._skip = 0

    @property
    def global_batch(self) -> int:
        return self.batch_size * self.world_size

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration produce epoch `epoch`'s order."""
        self.epoch = int(epoch)

    def skip(self, n_batches: int) -> None:
        """Start the next iteration at batch `n_batches` of its epoch (resume mid-epoch)."""
        if n_batches < 0:
            raise ConfigError(f"cannot skip a negative number of batches ({n_batches})")
        self._skip = int(n_batches)

    def __len__(self) -> int:
        n, g = len(self.ds), self.global_batch
        full, rest = divmod(n, g)
        return full + (0 if self.drop_last or rest < self.world_size else 1)

    def _bounds(self, start: int) -> tuple[int, int]:
        """This rank's [lo, hi) rows of the global batch starting at `start`."""
        m = min(self.global_batch, len(self.ds) - start)
        return start + self.rank * m // self.world_size, start + (
            self.rank + 1
        ) * m // self.world_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch, first = self.epoch, self._skip
        self.epoch, self._skip = epoch + 1, 0  # the next pass is the next epoch, from its start
        n = len(self.ds)
        order = epoch_permutation(n, self.seed, epoch) if self.shuffle else torch.arange(n)
        return self._batches(order, first)

    def _batches(
        self, order: torch.Tensor, first: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for b in range(first, len(self)):
            lo, hi = self._bounds(b * self.global_batch)
            idx = order[lo:hi]
            yield self.ds.x[idx], self.ds.y[idx]
