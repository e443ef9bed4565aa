"""The numerical pieces of observational scaling: capability space, family offsets, sigmoid link.

Kept apart from the estimator (:mod:`predictors.observational`) so each piece is a small pure
function of arrays that the bootstrap can call again on resampled models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from sklearn.experimental import enable_iterative_imputer  # noqa: F401  (registers the class)
from sklearn.impute import IterativeImputer, SimpleImputer

#: Bound on a link slope (per unit of a standardised component) and its offset, so a separable
#: training set cannot push the sigmoid to a step.
MAX_LINK_SLOPE = 50.0


@dataclass(frozen=True)
class Space:
    """A fitted capability space: imputer, standardisation and the leading principal axes."""

    imputer: SimpleImputer | IterativeImputer
    mean: np.ndarray
    scale: np.ndarray
    axes: np.ndarray  # (n_base, n_base) rows = principal axes, signs fixed
    explained: np.ndarray  # share of variance per axis

    def transform(self, base: np.ndarray, k: int) -> np.ndarray:
        """Capabilities (first ``k`` components) of models' base scores (NaN allowed)."""
        z = (self.imputer.transform(base) - self.mean) / self.scale
        out: np.ndarray = z @ self.axes[:k].T
        return out


def fit_space(base: np.ndarray, imputer: str, standardize: bool, seed: int) -> Space:
    """Impute (fitted on these models only), standardise, and find the principal axes.

    Each axis' sign is fixed so that its loadings sum to a positive number: a higher component
    means higher base scores, which makes components comparable across refits.
    """
    imp: SimpleImputer | IterativeImputer = (
        IterativeImputer(max_iter=10, random_state=seed, keep_empty_features=True)
        if imputer == "iterative"
        else SimpleImputer(strategy="mean", keep_empty_features=True)
    )
    filled = imp.fit(base).transform(base)
    mean = filled.mean(axis=0)
    scale = filled.std(axis=0) if standardize else np.ones(filled.shape[1])
    scale = np.where(scale > 1e-12, scale, 1.0)
    z = (filled - mean) / scale
    _, s, vt = np.linalg.svd(z, full_matrices=True)
    signs = np.where(vt.sum(axis=1) < 0, -1.0, 1.0)
    var = np.zeros(vt.shape[0])
    var[: len(s)] = s**2
    return Space(imp, mean, scale, vt * signs[:, None], var / max(var.sum(), 1e-300))


def link(s: np.ndarray, params: np.ndarray) -> np.ndarray:
    """``floor + (ceiling - floor) * sigmoid(s @ beta + a)``; params = (floor, ceiling, a, *beta)."""
    lo, hi, a = params[0], params[1], params[2]
    z = np.clip(s @ params[3:] + a, -50.0, 50.0)
    out: np.ndarray = lo + (hi - lo) / (1.0 + np.exp(-z))
    return out


def fit_link(
    s: np.ndarray,
    y: np.ndarray,
    floor: float | None,
    ceiling: float | None,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Least-squares sigmoid link from capabilities to a score; fixed floor/ceiling when given.

    A fitted floor lies in [0, min y] and a fitted ceiling in [max y, 1]; both default to those
    ends when fixed values are not given. Starts from a linear fit of the logit (plus ``start``).
    """
    k = s.shape[1]
    y_lo, y_hi = float(np.min(y)), float(np.max(y))
    eps = 1e-6
    if floor is None:
        lo_b = (min(0.0, y_lo), max(y_lo, min(0.0, y_lo) + eps))
    else:
        lo_b = (floor - eps, floor + eps)
    if ceiling is None:
        hi_b = (max(y_hi, lo_b[1] + eps), max(1.0, y_hi + eps, lo_b[1] + 2 * eps))
    else:
        hi_b = (ceiling - eps, ceiling + eps)
    lower = np.array([lo_b[0], hi_b[0], -MAX_LINK_SLOPE * 4, *[-MAX_LINK_SLOPE] * k])
    upper = np.array([lo_b[1], hi_b[1], MAX_LINK_SLOPE * 4, *[MAX_LINK_SLOPE] * k])
    if start is not None:  # a refit (bootstrap): start where the full fit ended
        starts = [start]
    else:
        f0 = float(np.clip(floor if floor is not None else 0.5 * y_lo, lower[0], upper[0]))
        c0 = float(np.clip(ceiling if ceiling is not None else y_hi + 0.05, lower[1], upper[1]))
        frac = np.clip((y - f0) / max(c0 - f0, eps), 0.02, 0.98)
        design = np.column_stack([np.ones(len(y)), s])
        coef = np.linalg.lstsq(design, np.log(frac / (1 - frac)), rcond=None)[0]
        starts = [np.array([f0, c0, *coef])]
    best: np.ndarray | None = None
    best_cost = np.inf

    def resid(p: np.ndarray) -> np.ndarray:
        out: np.ndarray = link(s, p) - y
        return out

    def jac(p: np.ndarray) -> np.ndarray:
        return _link_jac(s, p)

    for x0 in starts:
        x0 = np.clip(x0, lower + eps / 10, upper - eps / 10)
        res = least_squares(
            resid,
            x0,
            jac=jac,
            bounds=(lower, upper),
            method="trf",
            max_nfev=500,
        )
        if res.cost < best_cost:
            best, best_cost = res.x, float(res.cost)
    assert best is not None
    return best


def _link_jac(s: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Jacobian of :func:`link` in its parameters (the optimiser's cost is dominated by it)."""
    lo, hi, a = params[0], params[1], params[2]
    sig = 1.0 / (1.0 + np.exp(-np.clip(s @ params[3:] + a, -50.0, 50.0)))
    d = (hi - lo) * sig * (1 - sig)
    return np.column_stack([1 - sig, sig, d, d[:, None] * s])


def fit_offsets(
    s: np.ndarray, log_c: np.ndarray, family: np.ndarray, families: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Capability linear in log10 compute, one slope per component shared by all families and
    one offset per family and component: returns (slopes (k,), offsets (n_families, k))."""
    idx = np.array([families.index(f) for f in family])
    onehot = np.zeros((len(family), len(families)))
    onehot[np.arange(len(family)), idx] = 1.0
    design = np.column_stack([log_c, onehot])
    coef = np.linalg.lstsq(design, s, rcond=None)[0]
    return coef[0], coef[1:]


@dataclass(frozen=True)
class FamilyEffects:
    """What each family scores on the target beyond what its base scores predict.

    A family's mean link residual (data minus link) is shrunk towards 0 by empirical Bayes: the
    between-family variance ``tau2`` (method of moments: the spread of family means beyond what
    the within-family noise ``sigma2`` explains) against ``sigma2 / n``. A family's recipe (code
    or instruction data) moves some targets in ways the base benchmarks do not see; where no
    family does, ``tau2`` is 0 and so is every effect.
    """

    means: dict[str, float]
    counts: dict[str, int]
    tau2: float
    sigma2: float

    def shrink(self, n: int) -> float:
        """The weight a family mean over ``n`` models gets (0 for none, or with no spread)."""
        if n < 1 or self.tau2 <= 0.0:
            return 0.0
        return self.tau2 / (self.tau2 + self.sigma2 / n)

    @property
    def effects(self) -> dict[str, float]:
        return {f: self.shrink(self.counts[f]) * m for f, m in self.means.items()}

    def leave_one_out(self, residual: np.ndarray, family: np.ndarray) -> np.ndarray:
        """Each model's family effect from the other models of its family (variances held),
        so residuals corrected by it say how well a family effect predicts a new member."""
        out = np.zeros(len(residual))
        for i, (r, f) in enumerate(zip(residual, family, strict=True)):
            n = self.counts.get(f, 0) if f is not None else 0
            if n >= 2:
                out[i] = self.shrink(n - 1) * (n * self.means[f] - r) / (n - 1)
        return out


#: Family effects need this many families of two or more models (to tell a spread between
#: families from noise); with fewer, every effect is 0.
MIN_EFFECT_FAMILIES = 3


def family_effects(residual: np.ndarray, family: np.ndarray) -> FamilyEffects:
    """Shrunk family means of ``residual`` (data minus link); None families are left out."""
    known = np.array([f is not None for f in family], dtype=bool)
    r = np.asarray(residual, float)[known]
    fam = np.asarray(family, dtype=object)[known]
    names = sorted(set(fam))
    counts = {f: int(np.sum(fam == f)) for f in names}
    means = {f: float(r[fam == f].mean()) for f in names}
    dof = len(r) - len(names)
    if sum(n >= 2 for n in counts.values()) < MIN_EFFECT_FAMILIES or dof < 1:
        return FamilyEffects(means, counts, 0.0, 0.0)
    sigma2 = float(sum(np.sum((r[fam == f] - means[f]) ** 2) for f in names) / dof)
    m = np.array([means[f] for f in names])
    n = np.array([counts[f] for f in names], float)
    tau2 = max(0.0, float(np.var(m, ddof=1) - np.mean(sigma2 / n)))
    return FamilyEffects(means, counts, tau2, sigma2)
