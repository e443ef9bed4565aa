"""Capacity density and the densing law (Xiao et al. 2024; METHODS P4).

A reference family's curves (loss from (N, D), score from loss) are inverted to give any model's
*effective size*: the reference size that would score as well at ``d0`` tokens. Density is
effective size over actual size, relative to the reference family (every result names it). The
densing law fits ``ln ρ_max(t) = A·t + B`` to the running maximum of log density over release
dates by OLS (statsmodels), carries the slope's interval through to the doubling time ``ln 2/A``,
and checks it with a bootstrap over models. Plotting lives in :func:`plot_densing` only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from predictors.base import BaseEstimator, check_is_fitted, validate_params
from predictors.laws import (
    LawFit,
    densing_loss,
    fit_law,
    grid,
    invert_sigmoid_accuracy,
    sigmoid_accuracy,
)
from predictors.selection import as_score, select


class DensityReference(BaseEstimator):
    """Reference-family curves and their inversion to effective size.

    Parameters
    ----------
    reference_family : str
        ``family`` value of the reference models (required: density is relative to it).
    benchmark, metric : str
        The score S (e.g. ``"winogrande@5shot"``, ``"acc"``).
    loss_benchmark, loss_metric : str
        The loss L. The paper uses the conditional loss of the answer on the benchmark itself
        (``metric="bpb"`` or ``"loss"`` on the same benchmark); without it, any loss column
        (``ppl`` fitted as log-perplexity) stands in, and the result says which.
    size_column : str, default="n_params_nonembed"
    d0 : float, default=1e12
        Tokens at which the effective size is read off.
    chance : float or None, default=None
        Step 2 uses only reference points above ``chance + margin``; None: the lowest score seen.
    margin : float, default=0.02
    ceiling : float or None, default=None
        Fix the score curve's upper asymptote (e.g. 1.0: a perfect score at zero loss, like the
        ladder's (L=0, Acc=1) anchor). Without it the asymptote is fitted, and a family whose
        best model is far from the targets caps every stronger model as "not invertible".

    Examples
    --------
    A noiseless reference family on L = 30 N^-0.25 + 200 D^-0.25 and
    S = -0.7 / (1 + exp(-5 (L - 1))) + 0.95. The score the curves give at N = 2e9, D = d0 = 1e12
    (0.9249) inverts back to an effective size of 2e9:

    >>> import numpy as np, pandas as pd
    >>> def loss(n, d): return 30.0 * n**-0.25 + 200.0 * d**-0.25
    >>> def acc(L): return -0.7 / (1 + np.exp(-5.0 * (L - 1.0))) + 0.95
    >>> rows = []
    >>> for n in (7e7, 1.6e8, 4e8, 1e9, 2.8e9):
    ...     for d in np.logspace(9, 11.5, 5):
    ...         base = dict(model=f"ref{n:.0e}", family="ref", n_params=n, n_params_nonembed=n,
    ...                     n_tokens=d, checkpoint_step=int(d / 1e6))
    ...         rows += [dict(base, benchmark="lm", metric="loss", value=loss(n, d)),
    ...                  dict(base, benchmark="task", metric="acc", value=acc(loss(n, d)))]
    >>> ref = DensityReference(reference_family="ref", benchmark="task", loss_benchmark="lm")
    >>> ref = ref.fit(pd.DataFrame(rows))
    >>> s = float(acc(loss(2e9, 1e12)))
    >>> round(s, 4), round(float(ref.effective_size(np.array([s]))[0]) / 1e9, 4)  # in 1e9
    (0.9249, 2.0)
    """

    _param_ranges: ClassVar[dict[str, Any]] = {
        "d0": (float, 1.0, None),
        "margin": (float, 0.0, 1.0),
    }

    def __init__(
        self,
        *,
        reference_family: str,
        benchmark: str,
        metric: str = "acc",
        loss_benchmark: str,
        loss_metric: str = "loss",
        size_column: str = "n_params_nonembed",
        d0: float = 1e12,
        chance: float | None = None,
        margin: float = 0.02,
        ceiling: float | None = None,
    ) -> None:
        self.ceiling = ceiling
        self.reference_family, self.benchmark, self.metric = reference_family, benchmark, metric
        self.loss_benchmark, self.loss_metric = loss_benchmark, loss_metric
        self.size_column, self.d0, self.chance, self.margin = size_column, d0, chance, margin

    def fit(self, observations: pd.DataFrame) -> DensityReference:
        validate_params(self)
        ref = observations[observations["family"] == self.reference_family]
        if ref.empty:
            raise ValueError(
                f"DensityReference: no rows of reference family {self.reference_family!r}"
            )
        key = ["model", "checkpoint_step"]
        lr = select(ref, self.loss_benchmark, self.loss_metric, "DensityReference.fit")
        sr = select(ref, self.benchmark, self.metric, "DensityReference.fit")
        lr = lr[(lr["n_tokens"] > 0) & np.isfinite(lr[self.size_column].astype(float))]
        x = (lr[self.size_column].to_numpy(float), lr["n_tokens"].to_numpy(float))
        y = as_score(lr["value"].to_numpy(), self.loss_metric)
        starts = grid([10.0, 1e3], [0.1, 0.3], [10.0, 1e3], [0.1, 0.3])
        self.loss_fit_: LawFit = fit_law(
            densing_loss, x, y, starts=starts, bounds=([0, 0, 0, 0], [1e8, 3, 1e8, 3])
        )
        pairs = (
            lr[[*key, "value"]]
            .rename(columns={"value": "L"})
            .merge(sr[[*key, "value"]].rename(columns={"value": "S"}), on=key)
        )
        L = as_score(pairs["L"].to_numpy(), self.loss_metric)
        S = as_score(pairs["S"].to_numpy(), self.metric)
        floor = (float(np.min(S)) if self.chance is None else self.chance) + self.margin
        keep = floor < S
        self.n_score_points_ = int(keep.sum())
        self.score_fit_: LawFit = fit_law(
            sigmoid_accuracy,
            L[keep],
            S[keep],
            starts=grid(
                [-0.5, -1.0], [0.7, 1.0], [1.0, 3.0], [float(np.median(L)) if L.size else 2.0]
            ),
            bounds=self._score_bounds(),
        )
        self.score_range_ = (
            (float(S[keep].min()), float(S[keep].max())) if keep.any() else (math.nan, math.nan)
        )
        return self

    def _score_bounds(self) -> tuple[list[float], list[float]]:
        if self.ceiling is None:
            return [-1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 100.0, 100.0]
        c = float(self.ceiling)
        return [-1.0, c - 1e-9, 0.0, 0.0], [0.0, c, 100.0, 100.0]

    def effective_size(self, scores: np.ndarray) -> np.ndarray:
        """N̂(S): reference size reaching score S at ``d0`` tokens; NaN where not invertible."""
        check_is_fitted(self)
        if not (self.loss_fit_.ok and self.score_fit_.ok):
            return np.full(np.shape(scores), np.nan)
        L_hat = invert_sigmoid_accuracy(
            as_score(np.asarray(scores, float), self.metric), *self.score_fit_.params
        )
        a, alpha, b, beta = self.loss_fit_.params
        rest = L_hat - b * self.d0 ** (-beta)
        with np.errstate(invalid="ignore", divide="ignore"):
            n_hat = np.power(rest / a, -1.0 / alpha)
        return np.where(rest > 0, n_hat, np.nan)

    def describe(self) -> dict[str, Any]:
        return {
            "reference_family": self.reference_family,
            "score": f"{self.benchmark}/{self.metric}",
            "loss": f"{self.loss_benchmark}/{self.loss_metric}",
            "size_column": self.size_column,
            "d0": self.d0,
            "loss_fit": self.loss_fit_.to_dict(),
            "score_fit": self.score_fit_.to_dict(),
            "reference_score_range": list(self.score_range_),
            "ceiling": self.ceiling,
        }


def density_table(reference: DensityReference, models: pd.DataFrame) -> pd.DataFrame:
    """Effective size and density of each model (columns model, n_params, release_date, score).

    ``n_params`` must be in the reference's size convention. Models outside the invertible range
    get NaN density and a ``note``.
    """
    m = models.copy()
    m["effective_size"] = reference.effective_size(m["score"].to_numpy(float))
    m["density"] = m["effective_size"] / m["n_params"].astype(float)
    hi = reference.score_range_[1]
    m["note"] = np.where(
        np.isfinite(m["density"]),
        np.where(
            as_score(m["score"].to_numpy(float), reference.metric) > hi,
            "extrapolated above reference",
            "",
        ),
        "score outside the reference curve's range",
    )
    return m


@dataclass(frozen=True)
class DensingResult:
    """Densing-law fit: slope per day with interval, doubling time with interval, and checks."""

    reference: dict[str, Any]
    slope: float
    slope_interval: tuple[float, float]
    intercept: float
    r_squared: float
    doubling_days: float
    doubling_interval: tuple[float, float]
    bootstrap_slope_interval: tuple[float, float]
    alpha: float
    n_models: int
    points: pd.DataFrame = field(repr=False)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "slope_per_day": self.slope,
            "slope_interval": list(self.slope_interval),
            "intercept": self.intercept,
            "r_squared": self.r_squared,
            "doubling_days": self.doubling_days,
            "doubling_interval": list(self.doubling_interval),
            "bootstrap_slope_interval": list(self.bootstrap_slope_interval),
            "alpha": self.alpha,
            "n_models": self.n_models,
            "models": self.points.assign(
                release_date=self.points["release_date"].astype(str)
            ).to_dict("records"),
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        lv = round(100 * (1 - self.alpha))
        lines = [
            f"densing law, reference family {self.reference.get('reference_family')} "
            f"(score {self.reference.get('score')}, loss {self.reference.get('loss')}), {self.n_models} models",
            f"  slope A = {self.slope:.5f}/day  {lv}% CI [{self.slope_interval[0]:.5f}, {self.slope_interval[1]:.5f}]"
            f"  bootstrap [{self.bootstrap_slope_interval[0]:.5f}, {self.bootstrap_slope_interval[1]:.5f}]",
            f"  R² {self.r_squared:.3f}; doubling time {self.doubling_days:.0f} days "
            f"[{self.doubling_interval[0]:.0f}, {self.doubling_interval[1]:.0f}]",
        ]
        lines += [f"  [{i}] {n}" for i, n in enumerate(self.notes, 1)]
        return "\n".join(lines)


def running_max(points: pd.DataFrame) -> pd.DataFrame:
    """Points sorted by release date with ``log_density_max``, the best density released so far."""
    p = points.sort_values("release_date").reset_index(drop=True)
    p["log_density"] = np.log(p["density"].astype(float))
    p["log_density_max"] = p["log_density"].cummax()
    return p


def _ols_slope(t: np.ndarray, y: np.ndarray, alpha: float) -> tuple[Any, tuple[float, float]]:
    import statsmodels.api as sm

    res = sm.OLS(y, sm.add_constant(t)).fit()
    ci = res.conf_int(alpha=alpha)
    return res, (float(ci[1][0]), float(ci[1][1]))


def _doubling(a: float) -> float:
    return math.log(2) / a if a > 0 else math.inf


def fit_densing_law(
    table: pd.DataFrame,
    reference: dict[str, Any],
    *,
    alpha: float = 0.1,
    n_bootstrap: int = 1000,
    random_state: int = 0,
) -> DensingResult:
    """OLS of the running maximum of ln ρ on release day; bootstrap over models as a check."""
    pts = table[np.isfinite(table["density"].astype(float)) & table["release_date"].notna()].copy()
    pts["release_date"] = pd.to_datetime(pts["release_date"])
    notes = []
    if len(pts) < 3:
        raise ValueError(
            f"densing law needs at least 3 models with a density and a date, have {len(pts)}"
        )
    p = running_max(pts)
    t0 = pd.Timestamp("2020-01-01")
    t = (p["release_date"] - t0).dt.days.to_numpy(float)
    y = p["log_density_max"].to_numpy()
    res, ci = _ols_slope(t, y, alpha)
    a = float(res.params[1])
    flat = bool(np.ptp(y) == 0)
    if flat:  # R² is 0/0: say why instead of printing -inf
        notes.append("the running maximum never rises after the first model: there is no trend")
    rng = np.random.default_rng(random_state)
    boots = []
    for _ in range(n_bootstrap):
        q = running_max(pts.iloc[rng.integers(0, len(pts), len(pts))])
        tq = (q["release_date"] - t0).dt.days.to_numpy(float)
        if np.ptp(tq) == 0:
            continue
        boots.append(np.polyfit(tq, q["log_density_max"].to_numpy(), 1)[0])
    bci = (math.nan, math.nan)
    if boots:
        lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
        bci = (float(lo), float(hi))
    if ci[0] <= 0:
        notes.append("the slope's interval includes 0: the doubling time's upper bound is infinite")
    notes.append(
        "OLS on a running maximum: its points are not independent, so the OLS interval is too narrow; "
        "the bootstrap over models is the more honest interval"
    )
    dropped = len(table) - len(pts)
    if dropped:
        notes.append(f"{dropped} model(s) without a finite density or a release date left out")
    return DensingResult(
        reference=reference,
        slope=a,
        slope_interval=ci,
        intercept=float(res.params[0]),
        r_squared=math.nan if flat else float(res.rsquared),
        doubling_days=_doubling(a),
        doubling_interval=(_doubling(ci[1]), _doubling(ci[0])),
        bootstrap_slope_interval=bci,
        alpha=alpha,
        n_models=len(pts),
        points=p,
        notes=tuple(notes),
    )


def plot_densing(result: DensingResult) -> Any:
    """A matplotlib Figure: log density of every model, the running maximum and the fitted law."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot()
    p = result.points
    ax.scatter(p["release_date"], p["density"], s=14, alpha=0.6, label="models")
    ax.step(
        p["release_date"],
        np.exp(p["log_density_max"]),
        where="post",
        color="k",
        lw=1,
        label="running max",
    )
    t0 = pd.Timestamp("2020-01-01")
    days = np.linspace((p["release_date"].min() - t0).days, (p["release_date"].max() - t0).days, 50)
    ax.plot(
        t0 + pd.to_timedelta(days, unit="D"),
        np.exp(result.intercept + result.slope * days),
        "r--",
        label=f"ln ρ_max = {result.slope:.4f}·t + c (doubling {result.doubling_days:.0f} d)",
    )
    for _, r in p.iterrows():
        ax.annotate(str(r["model"]), (r["release_date"], r["density"]), fontsize=5, alpha=0.7)
    ax.set_yscale("log")
    ax.set_ylabel(f"density relative to {result.reference.get('reference_family')}")
    ax.set_xlabel("release date")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
