"""Pythia v1 evaluations across training checkpoints (EleutherAI/pythia, lm-eval output, flattened).

Every metric comes from the long table (8 tasks and the 57 MMLU subjects, acc/acc_norm/ppl, with
stderr); the MMLU average (``mmlu``, an unweighted mean over subjects) and the sizes and tokens
per checkpoint come from the wide table. Naming (INTERFACES.md): model ``pythia-1.4b`` /
``pythia-1.4b-deduped``, family ``pythia`` / ``pythia-deduped``, zero-shot benchmark = task,
five-shot = ``<task>@5shot``, MMLU subjects ``mmlu_<subject>`` (lm-eval 0.4's names),
checkpoint_step = step, n_tokens = tokens seen at that step, n_params = N_total.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from db.errors import ImportValidationError
from db.observations import _read_csv, validate_observations

SOURCE = "pythia-evals"
LONG = "pythia_v1_evals_long.csv"
WIDE = "pythia_v1_evals_wide.csv"
TASKS: frozenset[str] = frozenset(
    {"arc_easy", "arc_challenge", "piqa", "sciq", "logiqa", "winogrande", "wsc", "lambada_openai"}
)
MMLU_PREFIX = "hendrycksTest-"


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise ImportValidationError(str(path), None, None, "this pythia-evals file", "no such file")
    df = _read_csv(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ImportValidationError(
            str(path), 1, missing[0], f"columns {', '.join(columns)}", ", ".join(df.columns)
        )
    return df


def _int_column(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    vals = pd.to_numeric(df[col].str.strip(), errors="coerce")
    bad = vals.isna() | (vals % 1 != 0) | (vals < 0)
    if bad.any():
        line = int(df.index[bad.to_numpy()][0])
        raise ImportValidationError(
            str(path), line, col, "a non-negative whole number", df[col][bad].iloc[0]
        )
    return vals.astype("int64")


def benchmark_name(task: str, shots: int) -> str:
    """``hendrycksTest-anatomy``, 5 -> ``mmlu_anatomy@5shot``."""
    name = "mmlu_" + task[len(MMLU_PREFIX) :] if task.startswith(MMLU_PREFIX) else task
    return name if shots == 0 else f"{name}@{shots}shot"


def pythia_observations(directory: str | Path) -> pd.DataFrame:
    """All checkpoints of all 16 models: every long-table metric plus the MMLU average."""
    directory = Path(directory)
    long_path, wide_path = directory / LONG, directory / WIDE
    wide = _read(
        wide_path,
        ("model", "deduped", "shots", "step", "tokens", "N_total", "N_nonembed", "mmlu_avg_acc"),
    )
    long = _read(long_path, ("model", "shots", "step", "task", "metric", "value", "stderr"))
    for df, path in ((wide, wide_path), (long, long_path)):
        df["shots"] = _int_column(df, "shots", path)
        df["step"] = _int_column(df, "step", path)
    unknown = ~long["task"].isin(TASKS) & ~long["task"].str.startswith(MMLU_PREFIX)
    if unknown.any():
        raise ImportValidationError(
            str(long_path),
            int(long.index[unknown.to_numpy()][0]),
            "task",
            "a Pythia task (" + ", ".join(sorted(TASKS)) + f" or {MMLU_PREFIX}<subject>)",
            long["task"][unknown].iloc[0],
            detail="unknown benchmark name",
        )
    sizes = wide.drop_duplicates("model").set_index("model")
    tokens = wide.drop_duplicates(["model", "step"]).set_index(["model", "step"])["tokens"]
    missing = ~long["model"].isin(sizes.index)
    if missing.any():
        raise ImportValidationError(
            str(long_path),
            int(long.index[missing.to_numpy()][0]),
            "model",
            f"a model listed in {WIDE}",
            long["model"][missing].iloc[0],
        )

    def frame(
        df: pd.DataFrame,
        bench: pd.Series,
        metric: np.ndarray | str,
        value: np.ndarray,
        stderr: np.ndarray | None,
        path: Path,
    ) -> pd.DataFrame:
        models = df["model"]
        deduped = sizes.loc[models, "deduped"].str.strip().to_numpy() == "1"
        step_key = pd.MultiIndex.from_arrays([models, df["step"]])
        return pd.DataFrame(
            {
                "model": models.to_numpy(),
                "family": np.where(deduped, "pythia-deduped", "pythia"),
                "n_params": sizes.loc[models, "N_total"].to_numpy(),
                "n_params_nonembed": sizes.loc[models, "N_nonembed"].to_numpy(),
                "n_tokens": tokens.reindex(step_key).to_numpy(),
                "checkpoint_step": df["step"].to_numpy(),
                "benchmark": bench.to_numpy(),
                "metric": metric,
                "value": value,
                "stderr": stderr,
                "source": SOURCE,
                "_file": str(path),
            },
            index=df.index,
        )

    long_bench = pd.Series(
        [benchmark_name(t, s) for t, s in zip(long["task"], long["shots"], strict=True)]
    )
    part_long = frame(
        long,
        long_bench,
        long["metric"].to_numpy(),
        long["value"].to_numpy(),
        long["stderr"].to_numpy(),
        long_path,
    )
    mmlu_bench = pd.Series([benchmark_name("mmlu", s) for s in wide["shots"]])
    part_wide = frame(wide, mmlu_bench, "acc", wide["mmlu_avg_acc"].to_numpy(), None, wide_path)
    no_tokens = part_long["n_tokens"].isna()
    if no_tokens.any():
        pos = int(np.flatnonzero(no_tokens.to_numpy())[0])
        raise ImportValidationError(
            str(long_path),
            int(part_long.index[pos]),
            "step",
            f"a checkpoint listed in {WIDE} for {part_long['model'].iat[pos]}",
            int(part_long["checkpoint_step"].to_numpy()[pos]),
        )
    both = pd.concat([part_wide, part_long])
    both.index.name = "line"
    return validate_observations(both, str(directory))
