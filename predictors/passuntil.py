"""PassUntil task-law forecaster (Hu et al. 2023; METHODS.md P2, E2).

Fits log(-log PU) linear in log x (x = parameters or compute) on the smaller models of a series
and predicts the pass rate of larger ones, at the dataset level (the task's PU per model) or the
instance level (a law per item from its raw (n, s), predictions averaged). Also labels the shape
of growth (scaling / sub-scaling / accelerated emergence) with its evidence.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from predictors.base import (
    MAX_BOOTSTRAP,
    FitError,
    Forecast,
    Forecaster,
    check_is_fitted,
    validate_params,
)
from predictors.contracts import InputContract, conform_targets, resolve_inputs
from predictors.item_data import MIN_ITEM_COVERAGE, checkpoint_points, model_flops
from predictors.passuntil_law import (
    F_of,
    LineFit,
    binomial_lines,
    curvature_test,
    pu_of_F,
    sampling_var_F,
    tobit_line,
    upper_bound_zero,
)


def item_estimates(n: np.ndarray, s: np.ndarray, r_reached: np.ndarray) -> np.ndarray:
    """Per-item pass-rate estimates: (s - 1) / (n - 1) where sampling stopped at r >= 2
    successes (unbiased under inverse sampling; s / n overstates p, METHODS E2), else s / n."""
    unbiased = (s - 1.0) / np.maximum(n - 1.0, 1.0)
    return np.where(r_reached & (s >= 2), unbiased, s / np.maximum(n, 1.0))


def task_points(
    n: np.ndarray, s: np.ndarray, level: float = 0.95, r_reached: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per model (columns): F of the task PU (mean item estimate) and whether it is censored.

    A model whose items all read s = 0 has PU = 0: its point becomes the upper bound (the mean
    of the items' bounds), flagged censored, never log(0). A task PU of 1 gets F of 1 - 1/(2n).
    """
    rr = np.zeros_like(s, dtype=bool) if r_reached is None else r_reached
    pu = np.mean(item_estimates(n, s, rr), axis=0)
    cens = np.asarray(~(s > 0).any(axis=0))
    bound = np.mean(upper_bound_zero(n, level), axis=0)
    top = 1.0 - 0.5 / np.sum(n, axis=0)
    p = np.where(cens, bound, np.minimum(pu, top))
    return F_of(p), cens


class PassUntilForecaster(Forecaster):
    """Forecast a task's pass rate from PassUntil (n, s) per item across a model series.

    Parameters
    ----------
    benchmark : str
    metric : str, default="pu"
        Per-item rows with ``n_samples`` and ``n_pass`` (value s/n is used only to fill them).
    alpha : float, default=0.1
        Interval miss rate; intervals from a bootstrap over items.
    scheme : {"dataset", "instance"}, default="dataset"
    x : {"n_params", "flops"}, default="n_params"
        The law's input (the paper uses parameters; compute serves a ladder at fixed tokens/param).
    family : str or None
    default_n : int or None
        Draws per item when rows lack ``n_samples``; None makes that an error.
    ridge : float, default=0.5
        Instance level: pull of each item's slope towards the dataset slope.
    estimator : {"unbiased", "mle"}, default="unbiased"
        Item estimate at the dataset level: (s - 1) / (n - 1) for items stopped at r successes
        (``stop_reason == "r_reached"``, or s >= 2 below its model's largest n: a model whose items all
        drew the same n was sampled at a fixed n), or s / n (the paper's).
    level : float, default=0.95
        Confidence of the upper bound placed on items with no success.
    weighting : {"samples", "none"}, default="none"
        "samples": at the dataset level weigh each model's point by 1 / (its binomial sampling
        variance of F, from the per-item sample counts, + tau**2, the law's extra variance from
        the unweighted fit's residuals, at least the median sampling variance), so a model
        sampled 10,000 times per item counts more than one sampled 128 times, but no point
        counts without bound. Not the default: on 12 synthetic PassUntil ladders it did not
        lower the error (mean abs. 0.0208 vs 0.0196) and on pythia-sampling it moved the
        forecasts by < 0.1% (bench/report_item_methods.py). "none": every point alike.
    points : {"auto", "models", "checkpoints"}, default="auto"
        A point of the law is a model (its final checkpoint) or each checkpoint (then x is
        compute). "auto": models when at least 3 are given, else checkpoints, said in the notes.
    n_bootstrap, random_state : int
        Intervals come from a bootstrap over items (each replicate refits the law).

    Attributes
    ----------
    points_ : pd.DataFrame   per model: x, task PU, F, censored
    line_ : LineFit          the dataset-level law (z = log x - z0_)
    item_laws_ : pd.DataFrame  instance level: per item intercept and slope
    curvature_ : CurvatureResult

    Examples
    --------
    Twenty items with log(-log p) = 8 - 0.3 log N + item offset (sd 0.3), drawn until two
    successes, on four models; the fifth (N = 1e10) is held out. The fitted slope is close to
    -0.3, and the held-out model's true task pass rate (0.0690) lies in the 90% interval:

    >>> import numpy as np, pandas as pd
    >>> from predictors.synthetic_items import synthetic_passuntil_ladder
    >>> obs, truth = synthetic_passuntil_ladder([1e8, 3e8, 1e9, 3e9, 1e10],
    ...                                         lambda z: 8.0 - 0.3 * z, n_items=20, seed=0)
    >>> est = PassUntilForecaster(benchmark="synthetic-pu", n_bootstrap=20)
    >>> est = est.fit(obs[obs["model"] != "pu4"])
    >>> round(est.line_.slope, 2)
    -0.29
    >>> f = est.predict(pd.DataFrame({"model": ["pu4"], "n_params": [1e10]}))[0]
    >>> p_true = float(truth.loc[truth["model"] == "pu4", "p"].mean())
    >>> round(p_true, 4), round(f.point, 4), bool(f.lower < p_true < f.upper)
    (0.069, 0.0847, True)
    """

    uses_item_rows: ClassVar[bool] = True

    _param_ranges: ClassVar[dict[str, Any]] = {
        "alpha": (float, 0.0, 1.0),
        "scheme": ("dataset", "instance"),
        "x": ("n_params", "flops"),
        "ridge": (float, 0.0, None),
        "estimator": ("unbiased", "mle"),
        "level": (float, 0.0, 1.0),
        "n_bootstrap": (int, 0, MAX_BOOTSTRAP),
        "weighting": ("samples", "none"),
        "points": ("auto", "models", "checkpoints"),
    }

    def __init__(
        self,
        *,
        benchmark: str,
        metric: str = "pu",
        alpha: float = 0.1,
        scheme: str = "dataset",
        x: str = "n_params",
        family: str | None = None,
        default_n: int | None = None,
        ridge: float = 0.5,
        estimator: str = "unbiased",
        level: float = 0.95,
        weighting: str = "none",
        points: str = "auto",
        n_bootstrap: int = 200,
        random_state: int = 0,
    ) -> None:
        self.benchmark, self.metric, self.alpha, self.scheme, self.x = (
            benchmark,
            metric,
            alpha,
            scheme,
            x,
        )
        self.family, self.default_n, self.ridge, self.level = family, default_n, ridge, level
        self.estimator, self.weighting, self.points = estimator, weighting, points
        self.n_bootstrap, self.random_state = n_bootstrap, random_state

    def input_contract(self) -> InputContract:
        """The law's x (parameters or compute; non-embedding parameters accepted in place)."""
        size = (
            ("n_params", "n_params_nonembed")
            if self.x == "n_params"
            else ("flops", "n_params_nonembed")
        )
        return InputContract(size=size, series=((self.benchmark, self.metric),), item_rows=True)

    def _xs(self, df: pd.DataFrame) -> pd.Series:
        x = getattr(self, "x_", self.x)
        xs = model_flops(df) if x == "flops" else pd.to_numeric(df["n_params"], errors="coerce")
        return xs

    def _counts(self, rows: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
        n = pd.to_numeric(rows["n_samples"], errors="coerce") if "n_samples" in rows else None
        if n is None or n.isna().any():
            if self.default_n is None:
                raise FitError(
                    f"{self.benchmark}/{self.metric}: rows lack n_samples; give default_n to "
                    "treat value as s/n of that many draws"
                )
            n = (
                pd.Series(float(self.default_n), index=rows.index)
                if n is None
                else n.fillna(self.default_n)
            )
        s = pd.to_numeric(rows["n_pass"], errors="coerce") if "n_pass" in rows else None
        s = (rows["value"] * n).round() if s is None else s.fillna((rows["value"] * n).round())
        return n.astype(float), s.astype(float)

    def fit(self, observations: pd.DataFrame) -> PassUntilForecaster:
        validate_params(self)
        obs = observations
        if self.family is not None and "family" in obs:
            obs = obs[obs["family"] == self.family]
        obs, self.inputs_ = resolve_inputs(obs, self.input_contract(), "PassUntilForecaster.fit")
        rows = obs[
            (obs["benchmark"] == self.benchmark)
            & (obs["metric"] == self.metric)
            & obs["item"].notna()
        ].copy()
        if rows.empty:
            have = sorted(
                {f"{b}/{m}" for b, m in zip(obs["benchmark"], obs["metric"], strict=True)}
            )
            raise FitError(
                f"no per-item {self.metric} rows for {self.benchmark}; present: {have[:20]}"
            )
        self.notes_: list[str] = list(self.inputs_.notes)
        self.x_ = self.x
        by_checkpoint = self.points == "checkpoints" or (
            self.points == "auto" and rows["model"].nunique() < 3
        )
        if by_checkpoint:
            rows = checkpoint_points(rows)
            self.x_ = "flops"
            if self.points == "auto":
                self.notes_.append(
                    "fewer than 3 models: each checkpoint is a point and x is compute (flops)"
                )
        else:
            step = pd.to_numeric(rows["checkpoint_step"], errors="coerce").fillna(-1)
            rows = rows[step == step.groupby(rows["model"]).transform("max")]
        rows["n"], rows["s"] = self._counts(rows)
        if "stop_reason" in rows:
            rows["rr"] = (rows["stop_reason"] == "r_reached").astype(float)
        else:  # below its model's largest n (its budget) with >= 2 successes: stopped at r;
            # a model whose items all drew the same n was sampled at a fixed n (never stopped)
            budget = rows.groupby("model")["n"].transform("max")
            rows["rr"] = ((rows["s"] >= 2) & (rows["n"] < budget)).astype(float)
        if self.estimator == "mle":
            rows["rr"] = 0.0
        rows["xval"] = self._xs(rows)
        if rows["xval"].isna().any() or (rows["xval"] <= 0).any():
            raise FitError(f"some models lack a positive {self.x_}")
        xs = rows.groupby("model")["xval"].first().sort_values()
        coverage = rows.groupby("model")["item"].nunique() / rows["item"].nunique()
        sparse = [str(m) for m in xs.index if coverage[m] < MIN_ITEM_COVERAGE]
        if sparse and len(sparse) < len(xs):
            xs = xs.drop(sparse)
            self.notes_.append(f"point(s) {sparse} measured too few items and were dropped")
        n = rows.pivot_table(index="item", columns="model", values="n", aggfunc="sum")[xs.index]
        s = rows.pivot_table(index="item", columns="model", values="s", aggfunc="sum")[xs.index]
        rr = rows.pivot_table(index="item", columns="model", values="rr", aggfunc="max")[xs.index]
        keep = n.notna().all(axis=1)
        if len(xs) < 3:
            raise FitError(f"PassUntil law needs at least 3 models; got {list(xs.index)}")
        self.n_, self.s_ = n[keep].to_numpy(float), s[keep].to_numpy(float)
        self.rr_ = rr[keep].to_numpy(float) > 0
        self.items_ = list(n.index[keep])
        self.z0_ = float(np.mean(np.log(xs.to_numpy(float))))
        z = np.log(xs.to_numpy(float)) - self.z0_
        F, cens = task_points(self.n_, self.s_, self.level, self.rr_)
        pu = np.mean(item_estimates(self.n_, self.s_, self.rr_), axis=0)
        self.points_ = pd.DataFrame({"x": xs, "pu": pu, "F": F, "censored": cens})
        try:
            line0 = tobit_line(z, F, cens)
            self.tau2_ = 0.0
            if self.weighting == "samples":
                var_s = sampling_var_F(self.n_, self.s_)
                resid2 = (F - (line0.intercept + line0.slope * z))[~cens] ** 2
                self.tau2_ = max(float(np.mean(resid2 - var_s[~cens])), float(np.median(var_s)))
            self.line_ = tobit_line(z, F, cens, self._weights(self.n_, self.s_))
        except ValueError as exc:
            raise FitError(f"{self.benchmark}: {exc}") from exc
        rng = np.random.default_rng(self.random_state)
        self.boot_idx_ = [
            rng.integers(0, len(self.items_), len(self.items_)) for _ in range(self.n_bootstrap)
        ]
        boot_F = np.array(
            [
                task_points(self.n_[i], self.s_[i], self.level, self.rr_[i])[0]
                for i in self.boot_idx_
            ]
        )
        self.curvature_ = curvature_test(
            z[~cens], F[~cens], boot_F[:, ~cens] if len(boot_F) else np.empty((0, (~cens).sum())),
            alpha=self.alpha,
        )  # fmt: skip
        if self.scheme == "instance":
            b0, b1 = binomial_lines(
                z, self.n_, self.s_, prior_slope=self.line_.slope, ridge=self.ridge
            )
            self.item_laws_ = pd.DataFrame({"intercept": b0, "slope": b1}, index=self.items_)
            self.boot_lines_: list[LineFit] = []
        else:
            self.boot_lines_ = self._boot_lines(z)
        return self

    def _weights(self, n: np.ndarray, s: np.ndarray) -> np.ndarray | None:
        """Per model point: 1 / (sampling variance of F + tau^2); None without weighting."""
        if self.weighting == "none":
            return None
        return 1.0 / (sampling_var_F(n, s) + self.tau2_)

    def _boot_lines(self, z: np.ndarray) -> list[LineFit]:
        out = []
        for idx in self.boot_idx_:
            F, cens = task_points(self.n_[idx], self.s_[idx], self.level, self.rr_[idx])
            try:
                out.append(tobit_line(z, F, cens, self._weights(self.n_[idx], self.s_[idx])))
            except ValueError:
                continue
        return out

    def summary(self) -> str:
        """The law, its points (censored ones marked), and the emergence shape with its evidence."""
        check_is_fitted(self)
        ln, cur = self.line_, self.curvature_
        lines = [
            f"PassUntil law on {self.benchmark}/{self.metric} ({self.scheme} level): "
            f"{len(self.items_)} items x {len(self.points_)} models, x = {self.x_}",
            f"  F = log(-log PU) = {ln.intercept:.4g} + {ln.slope:.4g} * (log x - {self.z0_:.4g})"
            f"  (sigma {ln.sigma:.3g}; {ln.n_censored} censored point(s))",
            "  model                      x          PU          F",
        ]
        for model, r in self.points_.iterrows():
            mark = "  censored" if r["censored"] else ""
            lines.append(f"  {model!s:<26} {r['x']:<10.3g} {r['pu']:<11.4g} {r['F']:.4g}{mark}")
        lines.append(
            f"  shape: {cur.label} (z^2 coefficient {cur.quadratic:.3g}, "
            f"{1 - self.alpha:.0%} CI [{cur.quadratic_ci[0]:.3g}, {cur.quadratic_ci[1]:.3g}], "
            f"convex in {cur.frac_convex:.0%} of {cur.n_bootstrap} item resamples; "
            f"AIC linear - quadratic {cur.aic_linear - cur.aic_quadratic:.3g})"
        )
        return "\n".join(lines)

    def predict_pu(self, x: float) -> tuple[float, np.ndarray]:
        """Point prediction and bootstrap replicates of the task PU at ``x``."""
        check_is_fitted(self)
        z = math.log(x) - self.z0_
        if self.scheme == "instance":
            per_item = pu_of_F(
                (self.item_laws_["intercept"] + self.item_laws_["slope"] * z).to_numpy()
            )
            return float(per_item.mean()), np.array([per_item[i].mean() for i in self.boot_idx_])
        return float(self.line_.predict(z)), np.array(
            [float(b.predict(z)) for b in self.boot_lines_]
        )

    def _with_scatter(self, boot: np.ndarray, name: str) -> tuple[np.ndarray, str]:
        """Item-bootstrap draws of the task PU plus the law's own scatter, in F = log(-log PU).

        Resampling items moves every model's point together (the same items are used at every
        size), so it misses how far a new model's point falls off the line: on 120 synthetic
        ladders (tests/unit/test_passuntil_coverage.py) the item bootstrap alone covered 82% of
        true pass rates at a nominal 90%, with the scatter 90%. Each draw gets a Student-t
        residual, ``s * t_(m-2)`` with ``s = sigma * sqrt(m / (m - 2))`` from the line's ``m``
        uncensored points (sigma is the fit's ML scatter), so the interval is a prediction
        interval for the measured PU of a new model. Fewer than 3 uncensored points: no scatter
        term, said in the notes.
        """
        m = self.line_.n_points - self.line_.n_censored
        if len(boot) == 0:
            return boot, ""
        if m < 3:
            return boot, "law scatter unknown (fewer than 3 uncensored points): item bootstrap only"
        s = self.line_.sigma * math.sqrt(m / (m - 2))
        seed = int.from_bytes(name.encode()[:8].ljust(8, b"\0"), "little")
        rng = np.random.default_rng([self.random_state, seed])
        F = F_of(np.clip(boot, 1e-300, 1.0 - 1e-12)) + s * rng.standard_t(m - 2, size=len(boot))
        return pu_of_F(F), ""

    def predict(self, targets: pd.DataFrame) -> list[Forecast]:
        check_is_fitted(self)
        where = "PassUntilForecaster.predict"
        if self.x_ == self.x:  # checkpoints as points read compute: checked below
            targets = conform_targets(targets, self.inputs_, (), where)
        xs = self._xs(targets)
        out = []
        for i, (_, row) in enumerate(targets.iterrows()):
            name = str(row.get("model", f"target{i}"))
            x = float(xs.iloc[i])
            if not math.isfinite(x) or x <= 0:
                raise ValueError(f"target {name!r}: needs a positive {self.x_}")
            out.append(self._forecast(name, x))
        return out

    def _forecast(self, name: str, x: float) -> Forecast:
        point, boot = self.predict_pu(x)
        notes = list(self.notes_)
        boot, scatter = self._with_scatter(boot, name)
        if scatter:
            notes.append(scatter)
        if len(boot):
            lo, hi = np.quantile(boot, [self.alpha / 2, 1 - self.alpha / 2])
            lower, upper = min(float(lo), point), max(float(hi), point)
        else:
            lower = upper = math.nan
            notes.append("no bootstrap replicate: interval unavailable")
        n_cens = int(self.points_["censored"].sum())
        if n_cens:
            notes.append(f"{n_cens} model(s) had no success on any item: fitted as upper bounds")
        if self.curvature_.label in ("sub-scaling", "accelerated emergence"):
            notes.append(f"F(log x) is curved ({self.curvature_.label}): a line extrapolates badly")
        return Forecast(
            target=name,
            benchmark=self.benchmark,
            metric=self.metric,
            point=point,
            lower=lower,
            upper=upper,
            alpha=self.alpha,
            method="passuntil",
            params={
                "scheme": self.scheme,
                "x": self.x_,
                "weighting": self.weighting,
                "alpha_exponent": self.line_.alpha,
                "log_c": self.line_.intercept - self.line_.slope * self.z0_,
            },
            diagnostics={
                "target_x": x,
                "n_items": len(self.items_),
                "points": self.points_.reset_index(names="model").to_dict(orient="records"),
                "sigma": self.line_.sigma,
                "curvature": self.curvature_.to_dict(),
                "n_bootstrap": len(boot),
            },
            notes=tuple(notes),
        )
