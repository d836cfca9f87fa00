"""``acn train`` as a torchrun entry point that can stop itself at the start of an epoch
(``ACN_STOP_AT_EPOCH=N``, 0-based), as a job killed mid-run would, on every rank alike."""

from __future__ import annotations

import os
import sys

from acn.cli import main
from acn.train import loop

stop = os.environ.get("ACN_STOP_AT_EPOCH")
if stop is not None:
    original = loop.Trainer.train_epoch

    def train_epoch(self, epoch):
        if epoch == int(stop):
            os._exit(3)  # no clean-up, like a killed job
        return original(self, epoch)

    loop.Trainer.train_epoch = train_epoch

sys.exit(main(sys.argv[1:]))
