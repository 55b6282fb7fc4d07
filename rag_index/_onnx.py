"""A sentence-transformers model run by ONNX Runtime, exported offline from its own weights.

sentence-transformers' ``backend="onnx"`` goes through optimum, whose releases pin a
transformers older than the one Tiller runs, so the export is done here with torch's own
exporter: the model's transformer, mean pooling over the attention mask and L2
normalisation become one graph (``input_ids``, ``attention_mask``, ``token_type_ids`` →
``embedding``), then ONNX Runtime's dynamic quantisation stores the weights of its matrix
multiplications as int8 (per output channel), except the first layer's feed-forward pair:
in MiniLM that layer's activations have the widest range, and quantising it alone took
the lowest cosine to torch's vectors on real filing passages from 0.992 to 0.986. The
quantised graph is checked against the float32 one on probe sentences when it is made,
and the float32 graph is kept instead if any falls below cosine ``MIN_COSINE``.
Tokenisation uses the model folder's ``tokenizer.json`` with the model's own sequence
limit (``max_seq_length`` in ``sentence_bert_config.json``).

The export runs once per model and toolchain (about 30 s) and is cached (59 MB: the word
embedding table stays float32) in a folder named after a hash of the model's files and
of the torch and onnxruntime versions, so a new model or toolchain never reuses a stale
graph. Files are written under a temporary name and renamed into place: two processes
exporting at once both end with a whole file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core.errors import ConfigError

Precision = Literal["int8", "fp32"]
EXPORT_VERSION = 1  # bump when the exported graph changes
OPSET = 17
MIN_COSINE = 0.99
# Sentences of the kinds the knowledge base holds, the quantised graph's check.
PROBES = (
    "Net sales increased 2% or $7.8 billion during 2024 compared to 2023.",
    "Item 1A. Risk Factors > The Company's business can be impacted by political events.",
    "We repurchased 499 million shares of common stock for $95.0 billion.",
    "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn in the corresponding period.",
    "Capital expenditures (in millions) | 2024 | 2023 | Purchases of property (9,447) (10,959)",
    "The allowance for credit losses reflects management's estimate of expected losses.",
    "cybersecurity risk management and governance",
    "What did management say about the outlook for gross margin?",
)
_log = logging.getLogger(__name__)


def onnx_available() -> bool:
    """ONNX Runtime and the ``onnx`` package (the quantiser needs it) can be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _max_seq_length(model_dir: Path) -> int:
    config = model_dir / "sentence_bert_config.json"
    if config.is_file():
        value = json.loads(config.read_text()).get("max_seq_length")
        if isinstance(value, int) and value > 0:
            return value
    return 256


def _fingerprint(model_dir: Path, precision: Precision) -> str:
    """A hash of what the exported graph depends on: the model's files (names, sizes
    and modification times: the weights are 90 MB, hashing them on every start would cost
    a second), the toolchain's versions and this module's export format."""
    import onnxruntime
    import torch

    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(model_dir)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    digest.update(
        f"{torch.__version__}|{onnxruntime.__version__}|{EXPORT_VERSION}|{OPSET}".encode()
    )
    digest.update(precision.encode())
    return digest.hexdigest()[:16]


def _needs_pooling_modules(model_dir: Path) -> None:
    """Only the plain layout (transformer → mean pooling → normalise) is exported; another
    model folder is run by sentence-transformers itself."""
    modules = model_dir / "modules.json"
    pooling = model_dir / "1_Pooling" / "config.json"
    if not modules.is_file() or not pooling.is_file():
        raise ConfigError(f"{model_dir}: not a sentence-transformers folder with mean pooling")
    kinds = [m.get("type", "") for m in json.loads(modules.read_text())]
    config = json.loads(pooling.read_text())
    if kinds[:2] != [
        "sentence_transformers.models.Transformer",
        "sentence_transformers.models.Pooling",
    ] or not config.get("pooling_mode_mean_tokens"):
        raise ConfigError(f"{model_dir}: only mean-pooled transformer models are exported")
    if any(k not in ("sentence_transformers.models.Normalize",) for k in kinds[2:]):
        raise ConfigError(f"{model_dir}: a module after pooling other than Normalize")


def _export_fp32(model_dir: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            hidden = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(dim=1)
            pooled = summed / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    encoder = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    module = Pooled(encoder).eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(target),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "embedding": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
        )


def _quantise(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False)
    first_ffn = [
        node.name
        for node in graph.graph.node
        if node.op_type == "MatMul"
        and re.search(r"layer\.0/(intermediate|output)/dense/", node.name)
    ]
    # Weights as signed int8 per output channel; activations are quantised per batch at
    # run time. The quantiser logs a suggestion on the root logger: not for our users.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=first_ffn,
        )
    finally:
        root.setLevel(level)


def _agrees(model_dir: Path, graph: Path, reference: Path) -> float:
    """The lowest cosine between ``graph``'s and ``reference``'s vectors of ``PROBES``."""
    mine = OnnxEncoder(model_dir, graph, threads=1).encode(PROBES, len(PROBES))
    theirs = OnnxEncoder(model_dir, reference, threads=1).encode(PROBES, len(PROBES))
    return float((mine * theirs).sum(axis=1).min())


def exported_model(model_dir: Path, cache_dir: Path, precision: Precision) -> Path:
    """The cached ONNX graph of ``model_dir`` at ``precision``, exported on first use."""
    _needs_pooling_modules(model_dir)
    folder = cache_dir / f"{model_dir.name}-{_fingerprint(model_dir, precision)}"
    target = folder / f"model-{precision}.onnx"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    _log.warning(
        "exporting the embedding model to ONNX (%s) into %s: once, about 20 s", precision, folder
    )
    with tempfile.TemporaryDirectory(dir=folder, prefix=".export-") as scratch:
        fp32 = Path(scratch) / "model-fp32.onnx"
        _export_fp32(model_dir, fp32)
        final = fp32
        if precision == "int8":
            final = Path(scratch) / "model-int8.onnx"
            _quantise(fp32, final)
            cosine = _agrees(model_dir, final, fp32)
            if cosine < MIN_COSINE:
                _log.warning(
                    "the int8 model's vectors are too far from float32's (cosine %.4f < %s): "
                    "keeping the float32 graph",
                    cosine,
                    MIN_COSINE,
                )
                final = fp32
        os.replace(final, target)
    return target


class OnnxEncoder:
    """Texts → L2-normalised float32 vectors with an exported graph and the model's
    tokenizer; the same contract as ``SentenceTransformer.encode(normalize_embeddings=True)``.
    """

    def __init__(self, model_dir: Path, graph: Path, *, threads: int | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # The file's own settings pad every input to 128 and cut it there; the model
        # reads up to max_seq_length pieces, and a batch is padded to its longest.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=_max_seq_length(model_dir))
        pad_id = tokenizer.token_to_id("[PAD]")
        tokenizer.enable_padding(pad_id=pad_id or 0, pad_token="[PAD]")
        self._tokenizer = tokenizer
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.inter_op_num_threads = 1
        if threads:
            options.intra_op_num_threads = threads
        # Threads that wait for work sleep instead of spinning: ingestion parses in another
        # process on the same cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session: Any = onnxruntime.InferenceSession(
            str(graph), options, providers=["CPUExecutionProvider"]
        )
        self.dim = int(self._session.get_outputs()[0].shape[1] or 0) or None

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """Texts in batches of similar length (less padding), returned in input order."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        out: np.ndarray | None = None
        for at in range(0, len(order), batch_size):
            picked = order[at : at + batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in picked])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            types = np.array([e.type_ids for e in encodings], dtype=np.int64)
            (vectors,) = self._session.run(
                ["embedding"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": types},
            )
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[picked] = vectors
        assert out is not None
        return out
