"""The marker table of conftest.py names tests that exist, with markers pyproject.toml registers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import MARKS

TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize("entry", sorted(MARKS))
def test_every_marked_entry_names_a_test(entry):
    module, _, name = entry.partition("::")
    source = (TESTS / module).read_text()
    assert not name or re.search(rf"^def {re.escape(name)}\(", source, re.M), entry


def test_every_marker_is_registered(pytestconfig):
    registered = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert {m for marks in MARKS.values() for m in marks} <= registered
    assert {"slow", "ddp", "export", "e2e"} <= registered
