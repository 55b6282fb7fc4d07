"""Financial sentiment, offline: score a sentence, headline or document as negative,
neutral or positive with a probability.

Three scorers share one interface (``Scorer``):

- ``lexicon``: a finance lexicon written for Tiller (tone words, direction words acting
  on quantities such as "loss narrowed" or "cut guidance", negation, hedges, contrast),
  calibrated to probabilities (train + dev, then a temperature on "calib"). Pure
  Python, several thousand texts per CPU-second.
- ``embedding``: a multinomial logistic regression on the bundled all-MiniLM-L6-v2
  sentence embeddings, trained on the train and dev splits.
- ``hybrid`` (the default): the same regression with six lexicon features appended to
  the embedding (the masses, their hedged parts, the figures' direction, balance
  words). The most accurate on our held-out splits; about 30-60× slower than the
  lexicon (~120-260 headlines per CPU-second) because it runs the transformer.

The labelled data (``data/labelled.jsonl``) is team-written: see ``README.md`` here for
its size, balance, splits and why its accuracies likely overstate real-world ones.
sentence-transformers is imported on first use of an embedding scorer only.
"""

from tools.sentiment._api import (
    DEFAULT_MODEL,
    DOCUMENT_WORDS,
    MODELS,
    load_scorer,
    predict_proba,
    resolve_model,
    score,
    score_one,
    split_sentences,
)
from tools.sentiment._data import (
    FROZEN_FINGERPRINTS,
    LABELLED_PATH,
    Example,
    Report,
    evaluate,
    fingerprint,
    load_labelled,
)
from tools.sentiment._embedding import (
    BUNDLED_MODEL,
    BundledMiniLM,
    ClassifierWeights,
    EmbeddingScorer,
    TextEncoder,
    load_weights,
    save_weights,
)
from tools.sentiment._lexicon import (
    SHIPPED_CALIBRATION,
    Evidence,
    Hit,
    LexiconCalibration,
    LexiconScorer,
    analyse,
    calibrate_lexicon,
)
from tools.sentiment._llm import LLMScorer, fit_llm_temperature
from tools.sentiment._train import (
    SHIPPED_WEIGHTS,
    retrain_shipped,
    train_embedding_classifier,
)
from tools.sentiment._types import LABELS, Label, Scorer, SentimentResult

__all__ = [
    "BUNDLED_MODEL",
    "DEFAULT_MODEL",
    "DOCUMENT_WORDS",
    "FROZEN_FINGERPRINTS",
    "LABELLED_PATH",
    "LABELS",
    "MODELS",
    "SHIPPED_CALIBRATION",
    "SHIPPED_WEIGHTS",
    "BundledMiniLM",
    "ClassifierWeights",
    "EmbeddingScorer",
    "Evidence",
    "Example",
    "Hit",
    "LLMScorer",
    "Label",
    "LexiconCalibration",
    "LexiconScorer",
    "Report",
    "Scorer",
    "SentimentResult",
    "TextEncoder",
    "analyse",
    "calibrate_lexicon",
    "evaluate",
    "fingerprint",
    "fit_llm_temperature",
    "load_labelled",
    "load_scorer",
    "load_weights",
    "predict_proba",
    "resolve_model",
    "retrain_shipped",
    "save_weights",
    "score",
    "score_one",
    "split_sentences",
    "train_embedding_classifier",
]
