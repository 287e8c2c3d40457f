from __future__ import annotations

from pathlib import Path

import pytest

from wardwatch.settings import shared_data

DATA = shared_data()


@pytest.fixture(scope="session")
def fasta_dir() -> Path:
    return DATA / "fasta"


@pytest.fixture(scope="session")
def golub_dir() -> Path:
    return DATA / "golub"
