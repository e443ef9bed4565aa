"""Observational scaling (Ruan et al. 2024): forecasts across public families without a ladder.

A few standard benchmarks measured on many public models span a low-dimensional capability
space (principal components); within a family, capability is linear in log compute; a sigmoid
link maps capability to any other benchmark. That gives two forecasts: an *existing* model on a
benchmark nobody ran (from its base scores), and a *planned* model from (family, FLOPs) through its
family's compute efficiency (an offset on a slope shared by all families).
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
    require_columns,
    validate_params,
)
from predictors.contracts import InputContract, series_rows
from predictors.intervals import BootstrapDraws, ForecastSpec, bootstrap_forecasts
from predictors.observational_fit import (
    FamilyEffects,
    Space,
    family_effects,
    fit_link,
    fit_offsets,
    fit_space,
    link,
)
from predictors.selection import as_score, compute_of, failed_forecast, task_level

#: Open LLM Leaderboard v1's six tasks by their canonical registry names ("benchmark/metric").
OPENLLM_V1: tuple[str, ...] = (
    "arc_challenge@25shot/acc_norm",
    "hellaswag@10shot/acc_norm",
    "mmlu@5shot/acc",
    "truthfulqa_mc2/mc2",
    "winogrande@5shot/acc",
    "gsm8k@5shot/exact_match",
)
#: Largest K the cross-validation tries, and the fallback K (Ruan et al.'s) when it cannot run.
MAX_CV_COMPONENTS = 5
DEFAULT_COMPONENTS = 3
#: Cross-validation needs this many families among the models with a target score, and folds
#: are at most this many (groups of families), which caps its cost at 5 x 10 link fits.
MIN_CV_FAMILIES = 3
MAX_CV_FOLDS = 10
#: Caps on the inputs that multiply the work: base benchmarks (PCA width) and n_components.
MAX_BASE_BENCHMARKS = 64


def _split_label(label: str) -> tuple[str, str]:
    bench, sep, metric = label.rpartition("/")
    if not sep or not bench or not metric:
        raise ValueError(f"base benchmark {label!r} is not 'benchmark/metric'")
    return bench, metric


def _per_model(obs: pd.DataFrame, bench: str, metric: str) -> pd.Series:
    """One score per model (final checkpoint, mean over sources), in the 'higher is better' sense."""
    rows = obs[(obs["benchmark"] == bench) & (obs["metric"] == metric)]
    rows = task_level(rows[np.isfinite(rows["value"].astype(float))])
    if rows.empty:
        return pd.Series(dtype=float)
    if "checkpoint_step" in rows.columns and rows["checkpoint_step"].notna().any():
        step = rows["checkpoint_step"].astype(float).fillna(-1.0)
        rows = rows[step == step.groupby(rows["model"]).transform("max")]
    vals = pd.Series(as_score(rows["value"].to_numpy(float), metric), index=rows["model"])
    return vals.groupby(level=0).mean()


class ObservationalScaling(Forecaster):
    """Capability space from base benchmarks, family compute efficiency, sigmoid link.

    Parameters
    ----------
    benchmark : str
        The target benchmark (canonical name).
    metric : str, default="acc"
    base_benchmarks : tuple of str, default=OPENLLM_V1
        ``"benchmark/metric"`` of the benchmarks that span the capability space (the target is
        left out of them). At most 64.
    n_components : int or "cv", default="cv"
        K, the capability dimensions. ``"cv"``: 3 (Ruan et al.'s choice) unless another K in
        1..5 has a grouped-by-family cross-validated link error lower than K=3's by more than
        one standard error (then that K); 3 when fewer than 3 families have target scores.
        The prior is 3 rather than the smallest K because the folds are the training models:
        they cannot see the components that only matter for larger models.
    imputer : {"iterative", "mean"}, default="iterative"
        Fills missing base scores; fitted on the training models only.
    standardize : bool, default=False
        Scale each base benchmark to unit variance before the PCA. Off, as in Ruan et al.: the
        scores share one 0..1 scale, so a benchmark's spread across models is signal, and
        scaling would inflate the ones that barely separate models (mostly noise).
    floor : float or None, default=None
        The link's floor (score sense). None: fitted within [0, lowest score], since small
        models sit on it; a benchmark's chance level is a good fixed floor.
    ceiling : float or None, default=1.0
        The link's ceiling. Fixed at the metric's top by default: fitted on models below a
        compute cut-off it can only land at the highest score seen (it is not identified there),
        which caps every extrapolation. None: fitted within [highest score, 1].
    family_effect : bool, default=True
        Add to an existing model's forecast its family's effect on the target: the mean link
        residual of the family's other models, shrunk towards 0 by empirical Bayes (Polo et
        al.'s point that families differ in efficiency per skill, not only overall). Unseen
        families, and fits where families do not differ beyond noise, get 0. Planned models
        are unaffected (their family offsets already carry the family).
    alpha : float, default=0.1
    n_bootstrap : int, default=200
        Refits over resampled models (capped by ``MAX_BOOTSTRAP``); the capability space is held
        fixed, the link and the family offsets are refitted.
    random_state : int, default=0

    Attributes
    ----------
    n_components_ : int
    space_ : Space
        Imputer, standardisation and principal axes.
    link_params_ : ndarray
        (floor, ceiling, intercept, *slopes) of the link.
    slopes_ : ndarray
        d capability / d log10 FLOPs, per component, shared by every family.
    offsets_ : dict of str to ndarray
        Each family's offset per component (its compute efficiency).
    capabilities_ : DataFrame
        model, family, log10_flops and PC1..PCK of every training model (for plots).
    cv_errors_ : dict of int to float
        Cross-validated mean absolute link error per K tried (empty without cross-validation).
    family_effects_ : FamilyEffects
        Per family: mean link residual, model count, and the shrinkage (``.effects``: what is
        added to an existing model's forecast). Empty with ``family_effect=False``.

    Notes
    -----
    A planned model of a family the fit has not seen gets the mean family offset, and its
    interval the spread of the training models around that mean (said in its notes).

    References
    ----------
    Ruan, Maddison and Hashimoto, "Observational Scaling Laws and the Predictability of Language
    Model Performance", arXiv 2405.10938 (2024).

    Examples
    --------
    Three families whose two base benchmarks both follow one capability, half a decade of FLOPs
    apart in efficiency; the target is a sigmoid of that capability from chance (0.25) to 1:

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> rows = []
    >>> for fam, off in [("a", 0.0), ("b", 0.5), ("c", -0.5)]:
    ...     for lc in np.linspace(20, 23, 6):
    ...         cap = lc - 21.5 + off
    ...         name = f"{fam}{lc:.1f}"
    ...         for bench, val in [("x", 0.5 + 0.1 * cap), ("y", 0.4 + 0.12 * cap),
    ...                            ("t", 0.25 + 0.75 / (1 + np.exp(-cap)))]:
    ...             rows.append({"model": name, "family": fam, "flops": 10**lc, "benchmark": bench,
    ...                          "metric": "acc", "value": val + rng.normal(0, 0.005)})
    >>> obs = pd.DataFrame(rows)
    >>> est = ObservationalScaling(benchmark="t", base_benchmarks=("x/acc", "y/acc"),
    ...                            n_components=1, n_bootstrap=50).fit(obs)
    >>> plan = pd.DataFrame({"model": ["b-next"], "family": ["b"], "flops": [10**23.2]})
    >>> f = est.predict(plan)[0]   # truth: 0.25 + 0.75 / (1 + exp(-2.2)) = 0.9252
    >>> round(f.point, 2), f.lower < 0.9252 < f.upper
    (0.93, True)
    """

    method: ClassVar[str] = "observational"
    size_measures: ClassVar[tuple[str, ...]] = ("flops", "n_params")
    _param_ranges: ClassVar[dict[str, Any]] = {
        "alpha": (float, 0.0, 1.0),
        "n_bootstrap": (int, 0, MAX_BOOTSTRAP),
        "imputer": ("iterative", "mean"),
        "standardize": (True, False),
        "family_effect": (True, False),
        "random_state": (int, 0, None),
    }

    def __init__(
        self,
        *,
        benchmark: str,
        metric: str = "acc",
        base_benchmarks: tuple[str, ...] = OPENLLM_V1,
        n_components: int | str = "cv",
        imputer: str = "iterative",
        standardize: bool = False,
        floor: float | None = None,
        ceiling: float | None = 1.0,
        family_effect: bool = True,
        alpha: float = 0.1,
        n_bootstrap: int = 200,
        random_state: int = 0,
    ) -> None:
        self.benchmark, self.metric, self.base_benchmarks = benchmark, metric, base_benchmarks
        self.n_components, self.imputer, self.standardize = n_components, imputer, standardize
        self.floor, self.ceiling, self.family_effect = floor, ceiling, family_effect
        self.alpha, self.n_bootstrap, self.random_state = alpha, n_bootstrap, random_state

    # ------------------------------------------------------------------ contract and checks
    def _base(self) -> list[tuple[str, str, str]]:
        """(label, benchmark, metric) of the base benchmarks, the target left out."""
        out = []
        for label in self.base_benchmarks:
            bench, metric = _split_label(str(label))
            if (bench, metric) != (self.benchmark, self.metric):
                out.append((str(label), bench, metric))
        return out

    def input_contract(self) -> InputContract:
        """The target and the base benchmarks; FLOPs and family only for planned models."""
        series = ((self.benchmark, self.metric), *((b, m) for _, b, m in self._base()))
        return InputContract(
            size=self.size_measures, columns=self.needs_columns, series=series, size_optional=True
        )

    def _check_params(self) -> None:
        validate_params(self)
        name = type(self).__name__
        if isinstance(self.base_benchmarks, str) or not 1 <= len(self.base_benchmarks) <= (
            MAX_BASE_BENCHMARKS
        ):
            raise ValueError(
                f"{name}: base_benchmarks must be a list of 1 to {MAX_BASE_BENCHMARKS} "
                "'benchmark/metric' names"
            )
        k = self.n_components
        if k != "cv" and not (isinstance(k, int) and not isinstance(k, bool) and k >= 1):
            raise ValueError(f"{name}: n_components must be 'cv' or an int >= 1, got {k!r}")
        if isinstance(k, int) and k > len(self.base_benchmarks):
            raise ValueError(
                f"{name}: n_components={k} exceeds the {len(self.base_benchmarks)} base benchmarks"
            )
        for what in ("floor", "ceiling"):
            v = getattr(self, what)
            if v is not None and not (isinstance(v, int | float) and 0.0 <= v <= 1.0):
                raise ValueError(f"{name}: {what} must be None or a number in [0, 1], got {v!r}")

    # ------------------------------------------------------------------ fit
    def fit(self, observations: pd.DataFrame) -> ObservationalScaling:
        """Fit the space on every training model with base scores, then offsets and link."""
        self._check_params()
        where = f"{type(self).__name__}.fit"
        obs = observations
        require_columns(obs, ["model", "benchmark", "metric", "value"], where)
        if "family" not in obs.columns:
            raise ValueError(
                f"{where}: observations lack column 'family' (each family's compute efficiency "
                f"is fitted); have {list(obs.columns)}"
            )
        if "flops" not in obs.columns and not {"n_params", "n_tokens"} <= set(obs.columns):
            raise ValueError(
                f"{where}: observations lack column 'flops' (training FLOPs; or n_params and "
                f"n_tokens, for 6 x N x D); have {list(obs.columns)}"
            )
        base = self._base()
        if not base:
            raise ValueError(f"{where}: no base benchmark besides the target {self.benchmark!r}")
        series_rows(obs, self.input_contract(), where)  # names a missing benchmark or metric
        self.base_ = tuple(label for label, _, _ in base)
        wide = pd.concat({label: _per_model(obs, b, m) for label, b, m in base}, axis=1).reindex(
            columns=list(self.base_)
        )
        wide = wide[wide.notna().sum(axis=1) >= math.ceil(len(base) / 2)]
        y_all = _per_model(obs, self.benchmark, self.metric)
        meta = self._meta(obs)
        if len(wide) < 4:
            raise FitError(
                f"{where}: only {len(wide)} models have at least half of the base benchmarks "
                f"{list(self.base_)}; need 4"
            )
        self.space_: Space = fit_space(
            wide.to_numpy(float), self.imputer, self.standardize, self.random_state
        )
        self.base_scores_ = wide
        link_models = [m for m in wide.index if m in y_all.index]
        y = y_all.loc[link_models].to_numpy(float)
        families = meta["family"].reindex(link_models).astype(object).fillna("?").to_numpy()
        kmax = min(MAX_CV_COMPONENTS, len(base))
        self.cv_errors_: dict[int, float] = {}
        self._out_of_family: dict[int, np.ndarray] = {}
        if self.n_components == "cv":
            self.n_components_ = self._choose_k(
                wide.loc[link_models].to_numpy(float), y, families, kmax
            )
        else:
            self.n_components_ = int(self.n_components)
        k = self.n_components_
        if len(link_models) < k + 4:
            raise FitError(
                f"{where}: {len(link_models)} models have both base scores and "
                f"{self.benchmark}/{self.metric}; need {k + 4} for a {k}-component link"
            )
        s_all = self.space_.transform(wide.to_numpy(float), k)
        cap = pd.DataFrame(s_all, index=wide.index, columns=[f"PC{i + 1}" for i in range(k)])
        s_link = cap.loc[link_models].to_numpy()
        self.link_params_ = fit_link(s_link, y, self.floor, self.ceiling)
        self._link_families = np.array(
            [None if pd.isna(f) else str(f) for f in meta["family"].reindex(link_models)],
            dtype=object,
        )
        resid = y - link(s_link, self.link_params_)
        self.family_effects_ = (
            family_effects(resid, self._link_families)
            if self.family_effect
            else FamilyEffects({}, {}, 0.0, 0.0)
        )
        # prediction minus data for a model whose family effect comes from the others
        loo = self.family_effects_.leave_one_out(resid, self._link_families)
        self.residuals_family_ = tuple(loo - resid)
        # a model of a family the link has not seen errs like a model left out with its family
        unseen = self._out_of_family.get(k)
        if unseen is None and len(set(families)) >= MIN_CV_FAMILIES:
            try:
                unseen = self._family_folds(s_link, y, families)
            except (ValueError, np.linalg.LinAlgError):
                unseen = None  # a fold too small to fit: the in-sample residuals stand in
        self.residuals_unseen_ = tuple(unseen) if unseen is not None else tuple(-resid)
        # compute efficiency: models with a family and a compute measure
        cm = meta.reindex(wide.index)
        ok = cm["family"].notna().to_numpy() & np.isfinite(cm["log10_flops"].to_numpy(float))
        self.families_ = sorted({str(f) for f in cm["family"][ok]})
        if not self.families_:
            raise FitError(
                f"{where}: no model with base scores has both a family and flops "
                "(or n_params and n_tokens); planned-model forecasts need them"
            )
        log_c = cm["log10_flops"].to_numpy(float)[ok]
        fam = cm["family"].astype(str).to_numpy()[ok]
        slopes, offsets = fit_offsets(cap.to_numpy()[ok], log_c, fam, self.families_)
        self.slopes_ = slopes
        self.offsets_ = {f: offsets[i] for i, f in enumerate(self.families_)}
        self.capabilities_ = (
            cap.assign(
                family=cm["family"].to_numpy(), log10_flops=cm["log10_flops"].to_numpy(float)
            )
            .rename_axis("model")
            .reset_index()
        )
        self._residuals(cap, link_models, y, cm)
        self._bootstrap(s_link, y, cap.to_numpy()[ok], log_c, fam)
        return self

    @staticmethod
    def _meta(obs: pd.DataFrame) -> pd.DataFrame:
        """Per model: family and log10 training FLOPs (the ``flops`` column, else 6·N·D)."""
        m = obs.copy()
        for col in ("n_params", "n_tokens", "flops"):
            if col not in m.columns:
                m[col] = np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            m["log10_flops"] = np.log10(np.where(compute_of(m) > 0, compute_of(m), np.nan))
        m["family"] = m["family"].where(m["family"].notna(), None)
        return m.groupby("model")[["family", "log10_flops"]].first()

    def _choose_k(self, base: np.ndarray, y: np.ndarray, families: np.ndarray, kmax: int) -> int:
        """K = 3 unless the best K beats it by one standard error; folds = whole families."""
        self._out_of_family = {}
        if len(set(families)) < MIN_CV_FAMILIES or len(y) < kmax + 8:
            return min(DEFAULT_COMPONENTS, kmax)
        s_full = self.space_.transform(base, kmax)
        stats = {}
        for k in range(1, kmax + 1):
            self._out_of_family[k] = self._family_folds(s_full[:, :k], y, families)
            errs = np.abs(self._out_of_family[k])
            stats[k] = (float(errs.mean()), float(errs.std(ddof=1) / math.sqrt(len(errs))))
        self.cv_errors_ = {k: v[0] for k, v in stats.items()}
        best = min(stats, key=lambda k: stats[k][0])
        anchor = min(DEFAULT_COMPONENTS, kmax)
        return anchor if stats[anchor][0] <= stats[best][0] + stats[best][1] else best

    def _family_folds(self, s: np.ndarray, y: np.ndarray, families: np.ndarray) -> np.ndarray:
        """Prediction minus data of each model by a link fitted without its family (families
        dealt round-robin into at most ``MAX_CV_FOLDS`` folds)."""
        uniq = sorted(set(families))
        fold_of = {f: i % MAX_CV_FOLDS for i, f in enumerate(uniq)}
        folds = np.array([fold_of[f] for f in families])
        out = np.empty(len(y))
        for fold in np.unique(folds):
            test = folds == fold
            p = fit_link(s[~test], y[~test], self.floor, self.ceiling)
            out[test] = link(s[test], p) - y[test]
        return out

    def _planned_caps(
        self, log_c: np.ndarray, families: list[str | None], slopes: np.ndarray, offsets: np.ndarray
    ) -> np.ndarray:
        mean_off = offsets.mean(axis=0)
        rows = [
            offsets[self.families_.index(f)] if f in self.families_ else mean_off for f in families
        ]
        out: np.ndarray = log_c[:, None] * slopes[None, :] + np.array(rows).reshape(
            len(families), -1
        )
        return out

    def _residuals(
        self, cap: pd.DataFrame, link_models: list[str], y: np.ndarray, cm: pd.DataFrame
    ) -> None:
        """Fit residuals (prediction minus data) of the three forecast paths."""
        s = cap.loc[link_models].to_numpy()
        self.residuals_existing_ = tuple(link(s, self.link_params_) - y)
        lc = cm["log10_flops"].reindex(link_models).to_numpy(float)
        fam = [str(f) if f is not None else None for f in cm["family"].reindex(link_models)]
        ok = np.isfinite(lc) & np.array([f in self.families_ for f in fam])
        offsets = np.array([self.offsets_[f] for f in self.families_])
        own = self._planned_caps(
            lc[ok], [f for f, o in zip(fam, ok, strict=True) if o], self.slopes_, offsets
        )
        anon = self._planned_caps(lc[ok], [None] * int(ok.sum()), self.slopes_, offsets)
        self.residuals_planned_ = tuple(link(own, self.link_params_) - y[ok])
        self.residuals_new_family_ = tuple(link(anon, self.link_params_) - y[ok])

    def _bootstrap(
        self, s_link: np.ndarray, y: np.ndarray, s_c: np.ndarray, log_c: np.ndarray, fam: np.ndarray
    ) -> None:
        """Refit link, family effects and offsets on models resampled with replacement (space
        held fixed); a family missing from a resample keeps the full fit's effect and offset."""
        rng = np.random.default_rng(self.random_state)
        full = np.array([self.offsets_[f] for f in self.families_])
        effect_names = sorted(self.family_effects_.means)
        full_effects = self.family_effects_.effects
        links, slopes, offs, effects = [], [], [], []
        for _ in range(self.n_bootstrap):
            i = rng.integers(0, len(y), len(y))
            j = rng.integers(0, len(log_c), len(log_c))
            try:
                p = fit_link(s_link[i], y[i], self.floor, self.ceiling, self.link_params_)
            except (ValueError, np.linalg.LinAlgError):
                continue
            links.append(p)
            if effect_names and self.family_effects_.tau2 > 0:
                fe = family_effects(y[i] - link(s_link[i], p), self._link_families[i]).effects
                effects.append([fe.get(f, full_effects[f]) for f in effect_names])
            else:
                effects.append([full_effects[f] for f in effect_names])
            present = sorted(set(fam[j]))
            sl, of = fit_offsets(s_c[j], log_c[j], fam[j], present)
            o = full.copy()
            for r, f in enumerate(present):
                o[self.families_.index(f)] = of[r]
            slopes.append(sl)
            offs.append(o)
        # explicit widths: with no refits (n_bootstrap=0) a -1 cannot be inferred from 0 values
        k = len(self.slopes_)
        self.boot_links_ = np.array(links).reshape(len(links), len(self.link_params_))
        self.boot_slopes_ = np.array(slopes).reshape(len(slopes), k)
        self.boot_offsets_ = np.array(offs).reshape(len(offs), len(self.families_), k)
        self.boot_family_effects_ = np.array(effects).reshape(len(effects), len(effect_names))

    # ------------------------------------------------------------------ predict
    def _target_base(self, t: pd.DataFrame) -> np.ndarray:
        """Base scores of each target: its own columns (named like the base benchmarks, or by
        the benchmark alone), else the fit's scores of a model of that name; NaN where neither."""
        out = np.full((len(t), len(self.base_)), np.nan)
        for c, label in enumerate(self.base_):
            bench, metric = _split_label(label)
            col = label if label in t.columns else bench if bench in t.columns else None
            if col is not None:
                out[:, c] = as_score(pd.to_numeric(t[col], errors="coerce").to_numpy(float), metric)
        known = self.base_scores_.reindex(t["model"].astype(str)).to_numpy(float)
        return np.where(np.isnan(out), known, out)

    def predict(self, targets: pd.DataFrame) -> list[Forecast]:
        """Existing models (with base scores) through their capabilities; planned models
        (family, flops or n_params and n_tokens) through their family's offset."""
        check_is_fitted(self)
        where = f"{type(self).__name__}.predict"
        require_columns(targets, ["model"], where)
        t = targets.reset_index(drop=True).copy()
        for col in ("n_params", "n_tokens", "flops"):
            if col not in t.columns:
                t[col] = np.nan
        base = self._target_base(t)
        existing = np.isfinite(base).sum(axis=1) >= math.ceil(len(self.base_) / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = compute_of(t)
            log_c = np.log10(np.where(c > 0, c, np.nan))
        fams = t["family"] if "family" in t.columns else pd.Series([None] * len(t))
        only = self.families_[0] if len(self.families_) == 1 else None  # fit on one family
        families = [str(f) if pd.notna(f) else only for f in fams]
        spec = ForecastSpec(self.benchmark, self.metric, self.alpha, self.method, self._params())
        out: list[Forecast | None] = [None] * len(t)
        idx_e = np.flatnonzero(existing)
        for i, f in zip(idx_e, self._existing(spec, t, idx_e, base[idx_e], fams), strict=True):
            out[i] = f
        planned = ~existing & np.isfinite(log_c)
        for known in (True, False):
            idx = np.flatnonzero(
                planned & np.array([(f in self.families_) == known for f in families])
            )
            if len(idx):
                for i, f in zip(
                    idx, self._planned(spec, t, idx, log_c, families, known), strict=True
                ):
                    out[i] = f
        for i in np.flatnonzero(~existing & ~np.isfinite(log_c)):
            out[i] = failed_forecast(
                target=str(t["model"][i]),
                benchmark=self.benchmark,
                metric=self.metric,
                alpha=self.alpha,
                method=self.method,
                why=f"{where}: target needs its base scores ({', '.join(self.base_)}) or column "
                "'flops' (or n_params and n_tokens) with its family",
                diag={},
            )
        return [f for f in out if f is not None]

    def _existing(
        self,
        spec: ForecastSpec,
        t: pd.DataFrame,
        idx: np.ndarray,
        base: np.ndarray,
        fams: pd.Series,
    ) -> list[Forecast]:
        """Through the capabilities of their base scores, plus their family's effect where the
        fit found one (a family given in the target row, else the fit's for a model of that name)."""
        if not len(idx):
            return []
        k = self.n_components_
        s = self.space_.transform(base, k)
        known = self.capabilities_.set_index("model")["family"]
        effects = self.family_effects_.effects
        names = sorted(self.family_effects_.means)
        family: list[str | None] = []
        for i in idx:
            f = fams.iloc[i] if pd.notna(fams.iloc[i]) else known.get(str(t["model"][i]))
            family.append(str(f) if f is not None and pd.notna(f) else None)
        # residuals by what the fit knows of the family: an effect, its models only, nothing
        seen = {f for f in self._link_families if f is not None}

        def case_of(f: str | None) -> str:
            if f is None or f not in seen:
                return "unseen"
            return "effect" if effects.get(f, 0.0) != 0.0 else "seen"

        case = np.array([case_of(f) for f in family])
        residuals = {
            "effect": self.residuals_family_,
            "seen": self.residuals_existing_,
            "unseen": self.residuals_unseen_,
        }
        lo, hi = float(self.link_params_[0]), float(self.link_params_[1])
        out: list[Forecast | None] = [None] * len(idx)
        rng = np.random.default_rng(self.random_state + 1)
        for what in ("seen", "unseen", "effect"):
            sel = np.flatnonzero(case == what)
            if not len(sel):
                continue
            group = what == "effect"
            fam = [family[j] for j in sel]
            shift = np.array([effects.get(f or "", 0.0) for f in fam])
            boot = np.array([link(s[sel], p) for p in self.boot_links_]).reshape(-1, len(sel))
            if group:  # each refit's own family effects
                cols = [names.index(f) for f in fam if f is not None]
                boot = boot + self.boot_family_effects_[: len(boot), cols]
            note = (
                f"existing model: capability from its base scores ({k} components)"
                + {
                    "seen": "",
                    "unseen": "; its family has no target scores in the fit, so the interval "
                    "has the errors of models predicted with their family left out",
                    "effect": ", plus its family's effect on this target (shrunk mean residual)",
                }[what]
            )
            draws = BootstrapDraws(
                np.clip(link(s[sel], self.link_params_) + shift, lo, hi),
                np.clip(boot, lo, hi),
                residuals[what],
                len(self.link_params_) + int(group),
                self.n_bootstrap or None,
            )
            fs = bootstrap_forecasts(
                spec,
                [str(t["model"][idx[j]]) for j in sel],
                draws,
                rng,
                diagnostics=[
                    {
                        "case": "existing",
                        "capability": list(map(float, s[j])),
                        **({"family": family[j], "family_effect": float(d)} if group else {}),
                    }
                    for j, d in zip(sel, shift, strict=True)
                ],
                notes=[note],
            )
            for j, f in zip(sel, fs, strict=True):
                out[j] = f
        return [f for f in out if f is not None]

    def _planned(
        self,
        spec: ForecastSpec,
        t: pd.DataFrame,
        idx: np.ndarray,
        log_c: np.ndarray,
        families: list[str | None],
        known: bool,
    ) -> list[Forecast]:
        fam = [families[i] if known else None for i in idx]
        offsets = np.array([self.offsets_[f] for f in self.families_])
        s = self._planned_caps(log_c[idx], fam, self.slopes_, offsets)
        boot = np.array(
            [
                link(self._planned_caps(log_c[idx], fam, sl, of), p)
                for p, sl, of in zip(
                    self.boot_links_, self.boot_slopes_, self.boot_offsets_, strict=True
                )
            ]
        ).reshape(-1, len(idx))
        resid = self.residuals_planned_ if known else self.residuals_new_family_
        note = (
            "planned model: capability from its family's compute efficiency"
            if known
            else "planned model of a family the fit has not seen (or none given): the mean "
            "family offset, with the spread of families around it in the interval"
        )
        draws = BootstrapDraws(
            link(s, self.link_params_),
            boot,
            resid,
            len(self.link_params_) + 1,
            self.n_bootstrap or None,
        )
        return bootstrap_forecasts(
            spec,
            [str(t["model"][i]) for i in idx],
            draws,
            np.random.default_rng(self.random_state + 2 + int(known)),
            diagnostics=[
                {"case": "planned", "family": f, "capability": list(map(float, row))}
                for f, row in zip(fam, s, strict=True)
            ],
            notes=[note],
        )

    def _params(self) -> dict[str, Any]:
        lo, hi, a, *beta = (float(v) for v in self.link_params_)
        return {
            "n_components": self.n_components_,
            "floor": lo,
            "ceiling": hi,
            "intercept": a,
            **{f"beta_PC{i + 1}": b for i, b in enumerate(beta)},
            **{f"slope_PC{i + 1}": float(v) for i, v in enumerate(self.slopes_)},
            "family_effect_sd": math.sqrt(self.family_effects_.tau2),
        }


def capability_space(
    observations: pd.DataFrame,
    *,
    base_benchmarks: tuple[str, ...] = OPENLLM_V1,
    n_components: int = 2,
    imputer: str = "iterative",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The capability space alone (no target): every model's components, and the fitted compute
    efficiency (shared slopes, family offsets) where families and FLOPs are known; for plots.

    Returns (frame with model, family, log10_flops, PC1..PCk; {"slopes", "offsets",
    "explained"}). ValueError naming a base benchmark with no rows, or too few models.

    >>> obs = pd.DataFrame({"model": ["a", "b", "c", "d"] * 2, "family": ["f", "f", "g", "g"] * 2,
    ...     "flops": [1e20, 1e21, 1e20, 1e21] * 2, "benchmark": ["x"] * 4 + ["y"] * 4,
    ...     "metric": "acc", "value": [0.3, 0.5, 0.4, 0.6, 0.2, 0.4, 0.3, 0.5]})
    >>> frame, fit = capability_space(obs, base_benchmarks=("x/acc", "y/acc"), n_components=1)

    Centred scores lie on the diagonal, so PC1 = (x + y - 0.8) / sqrt(2); each family gains
    0.2 * sqrt(2) = 0.283 per decade of FLOPs:

    >>> [round(v, 3) for v in frame["PC1"]], round(float(fit["slopes"][0]), 3)
    ([-0.212, 0.071, -0.071, 0.212], 0.283)
    """
    where = "capability_space"
    if not 1 <= n_components <= min(MAX_CV_COMPONENTS, len(base_benchmarks)):
        raise ValueError(f"{where}: n_components must be 1 to {min(5, len(base_benchmarks))}")
    require_columns(observations, ["model", "family", "benchmark", "metric", "value"], where)
    labels = [_split_label(str(label)) for label in base_benchmarks]
    cols = {}
    for (bench, metric), label in zip(labels, base_benchmarks, strict=True):
        col = _per_model(observations, bench, metric)
        if col.empty:
            raise ValueError(f"{where}: no rows for base benchmark {label!r}")
        cols[label] = col
    wide = pd.concat(cols, axis=1)
    wide = wide[wide.notna().sum(axis=1) >= math.ceil(len(labels) / 2)]
    if len(wide) < n_components + 2:
        raise ValueError(f"{where}: only {len(wide)} models have half of the base benchmarks")
    space = fit_space(wide.to_numpy(float), imputer, False, 0)
    caps = space.transform(wide.to_numpy(float), n_components)
    meta = ObservationalScaling._meta(observations).reindex(wide.index)
    frame = pd.DataFrame(caps, columns=[f"PC{i + 1}" for i in range(n_components)])
    frame.insert(0, "model", wide.index.to_numpy())
    frame.insert(1, "family", meta["family"].to_numpy())
    frame.insert(2, "log10_flops", meta["log10_flops"].to_numpy(float))
    ok = frame["family"].notna().to_numpy() & np.isfinite(frame["log10_flops"].to_numpy(float))
    fams = sorted({str(f) for f in frame["family"][ok]})
    fit: dict[str, Any] = {
        "explained": space.explained[:n_components],
        "slopes": None,
        "offsets": {},
    }
    if fams and ok.sum() > len(fams):
        slopes, offsets = fit_offsets(
            caps[ok], frame["log10_flops"].to_numpy(float)[ok],
            frame["family"].astype(str).to_numpy()[ok], fams,
        )  # fmt: skip
        fit.update(slopes=slopes, offsets={f: offsets[i] for i, f in enumerate(fams)})
    return frame, fit
