"""A tiny random-weights Llama with a locally trained tokenizer, for tests and benches.

Nothing is downloaded: the byte-level BPE tokenizer is trained with the ``tokenizers`` library on
text generated here, and the weights are drawn from a seeded generator. The result is a normal
Hugging Face directory that both vLLM and transformers load. ``logit_std`` scales the output
head so that next-token probabilities spread over several orders of magnitude (PassUntil tests
need p from 1e-1 down to 1e-4), which random initialisation alone does not give.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

DEFAULT_DIR = Path("/tmp/capcast-tiny-models")
_BUILT: dict[str, Path] = {}

_WORDS = tuple(
    [
        "the",
        "a",
        "an",
        "of",
        "to",
        "and",
        "in",
        "is",
        "was",
        "for",
        "on",
        "that",
        "with",
        "as",
        "by",
        "at",
        "from",
        "it",
        "this",
        "be",
        "are",
        "or",
        "not",
        "have",
        "had",
        "which",
        "one",
        "all",
        "were",
        "when",
        "there",
        "can",
        "more",
        "if",
        "no",
        "out",
        "so",
        "what",
        "up",
        "its",
        "about",
        "into",
        "than",
        "them",
        "only",
        "other",
        "new",
        "some",
        "could",
        "time",
        "these",
        "two",
        "may",
        "then",
        "do",
        "first",
        "any",
        "my",
        "now",
        "such",
        "like",
        "our",
        "over",
        "man",
        "me",
        "even",
        "most",
        "made",
        "after",
        "also",
        "did",
        "many",
        "before",
        "must",
        "through",
        "back",
        "years",
        "where",
        "much",
        "your",
        "way",
        "well",
        "down",
        "should",
        "because",
        "each",
        "just",
        "those",
        "people",
        "how",
        "too",
        "little",
        "state",
        "good",
        "very",
        "make",
        "world",
        "still",
        "own",
        "see",
        "men",
        "work",
        "long",
        "get",
        "here",
        "between",
        "both",
        "life",
        "being",
        "under",
        "never",
        "day",
        "same",
        "another",
        "know",
        "while",
        "last",
        "might",
        "us",
        "great",
        "old",
        "year",
        "off",
        "come",
        "since",
        "against",
        "go",
        "came",
        "right",
        "used",
        "take",
        "three",
        "answer",
        "question",
        "choice",
        "number",
        "sum",
        "plus",
        "minus",
        "times",
        "word",
        "letter",
        "reverse",
        "upper",
        "lower",
        "count",
        "true",
        "false",
        "yes",
        "no",
        "red",
        "green",
        "blue",
        "cat",
        "dog",
        "bird",
        "fish",
        "tree",
        "water",
        "fire",
        "earth",
        "sun",
        "moon",
        "star",
        "python",
        "def",
        "return",
        "print",
        "list",
        "string",
        "int",
        "len",
        "range",
        "for",
        "while",
        "if",
        "else",
        "elif",
        "import",
    ]
)


def _corpus(seed: int) -> list[str]:
    """Deterministic training text: words, arithmetic, code-like lines and task-like prompts."""
    rng = random.Random(seed)
    lines = []
    for _ in range(3000):
        lines.append(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 14))))
    for _ in range(1500):
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        lines.append(f"Question: What is {a} + {b}?\nAnswer: {a + b}")
    for _ in range(300):
        w = rng.choice(_WORDS)
        lines.append(f"def f(x):\n    return x * {rng.randint(0, 9)}  # {w}\nprint(f({w!r}))")
    lines.append("".join(chr(c) for c in range(32, 127)))
    return lines


def _train_tokenizer(out: Path, vocab_size: int, seed: int) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(seed), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    fast.model_max_length = 4096
    fast.save_pretrained(out)


def _save_model(out: Path, cfg: dict, vocab_size: int) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=cfg["hidden_size"],
        intermediate_size=cfg["hidden_size"] * 2,
        num_hidden_layers=cfg["num_layers"],
        num_attention_heads=cfg["hidden_size"] // cfg["head_dim"],
        num_key_value_heads=cfg["hidden_size"] // cfg["head_dim"],
        head_dim=cfg["head_dim"],
        max_position_embeddings=cfg["max_position_embeddings"],
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=2,
        tie_word_embeddings=False,
        torch_dtype="float32",
    )
    torch.manual_seed(cfg["seed"])
    model = LlamaForCausalLM(config).to(torch.float32).eval()
    with torch.no_grad():
        # Final-norm output is ~unit scale per dimension, so logits have std ≈ w_std·sqrt(d).
        w = model.lm_head.weight
        w.normal_(0.0, cfg["logit_std"] / cfg["hidden_size"] ** 0.5)
    model.save_pretrained(out, safe_serialization=True)


def build_tiny_model(
    directory: str | Path | None = None,
    *,
    hidden_size: int = 64,
    head_dim: int = 32,
    num_layers: int = 2,
    vocab_size: int = 512,
    logit_std: float = 3.0,
    max_position_embeddings: int = 1024,
    seed: int = 0,
) -> Path:
    """Build (or reuse) a tiny Llama in HF format and return its directory.

    The directory is keyed by a hash of the configuration, so different configurations never
    collide and a second call with the same one (in any process) reuses the files.
    """
    if head_dim < 32:
        raise ValueError(f"head_dim must be >= 32 for vLLM's CPU attention, got {head_dim}")
    cfg = {
        "hidden_size": hidden_size,
        "head_dim": head_dim,
        "num_layers": num_layers,
        "vocab_size": vocab_size,
        "logit_std": logit_std,
        "max_position_embeddings": max_position_embeddings,
        "seed": seed,
        "format": 1,
    }
    key = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]
    root = Path(directory) if directory is not None else DEFAULT_DIR
    out = root / f"tiny-llama-{key}"
    if key in _BUILT and _BUILT[key] == out and (out / "DONE").exists():
        return out
    if not (out / "DONE").exists():
        tmp = root / f".tmp-{key}-{random.getrandbits(32):08x}"
        tmp.mkdir(parents=True, exist_ok=True)
        _train_tokenizer(tmp, vocab_size, seed)
        from transformers import AutoTokenizer

        real_vocab = len(AutoTokenizer.from_pretrained(tmp))
        _save_model(tmp, cfg, max(vocab_size, real_vocab))
        (tmp / "capcast_tiny.json").write_text(json.dumps(cfg, indent=2))
        (tmp / "DONE").write_text("ok\n")
        try:
            tmp.rename(out)
        except OSError:  # another process won the race; use its copy
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    _BUILT[key] = out
    return out
