"""The chat's tests share one prepared home, copied fresh for each test: the knowledge
base with the bundled primers and news already embedded, and one agent run on AAPL
waiting for approval (what a person finds after reloading the page). Preparing it costs
a minute on a busy 2-core machine; copying it, milliseconds."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.chat.chat_support import prepare_home


@pytest.fixture(scope="session")
def seeded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("chat-seed") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TILLER_HOME", str(home))
        for var in ("TILLER_DATA_DIR", "TILLER_STATE_DIR", "TILLER_DATABASE_URL",
                    "TILLER_LLM_BASE_URL", "TILLER_LLM_MODEL", "TILLER_LLM_API_KEY"):  # fmt: skip
            mp.delenv(var, raising=False)
        mp.chdir(home.parent)
        prepare_home(home)
    return home


@pytest.fixture(autouse=True)
def _isolated_home(
    seeded_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Replaces the suite's empty home with a copy of the prepared one."""
    import streamlit as st

    home = tmp_path / "tiller-home"
    shutil.copytree(seeded_home, home)
    monkeypatch.setenv("TILLER_HOME", str(home))
    for var in ("TILLER_DATA_DIR", "TILLER_STATE_DIR", "TILLER_DATABASE_URL",
                "TILLER_LLM_BASE_URL", "TILLER_LLM_MODEL", "TILLER_LLM_API_KEY"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    yield home
    st.cache_resource.clear()  # each test's container (models, ledger) goes with it
