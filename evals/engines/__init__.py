"""Inference engines behind one small interface, chosen by name from ``ENGINES``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.engines.base import ChoiceRequest, ChoiceScores, Engine, GenerateRequest


def _vllm(model_path: str | Path, **opts: Any) -> Engine:
    from evals.engines.vllm_engine import VllmEngine

    return VllmEngine(model_path, **opts)


def _hf(model_path: str | Path, **opts: Any) -> Engine:
    from evals.engines.hf_engine import HfEngine

    return HfEngine(model_path, **opts)


# Constructors, imported lazily: importing vllm is slow and needs its environment variables.
ENGINES = {"vllm": _vllm, "hf": _hf}


def make_engine(name: str, model_path: str | Path, **opts: Any) -> Engine:
    """Build the engine called ``name`` (one of ``ENGINES``) for the model at ``model_path``."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; known engines: {', '.join(sorted(ENGINES))}")
    return ENGINES[name](model_path, **opts)


__all__ = ["ENGINES", "ChoiceRequest", "ChoiceScores", "Engine", "GenerateRequest", "make_engine"]
