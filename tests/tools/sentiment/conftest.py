from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pytest
import torch

from tools.sentiment import BUNDLED_MODEL, BundledMiniLM, load_scorer
from tools.sentiment._types import Scorer


class CachingEncoder:
    """The bundled MiniLM, loaded once per session, remembering every text it embedded
    so the scorers and the retraining test share one pass over the labelled set."""

    name = BUNDLED_MODEL

    def __init__(self, inner: BundledMiniLM) -> None:
        self.inner = inner
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            self._cache.update(zip(missing, self.inner.embed(missing), strict=True))
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


@pytest.fixture(scope="session")
def minilm() -> BundledMiniLM:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)
    return BundledMiniLM()


@pytest.fixture(scope="session")
def encoder(minilm: BundledMiniLM) -> CachingEncoder:
    return CachingEncoder(minilm)


@pytest.fixture(scope="session")
def scorers(encoder: CachingEncoder) -> dict[str, Scorer]:
    return {name: load_scorer(name, encoder=encoder) for name in ("lexicon", "embedding", "hybrid")}
