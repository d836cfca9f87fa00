"""Experiment drivers: the demo and the paper's experiments, each a plain function over the library
that returns its numbers. Nothing below this package imports it.

The ``acn reproduce`` suite: :mod:`.suite` (what an experiment declares, the registry, verdict
rules), :mod:`.context` (resumable, shared training runs; dry runs), :mod:`.runner` (seeds ->
``docs/results/NAME.json``), :mod:`.report` (``REPORT.md``), :mod:`.recipes` (the shared training
recipes), :mod:`.outcomes` (what a finished run reports: accuracy per depth, best epoch, FLOPs,
training cost), :mod:`.figures`, and :mod:`.catalog`, which imports every experiment module.
"""
