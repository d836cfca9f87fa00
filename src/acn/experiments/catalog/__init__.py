"""Every experiment of ``acn reproduce``: each module of this package is one, discovered here.

A module defines ``EXPERIMENT`` (an :class:`~acn.experiments.suite.Experiment`, usually built by
:func:`acn.experiments.study.study`); adding an experiment is adding its module, and nothing else
lists it. A module may also define ``OTHER_SETTINGS``: further experiments testing the same claim in
another setting (e.g. ``difficulty-cifar`` beside ``difficulty``), each with its own name, rule,
seeds and result. Modules whose name starts with ``_`` hold shared pieces, not experiments.
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
        settings = tuple(getattr(module, "OTHER_SETTINGS", ()))
        for one in (exp, *settings):
            if not isinstance(one, Experiment):
                raise ConfigError(f"{module.__name__}.OTHER_SETTINGS holds a {type(one).__name__}")
            if one.name in found:
                raise ConfigError(f"experiment {one.name!r} is defined twice ({module.__name__})")
            found[one.name] = one
    return dict(sorted(found.items()))


def get_experiment(name: str) -> Experiment:
    registry = experiments()
    if name not in registry:
        raise ConfigError(f"unknown experiment {name!r}; valid: {', '.join(registry)}")
    return registry[name]
