from __future__ import annotations

from pathlib import Path

import pytest

from wardwatch.settings import shared_data

DATA = shared_data()


@pytest.fixture(scope="session")
def fasta_dir() -> Path:
    d = DATA / "fasta"
    if not d.is_dir():
        pytest.skip(f"shared data not found at {d}")
    return d


@pytest.fixture(scope="session")
def golub_dir() -> Path:
    d = DATA / "golub"
    if not (d / "data_set_ALL_AML_train.csv").exists():
        pytest.skip(f"Golub data not found at {d}")
    return d
