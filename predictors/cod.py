"""Clustering-On-Difficulty (Xu et al., arXiv 2502.17262; METHODS.md P3).

Items whose pass rates rise the same way across a ladder of small models are clustered; each
cluster gets its own law y(C) = g + (1 - g) * exp(-a * C**(-b) - c); clusters whose law does not
extrapolate are filtered out; the kept clusters' predictions at the target's compute, weighted by
size, predict the accuracy of that predictable subset; a monotone mapping learned on the small
models turns subset accuracy into full-set accuracy. Every stage is kept on the fitted estimator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.stats import norm

from predictors.base import (
    MAX_BOOTSTRAP,
    FitError,
    Forecast,
    Forecaster,
    check_is_fitted,
    validate_params,
)
from predictors.cod_clustering import OUTLIER, cluster_items
from predictors.cod_law import (
    LawFit,
    SubsetMapping,
    filter_reasons,
    fit_cod_law,
    fit_mapping,
    identity_mapping,
)
from predictors.contracts import conform_targets, resolve_inputs
from predictors.item_data import ItemMatrix, item_matrix, model_flops

#: Interval widening when the filter rejected every cluster and a fallback forecasts: the
#: paper's ablation without the thresholds had 1.7x the mean and 2.0x the max error of COD with
#: them (2.61 / 5.33 vs 1.55 / 2.68 points, METHODS.md P3), so the fallback's error is taken
#: as twice as uncertain.
FALLBACK_WIDEN = 2.0
LAW_COLUMNS = ("a", "b", "c", "g", "unit", "rmse", "converged")


@dataclass(frozen=True)
class Replicate:
    """One bootstrap or jackknife refit: the kept clusters' laws, their sizes, the mapping."""

    laws: tuple[LawFit, ...]
    sizes: np.ndarray
    mapping: SubsetMapping

    def __call__(self, flops: float) -> float:
        """Full-set accuracy at ``flops``: size-weighted laws, then the mapping."""
        ys = np.array([float(law(flops)) for law in self.laws])
        s = float(np.sum(self.sizes * ys) / np.sum(self.sizes))
        return float(self.mapping(s))


@dataclass(frozen=True)
class ClusterFit:
    """One difficulty cluster: its items, its mean trajectory, its law, and the filter's verdict."""

    label: int
    members: tuple[str, ...]
    centre: tuple[float, ...]
    law: LawFit
    kept: bool
    reasons: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.members)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "size": self.size,
            "centre": list(self.centre),
            "law": self.law.to_dict(),
            "kept": self.kept,
            "reasons": list(self.reasons),
        }


class CODForecaster(Forecaster):
    """Forecast a larger model's benchmark accuracy from per-item pass rates of a ladder.

    Parameters
    ----------
    benchmark : str
        Benchmark whose per-item rows (``item`` set) are used.
    metric : str, default="pass_rate"
        Per-item metric (value = s / n); the forecast is the benchmark mean of it.
    alpha : float, default=0.1
        Interval miss rate (0.1 = 90% interval), from a bootstrap over items.
    compute_unit : float, default=1e18
        FLOPs per unit of C in the reported laws (``a`` is expressed in it).
    checkpoint_window : int, default=3
        Adjacent final checkpoints averaged per model (the paper averages three).
    clustering : {"meanshift", "kmeans"}, default="meanshift"
        The improved MeanShift, or plain KMeans (ablation).
    n_clusters : int or None, default=None
        KMeans only; None = as many clusters as the improved MeanShift finds.
    bandwidth_quantile, min_cluster_size : float, int
        The bandwidth rule's quantile (0.1) and the smallest cluster kept (10).
    use_filter, use_mapping : bool, default=True
        Ablations: keep every cluster / predict full accuracy by the subset's.
    a_min, b_min, c_max : float
        Extrapolability thresholds: keep a cluster iff a > a_min, b > b_min, 0 <= c < c_max.
    a_reference : float or None, default=0.1
        ``a`` is tested as the difficulty term a * C**(-b) at ``a_reference`` times the smallest
        ladder point's compute, so that rescaling every FLOP count changes no verdict. 0.1 equals
        the paper's reading (C in units of 1e18 FLOPs) for a ladder that starts at 1e19 FLOPs,
        the scale of the paper's and our synthetic ladders. None: read ``a`` in ``compute_unit``.
    fallback : bool, default=True
        When the filter rejects every cluster, forecast with every cluster whose law converged
        (the unfiltered variant) or, when none did, with one law for all non-zero items; the
        forecast says so in its notes and its interval is widened by :data:`FALLBACK_WIDEN`.
        False: refuse with a FitError instead.
    ladder_points : {"auto", "models", "checkpoints"}, default="auto"
        What a point of the ladder is: a model (its last ``checkpoint_window`` checkpoints
        averaged) or each checkpoint. "auto": models when at least 3 are given, else checkpoints
        (a single model's training trajectory is then the ladder).
    guess : float or None, default=0.0
        The law's floor g (0 for open answers); None fits it in [0, 1).
    anchor_models : tuple of str, default=()
        Models used only as extra points of the mapping (not in clustering or laws).
    family : str or None
        Restrict the ladder to one family.
    mapping_rmse : float, default=0.005
        The smoothing spline's smoothing is lowered until its RMSE is below this.
    mapping_tail : {"curve", "linear"}, default="curve"
        Beyond the largest observed subset accuracy: the paper's curve towards (1, 1), or a
        linear continuation of the last two points (ours; see SubsetMapping).
    n_bootstrap, random_state : int
        Item-bootstrap replicates (clusters held fixed) and the seed.
    jackknife : bool, default=True
        Widen the interval by a leave-one-ladder-model-out jackknife of laws and mapping: items
        resampled say nothing about how far the ladder's curve can be trusted beyond its end.

    Attributes
    ----------
    matrix_ : ItemMatrix            the ladder's pass-rate matrix (items x models)
    zero_items_ : list of str       items no ladder model passes (set aside)
    labels_ : pd.Series             cluster label per non-zero item (-1 = outlier)
    clusters_ : list of ClusterFit  members, centre, fitted law, kept or why not
    filtered_ : pd.DataFrame        every cluster with its parameters and the filter's reasons
    mapping_ : SubsetMapping        subset -> full accuracy curve and its points
    subset_items_ : list of str     the predictable subset

    Examples
    --------
    Two known clusters of 30 items (plus 5 outliers and 5 never-passed items), 100 draws per
    item, on a 5-model ladder; the 6th model (1e22 FLOPs) is held out. Its true mean pass rate
    over all 70 items is 0.7733; the forecast is 0.7805 and its 90% interval covers the truth:

    >>> import numpy as np, pandas as pd
    >>> from predictors.synthetic_items import ClusterSpec, synthetic_cod_ladder
    >>> specs = [ClusterSpec(30, 5.0, 0.5, 0.0), ClusterSpec(30, 30.0, 0.5, 0.0)]
    >>> obs, truth = synthetic_cod_ladder(np.geomspace(1e19, 1e22, 6), specs, n_outliers=5,
    ...                                   n_zero=5, n_checkpoints=1, seed=1)
    >>> est = CODForecaster(benchmark="synthetic", n_bootstrap=20, jackknife=False)
    >>> est = est.fit(obs[obs["model"] != "m5"])
    >>> len(est.clusters_), len(est.zero_items_)
    (2, 5)
    >>> f = est.predict(pd.DataFrame({"model": ["m5"], "flops": [1e22]}))[0]
    >>> round(float(truth["m5"].mean()), 4), round(f.point, 4), f.lower < 0.7733 < f.upper
    (0.7733, 0.7805, True)
    """

    uses_item_rows: ClassVar[bool] = True

    _param_ranges: ClassVar[dict[str, Any]] = {
        "alpha": (float, 0.0, 1.0),
        "compute_unit": (float, 0.0, None),
        "checkpoint_window": (int, 1, None),
        "clustering": ("meanshift", "kmeans"),
        "bandwidth_quantile": (float, 0.0, 1.0),
        "min_cluster_size": (int, 1, None),
        "n_bootstrap": (int, 0, MAX_BOOTSTRAP),
        "mapping_rmse": (float, 0.0, None),
        "mapping_tail": ("curve", "linear"),
        "ladder_points": ("auto", "models", "checkpoints"),
    }

    def __init__(
        self,
        *,
        benchmark: str,
        metric: str = "pass_rate",
        alpha: float = 0.1,
        compute_unit: float = 1e18,
        checkpoint_window: int = 3,
        clustering: str = "meanshift",
        n_clusters: int | None = None,
        bandwidth_quantile: float = 0.1,
        min_cluster_size: int = 10,
        use_filter: bool = True,
        use_mapping: bool = True,
        a_min: float = 1.0,
        b_min: float = 0.1,
        c_max: float = 1.0,
        a_reference: float | None = 0.1,
        fallback: bool = True,
        ladder_points: str = "auto",
        guess: float | None = 0.0,
        anchor_models: tuple[str, ...] = (),
        family: str | None = None,
        mapping_rmse: float = 0.005,
        mapping_tail: str = "curve",
        n_bootstrap: int = 200,
        jackknife: bool = True,
        random_state: int = 0,
    ) -> None:
        self.benchmark, self.metric, self.alpha = benchmark, metric, alpha
        self.compute_unit, self.checkpoint_window = compute_unit, checkpoint_window
        self.clustering, self.n_clusters = clustering, n_clusters
        self.bandwidth_quantile, self.min_cluster_size = bandwidth_quantile, min_cluster_size
        self.use_filter, self.use_mapping = use_filter, use_mapping
        self.a_min, self.b_min, self.c_max, self.guess = a_min, b_min, c_max, guess
        self.anchor_models, self.family = anchor_models, family
        self.mapping_rmse, self.n_bootstrap, self.random_state = (
            mapping_rmse,
            n_bootstrap,
            random_state,
        )
        self.jackknife, self.mapping_tail = jackknife, mapping_tail
        self.a_reference, self.fallback, self.ladder_points = a_reference, fallback, ladder_points

    # ------------------------------------------------------------------ fit
    def fit(self, observations: pd.DataFrame) -> CODForecaster:
        validate_params(self)
        obs = observations
        if self.family is not None and "family" in obs:
            obs = obs[obs["family"] == self.family]
        obs, self.inputs_ = resolve_inputs(obs, self.input_contract(), "CODForecaster.fit")
        anchors = obs[obs["model"].isin(self.anchor_models)]
        ladder = obs[~obs["model"].isin(self.anchor_models)]
        notes: list[str] = list(self.inputs_.notes)
        self.ladder_by_ = self._ladder_by(ladder)
        if self.ladder_points == "auto" and self.ladder_by_ == "checkpoint":
            notes.append(
                "fewer than 3 ladder models: every checkpoint is a ladder point (a training "
                "trajectory as the ladder)"
            )
        m = item_matrix(
            ladder,
            benchmark=self.benchmark,
            metric=self.metric,
            checkpoint_window=self.checkpoint_window,
            by=self.ladder_by_,
        )
        if m.rates.shape[1] < 3:
            raise FitError(f"COD needs at least 3 ladder models; got {list(m.rates.columns)}")
        if m.dropped_models:
            notes.append(
                f"ladder point(s) {list(m.dropped_models)} measured too few items and were dropped"
            )
        if m.dropped_items:
            notes.append(f"{len(m.dropped_items)} item(s) not measured on every model were dropped")
        R = m.rates.to_numpy(float)
        zero = np.asarray(~(R > 0).any(axis=1))
        X = R[~zero]
        if X.shape[0] < self.min_cluster_size:
            raise FitError(
                f"only {X.shape[0]} item(s) with a non-zero pass rate on {self.benchmark}"
            )
        out = cluster_items(
            X,
            method=self.clustering,
            quantile=self.bandwidth_quantile,
            min_cluster_size=self.min_cluster_size,
            n_clusters=self.n_clusters,
            random_state=self.random_state,
        )
        items = m.rates.index[~zero]
        labels = out.labels
        self.matrix_ = m
        self.bandwidth_ = out.bandwidth
        self.zero_items_ = list(m.rates.index[zero])
        self.labels_ = pd.Series(labels, index=items, name="cluster")
        self.outliers_ = list(items[labels == OUTLIER])
        self.clusters_ = self._fit_clusters(X, items, labels, out.centres)
        self.fallback_: str | None = None
        if not any(c.kept for c in self.clusters_) and self.fallback:
            labels = self._fall_back(X, items, labels)
            notes.append(self._fallback_note())
        kept = [c for c in self.clusters_ if c.kept]
        self.filtered_ = pd.DataFrame(
            [{**c.law.to_dict(), **c.to_dict()} for c in self.clusters_],
            columns=[*LAW_COLUMNS, "label", "size", "centre", "law", "kept", "reasons"],
        )
        if not kept:
            raise FitError(
                f"no cluster on {self.benchmark} passed the extrapolability filter "
                f"({len(self.clusters_)} cluster(s)); see filtered_ or use use_filter=False"
            )
        self.subset_items_ = [i for c in kept for i in c.members]
        self.mapping_points_ = self._mapping_points(m, anchors)
        self.mapping_ = self._fit_mapping(self.mapping_points_)
        notes += self.mapping_.notes
        self.notes_ = notes
        self.bootstrap_ = self._bootstrap(R, zero, labels)
        self.jackknife_ = self._jackknife(R, zero, labels) if self.jackknife else []
        return self

    def _ladder_by(self, ladder: pd.DataFrame) -> str:
        """ "model" or "checkpoint": what one ladder point is (see ``ladder_points``)."""
        if self.ladder_points != "auto":
            return "model" if self.ladder_points == "models" else "checkpoint"
        rows = ladder[(ladder["benchmark"] == self.benchmark) & (ladder["metric"] == self.metric)]
        return "model" if rows["model"].nunique() >= 3 else "checkpoint"

    def reference_flops(self) -> float | None:
        """The compute at which the filter reads ``a`` (None: one ``compute_unit``)."""
        if self.a_reference is None:
            return None
        return float(self.a_reference * self.matrix_.flops.min())

    def _fall_back(self, X: np.ndarray, items: pd.Index, labels: np.ndarray) -> np.ndarray:
        """Keep every converged cluster (unfiltered variant) or, when there is none, pool every
        non-zero item into one cluster; returns the labels the replicates resample by."""
        if any(c.law.converged for c in self.clusters_):
            self.fallback_ = "unfiltered"
            self.clusters_ = [replace(c, kept=c.law.converged) for c in self.clusters_]
            return labels
        self.fallback_ = "pooled"
        label = max((c.label for c in self.clusters_), default=OUTLIER) + 1
        flops = self.matrix_.flops.to_numpy(float)
        law = fit_cod_law(flops, X.mean(axis=0), unit=self.compute_unit, guess=self.guess)
        pooled = ClusterFit(
            label,
            tuple(items),
            tuple(float(v) for v in X.mean(axis=0)),
            law,
            law.converged,
            tuple(self._reasons(law)),
        )
        self.clusters_ = [*self.clusters_, pooled]
        return np.full(len(labels), label)

    def _fallback_note(self) -> str:
        how = {
            "unfiltered": "every cluster whose law converged is used (the unfiltered variant)",
            "pooled": "no cluster law converged; one law for all non-zero items is used",
        }[str(self.fallback_)]
        return (
            f"FALLBACK: no cluster passed the extrapolability filter; {how}; the interval is "
            f"widened {FALLBACK_WIDEN:g}x"
        )

    def _reasons(self, law: LawFit) -> list[str]:
        return filter_reasons(
            law,
            a_min=self.a_min,
            b_min=self.b_min,
            c_max=self.c_max,
            reference_flops=self.reference_flops(),
        )

    def _fit_clusters(
        self, X: np.ndarray, items: pd.Index, labels: np.ndarray, centres: dict[int, np.ndarray]
    ) -> list[ClusterFit]:
        flops = self.matrix_.flops.to_numpy(float)
        fits = []
        for k in sorted(centres):
            members = labels == k
            law = fit_cod_law(
                flops, X[members].mean(axis=0), unit=self.compute_unit, guess=self.guess
            )
            reasons = self._reasons(law)
            kept = (not reasons) if self.use_filter else law.converged
            fits.append(
                ClusterFit(
                    k,
                    tuple(items[members]),
                    tuple(float(v) for v in centres[k]),
                    law,
                    kept,
                    tuple(reasons),
                )
            )
        return fits

    def _mapping_points(self, m: ItemMatrix, anchors: pd.DataFrame) -> pd.DataFrame:
        """(subset accuracy, full accuracy) per ladder model, plus anchor models."""
        sub = m.rates.loc[self.subset_items_]
        pts = pd.DataFrame(
            {"subset": sub.mean(axis=0), "full": m.rates.mean(axis=0), "anchor": False}
        )
        if not anchors.empty:
            am = item_matrix(
                anchors,
                benchmark=self.benchmark,
                metric=self.metric,
                checkpoint_window=self.checkpoint_window,
            )
            missing = set(self.subset_items_) - set(am.rates.index)
            if missing:
                raise FitError(f"anchor models lack {len(missing)} predictable-subset item(s)")
            apts = pd.DataFrame(
                {
                    "subset": am.rates.loc[self.subset_items_].mean(axis=0),
                    "full": am.rates.mean(axis=0),
                    "anchor": True,
                }
            )
            pts = pd.concat([pts, apts])
        return pts

    def _fit_mapping(self, pts: pd.DataFrame) -> SubsetMapping:
        if not self.use_mapping:
            return identity_mapping()
        return fit_mapping(
            pts["subset"], pts["full"], rmse_target=self.mapping_rmse, tail=self.mapping_tail
        )

    def _replicate_setup(
        self, R: np.ndarray, zero: np.ndarray, labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, list[ClusterFit], pd.DataFrame]:
        """What every bootstrap and jackknife replicate shares: ladder FLOPs, a label per item
        of ``R`` (zero items -2, outliers -1), the kept clusters, and the anchor mapping points."""
        flops = self.matrix_.flops.to_numpy(float)
        lab_all = np.full(R.shape[0], OUTLIER - 1)
        lab_all[~zero] = labels
        kept = [c for c in self.clusters_ if c.kept]
        anchors = self.mapping_points_[self.mapping_points_["anchor"]][["subset", "full"]]
        return flops, lab_all, kept, anchors

    def _replicate_mapping(
        self, subset: np.ndarray, full: np.ndarray, anchors: pd.DataFrame
    ) -> SubsetMapping:
        """The mapping refitted on one replicate's ladder points plus the fixed anchor points."""
        ladder = pd.DataFrame({"subset": subset, "full": full})
        return self._fit_mapping(pd.concat([ladder, anchors]))

    def _bootstrap(self, R: np.ndarray, zero: np.ndarray, labels: np.ndarray) -> list[Replicate]:
        """Resample items (clusters and filter verdicts held fixed); refit laws and mapping."""
        rng = np.random.default_rng(self.random_state)
        flops, lab_all, kept, anchors = self._replicate_setup(R, zero, labels)
        reps = []
        for _ in range(self.n_bootstrap):
            idx = rng.integers(0, R.shape[0], R.shape[0])
            Rb, lb = R[idx], lab_all[idx]
            laws, sizes = [], []
            for cf in kept:
                rows = Rb[lb == cf.label]
                if rows.shape[0] == 0:
                    continue
                law = fit_cod_law(
                    flops, rows.mean(axis=0), unit=self.compute_unit, guess=self.guess, start=cf.law
                )
                laws.append(law)
                sizes.append(rows.shape[0])
            if not laws:
                continue
            in_subset = np.isin(lb, [c.label for c in kept])
            mapping = self._replicate_mapping(Rb[in_subset].mean(axis=0), Rb.mean(axis=0), anchors)
            reps.append(Replicate(tuple(laws), np.array(sizes, float), mapping))
        return reps

    def _jackknife(self, R: np.ndarray, zero: np.ndarray, labels: np.ndarray) -> list[Replicate]:
        """Refit kept clusters' laws and the mapping without each ladder model in turn."""
        flops, lab_all, kept, anchors = self._replicate_setup(R, zero, labels)
        in_subset = np.isin(lab_all, [c.label for c in kept])
        reps = []
        for j in range(R.shape[1]):
            others = np.arange(R.shape[1]) != j  # every ladder model but the j-th
            laws = [
                fit_cod_law(
                    flops[others],
                    R[lab_all == c.label][:, others].mean(axis=0),
                    unit=self.compute_unit,
                    guess=self.guess,
                    start=c.law,
                )
                for c in kept
            ]
            mapping = self._replicate_mapping(
                R[in_subset][:, others].mean(axis=0), R[:, others].mean(axis=0), anchors
            )
            reps.append(Replicate(tuple(laws), np.array([c.size for c in kept], float), mapping))
        return reps

    def summary(self) -> str:
        """Every stage in words: items set aside, clusters with laws and verdicts, the mapping."""
        check_is_fitted(self)
        m = self.matrix_
        lines = [
            f"COD on {self.benchmark}/{self.metric}: {m.rates.shape[0]} items x "
            f"{m.rates.shape[1]} ladder models ({', '.join(map(str, m.rates.columns))})",
            f"  compute unit {self.compute_unit:.3g} FLOPs; ladder C = "
            + ", ".join(f"{f / self.compute_unit:.3g}" for f in m.flops),
            f"  set aside: {len(self.zero_items_)} never-passed item(s); "
            f"{len(self.outliers_)} outlier(s) in no cluster of >= {self.min_cluster_size}",
            f"  clustering: {self.clustering}, bandwidth {self.bandwidth_:.3g}; "
            f"{len(self.clusters_)} cluster(s), {sum(c.kept for c in self.clusters_)} kept",
            "  cluster  size   a         b       c       rmse    verdict",
        ]
        for c in self.clusters_:
            law = c.law
            verdict = "kept" if c.kept else "filtered: " + ("; ".join(c.reasons) or "no fit")
            if c.kept and c.reasons:
                why = f"by fallback ({self.fallback_})" if self.fallback_ else "(filter off)"
                verdict = f"kept {why}; fails: " + "; ".join(c.reasons)
            lines.append(
                f"  {c.label:>7}  {c.size:>4}   {law.a:<9.3g} {law.b:<7.3g} {law.c:<7.3g} "
                f"{law.rmse:<7.3g} {verdict}"
            )
        pts = self.mapping_points_
        lines.append(
            f"  predictable subset: {len(self.subset_items_)} items "
            f"({len(self.subset_items_) / m.rates.shape[0]:.0%} of the benchmark)"
        )
        lines.append(
            f"  mapping subset -> full ({self.mapping_.kind}, tail {self.mapping_tail}): "
            + ", ".join(
                f"{a:.3f}->{b:.3f}{'*' if anc else ''}"
                for a, b, anc in zip(pts["subset"], pts["full"], pts["anchor"], strict=True)
            )
            + ("  (* anchor model)" if pts["anchor"].any() else "")
        )
        lines += [f"  note: {n}" for n in self.notes_]
        return "\n".join(lines)

    # -------------------------------------------------------------- predict
    def predict_subset(self, flops: float) -> float:
        """Size-weighted prediction of the predictable subset at ``flops``."""
        check_is_fitted(self)
        kept = [c for c in self.clusters_ if c.kept]
        w = np.array([c.size for c in kept], float)
        y = np.array([float(c.law(flops)) for c in kept])
        return float(np.sum(w * y) / np.sum(w))

    def predict(self, targets: pd.DataFrame) -> list[Forecast]:
        check_is_fitted(self)
        targets = conform_targets(targets, self.inputs_, (), "CODForecaster.predict")
        flops = model_flops(targets)
        out = []
        for i, (_, row) in enumerate(targets.iterrows()):
            out.append(self._forecast(str(row.get("model", f"target{i}")), float(flops.iloc[i])))
        return out

    def _forecast(self, name: str, flops: float) -> Forecast:
        if not math.isfinite(flops) or flops <= 0:
            raise ValueError(
                f"target {name!r}: needs flops (or n_params and n_tokens), got {flops}"
            )
        subset = self.predict_subset(flops)
        point = float(self.mapping_(subset))
        boot = [rep(flops) for rep in self.bootstrap_]
        jack = np.array([rep(flops) for rep in self.jackknife_])
        notes = list(self.notes_)
        jack_sd = 0.0
        if len(jack) >= 2:
            jack_sd = float(
                np.sqrt((len(jack) - 1) / len(jack) * np.sum((jack - jack.mean()) ** 2))
            )
        if boot:
            lo, hi = np.quantile(boot, [self.alpha / 2, 1 - self.alpha / 2])
            z = float(norm.ppf(1 - self.alpha / 2))
            widen = FALLBACK_WIDEN if self.fallback_ else 1.0
            lower = point - widen * math.hypot(max(point - float(lo), 0.0), z * jack_sd)
            upper = point + widen * math.hypot(max(float(hi) - point, 0.0), z * jack_sd)
            lower, upper = max(lower, 0.0), min(upper, 1.0)
        else:
            lower = upper = math.nan
            notes.append("no bootstrap replicate: interval unavailable")
        ladder_max = float(self.matrix_.flops.max())
        factor = flops / ladder_max
        if factor > 1:
            notes.append(f"extrapolates {factor:.3g}x beyond the largest ladder model's compute")
        pts = self.mapping_points_
        if self.use_mapping and subset > pts["subset"].max() + 0.05:
            notes.append(
                f"subset prediction {subset:.3f} lies beyond the mapping's largest point "
                f"{pts['subset'].max():.3f}: the mapping is extrapolated towards (1, 1)"
            )
        n_kept = sum(c.kept for c in self.clusters_)
        return Forecast(
            target=name,
            benchmark=self.benchmark,
            metric=self.metric,
            point=point,
            lower=float(lower),
            upper=float(upper),
            alpha=self.alpha,
            method="cod",
            params={
                "clustering": self.clustering,
                "use_filter": self.use_filter,
                "use_mapping": self.use_mapping,
                "fallback": self.fallback_,
                "ladder_points": self.ladder_by_,
                "compute_unit": self.compute_unit,
                "bandwidth": self.bandwidth_,
            },
            diagnostics={
                "target_flops": flops,
                "subset_prediction": subset,
                "n_items": int(self.matrix_.rates.shape[0]),
                "n_zero_items": len(self.zero_items_),
                "n_outliers": len(self.outliers_),
                "n_clusters": len(self.clusters_),
                "n_kept_clusters": n_kept,
                "predictable_fraction": len(self.subset_items_) / self.matrix_.rates.shape[0],
                "ladder_models": list(self.matrix_.rates.columns),
                "mapping": self.mapping_.to_dict(),
                "clusters": [c.to_dict() for c in self.clusters_],
                "n_bootstrap": len(boot),
                "jackknife_sd": jack_sd,
            },
            notes=tuple(notes),
        )
