"""Shared fixtures. Tests never touch the user's home: TILLER_HOME points at a tmp dir."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TILLER_SHARED_DATA", REPO.parent / "shared" / "data"))
# The embedding model's ONNX export, made once and shared by every test (and test run: its
# folder is keyed by a hash of the model and toolchain) rather than once per TILLER_HOME.
MODEL_CACHE = Path(tempfile.gettempdir()) / "tiller-test-models"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "tiller-home"
    monkeypatch.setenv("TILLER_HOME", str(home))
    monkeypatch.setenv("TILLER_MODEL_CACHE", str(MODEL_CACHE))
    # A developer's LLM endpoint must not turn offline tests into LLM tests.
    for var in (
        "TILLER_DATA_DIR",
        "TILLER_STATE_DIR",
        "TILLER_DATABASE_URL",
        "TILLER_LLM_BASE_URL",
        "TILLER_LLM_MODEL",
        "TILLER_LLM_API_KEY",
        "TILLER_WORKER_BROKER",  # a developer's run queue must not take the tests' runs
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # so a developer's .env is not read
    return home


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent (set TILLER_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture
def market_dir(shared_data: Path) -> Path:
    path = shared_data / "market"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="session")
def embedder() -> object:
    """The real bundled embedding model (all-MiniLM-L6-v2), loaded once, on one thread."""
    import torch

    from rag_index.embedder import SentenceTransformerEmbedder

    torch.set_num_threads(1)
    model = SentenceTransformerEmbedder(cache_dir=MODEL_CACHE, threads=1)
    model.embed(["warm up"])
    return model
