"""The ladder's headline figure: pass rate against training compute, one line per task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


def task_curves(results: pd.DataFrame, sizes: list[dict[str, Any]]) -> pd.DataFrame:
    """Per model (final checkpoint), benchmark and mode: the task-level rate, with FLOPs."""
    flops = {s["model"]: s["flops"] for s in sizes}
    final = results["checkpoint_step"] == results.groupby("model")["checkpoint_step"].transform(
        "max"
    )
    r = results[final & results["mode"].isin(["greedy", "samples", "passuntil"])].copy()
    r["rate"] = r["estimate"].where(r["mode"] != "samples", r["n_pass"] / r["n_samples"])
    out = r.groupby(["model", "benchmark", "mode"], as_index=False)["rate"].mean()
    out["flops"] = out["model"].map(flops)
    return out.sort_values(["benchmark", "mode", "flops"]).reset_index(drop=True)


def plot_pass_rate_vs_compute(
    results: pd.DataFrame, sizes: list[dict[str, Any]], path: Path
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = task_curves(results, sizes)
    benches = sorted(curves["benchmark"].unique())
    colour = {b: f"C{i}" for i, b in enumerate(benches)}
    n = results.loc[results["mode"] == "samples", "n_samples"]
    n_text = f"n={int(n.max())}" if len(n) else "n=?"
    modes = [m for m in ("samples", "passuntil", "greedy") if m in set(curves["mode"])]
    fig, axes = plt.subplots(1, len(modes), figsize=(5 * len(modes), 4), squeeze=False)
    labels = {
        "samples": f"pass rate ({n_text}, T=1, top_p=0.7)",
        "passuntil": "PassUntil estimate",
        "greedy": "greedy accuracy",
    }
    for ax, mode in zip(axes[0], modes, strict=True):
        for bench, g in curves[curves["mode"] == mode].groupby("benchmark"):
            ax.plot(g["flops"], g["rate"].clip(lower=1e-4), "o-", color=colour[bench], label=bench)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(1e-4, 1.05)
        ax.set_xlabel("training compute (FLOPs, 6ND)")
        ax.set_title(labels[mode])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("task-level rate (final checkpoint; 0 drawn at 1e-4)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
