"""Fan an evaluation out over a Ray cluster: one engine per actor, results streamed back.

:class:`RayEngine` implements the :class:`~evals.engines.base.Engine` protocol, so the runner
drives it exactly as it drives a local engine and writes the same per-item rows through ``db/``.
Each batch of requests the runner hands over is cut into chunks; the chunks go to the actors
(each holding its own vLLM engine: one per GPU on a GPU cluster, ``num_gpus=1``), and results are
collected with ``ray.wait`` as they finish, so a slow actor never holds back the others' chunks and
``on_chunk`` (when given) sees every chunk the moment it arrives.

Determinism: a request's output depends only on the request (generation is seeded per request,
see ``GenerateRequest.seed``; scoring is greedy), not on which actor ran it, so a distributed run
stores what a local run stores for the same seeds.

Without a cluster address nothing here is used: the evaluation job runs the local engine.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from typing import Any

from evals.engines.base import ChoiceRequest, ChoiceScores, GenerateRequest

_ENV = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "TORCHDYNAMO_DISABLE": "1"}


class _EngineActor:
    """Holds one engine inside a Ray worker process (made remote in :func:`_actor_class`)."""

    def __init__(self, engine_name: str, model_path: str, engine_opts: dict[str, Any]) -> None:
        for key, value in _ENV.items():
            os.environ.setdefault(key, value)
        from evals.engines import make_engine

        self.engine = make_engine(engine_name, model_path, **engine_opts)

    def info(self) -> dict[str, str]:
        return {"name": self.engine.name, "version": self.engine.version}

    def generate(self, requests: list[GenerateRequest]) -> list[list[str]]:
        return self.engine.generate(requests)

    def score_choices(self, requests: list[ChoiceRequest]) -> list[ChoiceScores]:
        return self.engine.score_choices(requests)

    def close(self) -> None:
        self.engine.close()


def _actor_class(num_gpus: float, num_cpus: float) -> Any:
    import ray

    return ray.remote(num_gpus=num_gpus, num_cpus=num_cpus)(_EngineActor)


def connect(address: str | None, **init_kwargs: Any) -> None:
    """``ray.init(address=...)`` once per process (``"auto"``, ``ray://host:10001``, or local)."""
    import ray

    if not ray.is_initialized():
        env = {"env_vars": dict(_ENV)}
        ray.init(address=address, runtime_env=env, log_to_driver=False, **init_kwargs)


class RayEngine:
    """An :class:`Engine` whose work runs on ``n_actors`` Ray actors, each with its own engine.

    Parameters
    ----------
    engine_name, model_path, engine_opts : what each actor passes to ``evals.engines.make_engine``.
    n_actors : default one per GPU in the cluster, or 2 on a CPU-only cluster.
    chunk_size : requests per task sent to an actor (default: a batch split evenly over actors).
    on_chunk : called as ``on_chunk(kind, indices, results)`` when a chunk's results arrive.
    """

    def __init__(
        self,
        engine_name: str,
        model_path: str,
        *,
        n_actors: int | None = None,
        engine_opts: dict[str, Any] | None = None,
        chunk_size: int | None = None,
        on_chunk: Callable[[str, list[int], list[Any]], None] | None = None,
    ) -> None:
        import ray

        if not ray.is_initialized():
            connect(None)
        gpus = int(ray.cluster_resources().get("GPU", 0))
        n = n_actors or gpus or 2
        actor = _actor_class(num_gpus=1 if gpus else 0, num_cpus=0 if gpus else 1)
        self.actors = [
            actor.remote(engine_name, str(model_path), dict(engine_opts or {})) for _ in range(n)
        ]
        info = ray.get([a.info.remote() for a in self.actors])  # fails fast if a model won't load
        self.name = info[0]["name"]
        self.version = info[0]["version"]
        self.model_path = str(model_path)
        self.chunk_size = chunk_size
        self.on_chunk = on_chunk
        #: Chunks each actor has run (by actor index): shows the work was spread.
        self.chunks_per_actor = [0] * n

    def _chunks(self, n: int) -> list[list[int]]:
        size = self.chunk_size or max(1, -(-n // len(self.actors)))
        return [list(range(i, min(n, i + size))) for i in range(0, n, size)]

    def _fan_out(self, method: str, requests: Sequence[Any]) -> list[Any]:
        """Send chunks to idle actors, collect with ray.wait, return results in request order."""
        import ray

        out: list[Any] = [None] * len(requests)
        pending_chunks = self._chunks(len(requests))
        idle = list(self.actors)
        running: dict[Any, tuple[Any, list[int]]] = {}
        while pending_chunks or running:
            while idle and pending_chunks:
                actor, idx = idle.pop(), pending_chunks.pop(0)
                ref = getattr(actor, method).remote([requests[i] for i in idx])
                running[ref] = (actor, idx)
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                actor, idx = running.pop(ref)
                results = ray.get(ref)
                self.chunks_per_actor[self.actors.index(actor)] += 1
                for i, r in zip(idx, results, strict=True):
                    out[i] = r
                if self.on_chunk:
                    self.on_chunk(method, idx, results)
                idle.append(actor)
        return out

    def generate(self, requests: list[GenerateRequest]) -> list[list[str]]:
        return self._fan_out("generate", requests)

    def score_choices(self, requests: list[ChoiceRequest]) -> list[ChoiceScores]:
        return self._fan_out("score_choices", requests)

    def close(self) -> None:
        import ray

        for a in self.actors:
            with contextlib.suppress(Exception):  # already gone: nothing to release
                ray.get(a.close.remote())
            ray.kill(a)
        self.actors = []


def run_eval_distributed(
    *,
    address: str | None,
    n_actors: int | None = None,
    engine_opts: dict[str, Any] | None = None,
    stats: dict[str, Any] | None = None,
    **run_eval_kwargs: Any,
) -> Any:
    """:func:`evals.runner.run_eval` with its engine replaced by a :class:`RayEngine`.

    ``stats``, when given, receives the number of actors and the chunks each one ran.
    """
    from evals.runner import run_eval

    connect(address)
    engine = RayEngine(
        run_eval_kwargs.pop("engine", "vllm"),
        run_eval_kwargs["model_path"],
        n_actors=n_actors,
        engine_opts=engine_opts,
    )
    try:
        return run_eval(engine=engine, **run_eval_kwargs)
    finally:
        if stats is not None:
            stats.update(actors=len(engine.actors), chunks_per_actor=list(engine.chunks_per_actor))
        engine.close()
