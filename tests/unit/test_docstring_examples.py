"""The ``Examples`` sections of the docstrings are run, so an example that no longer holds fails."""

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("models", "streams", "simulators", "batch", "wardwatch")
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts)
    for pkg in PACKAGES
    for p in (ROOT / pkg).rglob("*.py")
    if ">>>" in p.read_text(encoding="utf-8")
)


def test_modules_with_examples_are_found():
    assert "models.ecg.rhythm" in MODULES and "models.vitals.news2" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} example(s) failed in {name}"
