"""What every mode's runner shares: where finished items go, progress, generation settings.

Each mode (:mod:`evals.run_choices`, :mod:`evals.run_passuntil`, :mod:`evals.run_samples`) hands
finished items to :class:`RunContext.write`, which commits them at once, so a killed run loses at
most the items in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from db import results as R
from evals.tasks import Task

Progress = Callable[..., None]
#: One finished item: its key, its ``item_result`` values and its choice scores.
Entry = tuple[str, dict[str, Any], list[R.ChoiceRow]]


@dataclass
class RunContext:
    """The run's database handle, item ids and progress counters, shared by the mode runners."""

    sf: sessionmaker[Session]
    run_id: int
    ids: dict[str, int]
    total: int
    done: int
    progress: Progress | None
    samples: int = 0

    def report(self) -> None:
        if self.progress:
            self.progress(done=self.done, total=self.total, samples=self.samples)

    def add_samples(self, n: int) -> None:
        self.samples += n
        self.report()

    def write(self, entries: list[Entry]) -> None:
        """Commit finished items in one transaction, then report progress."""
        self.commit(entries)
        self.done += len(entries)
        self.report()

    def commit(self, entries: list[Entry]) -> None:
        """Store finished items in one transaction and a few bulk statements (no progress report,
        so a writer thread may call it while the engine works on the next batch)."""
        rows = [R.ResultIn(self.ids[key], result, tuple(ch)) for key, result, ch in entries]
        with self.sf() as s, s.begin():
            R.write_item_results(s, self.run_id, rows)


def gen_settings(task: Task, cfg: dict[str, Any]) -> dict[str, Any]:
    """Stop strings and token cap: the run's settings first, then the task's generation block."""
    stop = cfg["stop"] if cfg["stop"] is not None else task.generation.get("stop", [])
    max_tokens = cfg["max_tokens"] or task.generation.get("max_tokens", 256)
    return {"stop": tuple(stop), "max_tokens": int(max_tokens)}


@contextmanager
def console_progress(label: str = "eval") -> Iterator[Progress]:
    """A rich progress bar on stderr: items done / total, samples drawn, time left."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as RichProgress

    bar = RichProgress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("items · {task.fields[samples]} samples"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with bar:
        tid = bar.add_task(label, total=None, samples=0)

        def update(*, done: int, total: int, samples: int = 0, **_: Any) -> None:
            bar.update(tid, completed=done, total=total, samples=samples)

        yield update
