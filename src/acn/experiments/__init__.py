"""Experiment drivers: the demo, the ``acn reproduce`` suite and ``acn bench``, each over the
library. Nothing below this package imports it.

The suite: :mod:`.suite` (what an experiment declares; the verdict rules), :mod:`.study` (most
experiments: arms, measures, contrasts, declared), :mod:`.catalog` (one module per experiment,
discovered), :mod:`.measures` (what a finished run reports, read through ``acn.runs.Run``),
:mod:`.recipes` (the one recipe format; datasets by value), :mod:`.synthetic` (data the package
writes for the smoke scale), :mod:`.context` (resumable, shared training runs; dry runs),
:mod:`.runner` (seeds -> ``OUT/NAME.json``), :mod:`.results` (the one result schema and its
provenance; :mod:`.legacy` upgrades older files), :mod:`.report` and :mod:`.publish`
(``REPORT.md``, ``BENCHMARKS.md`` and the README's generated blocks, :mod:`.blocks`), and
:mod:`.figures`.
"""
