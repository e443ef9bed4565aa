"""The numerical pieces of observational scaling, each against a closed form or a reference.

Small exact inputs, so that each number a mutant could change (a sign, a scale, a bound) shows:
PCA against scikit-learn's, the link and its Jacobian against hand arithmetic and central
differences, the link fit against noise-free data and against bounds that must bind.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.decomposition import PCA

from predictors.observational_fit import _link_jac, fit_link, fit_offsets, fit_space, link

#: Five models, three base benchmarks, one score missing (row 2, column 1).
BASE = np.array(
    [
        [0.30, 0.50, 0.20],
        [0.40, 0.45, 0.35],
        [0.50, np.nan, 0.30],
        [0.65, 0.70, 0.55],
        [0.70, 0.62, 0.60],
    ]
)


def _mean_filled() -> np.ndarray:
    """BASE with its missing score replaced by the mean of the column's four others."""
    filled = BASE.copy()
    filled[2, 1] = (0.50 + 0.45 + 0.70 + 0.62) / 4
    return filled


@pytest.mark.parametrize("standardize", [False, True])
def test_space_matches_sklearn_pca_of_the_filled_scores(standardize: bool) -> None:
    """Mean imputation, centring, optional unit variance, then PCA: scikit-learn's components up
    to sign, each sign chosen so the loadings sum > 0, and its explained-variance shares."""
    space = fit_space(BASE, "mean", standardize, seed=0)
    filled = _mean_filled()
    scale = filled.std(axis=0) if standardize else np.ones(3)
    z = (filled - filled.mean(axis=0)) / scale
    pca = PCA(n_components=3).fit(z)
    ref = pca.components_ * np.where(pca.components_.sum(axis=1) < 0, -1.0, 1.0)[:, None]
    assert np.allclose(space.mean, filled.mean(axis=0), atol=1e-15)
    assert np.allclose(space.scale, scale, atol=1e-15)
    assert np.allclose(space.axes, ref, atol=1e-10)
    assert np.allclose(space.explained, pca.explained_variance_ratio_, atol=1e-12)
    # A new model with a missing score gets the training mean there, then the same projection.
    new = np.array([[0.55, np.nan, 0.40]])
    row = (np.array([0.55, filled[:, 1].mean(), 0.40]) - filled.mean(axis=0)) / scale
    assert np.allclose(space.transform(new, 2), row @ ref[:2].T, atol=1e-12)
    assert np.allclose(
        space.transform(BASE, 3),
        pca.transform(z) * np.sign(ref[:, 0] / pca.components_[:, 0]),
        atol=1e-10,
    )


def test_perfectly_correlated_scores_have_one_axis() -> None:
    """y = 2x exactly: the first axis is (1, 2) / sqrt(5) unscaled, (1, 1) / sqrt(2) scaled,
    with all of the variance; the second axis carries none."""
    x = np.array([0.1, 0.2, 0.4, 0.7])
    base = np.column_stack([x, 2 * x])
    raw = fit_space(base, "mean", False, 0)
    assert np.allclose(raw.axes[0], np.array([1.0, 2.0]) / math.sqrt(5), atol=1e-12)
    assert np.allclose(raw.explained, [1.0, 0.0], atol=1e-12)
    scaled = fit_space(base, "mean", True, 0)
    assert np.allclose(scaled.axes[0], np.array([1.0, 1.0]) / math.sqrt(2), atol=1e-12)
    # Capability of x = 0.5 (y = 1.0): its distance along the axis from the mean (0.35, 0.70).
    got = raw.transform(np.array([[0.5, 1.0]]), 1)
    assert got[0, 0] == pytest.approx(0.15 * math.sqrt(5), abs=1e-12)


def test_signs_make_every_axis_load_positively() -> None:
    """Scores that fall as capability rises on the first axis still get loadings summing > 0."""
    x = np.array([0.1, 0.3, 0.5, 0.9])
    base = np.column_stack([1 - x, 0.8 - 0.5 * x, np.full(4, 0.3)])
    space = fit_space(base, "mean", False, 0)
    assert np.all(space.axes.sum(axis=1) >= 0)
    # All variance lies along (-1, -0.5, 0): the first axis is that direction with the sign
    # that makes its loadings sum > 0.
    assert np.allclose(space.axes[0], np.array([1.0, 0.5, 0.0]) / math.sqrt(1.25), atol=1e-12)


def test_constant_and_empty_columns() -> None:
    """A constant column keeps scale 1 (not 0) when standardising, so a new model's differing
    score there moves its capability by the raw difference; an all-missing column is kept (0)."""
    base = np.array([[0.2, 0.5, np.nan], [0.4, 0.5, np.nan], [0.9, 0.5, np.nan]])
    space = fit_space(base, "mean", True, 0)
    assert np.allclose(space.scale, [np.std([0.2, 0.4, 0.9]), 1.0, 1.0], atol=1e-15)
    assert np.allclose(space.mean, [0.5, 0.5, 0.0], atol=1e-15)
    assert space.axes.shape == (3, 3)
    shifted = space.transform(np.array([[0.5, 0.7, np.nan]]), 3)
    # All variance is on column 0: the axes are unit vectors, so the capability of this model is
    # its per-column z score, (0, 0.2 / 1.0, 0) in some order of the last two axes.
    assert sorted(np.abs(shifted[0]).round(12)) == [0.0, 0.0, 0.2]
    it = fit_space(base, "iterative", True, 0)
    assert np.allclose(it.mean, [0.5, 0.5, 0.0], atol=1e-12)


def test_constant_scores_explain_nothing() -> None:
    """Every model scores the same: no variance, explained shares 0 (not 0/0)."""
    space = fit_space(np.full((4, 2), 0.3), "mean", False, 0)
    assert np.array_equal(space.explained, [0.0, 0.0])


def test_fewer_models_than_benchmarks_pads_explained_with_zero() -> None:
    """Two models, three benchmarks: one non-zero singular value; the rest explain nothing."""
    space = fit_space(np.array([[0.1, 0.2, 0.3], [0.3, 0.2, 0.7]]), "mean", False, 0)
    assert np.allclose(space.explained, [1.0, 0.0, 0.0], atol=1e-12)
    assert np.allclose(space.axes[0], np.array([0.2, 0.0, 0.4]) / math.sqrt(0.2), atol=1e-12)


def test_iterative_imputer_uses_the_other_benchmarks() -> None:
    """Column 1 is exactly 2 x column 0: the iterative imputer regresses the missing score on
    the other column (about 2 x 0.3 = 0.6), the mean imputer fills the column's mean (1.1)."""
    x = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    base = np.column_stack([x, 2 * x])
    base[1, 1] = np.nan
    it = fit_space(base, "iterative", False, 0)
    mean = fit_space(base, "mean", False, 0)
    filled_it = it.imputer.transform(base)[1, 1]
    assert filled_it == pytest.approx(0.6, abs=0.01)
    assert mean.imputer.transform(base)[1, 1] == pytest.approx((0.2 + 1.0 + 1.4 + 1.8) / 4)
    assert it.mean[1] == pytest.approx((0.2 + filled_it + 1.0 + 1.4 + 1.8) / 5)


def test_link_closed_form_and_its_clip() -> None:
    """floor + (ceiling - floor) / (1 + exp(-(a + s . beta))), z clipped to [-50, 50]."""
    s = np.array([[0.0, 1.0], [1.0, -1.0], [-2.0, 0.5]])
    p = np.array([0.1, 0.9, 0.5, 2.0, -1.0])
    want = [0.1 + 0.8 / (1 + math.exp(-(0.5 + 2 * a - b))) for a, b in s]
    assert np.allclose(link(s, p), want, rtol=0, atol=1e-15)
    # z = -1000 is clipped to -50: exactly 1 / (1 + e^50) above the floor, not 0.
    far = link(np.array([[-1000.0]]), np.array([0.0, 1.0, 0.0, 1.0]))
    assert far[0] == pytest.approx(1 / (1 + math.exp(50)), rel=1e-12, abs=0)
    assert far[0] > 0


def test_link_jacobian_matches_central_differences() -> None:
    """Each column of the analytic Jacobian against (f(p + h) - f(p - h)) / 2h."""
    s = np.array([[0.3, -0.2], [-1.0, 0.4], [1.5, 1.0], [0.0, 0.0]])
    p = np.array([0.15, 0.85, -0.2, 1.3, -0.7])
    jac = _link_jac(s, p)
    h = 1e-6
    num = np.column_stack(
        [(link(s, p + h * e) - link(s, p - h * e)) / (2 * h) for e in np.eye(len(p))]
    )
    assert jac.shape == (4, 5)
    assert np.allclose(jac, num, rtol=0, atol=1e-8)
    # Past the clip the sigmoid is held at 1 / (1 + e^50): d/d ceiling is that, not 0.
    far = _link_jac(np.array([[-1000.0]]), np.array([0.0, 1.0, 0.0, 1.0]))
    assert far[0, 1] == pytest.approx(1 / (1 + math.exp(50)), rel=1e-12, abs=0)


#: Noise-free data from a two-component link whose ends (0.2, 0.9) lie outside the scores.
TRUTH = np.array([0.2, 0.9, 0.3, 1.5, -0.8])
_G = np.linspace(-2.0, 2.0, 5)
S2 = np.array([[a, b] for a in _G for b in _G[::2]])
Y2 = link(S2, TRUTH)


def test_link_fit_recovers_noise_free_parameters() -> None:
    """Fitted floor and ceiling inside their bounds ([0, min y], [max y, 1]) land on the truth,
    from the linear-logit start and from a refit's start."""
    got = fit_link(S2, Y2, None, None)
    assert np.allclose(got, TRUTH, atol=1e-6)
    again = fit_link(S2, Y2, None, None, start=TRUTH + np.array([0.01, -0.02, 0.1, 0.1, 0.1]))
    assert np.allclose(again, TRUTH, atol=1e-6)


def test_fixed_ends_hold_within_a_millionth() -> None:
    """A fixed floor and ceiling other than the truth's bind: within 1e-6 of what was given;
    a refit's start outside those bounds is moved inside first."""
    got = fit_link(S2, Y2, 0.25, 0.8)
    assert abs(got[0] - 0.25) <= 1e-6 and abs(got[1] - 0.8) <= 1e-6
    # the remaining parameters fit the data better than the truth's slopes with these ends
    cost = np.sum((link(S2, got) - Y2) ** 2)
    assert cost < np.sum((link(S2, np.r_[0.25, 0.8, TRUTH[2:]]) - Y2) ** 2)
    moved = fit_link(S2, Y2, 0.25, 0.8, start=np.array([0.0, 1.0, 0.3, 1.5, -0.8]))
    assert np.allclose(moved, got, atol=1e-5)


def test_free_ends_bind_at_their_bounds() -> None:
    """Scores from a sigmoid whose ends lie beyond the allowed ones: the fitted end goes to its
    bound, min(0, min y) for the floor and max(1, max y) for the ceiling."""
    s = np.linspace(-1.0, 1.0, 9)[:, None]
    # floor -0.1 (scores 0.14 to 0.69): the floor wants to go below 0 and stops there
    low = fit_link(s, link(s, np.array([-0.1, 0.8, 0.5, 1.5])), None, None)
    assert low[0] == pytest.approx(0.0, abs=1e-9) and low[1] > 0.7
    # ceiling 1.3 (scores 0.20 to 0.90): the ceiling wants to go above 1 and stops there
    high = fit_link(s, link(s, np.array([-0.2, 1.3, 0.0, 1.0])), None, None)
    assert high[1] == pytest.approx(1.0, abs=1e-9) and 0.0 < high[0] < 0.2
    # Scores below 0 and above 1 (a score sense that leaves [0, 1]): the ends pinned within a
    # millionth of min y and max y.
    wide_y = link(s, np.array([-0.4, 1.4, 0.3, 1.2]))  # from 0.12 to 1.07
    wide = fit_link(s, wide_y, None, None)
    assert wide_y.max() <= wide[1] <= wide_y.max() + 1e-6
    neg_y = link(s, np.array([-0.3, 0.8, 0.0, 1.5]))  # from -0.10 to 0.60
    neg = fit_link(s, neg_y, None, None)
    assert neg_y.min() <= neg[0] <= neg_y.min() + 1e-6


def test_floor_at_zero_scores_has_room_above_zero() -> None:
    """A lowest score of exactly 0: the floor's bounds are [0, 1e-6], not empty."""
    s = np.linspace(-1.0, 1.0, 9)[:, None]
    y = link(s, np.array([-0.2, 0.9, 0.0, 1.5]))
    y = y - y.min()  # 0 to 0.70
    got = fit_link(s, y, None, None)
    assert 0.0 <= got[0] <= 1e-6


def test_slopes_bounded_for_separable_scores() -> None:
    """A step in the scores: the slope stops at MAX_LINK_SLOPE (50), the intercept inside 200."""
    s = np.array([[-1.0], [-0.5], [-0.1], [0.1], [0.5], [1.0]])
    y = np.array([0.2, 0.2, 0.2, 0.9, 0.9, 0.9])
    got = fit_link(s, y, 0.2, 0.9)
    assert got[3] == pytest.approx(50.0, abs=1e-3)
    assert abs(got[2]) < 1.0  # the step sits between -0.1 and 0.1: intercept ~ 0


def test_intercept_bounded_at_four_slopes() -> None:
    """Separable scores whose step lies at |s| = 5: the sharpest step is best, so the intercept
    goes to its bound, 4 x 50 (with the sign of the step), and the slope centres the step
    midway between 4.9 and 5.1: 200 / 5 = 40 (a slope of 50 would put it at 4)."""
    y = np.array([0.2, 0.2, 0.9, 0.9])
    up = fit_link(np.array([[4.0], [4.9], [5.1], [6.0]]), y, 0.2, 0.9)
    assert up[2] == pytest.approx(-200.0, abs=1e-3) and up[3] == pytest.approx(40.0, abs=1e-2)
    down = fit_link(np.array([[-6.0], [-5.1], [-4.9], [-4.0]]), y, 0.2, 0.9)
    assert down[2] == pytest.approx(200.0, abs=1e-3) and down[3] == pytest.approx(40.0, abs=1e-2)


def test_floor_cannot_pass_the_lowest_score() -> None:
    """One score far below the rest: the floor wants to rise to the others' floor (0.3) and
    stops at the lowest score, its upper bound, exactly (not a millionth above)."""
    s = np.linspace(-1.0, 1.0, 9)[:, None]
    y = link(s, np.array([0.3, 0.9, 0.0, 2.0]))
    y[4] = 0.05
    got = fit_link(s, y, None, None)
    assert got[0] == pytest.approx(0.05, abs=1e-9)


def test_offsets_recover_a_shared_slope_and_family_offsets() -> None:
    """Capability = slope x log10 C + offset of the family, exactly: least squares recovers it."""
    log_c = np.array([20.0, 21.0, 22.0, 20.5, 21.5, 21.0])
    family = np.array(["b", "b", "b", "a", "a", "c"])
    slopes = np.array([0.8, -0.3])
    offs = {"a": np.array([-16.0, 6.0]), "b": np.array([-16.5, 6.2]), "c": np.array([-15.0, 5.5])}
    s = log_c[:, None] * slopes[None, :] + np.array([offs[f] for f in family])
    got_slopes, got_offs = fit_offsets(s, log_c, family, ["a", "b", "c"])
    assert np.allclose(got_slopes, slopes, atol=1e-9)
    assert np.allclose(got_offs, np.array([offs["a"], offs["b"], offs["c"]]), atol=1e-8)
