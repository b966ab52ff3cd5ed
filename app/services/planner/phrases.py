"""The phrase encoder of semantic clustering: all-MiniLM-L6-v2 as int8 ONNX, shipped in the repo
(scripts/build_phrase_model.py builds app/data/phrase_model/ from a PyPI wheel) and loaded from local files
only. It reads a keyword's core as one phrase, so "rainy day fund" lands near "emergency fund"."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

PHRASE_DIR = Path(__file__).resolve().parents[2] / "data" / "phrase_model"
PHRASE_BUILD_SCRIPT = "scripts/build_phrase_model.py"
PHRASE_FILES = ("model.onnx", "tokenizer.json")
PHRASE_DIM = 384
PHRASE_BATCH = 256
PHRASE_MAX_TOKENS = 32

_phrase_model = None
_lock = threading.Lock()


def normalise(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _load():
    """Load the shipped int8 ONNX transformer and its tokenizer once per process, from local files only."""
    global _phrase_model
    with _lock:
        if _phrase_model is None:
            missing = [f for f in PHRASE_FILES if not (PHRASE_DIR / f).is_file()]
            if missing:
                raise RuntimeError(
                    f"Offline phrase model not found in {PHRASE_DIR} (missing {', '.join(missing)}). "
                    f"Build it once with `python {PHRASE_BUILD_SCRIPT}` and commit the generated files."
                )
            import onnxruntime
            from tokenizers import Tokenizer

            options = onnxruntime.SessionOptions()
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            session = onnxruntime.InferenceSession(str(PHRASE_DIR / "model.onnx"), options,
                                                   providers=["CPUExecutionProvider"])
            tokenizer = Tokenizer.from_file(str(PHRASE_DIR / "tokenizer.json"))
            tokenizer.no_padding()
            tokenizer.enable_truncation(PHRASE_MAX_TOKENS)
            _phrase_model = (session, tokenizer)
        return _phrase_model


def encode_phrases(phrases: list[str]) -> np.ndarray:
    """Mean-pooled, L2-normalised transformer vectors of short phrases (float32, PHRASE_DIM wide)."""
    if not phrases:
        return np.zeros((0, PHRASE_DIM), dtype=np.float32)
    session, tokenizer = _load()
    encodings = tokenizer.encode_batch(phrases)
    lengths = np.array([len(e.ids) for e in encodings])
    out = np.empty((len(phrases), PHRASE_DIM), dtype=np.float32)
    order = np.argsort(lengths, kind="stable")  # similar lengths together: little padding
    for start in range(0, len(order), PHRASE_BATCH):
        batch = order[start:start + PHRASE_BATCH]
        ids = np.zeros((len(batch), int(lengths[batch].max())), dtype=np.int64)
        for row, i in enumerate(batch):
            ids[row, :lengths[i]] = encodings[i].ids
        mask = (ids != 0).astype(np.int64)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                    "token_type_ids": np.zeros_like(ids)})[0]
        out[batch] = (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    return normalise(out)
