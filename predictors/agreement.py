"""Benchmark Agreement Testing (METHODS P5; Perlitz et al. 2024), vectorised and reproducible.

Does a benchmark rank models like an established reference? The answer depends on how many models
are compared and how close they are, so agreement is measured on model subsets of several sizes,
random and adjacent-ranked, and set against every other benchmark's agreement (a z-score).

Input is a long frame ``[benchmark, model, score]`` (``scenario`` is accepted for ``benchmark``)
with an optional ``higher_is_better`` column. Differences from the reference package (IBM
benchbench), each reported in :attr:`AgreementTester.differences_`:

- lower-is-better benchmarks are min-max normalised and flipped (the package's flip never runs);
- subsets larger than the shared model set shrink to it (the package skips the pair);
- adjacent windows are seeded like random subsets (the package's are not reproducible);
- every (pair, size, strategy) has its own seed, so a pair's result does not depend on which other
  benchmarks are in the table.

Kendall's tau-b and Pearson's r are computed on whole batches of subsets at once (numpy), which
makes a 58 x 58 catalogue at 4 sizes x 100 repeats take seconds, not minutes.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from predictors.agreement_engine import (
    ALL,
    CORRELATIONS,
    STRATEGIES,
    agreement_cells,
    all_pairs_agreement,
    kendall_tau_b,
    pair_agreement,
    pearson_r,
    subset_indices,
)
from predictors.base import MAX_EXPERIMENTS, BaseEstimator, check_is_fitted, validate_params

__all__ = [
    "ALL", "CORRELATIONS", "STRATEGIES", "AgreementTester", "AgreementWarning",
    "aggregate_reference", "all_pairs_agreement", "kendall_tau_b", "pair_agreement",
    "pearson_r", "prepare_scores", "subset_indices", "win_rates", "z_scores",
]  # fmt: skip


#: Most distinct subset sizes one agreement run may ask for (each size repeats every experiment).
MAX_SIZES = 20


class AgreementWarning(UserWarning):
    """Two benchmarks share few models: the agreement is computed but is unreliable."""


# ----------------------------------------------------------------------------- preparing scores


def prepare_scores(scores: pd.DataFrame) -> tuple[pd.DataFrame, list[str], int]:
    """Pivot long scores to a models x benchmarks matrix, flipping lower-is-better benchmarks.

    Lower-is-better scores become ``1 - (s - min) / (max - min)`` per benchmark (all equal: 1).
    Duplicate (benchmark, model) rows keep the best score after flipping, as the package does.
    Returns ``(matrix, flipped_benchmarks, n_duplicates)``.
    """
    df = scores.rename(columns={"scenario": "benchmark"})
    missing = [c for c in ("benchmark", "model", "score") if c not in df.columns]
    if missing:
        raise ValueError(f"scores lack column(s) {missing}; have {list(df.columns)}")
    df = df.copy()
    df["score"] = pd.to_numeric(df["score"], errors="coerce")
    df = df.dropna(subset=["score"])
    flipped: list[str] = []
    if "higher_is_better" in df.columns:
        hib = df["higher_is_better"].astype("boolean").fillna(True).astype(bool)
        low = df.loc[~hib]
        if len(low):
            grp = low.groupby("benchmark")["score"]
            lo, hi = grp.transform("min"), grp.transform("max")
            span = (hi - lo).where(hi > lo)
            df.loc[~hib, "score"] = (1.0 - (low["score"] - lo) / span).fillna(1.0)
            flipped = sorted(low["benchmark"].astype(str).unique())
    n_dup = int(df.duplicated(["benchmark", "model"]).sum())
    matrix = df.pivot_table(index="model", columns="benchmark", values="score", aggfunc="max")
    matrix.columns = matrix.columns.astype(str)
    return matrix, flipped, n_dup


def win_rates(matrix: pd.DataFrame) -> pd.DataFrame:
    """Per benchmark: the share of the other listed models each model beats; ties count as losses.

    WR_B(m) = |{m' : s_B(m) > s_B(m')}| / (N_B - 1), with N_B the models that have a score on B.
    """
    strictly_below = matrix.rank(method="min") - 1.0
    return strictly_below / (matrix.count() - 1.0).where(lambda n: n > 0)


def aggregate_reference(
    matrix: pd.DataFrame, reference: Sequence[str], *, min_appearances: int | None = None
) -> pd.Series:
    """Mean win rate over ``reference`` for models scored on at least ``min_appearances`` of them.

    Models below the threshold are removed *before* win rates are computed (as the package does),
    so they neither enter the aggregate nor count as opponents. Default threshold:
    ``max(1, len(reference) // 3)``.
    """
    unknown = [b for b in reference if b not in matrix.columns]
    if unknown:
        raise ValueError(
            f"reference benchmark(s) {unknown} not in the scores; have {sorted(matrix.columns)}"
        )
    if len(reference) < 1:
        raise ValueError("the aggregate needs at least one reference benchmark")
    need = max(1, len(reference) // 3) if min_appearances is None else min_appearances
    ref = matrix[list(reference)]
    ref = ref[ref.count(axis=1) >= need]
    return win_rates(ref).mean(axis=1).rename("aggregate")


def z_scores(agreement: pd.Series) -> pd.Series:
    """z of each benchmark's agreement relative to all benchmarks' (sample s.d., ddof=1)."""
    ok = agreement.dropna()
    sd = ok.std(ddof=1)
    if len(ok) < 2 or not np.isfinite(sd) or sd == 0:
        return pd.Series(np.nan, index=agreement.index, name="z")
    return ((agreement - ok.mean()) / sd).rename("z")


# ----------------------------------------------------------------------------- the tester


class AgreementTester(BaseEstimator):
    """Agreement of every benchmark with an aggregate reference, with z-scores and verdicts.

    Parameters
    ----------
    reference_benchmarks : sequence of str
        Benchmarks whose mean win rate is the aggregate reference.
    min_appearances : int or None, default=None
        Reference benchmarks a model needs to enter the aggregate (None: ``max(1, n_ref // 3)``).
    sizes : sequence of int, default=(5, 10, 20)
        Subset sizes; "all shared models" is always added.
    n_exps : int, default=100
        Repeats per size (random and adjacent subsets).
    seed : int, default=0
    method : {"kendall", "pearson"}, default="kendall"
    alpha : float, default=0.05
        The interval holds the central ``1 - alpha`` of the subsets' agreements.

    Attributes
    ----------
    matrix_ : DataFrame  models x benchmarks after flipping, plus the ``aggregate`` column
    results_ : DataFrame  one row per (benchmark, strategy, size)
    table_ : DataFrame  one row per benchmark: tau with all shared models, z, verdict
    differences_ : list of str  where this differs from the reference package's behaviour

    Examples
    --------
    Twelve models; the reference ranks them 0..11. ``good`` keeps that order (tau 1), ``bad``
    reverses it (tau -1), ``swap`` exchanges the top two: 1 discordant pair of 66, so
    tau = 1 - 2/66 = 0.9697.

    >>> import numpy as np, pandas as pd
    >>> q = np.arange(12.0)
    >>> cols = {"R1": q, "R2": q + 0.5, "good": q**2, "bad": -q, "swap": np.r_[q[:10], 11, 10]}
    >>> scores = pd.DataFrame([dict(model=f"m{i}", benchmark=b, score=float(v[i]))
    ...                        for b, v in cols.items() for i in range(12)])
    >>> t = AgreementTester(reference_benchmarks=["R1", "R2"], sizes=(5,), n_exps=10).fit(scores)
    >>> t.table_["agreement"].round(4).to_dict()
    {'R1': 1.0, 'R2': 1.0, 'good': 1.0, 'swap': 0.9697, 'bad': -1.0}
    """

    _param_ranges: ClassVar[dict[str, Any]] = {
        "n_exps": (int, 1, MAX_EXPERIMENTS),
        "seed": (int, None, None),
        "method": ("kendall", "pearson"),
        "alpha": (float, 0.0, 1.0),
        "min_shared": (int, 2, None),
        "warn_shared": (int, 2, None),
    }

    def __init__(
        self,
        *,
        reference_benchmarks: Sequence[str] = (),
        min_appearances: int | None = None,
        sizes: Sequence[int] = (5, 10, 20),
        n_exps: int = 100,
        seed: int = 0,
        method: str = "kendall",
        alpha: float = 0.05,
        min_shared: int = 5,
        warn_shared: int = 10,
    ) -> None:
        self.reference_benchmarks = reference_benchmarks
        self.min_appearances = min_appearances
        self.sizes = sizes
        self.n_exps = n_exps
        self.seed = seed
        self.method = method
        self.alpha = alpha
        self.min_shared = min_shared
        self.warn_shared = warn_shared

    def fit(self, scores: pd.DataFrame) -> AgreementTester:
        validate_params(self)
        matrix, flipped, n_dup = prepare_scores(scores)
        ref = list(self.reference_benchmarks)
        agg = aggregate_reference(matrix, ref, min_appearances=self.min_appearances)
        if "aggregate" in matrix.columns:
            raise ValueError("a benchmark is named 'aggregate'; rename it")
        self.matrix_ = matrix.join(agg, how="left")
        sizes = [*self._sizes(), ALL]
        opts = self._options()
        values = self.matrix_.to_numpy(dtype=float)
        names = list(self.matrix_.columns)
        agg_col = names.index("aggregate")
        rows = agreement_cells(
            values, names, [(i, agg_col) for i in range(len(matrix.columns))],
            sizes=sizes, strategies=STRATEGIES, options=opts,
        )  # fmt: skip
        res = pd.DataFrame(rows)
        res = res[(res["size"] != ALL) | (res["strategy"] == "random")].reset_index(drop=True)
        res.loc[res["size"] == ALL, "strategy"] = "all"
        self.results_ = res
        self.flipped_ = flipped
        self.n_duplicates_ = n_dup
        self.reference_ = ref
        self.n_aggregate_models_ = int(agg.notna().sum())
        self.table_ = self._table(res)
        self.differences_ = self._differences(res)
        few = self.table_[self.table_["n_shared"].between(self.min_shared, self.warn_shared - 1)]
        if len(few):
            warnings.warn(
                f"{len(few)} benchmark(s) share fewer than {self.warn_shared} models with the "
                f"aggregate: {sorted(few.index)}",
                AgreementWarning,
                stacklevel=2,
            )
        return self

    def _sizes(self) -> list[int]:
        """The subset sizes, sorted; a size that is not a positive whole number is an error."""
        bad = [s for s in self.sizes if isinstance(s, bool) or not isinstance(s, int | np.integer)
               or s < 1]  # fmt: skip
        if bad:
            raise ValueError(f"AgreementTester: sizes must be positive integers; got {bad}")
        if len(set(self.sizes)) > MAX_SIZES:
            raise ValueError(f"AgreementTester: at most {MAX_SIZES} sizes; got {len(self.sizes)}")
        return sorted({int(s) for s in self.sizes})

    def _options(self) -> dict[str, Any]:
        return {"method": self.method, "n_exps": self.n_exps, "seed": self.seed,
                "alpha": self.alpha, "min_shared": self.min_shared,
                "warn_shared": self.warn_shared}  # fmt: skip

    def _table(self, res: pd.DataFrame) -> pd.DataFrame:
        from predictors.agreement_verdict import verdict

        full = res[res["strategy"] == "all"].set_index("benchmark")
        table = pd.DataFrame({"n_shared": full["n_shared"], "agreement": full["mean"]})
        table["in_reference"] = table.index.isin(self.reference_)
        table["z"] = z_scores(table["agreement"])
        for size in sorted(res.loc[res["size"] > 0, "size"].unique()):
            for strategy in STRATEGIES:
                sub = res[(res["size"] == size) & (res["strategy"] == strategy)]
                sub = sub.set_index("benchmark")
                table[f"{strategy}_{size}_mean"] = sub["mean"]
                table[f"{strategy}_{size}_sd"] = sub["sd"]
            table[f"z_{size}"] = z_scores(table[f"random_{size}_mean"])
        table["verdict"] = [verdict(str(name), row, self) for name, row in table.iterrows()]
        return table.sort_values("agreement", ascending=False, na_position="last")

    def _differences(self, res: pd.DataFrame) -> list[str]:
        out = []
        for b in self.flipped_:
            row = self.table_.loc[b] if b in self.table_.index else None
            if row is not None and np.isfinite(row["agreement"]):
                out.append(
                    f"{b} is lower-is-better: flipped, agreement {row['agreement']:+.3f}; the "
                    f"reference package never flips it and would report "
                    f"{-row['agreement']:+.3f} (Kendall) with the same models"
                )
        shrunk = res[res["notes"].map(lambda n: any("shrunk" in x for x in n))]
        if len(shrunk):
            out.append(
                f"{len(shrunk)} (benchmark, size) cells asked for more models than shared; "
                "shrunk to the shared set (the reference package skips them): "
                + ", ".join(
                    sorted(
                        {f"{b}@{s}" for b, s in zip(shrunk.benchmark, shrunk["size"], strict=False)}
                    )
                )
            )
        out.append(
            f"adjacent windows are seeded (seed={self.seed}, per pair and size); the reference "
            "package draws them unseeded"
        )
        if self.n_duplicates_:
            out.append(f"{self.n_duplicates_} duplicate (benchmark, model) rows: kept the best")
        return out

    def to_dict(self) -> dict[str, Any]:
        check_is_fitted(self)
        table = self.table_.reset_index().rename(columns={"index": "benchmark"})
        return {
            "method": self.method,
            "reference_benchmarks": self.reference_,
            "min_appearances": self.min_appearances
            if self.min_appearances is not None
            else max(1, len(self.reference_) // 3),
            "n_aggregate_models": self.n_aggregate_models_,
            "sizes": sorted({int(s) for s in self.sizes if int(s) > 0}),
            "n_exps": self.n_exps,
            "seed": self.seed,
            "alpha": self.alpha,
            "lower_is_better_flipped": self.flipped_,
            "benchmarks": table.to_dict(orient="records"),
            "spread_by_size": self.spread_by_size().to_dict(orient="records"),
            "results": self.results_.to_dict(orient="records"),
            "differences_from_reference_package": self.differences_,
        }

    def spread_by_size(self) -> pd.DataFrame:
        """Across benchmarks: mean agreement and mean s.d. over subsets, per strategy and size.

        Only cells whose subsets were not shrunk count (a shrunk cell is one subset, s.d. 0), so
        this matches the reference package, which skips them.
        """
        check_is_fitted(self)
        res = self.results_
        res = res[~res["refused"] & (res["size"] > 0) & (res["size_taken"] == res["size"])]
        grp = res.groupby(["strategy", "size"])
        return grp.agg(
            n_benchmarks=("mean", "count"), mean=("mean", "mean"), sd=("sd", "mean")
        ).reset_index()

    def summary(self) -> str:
        check_is_fitted(self)
        lines = [
            f"Benchmark agreement ({self.method}) with the aggregate of {self.reference_} "
            f"({self.n_aggregate_models_} models)",
            f"{'benchmark':40s} {'n':>4s} {'agree':>7s} {'z':>6s}  verdict",
        ]
        for name, row in self.table_.iterrows():
            lines.append(
                f"{str(name)[:40]:40s} {int(row['n_shared']):4d} {row['agreement']:7.3f} "
                f"{row['z']:6.2f}  {row['verdict']}"
            )
        lines.append("spread over subsets (mean over benchmarks):")
        for _, r in self.spread_by_size().iterrows():
            lines.append(f"  {r['strategy']:8s} {int(r['size']):3d}: mean {r['mean']:.3f} "
                         f"sd {r['sd']:.3f} ({int(r['n_benchmarks'])} benchmarks)")  # fmt: skip
        lines += [f"  [{i}] {d}" for i, d in enumerate(self.differences_, 1)]
        return "\n".join(lines)
