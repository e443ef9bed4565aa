"""Prepared training data: tokenizer, train token stream (corpus + synthetic), validation windows.

Prepared once per work directory and reused by every size, so the whole ladder sees the same
tokens in the same order given the seed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evals.ladder.corpus import split_corpus
from evals.ladder.recipe import LadderConfig
from evals.ladder.synthetic import training_document
from evals.ladder.tokenizer import load_tokenizer, train_tokenizer


@dataclass(frozen=True)
class PreparedData:
    tokenizer_dir: Path
    train: np.ndarray  # uint16 token ids
    val: np.ndarray  # (val_windows, seq_len + 1)
    info: dict


def prepare_data(cfg: LadderConfig, workdir: Path) -> PreparedData:
    """Build (or load from ``workdir/data``) the tokenizer and token arrays for ``cfg``."""
    ddir = workdir / "data"
    tok_dir = workdir / "tokenizer"
    info_path = ddir / "info.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
        return PreparedData(tok_dir, np.load(ddir / "train.npy"), np.load(ddir / "val.npy"), info)
    split = split_corpus(seed=cfg.seed, heldout_fraction=cfg.heldout_fraction)
    train_texts = split.texts("train")[: cfg.max_train_files]
    train_tokenizer(train_texts, tok_dir, vocab_size=cfg.vocab_size)
    tok = load_tokenizer(tok_dir)
    eos = tok.eos_token_id
    code_tokens = [tok(t)["input_ids"] + [eos] for t in train_texts]
    n_code = sum(len(x) for x in code_tokens)
    rng = random.Random(cfg.seed + 1)
    synth: list[list[int]] = []
    n_synth = 0
    target = cfg.synthetic_rate / (1.0 - cfg.synthetic_rate) * n_code
    while n_synth < target:
        ids = tok(training_document(rng))["input_ids"] + [eos]
        synth.append(ids)
        n_synth += len(ids)
    docs = code_tokens + synth
    rng.shuffle(docs)
    train = np.fromiter((t for d in docs for t in d), dtype=np.uint16)
    held = [tok(t)["input_ids"] + [eos] for t in split.texts("heldout")]
    held_stream = np.fromiter((t for d in held for t in d), dtype=np.uint16)
    w = cfg.seq_len + 1
    n_win = min(cfg.val_windows, len(held_stream) // w)
    starts = np.linspace(0, len(held_stream) - w, n_win).astype(np.int64)
    val = np.stack([held_stream[s : s + w] for s in starts])
    info = {
        "corpus": split.describe(),
        "n_train_tokens": len(train),
        "n_code_tokens": int(n_code),
        "n_synthetic_tokens": int(n_synth),
        "n_heldout_tokens": len(held_stream),
        "val_windows": int(n_win),
        "vocab_size": len(tok),
    }
    ddir.mkdir(parents=True, exist_ok=True)
    np.save(ddir / "train.npy", train)
    np.save(ddir / "val.npy", val)
    info_path.write_text(json.dumps(info, indent=2))
    return PreparedData(tok_dir, train, val, info)
