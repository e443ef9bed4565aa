"""Hugging Face ``Trainer`` callback: each saved checkpoint is reported to capcast.

>>> from capcast import CapcastClient
>>> cb = CapcastTrainerCallback(CapcastClient("http://capcast:8000", "cc_..."), run_name="r1",
...                             tokens_per_step=8 * 512)
>>> cb.reporter.checkpoint_name(200)
'r1/checkpoint-200'

``Trainer(..., callbacks=[cb])``; see :mod:`capcast.callbacks` for what a save reports. Losses
come from ``state.log_history`` (every entry logged since the previous save, at its own step), so
set ``logging_steps`` as usual; with ``compute_metrics`` returning e.g. ``{"accuracy": ...}`` the
Trainer logs ``eval_accuracy``, which ``metrics`` can map to a benchmark for "on track?".
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from capcast.callbacks import DEFAULT_METRICS, CheckpointReporter, OnTrack
from capcast.client import CapcastClient


class CapcastTrainerCallback(TrainerCallback):
    """Report each checkpoint the Trainer saves (on the main process only).

    Parameters
    ----------
    client : CapcastClient
    run_name : str
        Names the family and its checkpoints (``{run_name}/checkpoint-{step}``).
    tokens_per_step : float
        Training tokens per optimizer step (batch size x sequence length x accumulation x
        processes); a checkpoint's ``n_tokens`` is ``step * tokens_per_step``.
    n_params : float or None
        Model parameters; None counts the model's own (``model.num_parameters()``).
    metrics : mapping, default=DEFAULT_METRICS
        Log key -> (benchmark, metric) posted as measurements.
    eval_task : str or None
        A task file (on the server's job paths) to enqueue an evaluation of each checkpoint on.
    on_track : OnTrack or None
        The "on track?" forecast asked at each save (None: not asked).
    """

    def __init__(
        self,
        client: CapcastClient,
        *,
        run_name: str,
        tokens_per_step: float,
        n_params: float | None = None,
        metrics: Mapping[str, tuple[str, str]] = DEFAULT_METRICS,
        eval_task: str | None = None,
        on_track: OnTrack | None = None,
    ) -> None:
        self.n_params = n_params
        self.reporter = CheckpointReporter(
            client,
            run_name=run_name,
            tokens_per_step=tokens_per_step,
            metrics=dict(metrics),
            eval_task=eval_task,
            on_track=on_track,
            source="hf_trainer",
        )
        self._seen = 0  # entries of state.log_history already recorded

    @property
    def failures(self) -> int:
        """Server failures so far (each logged; training went on)."""
        return self.reporter.failures

    def on_save(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero:
            return
        for entry in state.log_history[self._seen :]:
            if "step" in entry:
                self.reporter.record(int(entry["step"]), entry)
        self._seen = len(state.log_history)
        step = state.global_step
        n_params = self.n_params
        if n_params is None:
            model = kwargs.get("model")
            if model is None:
                raise ValueError("CapcastTrainerCallback: no model to count; give n_params")
            n_params = float(model.num_parameters())
        uri = str(Path(str(args.output_dir)).resolve() / f"checkpoint-{step}")
        self.reporter.checkpoint(step, final_step=state.max_steps, n_params=n_params, uri=uri)
