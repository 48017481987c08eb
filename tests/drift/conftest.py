"""The seed documents as the drift tests use them: exact text and parsed."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture
def seed_000_text() -> str:
    """Seed 000's example PUT body, exactly as the API page shows it."""
    return (FIXTURES / "seed_000_put_body.json").read_text(encoding="utf-8")


@pytest.fixture
def seed_002_text() -> str:
    """Seed 002's example GET answer, exactly as the API page shows it."""
    return (FIXTURES / "seed_002_get_response.json").read_text(encoding="utf-8")
