"""PyTorch Lightning callback: each checkpoint Lightning saves is reported to capcast.

Needs ``lightning`` (or the older ``pytorch_lightning``); importing this module without either
raises an ImportError saying what to install. See :mod:`capcast.callbacks` for what a save
reports. Values come from ``trainer.callback_metrics`` (what ``self.log`` logged) after each
training batch and each validation; a value is recorded at the step where it changed, so a
validation loss held over from the previous validation is not posted again at later steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

try:
    from lightning.pytorch import LightningModule, Trainer
    from lightning.pytorch.callbacks import Callback
except ImportError:
    try:
        # the pre-2.0 package name: the same classes, which mypy sees as different types
        from pytorch_lightning import LightningModule, Trainer  # type: ignore[assignment]  # the same names from the older package
        from pytorch_lightning.callbacks import Callback  # type: ignore[assignment]  # the same names from the older package
    except ImportError as exc:
        raise ImportError(
            "capcast.callbacks.lightning needs PyTorch Lightning: pip install lightning "
            "(the Hugging Face callback is capcast.callbacks.hf)"
        ) from exc

from capcast.callbacks import CheckpointReporter, OnTrack
from capcast.client import CapcastClient

#: What ``self.log("train_loss")`` and ``self.log("val_loss")`` are posted as.
LIGHTNING_METRICS: Mapping[str, tuple[str, str]] = {
    "train_loss": ("train_loss", "loss"),
    "val_loss": ("eval_loss", "loss"),
}


class CapcastLightningCallback(Callback):
    """Report each checkpoint Lightning saves (global rank 0 only).

    Parameters are those of :class:`capcast.callbacks.hf.CapcastTrainerCallback`, except:

    checkpoint_uri : callable or None
        ``step -> path`` of a Hugging Face directory the server can evaluate (Lightning's own
        ``.ckpt`` files are not one). None: checkpoints get no uri and no evaluation job.
    """

    def __init__(
        self,
        client: CapcastClient,
        *,
        run_name: str,
        tokens_per_step: float,
        n_params: float | None = None,
        metrics: Mapping[str, tuple[str, str]] = LIGHTNING_METRICS,
        eval_task: str | None = None,
        on_track: OnTrack | None = None,
        checkpoint_uri: Callable[[int], str] | None = None,
    ) -> None:
        self.n_params, self.checkpoint_uri = n_params, checkpoint_uri
        self.reporter = CheckpointReporter(
            client,
            run_name=run_name,
            tokens_per_step=tokens_per_step,
            metrics=dict(metrics),
            eval_task=eval_task,
            on_track=on_track,
            source="lightning",
        )
        self._last: dict[str, float] = {}

    @property
    def failures(self) -> int:
        return self.reporter.failures

    def _record(self, trainer: Trainer) -> None:
        changed = {}
        for key in self.reporter.metrics:
            value = trainer.callback_metrics.get(key)
            if value is None:
                continue
            number = float(value)
            if self._last.get(key) != number:
                changed[key] = self._last[key] = number
        self.reporter.record(trainer.global_step, changed)

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._record(trainer)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.sanity_checking:
            self._record(trainer)

    def on_save_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if trainer.global_rank != 0:
            return
        step = trainer.global_step
        n_params = self.n_params
        if n_params is None:
            n_params = float(sum(p.numel() for p in pl_module.parameters()))
        final = trainer.max_steps if trainer.max_steps > 0 else trainer.estimated_stepping_batches
        uri = self.checkpoint_uri(step) if self.checkpoint_uri is not None else None
        self.reporter.checkpoint(step, final_step=int(final), n_params=n_params, uri=uri)
