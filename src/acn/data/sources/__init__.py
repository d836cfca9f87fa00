"""Readers, one per on-disk format; each returns DataSplits (see acn.data.registry)."""
