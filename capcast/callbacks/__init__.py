"""Training-loop hooks: on each checkpoint save, report it to capcast and ask "on track?".

:class:`CheckpointReporter` holds the logic, free of any training framework, so the Hugging Face
(:mod:`capcast.callbacks.hf`) and Lightning (:mod:`capcast.callbacks.lightning`) callbacks are
thin adapters. On each save it

1. registers the checkpoint: a model row ``{run_name}/checkpoint-{step}`` in family ``run_name``
   with ``checkpoint_step`` and ``n_tokens = step * tokens_per_step``;
2. posts the values logged since the previous save as measurements (``metrics`` maps a log key
   to a benchmark and metric; each row keeps the step it was logged at and its tokens);
3. optionally enqueues an evaluation job of the checkpoint on ``eval_task``;
4. fetches "on track?": the forecast of the final model (``final_step * tokens_per_step``
   tokens) fitted on this run's checkpoints only (``family = run_name``), with its interval.

A failing server never stops training: each failed step is logged, counted in ``failures`` and
listed in the report; measurements that could not be posted are posted with the next checkpoint.

Why the ladder for "on track?" (:class:`OnTrack`): no method in ``predictors/registry.py``
forecasts a *loss*. Every method predicts a score in [0, 1] (accuracy, or error via a chain), and
the curve baselines (``exponential``, ``sigmoid``) are increasing laws bounded by 1, which a
decreasing loss in nats cannot fit. The closest is ``ladder`` with ``input="flops"`` and
``step1_points="all"``: its step 1 is the power law ``L(C) = e^a C^-α + E`` fitted on every
checkpoint of the run (for one model size, C = 6·N·D is a power law in tokens), and its step 2
maps that loss to a score logged at the same steps (e.g. an eval accuracy from
``compute_metrics``). So "on track?" needs one such score; without it the reporter posts
checkpoints and losses and skips the forecast. A loss-only method (``E + B·D^-β`` on one run's
checkpoints) would belong in ``predictors/`` as a registered method.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from capcast.client import (
    CapcastClient,
    CapcastError,
    Forecast,
    Job,
    LoadReport,
    Measurement,
    Model,
)

log = logging.getLogger("capcast.callbacks")
T = TypeVar("T")

#: Trainer log keys posted by default: the training loss and the evaluation loss, in nats/token.
DEFAULT_METRICS: Mapping[str, tuple[str, str]] = {
    "loss": ("train_loss", "loss"),
    "eval_loss": ("eval_loss", "loss"),
}


@dataclass(frozen=True)
class OnTrack:
    """The "on track?" query: ``benchmark``/``metric`` (a score logged at the same steps as
    ``loss_benchmark``) forecast for the final model by ``method`` on this run's checkpoints.

    ``min_checkpoints``: the ladder's two laws have 3 and 4 parameters, so with fewer points
    than that the fit says nothing; the query waits until that many checkpoints are reported.
    """

    benchmark: str
    metric: str = "acc"
    loss_benchmark: str = "eval_loss"
    loss_metric: str = "loss"
    method: str = "ladder"
    alpha: float = 0.1
    n_bootstrap: int = 100
    min_checkpoints: int = 5

    def params(self) -> dict[str, Any]:
        """The ladder fitted on one run: every checkpoint a point, no smoothing or dropping."""
        return {
            "intermediate_benchmark": self.loss_benchmark,
            "intermediate_metric": self.loss_metric,
            "input": "flops",
            "step1_points": "all",
            "drop_first": 0.0,
            "last_n": 1,
            "smooth": 1,
            "anchor": False,
            "n_bootstrap": self.n_bootstrap,
        }


@dataclass(frozen=True)
class CheckpointReport:
    """What one save reported; a ``None`` is a step skipped or failed (see ``errors``)."""

    step: int
    model: Model | None = None
    measurements: LoadReport | None = None
    n_rows: int = 0
    job: Job | None = None
    forecast: Forecast | None = None
    errors: tuple[str, ...] = ()


@dataclass
class CheckpointReporter:
    """Framework-free core of the callbacks; see the module docstring.

    ``record(step, values)`` as values are logged; ``checkpoint(step, ...)`` on each save.
    """

    client: CapcastClient
    run_name: str
    tokens_per_step: float
    metrics: Mapping[str, tuple[str, str]] = field(default_factory=lambda: dict(DEFAULT_METRICS))
    eval_task: str | None = None
    eval_mode: str = "choices"
    on_track: OnTrack | None = None
    source: str = "training"
    failures: int = 0
    reports: list[CheckpointReport] = field(default_factory=list)
    _pending: dict[tuple[str, int], float] = field(default_factory=dict, repr=False)

    def record(self, step: int, values: Mapping[str, Any]) -> None:
        """Keep the values of ``metrics``' keys logged at ``step`` (a later value at the same
        step replaces an earlier one) until the next checkpoint posts them."""
        for key, value in values.items():
            if key in self.metrics and isinstance(value, int | float) and value == value:
                self._pending[(key, int(step))] = float(value)

    def checkpoint_name(self, step: int) -> str:
        return f"{self.run_name}/checkpoint-{step}"

    def checkpoint(
        self, step: int, *, final_step: int, n_params: float, uri: str | None = None
    ) -> CheckpointReport:
        """Report the checkpoint saved at ``step``; never raises for a server failure."""
        errors: list[str] = []
        name = self.checkpoint_name(step)
        common = {"family": self.run_name, "n_params": float(n_params)}
        model = self._try(
            errors,
            "register",
            lambda: self.client.register_checkpoint(
                name,
                checkpoint_step=step,
                n_tokens=step * self.tokens_per_step,
                uri=uri,
                **common,
            ),
        )
        keys, rows = self._rows(name, step)
        loaded = None
        if rows:
            loaded = self._try(
                errors,
                "measurements",
                lambda: self.client.post_measurements(rows, source=self.source, **common),
            )
            if loaded is not None:  # else they stay pending and go with the next checkpoint
                for key in keys:
                    del self._pending[key]
        job = None
        if self.eval_task is not None and uri is not None:
            task = self.eval_task
            job = self._try(
                errors,
                "evaluation",
                lambda: self.client.enqueue_evaluation(uri, task, mode=self.eval_mode),
            )
        forecast = self._forecast(errors, final_step, n_params)
        report = CheckpointReport(
            step=step,
            model=model,
            measurements=loaded,
            n_rows=len(rows),
            job=job,
            forecast=forecast,
            errors=tuple(errors),
        )
        self.reports.append(report)
        return report

    def _rows(self, name: str, step: int) -> tuple[list[tuple[str, int]], list[Measurement]]:
        """Pending values logged up to ``step`` (their keys, and rows at their own step)."""
        keys = sorted((k for k in self._pending if k[1] <= step), key=lambda k: (k[1], k[0]))
        out = []
        for key, at in keys:
            benchmark, metric = self.metrics[key]
            out.append(
                Measurement(
                    model=name,
                    benchmark=benchmark,
                    metric=metric,
                    value=self._pending[(key, at)],
                    checkpoint_step=at,
                    n_tokens=at * self.tokens_per_step,
                )
            )
        return keys, out

    def _forecast(self, errors: list[str], final_step: int, n_params: float) -> Forecast | None:
        spec = self.on_track
        if spec is None or len(self.reports) + 1 < spec.min_checkpoints:
            return None
        target = {
            "model": f"{self.run_name}/final",
            "n_params": float(n_params),
            "n_tokens": final_step * self.tokens_per_step,
        }
        return self._try(
            errors,
            "forecast",
            lambda: self.client.forecast(
                method=spec.method,
                benchmark=spec.benchmark,
                metric=spec.metric,
                family=self.run_name,
                alpha=spec.alpha,
                params=spec.params(),
                target=target,
            ),
        )

    def _try(self, errors: list[str], what: str, call: Callable[[], T]) -> T | None:
        """``call()``, or None after logging and counting a server failure."""
        try:
            return call()
        except CapcastError as exc:
            self.failures += 1
            where = f" at {exc.where}" if exc.where else ""
            message = f"{what}: {exc}{where}"
            errors.append(message)
            log.warning("capcast %s failed (training goes on): %s", self.run_name, message)
            return None


__all__ = ["DEFAULT_METRICS", "CheckpointReport", "CheckpointReporter", "OnTrack"]
