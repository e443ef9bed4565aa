"""Two-step model ladder (Bhagia et al. 2024; METHODS P1b): task loss from (N, D), then accuracy.

Step 1 fits ``L(N, D) = e^a/N^α + e^b/D^β + E`` (or ``e^a/C^α + E`` with ``input="flops"``) to one
point per ladder run (its final D, L averaged over its last ``last_n`` evaluations) by a Huber loss
on log residuals with L-BFGS-B. Step 2 fits ``Acc(L) = a/(1+exp(-k(L-L0))) + b`` on every
intermediate checkpoint (first ``drop_first`` of each run dropped, moving average of ``smooth``)
plus the anchor (L=0, Acc=1). The chain predicts ``step2(step1(N, D))``.

Expected observations (any ladder, no code changes): per checkpoint rows (``checkpoint_step`` and
``n_tokens`` = tokens seen so far) with ``benchmark=<task>`` and ``metric="bpb"`` (bits per byte of
the correct answer, the task loss) and ``metric="acc"`` or ``"acc_norm"`` (the accuracy). For the
general-validation-loss variant set ``intermediate_benchmark`` (e.g. ``"c4_val"``) and
``intermediate_metric`` (``"loss"``; ``"ppl"`` is fitted as log-perplexity); the anchor is then
off by default since a validation loss never reaches 0.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from predictors.base import MAX_BOOTSTRAP, Forecast, Forecaster, check_is_fitted, validate_params
from predictors.batch_fit import batch_refit, batch_rows
from predictors.contracts import (
    PARAM_MEASURES,
    InputContract,
    conform_targets,
    resolve_inputs,
    with_notes,
)
from predictors.intervals import BootstrapDraws, ForecastSpec, bootstrap_forecasts
from predictors.laws import (
    LawFit,
    chinchilla_loss,
    compute_loss,
    fit_law,
    sigmoid_accuracy,
)
from predictors.selection import (
    as_score,
    compute_of,
    failed_forecast,
    select,
    target_rows,
)

STEP1_START_ND = (3.0, 6.0, 0.1, 0.2, 1.0)
STEP1_START_FLOPS = (3.0, 0.1, 1.0)


class TwoStepLadder(Forecaster):
    """Task loss from scale, accuracy from task loss; see the module docstring.

    Parameters
    ----------
    benchmark : str
    metric : str, default="acc"
    intermediate_metric : str, default="bpb"
    intermediate_benchmark : str or None, default=None
        None: the task's own loss (same benchmark). Otherwise a general loss set.
    input : {"nd", "flops"}, default="nd"
    size_column : str, default="n_params"
    step1_points : {"final", "all"}, default="final"
        One point per run (the paper) or every checkpoint after ``drop_first`` (needed when all
        runs share one D, e.g. Pythia).
    last_n, smooth : int, default=5
    drop_first : float, default=0.1
    huber_delta : float, default=1e-3
    anchor : bool or None, default=None
        Add (L=0, Acc=1) to step 2; None means "only when the intermediate is ``bpb``".
    alpha : float, default=0.1
    n_bootstrap : int, default=200
    random_state : int, default=0

    Examples
    --------
    Five runs of five checkpoints each, noiseless on L(C) = e^6.2 C^-0.15 + 0.8 and
    Acc(L) = -0.75 / (1 + exp(-6 (L - 1.5))) + 1 (so the anchor Acc(0) = 1 holds). With no
    averaging (``last_n=1``, ``smooth=1``) the chain recovers both laws; at C = 5.88e21:
    L = e^6.2 * C^-0.15 + 0.8 = 1.0674 and Acc = 0.9479.

    >>> import numpy as np, pandas as pd
    >>> def loss(c): return np.exp(6.2) * c**-0.15 + 0.8
    >>> def acc(L): return -0.75 / (1 + np.exp(-6.0 * (L - 1.5))) + 1.0
    >>> rows = []
    >>> for i, n in enumerate([1e8, 2e8, 4e8, 8e8, 1.6e9]):
    ...     for k in range(1, 6):
    ...         c = 6 * n * (4 * n * k)
    ...         base = dict(model=f"m{i}", n_params=n, n_tokens=4 * n * k, flops=c,
    ...                     checkpoint_step=k, benchmark="b")
    ...         rows += [dict(base, metric="bpb", value=loss(c)),
    ...                  dict(base, metric="acc", value=acc(loss(c)))]
    >>> est = TwoStepLadder(benchmark="b", input="flops", last_n=1, smooth=1, n_bootstrap=10)
    >>> est = est.fit(pd.DataFrame(rows))
    >>> target = pd.DataFrame({"model": ["big"], "n_params": [7e9], "n_tokens": [1.4e11],
    ...                        "flops": [6 * 7e9 * 1.4e11]})
    >>> f = est.predict(target)[0]
    >>> round(f.diagnostics["predicted_intermediate"], 4), round(float(acc(loss(5.88e21))), 4)
    (1.0674, 0.9479)
    >>> round(f.point, 3)
    0.948
    """

    _param_ranges: ClassVar[dict[str, Any]] = {
        "alpha": (float, 0.0, 1.0),
        "n_bootstrap": (int, 0, MAX_BOOTSTRAP),
        "input": ("nd", "flops"),
        "step1_points": ("final", "all"),
        "last_n": (int, 1, None),
        "smooth": (int, 1, None),
        "drop_first": (float, 0.0, 0.99),
        "huber_delta": (float, 0.0, None),
    }

    def __init__(
        self,
        *,
        benchmark: str,
        metric: str = "acc",
        intermediate_metric: str = "bpb",
        intermediate_benchmark: str | None = None,
        input: str = "nd",
        size_column: str = "n_params",
        step1_points: str = "final",
        last_n: int = 5,
        smooth: int = 5,
        drop_first: float = 0.1,
        huber_delta: float = 1e-3,
        anchor: bool | None = None,
        alpha: float = 0.1,
        n_bootstrap: int = 200,
        random_state: int = 0,
    ) -> None:
        self.benchmark, self.metric = benchmark, metric
        self.intermediate_metric, self.intermediate_benchmark = (
            intermediate_metric,
            intermediate_benchmark,
        )
        self.input, self.size_column, self.step1_points = input, size_column, step1_points
        self.last_n, self.smooth, self.drop_first = last_n, smooth, drop_first
        self.huber_delta, self.anchor = huber_delta, anchor
        self.alpha, self.n_bootstrap, self.random_state = alpha, n_bootstrap, random_state

    # -- data preparation --------------------------------------------------------------------
    def _trajectories(self, obs: pd.DataFrame) -> pd.DataFrame:
        """Per (model, step): intermediate loss L and score, sorted by step."""
        where = f"{type(self).__name__}.fit"
        ib = self.intermediate_benchmark or self.benchmark
        lrows = select(obs, ib, self.intermediate_metric, where)
        arows = select(obs, self.benchmark, self.metric, where)
        key = ["model", "checkpoint_step"]
        for r in (lrows, arows):
            if "checkpoint_step" not in r.columns:
                r["checkpoint_step"] = 0
            r["checkpoint_step"] = r["checkpoint_step"].fillna(0)
        keep = [
            "model",
            "checkpoint_step",
            self.size_column,
            "n_params",
            "n_tokens",
            "flops",
            "value",
        ]
        keep = [c for c in dict.fromkeys(keep) if c in lrows.columns]
        tr = (
            lrows[keep]
            .rename(columns={"value": "L"})
            .merge(arows[[*key, "value"]].rename(columns={"value": "S"}), on=key, how="inner")
        )
        if tr.empty:
            raise ValueError(
                f"{where}: no checkpoint has both {ib}/{self.intermediate_metric} and {self.benchmark}/{self.metric}"
            )
        tr["L"] = as_score(tr["L"].to_numpy(), self.intermediate_metric)
        tr["S"] = as_score(tr["S"].to_numpy(), self.metric)
        return tr.sort_values(key).reset_index(drop=True)

    def _step1_points(self, tr: pd.DataFrame) -> pd.DataFrame:
        rows = []
        for _, g in tr.groupby("model", sort=False):
            g = g.iloc[int(len(g) * self.drop_first) :] if len(g) > 1 else g
            if self.step1_points == "final":
                last = g.iloc[-1].copy()
                last["L"] = g["L"].iloc[-self.last_n :].mean()
                rows.append(last.to_frame().T)
            else:
                rows.append(g)
        out = pd.concat(rows, ignore_index=True)
        for c in out.columns:
            if c != "model":
                out[c] = pd.to_numeric(out[c])
        return out

    def _step2_points(self, tr: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        ls, ss = [], []
        for _, g in tr.groupby("model", sort=False):
            g = g.iloc[int(len(g) * self.drop_first) :]
            w = min(self.smooth, len(g))
            ls.append(g["L"].rolling(w, min_periods=1).mean().to_numpy())
            ss.append(g["S"].rolling(w, min_periods=1).mean().to_numpy())
        L, S = np.concatenate(ls), np.concatenate(ss)
        if self._use_anchor():
            L, S = np.append(L, 0.0), np.append(S, 1.0)
        return L, S

    def _use_anchor(self) -> bool:
        return self.anchor if self.anchor is not None else self.intermediate_metric == "bpb"

    def _x(self, df: pd.DataFrame) -> Any:
        if self.input == "flops":
            return compute_of(df)
        return df[self.size_column].to_numpy(float), df["n_tokens"].to_numpy(float)

    # -- fitting -------------------------------------------------------------------------------
    def _step1_spec(self) -> tuple[Any, tuple[float, ...], tuple[list[float], list[float]]]:
        if self.input == "flops":
            return compute_loss, STEP1_START_FLOPS, ([0.0] * 3, [200.0, 5.0, 50.0])
        return chinchilla_loss, STEP1_START_ND, ([0.0] * 5, [200.0, 200.0, 5.0, 5.0, 50.0])

    @staticmethod
    def _step2_spec(
        L: np.ndarray, S: np.ndarray
    ) -> tuple[list[tuple[float, ...]], tuple[list[float], list[float]]]:
        """Starts and bounds of the sigmoid from the step-2 points (losses ``L``, scores ``S``).

        The second start centres the sigmoid on the median loss; chance is the lowest score.
        """
        chance = float(np.clip(np.min(S), 0.0, 1.0))
        starts: list[tuple[float, ...]] = [
            (chance - 1.0, 0.9, 3.0, 1.0),
            (chance - 1.0, 1.0, 1.0, float(np.median(L))),
        ]
        return starts, ([-1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 100.0, 100.0])

    def input_contract(self) -> InputContract:
        """Step 1's size measure: FLOPs, or ``size_column`` and tokens (the other parameter
        count accepted in its place, as the ladder paper's N is non-embedding parameters)."""
        ib = self.intermediate_benchmark or self.benchmark
        series = ((ib, self.intermediate_metric), (self.benchmark, self.metric))
        if self.input == "flops":
            return InputContract(size=("flops", "n_params_nonembed"), series=series)
        others = [m for m in PARAM_MEASURES if m != self.size_column]
        size = (
            (self.size_column, *others)
            if self.size_column in PARAM_MEASURES
            else (self.size_column,)
        )
        return InputContract(size=size, columns=("n_tokens",), series=series)

    def fit(self, observations: pd.DataFrame) -> TwoStepLadder:
        validate_params(self)
        observations, self.inputs_ = resolve_inputs(
            observations, self.input_contract(), f"{type(self).__name__}.fit"
        )
        tr = self._trajectories(observations)
        p1 = self._step1_points(tr)
        self._x1, self._y1 = self._x(p1), p1["L"].to_numpy(float)
        self._L2, self._S2 = self._step2_points(tr)
        f1, s1, b1 = self._step1_spec()
        loss = f"huber_log:{self.huber_delta}"
        starts1 = [s1, *_step1_grid(self.input)]
        self.step1_: LawFit = fit_law(f1, self._x1, self._y1, starts=starts1, bounds=b1, loss=loss)
        starts2, b2 = self._step2_spec(self._L2, self._S2)
        self.step2_: LawFit = fit_law(
            sigmoid_accuracy, self._L2, self._S2, starts=starts2, bounds=b2
        )
        self._bounds = (b1, b2)
        self.fit_flops_ = _fit_compute(tr.groupby("model").tail(1))
        self.n_points_ = (len(self._y1), len(self._S2))
        self._draws = self._bootstrap() if self.step1_.ok and self.step2_.ok else []
        return self

    def _bootstrap(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Both steps refitted on resampled points (all resamples at once, warm-started)."""
        rng = np.random.default_rng(self.random_state)
        f1 = self._step1_spec()[0]
        (b1, b2), loss = self._bounds, f"huber_log:{self.huber_delta}"
        n1, n2 = len(self._y1), len(self._S2)
        i1 = np.empty((self.n_bootstrap, n1), dtype=int)
        i2 = np.empty((self.n_bootstrap, n2), dtype=int)
        for b in range(self.n_bootstrap):  # the draw order of one refit after the other
            i1[b], i2[b] = rng.integers(0, n1, n1), rng.integers(0, n2, n2)
        # Reweighting for the near-L1 Huber loss converges slowly on a few resamples. Like the
        # per-resample trust-region refit it replaces (capped at 200 evaluations, last iterate
        # kept), a refit still creeping after 300 iterations is kept: dropping it would bias the
        # draws, and on Pythia those refits sit inside the interval (its 5%/95% quantiles of the
        # step-1 loss do not move between 300 iterations and full convergence).
        p1, ok1 = batch_refit(
            f1,
            batch_rows(self._x1, i1),
            self._y1[i1],
            self.step1_.params,
            bounds=b1,
            loss=loss,
            max_iter=300,
            require_converged=False,
        )
        p2, ok2 = batch_refit(
            sigmoid_accuracy, self._L2[i2], self._S2[i2], self.step2_.params, bounds=b2
        )
        return [(p1[b], p2[b]) for b in np.flatnonzero(ok1 & ok2)]

    # -- prediction ----------------------------------------------------------------------------
    def predict(self, targets: pd.DataFrame) -> list[Forecast]:
        check_is_fitted(self)
        need = (
            ["n_params", "n_tokens", "flops"]
            if self.input == "flops"
            else [self.size_column, "n_tokens"]
        )
        where = f"{type(self).__name__}.predict"
        targets = conform_targets(targets, self.inputs_, self.input_contract().columns, where)
        t = target_rows(targets, need, where)
        method = "ladder"
        diag = {
            "step1": self.step1_.to_dict(),
            "step2": self.step2_.to_dict(),
            "fit_flops": self.fit_flops_ if math.isfinite(self.fit_flops_) else None,
            "n_points": list(self.n_points_),
            "intermediate": f"{self.intermediate_benchmark or self.benchmark}/{self.intermediate_metric}",
            "input": self.input,
        }
        if not (self.step1_.ok and self.step2_.ok):
            bad = self.step1_ if not self.step1_.ok else self.step2_
            why = f"{bad.law} {bad.status}: {bad.message}"
            failed = [
                failed_forecast(
                    target=str(m),
                    benchmark=self.benchmark,
                    metric=self.metric,
                    alpha=self.alpha,
                    method=method,
                    why=why,
                    diag=diag,
                )
                for m in t["model"]
            ]
            return with_notes(failed, self.inputs_.notes)
        f1 = self._step1_spec()[0]
        x = self._x(t)
        L = np.atleast_1d(f1(x, *self.step1_.params))
        S = sigmoid_accuracy(L, *self.step2_.params)
        boot = np.array([sigmoid_accuracy(f1(x, *p1), *p2) for p1, p2 in self._draws])
        draws = BootstrapDraws(
            points=np.atleast_1d(S),
            boot=boot.reshape(len(self._draws), len(t)),
            residuals=self.step2_.residuals,
            n_params=len(self.step2_.params),
            n_resamples=self.n_bootstrap,
        )
        notes = [f"{self.n_points_[0]} step-1 points, {self.n_points_[1]} step-2 points"]
        notes += [f.message for f in (self.step1_, self.step2_) if f.message]
        fractions = [_compute_or_none(t.iloc[[i]]) for i in range(len(t))]
        spec = ForecastSpec(
            self.benchmark,
            self.metric,
            self.alpha,
            method,
            {
                **{f"s1_{k}": v for k, v in self.step1_.as_dict().items()},
                **{f"s2_{k}": v for k, v in self.step2_.as_dict().items()},
            },
        )
        out = bootstrap_forecasts(
            spec,
            [str(m) for m in t["model"]],
            draws,
            np.random.default_rng(self.random_state + 1),
            diagnostics=[
                {
                    **diag,
                    "predicted_intermediate": float(L[i]),
                    "fit_flops_fraction": (
                        self.fit_flops_ / c if c and math.isfinite(self.fit_flops_) else None
                    ),
                }
                for i, c in enumerate(fractions)
            ],
            notes=notes,
        )
        return with_notes(out, self.inputs_.notes)


def _fit_compute(finals: pd.DataFrame) -> float:
    """Training FLOPs of the fit's final checkpoints (``flops``, else 6·N·D), NaN when no model
    has either: a ladder fitted on non-embedding parameters alone has no total to sum."""
    c = compute_of(
        finals.assign(flops=finals.get("flops", np.nan), n_params=finals.get("n_params", np.nan))
    )
    return float(np.nansum(c)) if np.isfinite(c).any() else math.nan


def _compute_or_none(row: pd.DataFrame) -> float | None:
    """The target's compute when its columns allow (for the fit-compute fraction)."""
    if "n_params" not in row.columns or "n_tokens" not in row.columns:
        return None
    c = float(compute_of(row)[0])
    return c if np.isfinite(c) and c > 0 else None


def _step1_grid(kind: str) -> list[tuple[float, ...]]:
    """Extra starts beyond the paper's one (screened all at once, see ``fit_law``)."""
    if kind == "flops":
        return [(a, al, e) for a in (3.0, 10.0, 30.0) for al in (0.05, 0.2) for e in (0.5, 1.0)]
    return [
        (a, b, al, be, 0.5)
        for a in (3.0, 8.0)
        for b in (6.0, 12.0)
        for al in (0.1, 0.3)
        for be in (0.1, 0.3)
    ]
