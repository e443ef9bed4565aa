"""The per-cluster difficulty law and the subset-to-full mapping of COD (METHODS.md P3, steps 3-4).

Law: y(C) = g + (1 - g) * exp(-a * C**(-b) - c), C in ``unit`` FLOPs. The fit runs in a unit near
the ladder's own compute (well conditioned) and converts ``a`` to the documented unit afterwards:
a_unit = a_fit * (unit_fit / unit)**b. The filter's thresholds (a > 1, b > 0.1, 0 <= c < 1) are
the paper's, read in units of 1e18 FLOPs; :class:`predictors.cod.CODForecaster` reads ``a`` at a
compute taken from the ladder instead, so that the verdict does not depend on the compute unit.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import numpy as np
from numpy.typing import ArrayLike
from scipy.interpolate import PchipInterpolator, UnivariateSpline
from scipy.optimize import least_squares
from sklearn.isotonic import IsotonicRegression

_A_BOUNDS = (1e-12, 1e8)
_B_BOUNDS = (1e-6, 5.0)
_C_BOUNDS = (0.0, 60.0)
_G_BOUNDS = (0.0, 0.999)


def cod_curve(C: ArrayLike, a: float, b: float, c: float, g: float = 0.0) -> np.ndarray:
    """Expected pass rate of a cluster at compute C (in the law's unit).

    >>> round(float(cod_curve(1.0, a=2.0, b=0.5, c=0.1)), 6)  # exp(-2 - 0.1)
    0.122456
    """
    z = np.asarray(C, dtype=float)
    return cast(np.ndarray, g + (1.0 - g) * np.exp(-a * z ** (-b) - c))  # ufunc stubs: Any


@dataclass(frozen=True)
class LawFit:
    """A fitted cluster law; ``a`` is expressed with C in units of ``unit`` FLOPs."""

    a: float
    b: float
    c: float
    g: float
    unit: float
    rmse: float
    converged: bool
    message: str = ""

    def __call__(self, flops: np.ndarray | float) -> np.ndarray:
        return cod_curve(np.asarray(flops, dtype=float) / self.unit, self.a, self.b, self.c, self.g)

    def to_dict(self) -> dict[str, float | bool | str]:
        return {
            "a": self.a,
            "b": self.b,
            "c": self.c,
            "g": self.g,
            "unit": self.unit,
            "rmse": self.rmse,
            "converged": self.converged,
        }


def _loglinear_start(z: np.ndarray, y: np.ndarray, g: float) -> tuple[float, float, float] | None:
    """With c = 0, log(-log((y - g) / (1 - g))) = log a - b log z: a line gives a and b."""
    q = (y - g) / (1 - g)
    ok = (q > 1e-9) & (q < 1 - 1e-9)
    if ok.sum() < 2:
        return None
    slope, icpt = np.polyfit(np.log(z[ok]), np.log(-np.log(q[ok])), 1)
    return (float(np.clip(np.exp(icpt), 1e-6, 1e6)), float(np.clip(-slope, 0.01, 4.0)), 0.0)


def fit_cod_law(
    flops: np.ndarray,
    y: np.ndarray,
    *,
    unit: float = 1e18,
    guess: float | None = 0.0,
    start: LawFit | None = None,
) -> LawFit:
    """Bounded least squares with a small multi-start grid (or one warm start).

    ``guess`` fixes g (0 for open answers, 1/k for k-way multiple choice); ``None`` fits it.
    """
    flops = np.asarray(flops, dtype=float)
    y = np.asarray(y, dtype=float)
    u_fit = float(np.exp(np.mean(np.log(flops))))
    z = flops / u_fit
    fit_g = guess is None
    g_fixed = 0.0 if guess is None else float(guess)

    def unpack(p: np.ndarray) -> tuple[float, float, float, float]:
        return p[0], p[1], p[2], (p[3] if fit_g else g_fixed)

    def resid(p: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, cod_curve(z, *unpack(p)) - y)  # ndarray - ndarray: Any

    log_z = np.log(z)

    def jac(p: np.ndarray) -> np.ndarray:
        a, b, c, g = unpack(p)
        zb = np.power(z, -b)
        E = np.exp(-a * zb - c)
        cols = [-(1 - g) * E * zb, (1 - g) * E * a * zb * log_z, -(1 - g) * E]
        if fit_g:
            cols.append(1.0 - E)
        return np.column_stack(cols)

    lo = [_A_BOUNDS[0], _B_BOUNDS[0], _C_BOUNDS[0]] + ([_G_BOUNDS[0]] if fit_g else [])
    hi = [_A_BOUNDS[1], _B_BOUNDS[1], _C_BOUNDS[1]] + ([_G_BOUNDS[1]] if fit_g else [])
    if start is not None:
        a0 = start.a * (start.unit / u_fit) ** start.b
        starts = [[a0, start.b, start.c] + ([start.g] if fit_g else [])]
    else:
        g0 = [0.0, 0.2] if fit_g else [None]
        grid = [(1.0, 0.4, 0.0), (5.0, 1.0, 0.0), (0.1, 0.1, 1.0), (20.0, 0.3, 0.5)]
        linear = _loglinear_start(z, y, g_fixed)
        grid = ([linear] if linear else []) + grid
        starts = [
            [a, b, c] + ([g] if fit_g else []) for (a, b, c), g in itertools.product(grid, g0)
        ]
    best = None
    last_error = "no start point"
    for p0 in starts:
        x0 = np.clip(p0, np.array(lo) * (1 + 1e-9) + 1e-15, np.array(hi) * (1 - 1e-9))
        try:
            res = least_squares(resid, x0, jac=jac, bounds=(lo, hi), method="trf", max_nfev=200)
        except (ValueError, FloatingPointError) as exc:  # pragma: no cover - scipy edge cases
            last_error = str(exc)
            continue
        if best is None or res.cost < best.cost:
            best = res
    if best is None:
        return LawFit(math.nan, math.nan, math.nan, math.nan, unit, math.nan, False, last_error)
    a, b, c, g = unpack(best.x)
    a_unit = a * (u_fit / unit) ** b
    rmse = float(np.sqrt(np.mean(best.fun**2)))
    return LawFit(float(a_unit), float(b), float(c), float(g), unit, rmse, bool(best.success))


def filter_reasons(
    law: LawFit,
    *,
    a_min: float = 1.0,
    b_min: float = 0.1,
    c_max: float = 1.0,
    reference_flops: float | None = None,
) -> list[str]:
    """Why a cluster is not extrapolable (empty list: keep it).

    ``a`` is read as the difficulty term a * (C / unit)**(-b) at ``reference_flops`` (None: at
    C = one ``unit``, the paper's reading). A reference taken from the ladder itself makes the
    verdict independent of the compute unit: multiplying every FLOP count by k multiplies the
    reference by k and leaves the term unchanged, while the fitted a in a fixed unit moves by k**b.
    """
    if not law.converged or not all(map(math.isfinite, (law.a, law.b, law.c))):
        return ["law fit did not converge"]
    reasons = []
    if reference_flops is None:
        if not law.a > a_min:
            reasons.append(f"a={law.a:.3g} <= {a_min:g} (C in units of {law.unit:.0e} FLOPs)")
    else:
        term = law.a * (reference_flops / law.unit) ** (-law.b)
        if not term > a_min:
            reasons.append(
                f"a*C^-b={term:.3g} <= {a_min:g} at the reference {reference_flops:.3g} FLOPs"
            )
    if not law.b > b_min:
        reasons.append(f"b={law.b:.3g} <= {b_min:g}")
    if not (0.0 <= law.c < c_max):
        reasons.append(f"c={law.c:.3g} not in [0, {c_max:g})")
    return reasons


Curve = Callable[[np.ndarray], np.ndarray]


def _identity(s: np.ndarray) -> np.ndarray:
    return s


@dataclass
class SubsetMapping:
    """Monotone map from predictable-subset accuracy to full-set accuracy.

    ``kind`` is ``"spline"`` (cubic smoothing spline, smoothing lowered until RMSE < target),
    ``"pchip"`` (the fallback when the spline is not monotone: PCHIP through the isotonic fit of
    the points) or ``"identity"`` (mapping switched off). ``tail="linear"`` replaces the curve
    beyond the largest observed subset accuracy by the secant of the last two points (capped at
    1): a first-order continuation instead of the bend towards (1, 1) (an option of ours; the
    paper's mapping is the curve through (1, 1), ``tail="curve"``).
    """

    kind: str
    x: np.ndarray
    y: np.ndarray
    smoothing: float | None = None
    rmse: float = 0.0
    notes: list[str] = field(default_factory=list)
    _fn: Curve = _identity
    tail: str = "curve"

    def __call__(self, s: np.ndarray | float) -> np.ndarray:
        s = np.clip(np.asarray(s, dtype=float), 0.0, 1.0)
        if self.kind == "identity":
            return s
        out = np.clip(self._fn(s), 0.0, 1.0)
        data = self.x < 1.0  # the observed points (and (0, 0)), not the (1, 1) pin
        if self.tail == "linear" and data.sum() >= 2:
            x0, x1 = self.x[data][-2:]
            y0, y1 = np.clip(self._fn(np.array([x0, x1])), 0.0, 1.0)
            slope = max((y1 - y0) / (x1 - x0), 0.0)
            out = np.where(s > x1, np.minimum(y1 + slope * (s - x1), 1.0), out)
        return out

    def to_dict(self) -> dict[str, object]:
        grid = np.linspace(0, 1, 21)
        return {
            "kind": self.kind,
            "points": [[float(a), float(b)] for a, b in zip(self.x, self.y, strict=True)],
            "smoothing": self.smoothing,
            "rmse": self.rmse,
            "curve": [[float(a), float(b)] for a, b in zip(grid, self(grid), strict=True)],
            "notes": list(self.notes),
            "tail": self.tail,
        }


def _merge_ties(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xs, inv = np.unique(np.round(x, 12), return_inverse=True)
    ys = np.bincount(inv, weights=y) / np.bincount(inv)
    return xs, ys


def _is_monotone(fn: Curve) -> bool:
    grid = np.linspace(0.0, 1.0, 1001)
    return bool(np.all(np.diff(fn(grid)) >= -1e-9))


def fit_mapping(
    subset: ArrayLike, full: ArrayLike, *, rmse_target: float = 0.005, tail: str = "curve"
) -> SubsetMapping:
    """Fit the mapping on (subset, full) pairs plus the fixed points (0, 0) and (1, 1)."""
    x = np.concatenate([[0.0], np.asarray(subset, dtype=float), [1.0]])
    y = np.concatenate([[0.0], np.asarray(full, dtype=float), [1.0]])
    x, y = _merge_ties(x, y)
    notes: list[str] = []
    if len(x) >= 4:
        w = np.ones_like(x)
        w[0] = w[-1] = 100.0  # pins the spline to (0, 0) and (1, 1)
        s = float(np.sum((y - y.mean()) ** 2))
        for _ in range(60):
            with warnings.catch_warnings():  # FITPACK warns when s is tiny; RMSE is checked below
                warnings.simplefilter("ignore", UserWarning)
                spl = UnivariateSpline(x, y, w=w, k=3, s=s)
            rmse = float(np.sqrt(np.mean((spl(x) - y) ** 2)))
            if rmse < rmse_target or s < 1e-14:
                break
            s *= 0.5
        if _is_monotone(spl):
            return SubsetMapping("spline", x, y, s, rmse, notes, spl, tail)
        notes.append("smoothing spline not monotone on [0, 1]; fell back to PCHIP")
    else:
        notes.append(f"only {len(x)} distinct points; PCHIP instead of a cubic spline")
    y_iso = IsotonicRegression(y_min=0.0, y_max=1.0).fit_transform(x, y)
    fn: Curve = PchipInterpolator(x, y_iso) if len(x) >= 2 else _identity
    rmse = float(np.sqrt(np.mean((y_iso - y) ** 2)))
    return SubsetMapping("pchip", x, y, None, rmse, notes, fn, tail)


def identity_mapping() -> SubsetMapping:
    return SubsetMapping("identity", np.array([0.0, 1.0]), np.array([0.0, 1.0]))
