"""Every experiment of ``acn reproduce``: importing this module registers them.

One explicit import per experiment module (each module calls ``register(EXPERIMENT)`` at import);
nothing else imports experiment modules for their side effects. To add an experiment, add its
module here and to ``MODULES``.
"""

# isort: skip_file
from __future__ import annotations

from . import autocut
from .suite import Experiment, registry

MODULES: tuple = (autocut,)


def experiments() -> dict[str, Experiment]:
    """All registered experiments by name."""
    return registry()
