"""Every experiment of ``acn reproduce``: importing this module registers them.

One explicit import per experiment module (each module calls ``register(EXPERIMENT)`` at import);
nothing else imports experiment modules for their side effects. To add an experiment, add its
module here and to ``MODULES``.
"""

# isort: skip_file
from __future__ import annotations

from . import compression
from . import demo
from . import difficulty
from . import gradients
from . import lowdata
from . import noise
from .suite import Experiment, registry

MODULES = (
    compression,
    demo,
    difficulty,
    gradients,
    lowdata,
    noise,
)


def experiments() -> dict[str, Experiment]:
    """All registered experiments by name."""
    return registry()
