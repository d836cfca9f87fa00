"""Every experiment of ``acn reproduce``: each module of this package is one, discovered here.

A module defines ``EXPERIMENT`` (an :class:`~acn.experiments.suite.Experiment`, usually built by
:func:`acn.experiments.study.study`); adding an experiment is adding its module, and nothing else
lists it. Modules whose name starts with ``_`` hold shared pieces, not experiments.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from ...errors import ConfigError
from ..suite import Experiment


@functools.cache
def experiments() -> dict[str, Experiment]:
    """Every experiment, by name (sorted)."""
    found: dict[str, Experiment] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        exp = getattr(module, "EXPERIMENT", None)
        if not isinstance(exp, Experiment):
            raise ConfigError(f"{module.__name__} defines no EXPERIMENT")
        if exp.name in found:
            raise ConfigError(f"experiment {exp.name!r} is defined twice ({module.__name__})")
        found[exp.name] = exp
    return dict(sorted(found.items()))


def get_experiment(name: str) -> Experiment:
    registry = experiments()
    if name not in registry:
        raise ConfigError(f"unknown experiment {name!r}; valid: {', '.join(registry)}")
    return registry[name]
