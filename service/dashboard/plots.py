"""Plots twice: as inline SVG (matplotlib, the no-JavaScript fallback) and as chart data.

The chart data (``*_chart``) is a JSON-able dict the page embeds in a
``<script type="application/json">`` element (Jinja's ``tojson`` escapes ``<``, ``>`` and ``&``, so
a benchmark named ``</script>`` stays text); ``static/charts.js`` draws it with plotly.js, which
the app serves from the ``plotly`` package (no CDN), with hover values, zoom and the method
highlight linked to the verdict table. When the chart is drawn the SVG is hidden, not removed.

Every artist that a test or a person needs to find carries an SVG id: ``measured-points``,
``fit-curve-<method>``, ``interval-band-<method>``, ``forecast-<method>``, ``heatmap-cells``,
``density-points``, ``densing-law``. Figures are built with the object API (no pyplot state), and
rendering holds a lock because matplotlib's text layout is not thread-safe.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from typing import Any

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

_LOCK = threading.Lock()
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
matplotlib.rcParams["svg.hashsalt"] = "capcast"
matplotlib.rcParams["svg.fonttype"] = "none"


@dataclass
class Curve:
    """One predictor's fitted curve over the grid, with its band and the target forecast."""

    method: str
    x: np.ndarray
    point: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    target_x: float | None = None
    target: tuple[float, float, float] | None = None  # point, lower, upper


@dataclass
class ScalingPlot:
    title: str
    xlabel: str
    ylabel: str
    points: pd.DataFrame  # columns x, y, label (held_out bool)
    curves: list[Curve] = field(default_factory=list)


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def scaling_svg(plot: ScalingPlot) -> str:
    """Measured points, each method's curve with its interval band, and the target forecast."""
    with _LOCK:
        fig = Figure(figsize=(8.5, 5.2))
        ax = fig.add_subplot()
        for i, curve in enumerate(plot.curves):
            color = COLORS[i % len(COLORS)]
            ok = np.isfinite(curve.point)
            band = ax.fill_between(
                curve.x,
                curve.lower,
                curve.upper,
                where=np.isfinite(curve.lower) & np.isfinite(curve.upper),
                color=color,
                alpha=0.15,
                linewidth=0,
                label=f"{curve.method} interval",
            )
            band.set_gid(f"interval-band-{curve.method}")
            (line,) = ax.plot(curve.x[ok], curve.point[ok], color=color, lw=2, label=curve.method)
            line.set_gid(f"fit-curve-{curve.method}")
            if curve.target is not None and curve.target_x is not None:
                p, lo, hi = curve.target
                bars = ax.errorbar(
                    [curve.target_x],
                    [p],
                    yerr=[[p - lo], [hi - p]],
                    fmt="D",
                    color=color,
                    ms=8,
                    capsize=5,
                    mec="black",
                )
                bars.lines[0].set_gid(f"forecast-{curve.method}")
                bars.lines[2][0].set_gid(f"forecast-interval-{curve.method}")
        pts = plot.points
        fit = pts[~pts["held_out"]]
        held = pts[pts["held_out"]]
        sc = ax.scatter(fit["x"], fit["y"], s=22, color="black", zorder=5, label="measured")
        sc.set_gid("measured-points")
        if len(held):
            sh = ax.scatter(
                held["x"],
                held["y"],
                s=40,
                facecolors="none",
                edgecolors="black",
                zorder=5,
                label="measured, not fitted",
            )
            sh.set_gid("held-out-points")
        ax.set_xscale("log")
        ax.set_xlabel(plot.xlabel)
        ax.set_ylabel(plot.ylabel)
        ax.set_title(plot.title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="best")
        return _svg(fig)


def heatmap_svg(matrix: pd.DataFrame, title: str, zscores: pd.Series | None = None) -> str:
    """Agreement as a heatmap (rows: benchmarks, columns: subset sizes), z-scores beside the rows."""
    with _LOCK:
        n_rows, n_cols = matrix.shape
        fig = Figure(figsize=(3.5 + 1.1 * n_cols, 1.5 + 0.24 * n_rows))
        ax = fig.add_subplot()
        values = matrix.to_numpy(dtype=float)
        image = ax.imshow(values, cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
        image.set_gid("heatmap-cells")
        ax.set_xticks(range(n_cols), [str(c) for c in matrix.columns], fontsize=8)
        labels = [str(b) for b in matrix.index]
        if zscores is not None:
            labels = [f"{b} (z={zscores.get(b, np.nan):+.2f})" for b in labels]
        ax.set_yticks(range(n_rows), labels, fontsize=7)
        for i in range(n_rows):
            for j in range(n_cols):
                if np.isfinite(values[i, j]):
                    ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=6)
        fig.colorbar(image, ax=ax, label="Kendall τ", shrink=0.6)
        ax.set_title(title)
        return _svg(fig)


def density_svg(points: pd.DataFrame, law: dict[str, Any] | None, title: str) -> str:
    """ln density over release date, the running maximum and the fitted densing law."""
    with _LOCK:
        fig = Figure(figsize=(8.5, 5))
        ax = fig.add_subplot()
        sc = ax.scatter(
            points["release_date"], points["log_density"], s=18, color="#1f77b4", label="models"
        )
        sc.set_gid("density-points")
        if law and law.get("x") is not None:
            (line,) = ax.plot(
                law["x"], law["y"], color="#d62728", lw=2, label=law.get("label", "densing law")
            )
            line.set_gid("densing-law")
        ax.set_xlabel("release date")
        ax.set_ylabel("ln capacity density")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.autofmt_xdate()
        return _svg(fig)


# -- chart data for static/charts.js --------------------------------------------------------------


def _floats(values: Any) -> list[float | None]:
    """Finite floats, None for NaN/inf (JSON has neither; plotly leaves a gap)."""
    out = np.asarray(values, dtype=float)
    return [float(v) if np.isfinite(v) else None for v in out]


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    if name not in frame:
        return [None] * len(frame)
    return [None if pd.isna(v) else (v if isinstance(v, str) else float(v)) for v in frame[name]]


def scaling_chart(plot: ScalingPlot) -> dict[str, Any]:
    """The scaling plot's data: points (with model and size for hover) and each method's curve."""
    pts = plot.points
    curves = []
    for i, curve in enumerate(plot.curves):
        item: dict[str, Any] = {
            "method": curve.method,
            "color": COLORS[i % len(COLORS)],
            "x": _floats(curve.x),
            "point": _floats(curve.point),
            "lower": _floats(curve.lower),
            "upper": _floats(curve.upper),
            "target": None,
        }
        if curve.target is not None and curve.target_x is not None:
            p, lo, hi = curve.target
            item["target"] = {"x": float(curve.target_x), "point": p, "lower": lo, "upper": hi}
        curves.append(item)
    return {
        "kind": "scaling",
        "title": plot.title,
        "xlabel": plot.xlabel,
        "ylabel": plot.ylabel,
        "points": {
            "x": _floats(pts["x"]),
            "y": _floats(pts["y"]),
            "held_out": [bool(v) for v in pts["held_out"]],
            "model": [str(m) if m is not None else "?" for m in _column(pts, "model")],
            "n_params": _column(pts, "n_params"),
            "n_tokens": _column(pts, "n_tokens"),
        },
        "curves": curves,
    }


def heatmap_chart(
    matrix: pd.DataFrame, title: str, zscores: pd.Series | None = None
) -> dict[str, Any]:
    """The agreement matrix (rows: benchmarks, columns: subset sizes) and each row's z-score."""
    rows = [str(b) for b in matrix.index]
    z = [None] * len(rows)
    if zscores is not None:
        z = _floats([zscores.get(b, np.nan) for b in matrix.index])
    return {
        "kind": "heatmap",
        "title": title,
        "rows": rows,
        "columns": [str(c) for c in matrix.columns],
        "values": [_floats(matrix.iloc[i]) for i in range(len(rows))],
        "z": z,
    }


def density_chart(points: pd.DataFrame, law: dict[str, Any] | None, title: str) -> dict[str, Any]:
    """ln density per model over release date, and the densing law's line."""
    dates = pd.to_datetime(points["release_date"])
    chart: dict[str, Any] = {
        "kind": "density",
        "title": title,
        "points": {
            "date": [d.strftime("%Y-%m-%d") for d in dates],
            "y": _floats(points["log_density"]),
            "model": [str(m) for m in _column(points, "model")],
            "n_params": _column(points, "n_params"),
            "effective": _column(points, "effective_size"),
        },
        "law": None,
    }
    if law and law.get("x") is not None:
        chart["law"] = {
            "date": [d.strftime("%Y-%m-%d") for d in pd.to_datetime(law["x"])],
            "y": _floats(law["y"]),
            "label": str(law.get("label", "densing law")),
        }
    return chart
