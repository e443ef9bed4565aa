"""The observational capability space on the dashboard: data from the database, one SVG.

The page (``/dashboard/observational``) fits :func:`predictors.observational.capability_space` on
the chosen base benchmarks and plots the first component against log10 training FLOPs, one colour
per family, with each family's fitted compute-efficiency line (shared slope, own offset), and the
first two components against each other.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sqlalchemy.orm import Session

from service.dashboard.plots import _LOCK, COLORS, _svg
from service.errors import ApiError

#: Families drawn in colour (the rest grey), so that the legend stays readable.
MAX_FAMILIES_COLOURED = 12


def parse_base(text: str | None) -> tuple[str, ...]:
    """``a/acc,b/acc`` → the base benchmark labels; the OpenLLM v1 six when empty."""
    from predictors.observational import OPENLLM_V1

    labels = tuple(t.strip() for t in (text or "").split(",") if t.strip())
    if not labels:
        return OPENLLM_V1
    bad = [t for t in labels if "/" not in t.strip("/")]
    if bad or len(labels) > 64:
        raise ApiError(422, f"base must be up to 64 'benchmark/metric' names, got {bad[:3]}",
                       where="query.base")  # fmt: skip
    return labels


def capability_view(session: Session, base: tuple[str, ...], n_components: int) -> dict[str, Any]:
    """Capabilities of every model in the database that has the base benchmarks, and the SVG."""
    from db.queries import fetch_observations
    from predictors.observational import capability_space

    benches = sorted({label.rpartition("/")[0] for label in base})
    obs = fetch_observations(session, benchmark=benches)
    if obs.empty:
        raise ApiError(
            422, f"no observations of the base benchmarks {list(base)}", where="query.base"
        )
    try:
        frame, fit = capability_space(obs, base_benchmarks=base, n_components=n_components)
    except ValueError as exc:
        raise ApiError(422, str(exc), where="query.base") from None
    families = frame["family"].fillna("(none)").astype(str)
    counts = families.value_counts()
    return {
        "svg": capability_svg(frame, fit),
        "n_models": len(frame),
        "families": [{"family": f, "n": int(n)} for f, n in counts.items()],
        "explained": [round(float(v), 4) for v in fit["explained"]],
        "slopes": None if fit["slopes"] is None else [round(float(v), 4) for v in fit["slopes"]],
    }


def capability_svg(frame: pd.DataFrame, fit: dict[str, Any]) -> str:
    """PC1 against log10 FLOPs by family (with the fitted lines), and PC2 against PC1."""
    families = frame["family"].fillna("(none)").astype(str)
    order = list(families.value_counts().index)
    colour = {f: COLORS[i % len(COLORS)] if i < MAX_FAMILIES_COLOURED else "#bbbbbb"
              for i, f in enumerate(order)}  # fmt: skip
    two = "PC2" in frame.columns
    with _LOCK:
        fig = Figure(figsize=(11 if two else 7, 5))
        ax = fig.add_subplot(1, 2 if two else 1, 1)
        for fam in order:
            sub = frame[families == fam]
            pts = ax.scatter(sub["log10_flops"], sub["PC1"], s=16, color=colour[fam],
                             label=fam if order.index(fam) < MAX_FAMILIES_COLOURED else None)  # fmt: skip
            pts.set_gid(f"capability-points-{order.index(fam)}")
            off = fit["offsets"].get(fam)
            lc = sub["log10_flops"].to_numpy(float)
            if off is not None and fit["slopes"] is not None and np.isfinite(lc).any():
                xs = np.array([np.nanmin(lc), np.nanmax(lc)])
                (line,) = ax.plot(xs, fit["slopes"][0] * xs + off[0], color=colour[fam], lw=1)
                line.set_gid(f"efficiency-line-{order.index(fam)}")
        ax.set_xlabel("log10 training FLOPs")
        ax.set_ylabel("PC1 (capability)")
        ax.set_title("capability by family: shared slope, family offsets")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        if two:
            ax2 = fig.add_subplot(1, 2, 2)
            for fam in order:
                sub = frame[families == fam]
                ax2.scatter(sub["PC1"], sub["PC2"], s=16, color=colour[fam])
            ax2.set_xlabel("PC1")
            ax2.set_ylabel("PC2")
            ax2.set_title("the first two components")
            ax2.grid(True, alpha=0.3)
        return _svg(fig)
