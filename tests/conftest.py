"""Session-wide fixtures. Paths to ../shared (cases and third-party data) are read only from tests."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = (PROJECT_ROOT / ".." / "shared").resolve()
CASES_DIR = SHARED_DIR / "cases"
DATA_DIR = SHARED_DIR / "data"


@pytest.fixture(scope="session")
def cases_dir() -> Path:
    return CASES_DIR


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA_DIR
