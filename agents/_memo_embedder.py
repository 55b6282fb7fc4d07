"""An embedder that embeds each distinct text once. An agent backtest asks the knowledge
base the same question at every step and quotes mostly the same passages week after
week; the analyst's search and extractive answer then cost a lookup instead of a
transformer pass (the vectors are the wrapped model's own, so results do not change)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag_index.types import Embedder


class MemoEmbedder:
    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self._texts: dict[str, np.ndarray] = {}
        self._queries: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._texts]
        if missing:
            self._texts.update(zip(missing, self.inner.embed(missing), strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._texts[t] for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        # Kept apart from passages: a model may embed a query differently (a prefix).
        if text not in self._queries:
            self._queries[text] = self.inner.embed_query(text)
        return self._queries[text]
