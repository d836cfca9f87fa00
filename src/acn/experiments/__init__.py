"""Experiment drivers: the demo and the paper's experiments, each a plain function over the library
that returns its numbers. Nothing below this package imports it."""
