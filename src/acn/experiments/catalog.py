"""Every experiment of ``acn reproduce``: importing this module registers them.

One explicit import per experiment module (each module calls ``register(EXPERIMENT)`` at import);
nothing else imports experiment modules for their side effects. To add an experiment, add its
module here and to ``MODULES``.
"""

# isort: skip_file
from __future__ import annotations

from . import alternatives
from . import autocut
from . import baselines
from . import bert
from . import compression
from . import continual
from . import demo
from . import difficulty
from . import early_exit
from . import gradients
from . import lowdata
from . import noise
from . import pruning
from . import transfer
from .suite import Experiment, registry

MODULES = (
    alternatives,
    autocut,
    baselines,
    bert,
    compression,
    continual,
    demo,
    difficulty,
    early_exit,
    gradients,
    lowdata,
    noise,
    pruning,
    transfer,
)


def experiments() -> dict[str, Experiment]:
    """All registered experiments by name."""
    return registry()
