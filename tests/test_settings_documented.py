"""Every setting is documented in .env.example, and .env.example names no setting that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"


def test_env_example_documents_exactly_the_settings() -> None:
    names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", EXAMPLE.read_text(encoding="utf-8"), re.M))
    fields = {name.upper() for name in Settings.model_fields}
    assert sorted(fields - names) == [], "settings missing from .env.example"
    assert sorted(names - fields) == [], ".env.example names settings that do not exist"


def test_env_example_loads_as_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A newcomer's `cp .env.example .env` starts with settings that validate."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    settings = Settings(_env_file=EXAMPLE)  # type: ignore[call-arg]
    assert settings.env == "development" and settings.is_sqlite
