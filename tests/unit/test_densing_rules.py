"""Capacity density and the densing law rule by rule (predictors/densing.py).

Effective sizes are checked against the closed-form inverse of the two curves (set by hand, so
no fit is involved); the densing law's numbers against statsmodels-free references: OLS slope and
intercept by the normal equations, the slope's interval from scipy's t quantile, the bootstrap
rebuilt from its recipe with np.polyfit, notes written out in full.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from predictors.densing import (
    DensingResult,
    DensityReference,
    _doubling,
    density_table,
    fit_densing_law,
    plot_densing,
    running_max,
)
from predictors.laws import LawFit
from tests.unit.test_densing import reference_family as reference_family_of

LOSS = (30.0, 0.25, 200.0, 0.25)  # a, alpha, b, beta
SCORE = (-0.7, 0.95, 5.0, 1.0)  # a, b, k, L0


def _law(name: str, params: tuple[float, ...], status: str = "ok") -> LawFit:
    return LawFit(name, ("p0", "p1", "p2", "p3"), params, status, "", 10, 0.0, 1.0)


def reference(d0: float = 1e12, metric: str = "acc", loss_ok: str = "ok") -> DensityReference:
    """A reference whose curves are set to LOSS and SCORE (as a fit of noiseless data gives)."""
    ref = DensityReference(
        reference_family="ref", benchmark="task", metric=metric, loss_benchmark="lm", d0=d0
    )
    ref.loss_fit_ = _law("densing_loss", LOSS, loss_ok)
    ref.score_fit_ = _law("sigmoid_accuracy", SCORE)
    ref.score_range_ = (0.3, 0.8)
    return ref


def n_eff(score: float, d0: float = 1e12) -> float:
    """Closed form: L = L0 - ln(1/frac - 1)/k with frac = (S - b)/a; N = ((L - b D^-beta)/a)^(-1/alpha)."""
    a_s, b_s, k, L0 = SCORE
    frac = (score - b_s) / a_s
    L = L0 - math.log(1 / frac - 1) / k
    a, alpha, b, beta = LOSS
    return ((L - b * d0**-beta) / a) ** (-1 / alpha)


# -- effective size ----------------------------------------------------------------------------


def test_effective_size_closed_form() -> None:
    ref = reference()
    got = ref.effective_size(np.array([0.5, 0.7, 0.9]))
    assert got == pytest.approx([n_eff(0.5), n_eff(0.7), n_eff(0.9)], rel=1e-12)
    other = reference(d0=1e10).effective_size(np.array([0.7]))
    assert other[0] == pytest.approx(n_eff(0.7, 1e10), rel=1e-12)


def test_effective_size_not_invertible() -> None:
    """Above the score's ceiling (0.95), and where the loss needed is below the data term
    b d0^-beta (0.2 at d0 = 1e12: S = 0.9495 needs L = -0.23), and for a failed fit: NaN."""
    ref = reference()
    got = ref.effective_size(np.array([0.96, 0.9495, 0.5]))
    assert math.isnan(got[0]) and math.isnan(got[1]) and got[2] == pytest.approx(n_eff(0.5))
    failed = reference(loss_ok="failed").effective_size(np.array([0.5, 0.7]))
    assert failed.shape == (2,) and np.isnan(failed).all()
    ref.score_fit_ = _law("sigmoid_accuracy", SCORE, "ill_conditioned")
    assert np.isnan(ref.effective_size(np.array([0.5]))).all()


def test_effective_size_of_an_error_metric() -> None:
    """metric "err": scores are 1 - accuracy before inversion."""
    got = reference(metric="err").effective_size(np.array([0.3]))
    assert got[0] == pytest.approx(n_eff(0.7), rel=1e-12)


def test_describe() -> None:
    ref = reference()
    ref.ceiling = 1.0
    assert ref.describe() == {
        "reference_family": "ref",
        "score": "task/acc",
        "loss": "lm/loss",
        "size_column": "n_params_nonembed",
        "d0": 1e12,
        "loss_fit": ref.loss_fit_.to_dict(),
        "score_fit": ref.score_fit_.to_dict(),
        "reference_score_range": [0.3, 0.8],
        "ceiling": 1.0,
    }


def test_score_bounds() -> None:
    ref = reference()
    assert ref._score_bounds() == ([-1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 100.0, 100.0])
    ref.ceiling = 0.9
    assert ref._score_bounds() == ([-1.0, 0.9 - 1e-9, 0.0, 0.0], [0.0, 0.9, 100.0, 100.0])


# -- fit ---------------------------------------------------------------------------------------


def reference_family(extra: bool = True) -> pd.DataFrame:
    """test_densing's reference family, smaller (5 sizes x 4 checkpoints: fast under mutmut)."""
    df = reference_family_of(sizes=(7e7, 1.6e8, 4e8, 1e9, 2.8e9), n_checkpoints=4)
    if extra:  # rows the fit must ignore: another family, no tokens, no size
        bad = df[df["model"] == "ref-1e+09"]
        df = pd.concat(
            [
                df,
                bad.assign(family="other", model="o", value=0.1),
                bad.assign(n_tokens=0.0, value=9.0, model="z", checkpoint_step=1),
                bad.assign(n_params_nonembed=np.nan, value=9.0, model="nan", checkpoint_step=2),
            ],
            ignore_index=True,
        )
    return df


def test_fit_recovers_the_curves_and_counts_the_score_points() -> None:
    """Noiseless curves: both fits recover their parameters; step 2 keeps the points above the
    lowest score + margin (chance None), and the range of those scores."""
    obs = reference_family()
    ref = DensityReference(reference_family="ref", benchmark="task", loss_benchmark="lm").fit(obs)
    assert ref.loss_fit_.params == pytest.approx(LOSS, rel=1e-4)
    assert ref.score_fit_.params == pytest.approx(SCORE, rel=1e-3)
    clean = reference_family(extra=False)
    S = clean.loc[clean["metric"] == "acc", "value"].to_numpy()
    keep = S.min() + 0.02 < S
    assert ref.n_score_points_ == keep.sum() and 0 < keep.sum() < len(S)
    assert ref.score_range_ == (S[keep].min(), S[keep].max())
    ch = DensityReference(
        reference_family="ref", benchmark="task", loss_benchmark="lm", chance=0.5, margin=0.1
    ).fit(clean)
    assert ch.n_score_points_ == (S > 0.6).sum() and ch.score_range_[0] == S[S > 0.6].min()
    capped = DensityReference(
        reference_family="ref", benchmark="task", loss_benchmark="lm", ceiling=0.95
    ).fit(clean)
    assert capped.score_fit_.params[1] == pytest.approx(0.95, abs=1e-9)
    # a ceiling away from the data's asymptote (0.95) binds: the fit's b sits in [1 - 1e-9, 1]
    perfect = DensityReference(
        reference_family="ref", benchmark="task", loss_benchmark="lm", ceiling=1.0
    ).fit(clean)
    assert perfect.ceiling == 1.0
    assert 1.0 - 1e-9 <= perfect.score_fit_.params[1] <= 1.0


def test_no_score_point_above_the_floor() -> None:
    ref = DensityReference(
        reference_family="ref", benchmark="task", loss_benchmark="lm", chance=0.99
    ).fit(reference_family(extra=False))
    assert ref.n_score_points_ == 0
    assert math.isnan(ref.score_range_[0]) and math.isnan(ref.score_range_[1])
    assert not ref.score_fit_.ok


# -- density table -----------------------------------------------------------------------------


def test_density_table_notes() -> None:
    ref = reference()
    models = pd.DataFrame(
        {"model": ["a", "b", "c"], "n_params": [1e9, 2e9, 1e9], "score": [0.7, 0.9, 0.97]}
    )
    t = density_table(ref, models)
    assert t["effective_size"].iloc[0] == pytest.approx(n_eff(0.7), rel=1e-12)
    assert t["density"].iloc[1] == pytest.approx(n_eff(0.9) / 2e9, rel=1e-12)
    assert t["note"].tolist() == [
        "",
        "extrapolated above reference",
        "score outside the reference curve's range",
    ]
    assert "effective_size" not in models  # a copy


# -- densing law -------------------------------------------------------------------------------

DATES = pd.to_datetime(["2023-03-01", "2022-01-15", "2023-09-10", "2024-02-01", "2024-06-20"])
DENS = [0.5, 0.4, 0.45, 1.2, 2.0]


def law_table(**cols: object) -> pd.DataFrame:
    return pd.DataFrame({"model": list("abcde"), "density": DENS, "release_date": DATES, **cols})


def test_running_max() -> None:
    p = running_max(law_table())
    assert p["model"].tolist() == ["b", "a", "c", "d", "e"]
    # the old index is dropped, not kept as a column (it would travel into to_dict's records)
    assert p.columns.tolist() == [
        "model",
        "density",
        "release_date",
        "log_density",
        "log_density_max",
    ]
    assert p.index.tolist() == [0, 1, 2, 3, 4]
    assert p["log_density"].to_numpy() == pytest.approx(np.log([0.4, 0.5, 0.45, 1.2, 2.0]))
    assert p["log_density_max"].to_numpy() == pytest.approx(np.log([0.4, 0.5, 0.5, 1.2, 2.0]))


def _ols(t: np.ndarray, y: np.ndarray, alpha: float) -> tuple[float, float, float, float, float]:
    """Slope, intercept, slope CI (t quantile, n-2 df) and R² by the normal equations."""
    tm, ym = t.mean(), y.mean()
    sxx = float(np.sum((t - tm) ** 2))
    a = float(np.sum((t - tm) * (y - ym)) / sxx)
    b = ym - a * tm
    resid = y - (b + a * t)
    se = math.sqrt(float(np.sum(resid**2)) / (len(t) - 2) / sxx)
    q = stats.t.ppf(1 - alpha / 2, len(t) - 2)
    r2 = 1 - float(np.sum(resid**2)) / float(np.sum((y - ym) ** 2))
    return a, b, a - q * se, a + q * se, r2


@pytest.mark.parametrize("alpha", [0.1, 0.3])
def test_densing_law_numbers(alpha: float) -> None:
    """Days since 2020-01-01; OLS of the running max of ln density; doubling ln 2 / A with its
    interval from the slope's ends reversed; the bootstrap over models by its recipe."""
    kwargs = {} if alpha == 0.1 else {"alpha": alpha}
    res = fit_densing_law(law_table(), {"reference_family": "r"}, n_bootstrap=20, **kwargs)
    p = running_max(law_table())
    t = (p["release_date"] - pd.Timestamp("2020-01-01")).dt.days.to_numpy(float)
    y = p["log_density_max"].to_numpy()
    a, b, lo, hi, r2 = _ols(t, y, alpha)
    assert res.slope == pytest.approx(a, rel=1e-9)
    assert res.intercept == pytest.approx(b, rel=1e-9)
    assert res.slope_interval == pytest.approx((lo, hi), rel=1e-9)
    assert res.r_squared == pytest.approx(r2, rel=1e-9)
    assert res.doubling_days == pytest.approx(math.log(2) / a, rel=1e-9)
    assert res.doubling_interval == pytest.approx((math.log(2) / hi, math.log(2) / lo), rel=1e-9)
    assert res.alpha == alpha and res.n_models == 5
    rng = np.random.default_rng(0)
    tab = law_table()
    boots = []
    for _ in range(20):
        q = running_max(tab.iloc[rng.integers(0, 5, 5)])
        tq = (q["release_date"] - pd.Timestamp("2020-01-01")).dt.days.to_numpy(float)
        if np.ptp(tq) == 0:
            continue
        boots.append(np.polyfit(tq, q["log_density_max"].to_numpy(), 1)[0])
    bq = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    assert res.bootstrap_slope_interval == pytest.approx(tuple(bq), rel=1e-9)
    assert res.notes == (
        "OLS on a running maximum: its points are not independent, so the OLS interval is too "
        "narrow; the bootstrap over models is the more honest interval",
    )
    assert res.points["model"].tolist() == ["b", "a", "c", "d", "e"]


def test_notes_dropped_flat_and_unbounded_doubling() -> None:
    """Dropped rows are counted; a flat running maximum (first model best) says there is no trend
    and has no R²; an interval reaching 0 gives an infinite doubling bound."""
    tab = pd.concat(
        [
            law_table(density=[3.0, 5.0, 1.0, 2.0, 4.0]),
            pd.DataFrame(
                {
                    "model": ["x", "y", "w"],
                    "density": [np.nan, 1.0, np.inf],
                    "release_date": [DATES[0], pd.NaT, DATES[1]],
                }
            ),
        ],
        ignore_index=True,
    )
    res = fit_densing_law(tab, {}, n_bootstrap=0)
    assert res.n_models == 5 and math.isnan(res.r_squared)
    assert res.slope == pytest.approx(0.0, abs=1e-15)
    assert res.doubling_interval[1] == math.inf
    assert math.isnan(res.bootstrap_slope_interval[0])
    assert math.isnan(res.bootstrap_slope_interval[1])
    assert res.notes == (
        "the running maximum never rises after the first model: there is no trend",
        "the slope's interval includes 0: the doubling time's upper bound is infinite",
        "OLS on a running maximum: its points are not independent, so the OLS interval is too "
        "narrow; the bootstrap over models is the more honest interval",
        "3 model(s) without a finite density or a release date left out",
    )


def test_same_day_resamples_are_skipped() -> None:
    """Three models on two dates: resamples drawing one date only have no slope and are skipped."""
    tab = pd.DataFrame(
        {
            "model": ["a", "b", "c"],
            "density": [1.0, 2.0, 3.0],
            "release_date": pd.to_datetime(["2023-01-01", "2023-01-01", "2024-01-01"]),
        }
    )
    res = fit_densing_law(tab, {}, n_bootstrap=30, random_state=2)
    rng = np.random.default_rng(2)
    boots = []
    for _ in range(30):
        q = running_max(tab.iloc[rng.integers(0, 3, 3)])
        tq = (q["release_date"] - pd.Timestamp("2020-01-01")).dt.days.to_numpy(float)
        if np.ptp(tq) > 0:
            boots.append(np.polyfit(tq, q["log_density_max"].to_numpy(), 1)[0])
    assert 0 < len(boots) < 30
    assert res.bootstrap_slope_interval == pytest.approx(
        tuple(np.quantile(boots, [0.05, 0.95])), rel=1e-9
    )


def test_too_few_dated_models() -> None:
    tab = law_table()
    tab.loc[2:, "release_date"] = pd.NaT
    with pytest.raises(
        ValueError,
        match=r"^densing law needs at least 3 models with a density and a date, have 2$",
    ):
        fit_densing_law(tab, {})


# -- result: dict, summary, plot ---------------------------------------------------------------


def _result() -> DensingResult:
    return DensingResult(
        reference={"reference_family": "ref", "score": "task/acc", "loss": "lm/loss"},
        slope=0.00123,
        slope_interval=(0.001, 0.0015),
        intercept=-0.5,
        r_squared=0.875,
        doubling_days=563.5,
        doubling_interval=(462.1, 693.1),
        bootstrap_slope_interval=(0.0009, 0.0016),
        alpha=0.1,
        n_models=4,
        points=running_max(law_table().iloc[:4]),
        notes=("first note", "second"),
    )


def test_to_dict() -> None:
    d = _result().to_dict()
    assert d["slope_per_day"] == 0.00123 and d["intercept"] == -0.5 and d["r_squared"] == 0.875
    assert d["slope_interval"] == [0.001, 0.0015]
    assert d["doubling_days"] == 563.5 and d["doubling_interval"] == [462.1, 693.1]
    assert d["bootstrap_slope_interval"] == [0.0009, 0.0016]
    assert d["alpha"] == 0.1 and d["n_models"] == 4 and d["notes"] == ["first note", "second"]
    assert d["reference"]["reference_family"] == "ref"
    assert [m["model"] for m in d["models"]] == ["b", "a", "c", "d"]
    assert d["models"][0]["release_date"] == "2022-01-15"
    assert d["models"][3]["density"] == 1.2


def test_summary() -> None:
    assert _result().summary().splitlines() == [
        "densing law, reference family ref (score task/acc, loss lm/loss), 4 models",
        "  slope A = 0.00123/day  90% CI [0.00100, 0.00150]  bootstrap [0.00090, 0.00160]",
        "  R² 0.875; doubling time 564 days [462, 693]",
        "  [1] first note",
        "  [2] second",
    ]


def test_plot() -> None:
    """Models as points, the running max as a step line, the law as a dashed line over 50 days
    from the first release to the last, labels naming the slope and reference."""
    res = _result()
    ax = plot_densing(res).axes[0]
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "density relative to ref"
    assert ax.get_xlabel() == "release date"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["models", "running max", "ln ρ_max = 0.0012·t + c (doubling 564 d)"]
    law = ax.get_lines()[1]
    days = np.linspace(
        (DATES[1] - pd.Timestamp("2020-01-01")).days,
        (DATES[3] - pd.Timestamp("2020-01-01")).days,
        50,
    )
    assert law.get_ydata() == pytest.approx(np.exp(-0.5 + 0.00123 * days), rel=1e-12)
    assert law.get_linestyle() == "--" and law.get_color() == "r"
    step = ax.get_lines()[0]
    assert np.asarray(step.get_ydata()) == pytest.approx([0.4, 0.5, 0.5, 1.2], rel=1e-12)
    assert [t.get_text() for t in ax.texts] == ["b", "a", "c", "d"]


def test_doubling_of_a_flat_or_falling_slope_is_infinite() -> None:
    assert _doubling(0.0) == math.inf and _doubling(-0.01) == math.inf
    assert _doubling(0.002) == pytest.approx(math.log(2) / 0.002, rel=1e-15)


def test_notes_read_scores_in_the_reference_metric() -> None:
    """An error-metric reference compares 1 - score with its range (0.3, 0.8); a score at the
    top of the range is not an extrapolation."""
    ref = reference(metric="err")
    t = density_table(ref, pd.DataFrame({"n_params": [1e9, 1e9], "score": [0.1, 0.2]}))
    assert t["note"].tolist() == ["extrapolated above reference", ""]
    top = density_table(reference(), pd.DataFrame({"n_params": [1e9], "score": [0.8]}))
    assert top["note"].tolist() == [""]


def test_string_dates_and_the_reference_travel() -> None:
    tab = law_table(release_date=[d.strftime("%Y-%m-%d") for d in DATES])
    res = fit_densing_law(tab, {"reference_family": "r"}, n_bootstrap=0)
    ref = fit_densing_law(law_table(), {"reference_family": "r"}, n_bootstrap=0)
    assert res.slope == ref.slope and res.reference == {"reference_family": "r"}


def test_non_invertible_sizes_raise_no_warning() -> None:
    """A loss exponent whose -1/alpha is not an integer: a negative base is NaN, silently."""
    ref = reference()
    ref.loss_fit_ = _law("densing_loss", (30.0, 0.3, 200.0, 0.25))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ref.effective_size(np.array([0.9495]))
    assert math.isnan(got[0])


def test_plot_style() -> None:
    """Sizes and styles of the figure's parts, and the law's x: days after 2020-01-01."""
    fig = plot_densing(_result())
    assert tuple(fig.get_size_inches()) == (8.0, 5.0)
    ax = fig.axes[0]
    dots = ax.collections[0]
    assert dots.get_sizes().tolist() == [14.0] and dots.get_alpha() == 0.6
    step, law = ax.get_lines()[:2]
    assert step.get_color() == "k" and step.get_linewidth() == 1.0
    assert step.get_drawstyle() == "steps-post"
    x0 = mdates.date2num(DATES[1].to_pydatetime())
    assert mdates.date2num(law.get_xdata()[0]) == pytest.approx(x0, abs=1e-9)
    assert len(law.get_xdata()) == 50
    assert [(t.get_fontsize(), t.get_alpha()) for t in ax.texts[:1]] == [(5.0, 0.7)]
    assert ax.get_legend().get_texts()[0].get_fontsize() == 7.0


# -- fit: inputs, messages, counts, boxes ------------------------------------------------------


def small_family() -> pd.DataFrame:
    """3 sizes x 3 checkpoints of the noiseless reference family: 9 (loss, score) pairs."""
    return reference_family_of(sizes=(7e7, 4e8, 2.8e9), n_checkpoints=3)


def _fit(obs: pd.DataFrame, **kw: Any) -> DensityReference:
    kw = {"reference_family": "ref", "benchmark": "task", "loss_benchmark": "lm", **kw}
    return DensityReference(**kw).fit(obs)


def test_defaults() -> None:
    """The documented defaults (d0 = 1e12 tokens, margin 0.02, fitted ceiling)."""
    ref = DensityReference(reference_family="r", benchmark="b", loss_benchmark="l")
    assert ref.get_params() == {
        "reference_family": "r",
        "benchmark": "b",
        "metric": "acc",
        "loss_benchmark": "l",
        "loss_metric": "loss",
        "size_column": "n_params_nonembed",
        "d0": 1e12,
        "chance": None,
        "margin": 0.02,
        "ceiling": None,
    }


def test_missing_rows_are_named() -> None:
    """Each error names the step and what is missing."""
    obs = small_family()
    with pytest.raises(ValueError, match=r"^DensityReference: no rows of reference family 'x'$"):
        _fit(obs, reference_family="x")
    with pytest.raises(
        ValueError, match=r"^DensityReference\.fit: no rows with benchmark='x' metric='loss'; "
    ):
        _fit(obs, loss_benchmark="x")
    with pytest.raises(
        ValueError, match=r"^DensityReference\.fit: no rows with benchmark='x' metric='acc'; "
    ):
        _fit(obs, benchmark="x")


def test_perplexity_loss_and_error_score() -> None:
    """A loss given as perplexity is fitted as ln ppl and a score given as error as 1 - err: the
    same curves as the loss/acc family come back."""
    obs = small_family()
    loss, acc = obs["metric"] == "loss", obs["metric"] == "acc"
    obs.loc[loss, "value"] = np.exp(obs.loc[loss, "value"])
    obs.loc[loss, "metric"] = "ppl"
    obs.loc[acc, "value"] = 1.0 - obs.loc[acc, "value"]
    obs.loc[acc, "metric"] = "err"
    ref = _fit(obs, loss_metric="ppl", metric="err", chance=0.0, margin=0.0)
    assert ref.loss_fit_.params == pytest.approx(LOSS, rel=1e-4)
    assert ref.score_fit_.params == pytest.approx(SCORE, rel=1e-3)
    assert ref.n_score_points_ == 9


def test_score_points_strictly_above_the_floor_and_any_positive_token_count() -> None:
    """Margin 0 and chance None: the floor is the lowest score, which is left out (strictly
    above), 8 of 9. A checkpoint at 1 token (> 0) is a point like any other: with chance 0 every
    one of the 10 pairs is kept."""
    obs = small_family()
    assert _fit(obs, margin=0.0).n_score_points_ == 8
    row = obs[(obs["model"] == "ref-7e+07") & (obs["metric"] == "loss")].iloc[[0]]
    one = row.assign(n_tokens=1.0, checkpoint_step=0)
    L = 30.0 * 7e7**-0.25 + 200.0  # densing_loss at N = 7e7, D = 1
    S = -0.7 / (1.0 + math.exp(-5.0 * (L - 1.0))) + 0.95
    extra = pd.concat([one.assign(value=L), one.assign(benchmark="task", metric="acc", value=S)])
    ref = _fit(pd.concat([obs, extra], ignore_index=True), chance=0.0, margin=0.0)
    assert ref.n_score_points_ == 10
    assert ref.loss_fit_.params == pytest.approx(LOSS, rel=1e-4)


def test_fit_boxes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loss fit's box keeps both coefficients non-negative (up to 1e8) and both exponents in
    [0, 3]; the score fit gets _score_bounds' box."""
    import predictors.densing as densing

    seen: dict[str, object] = {}
    real = densing.fit_law

    def spy(func: Any, x: Any, y: Any, **kw: Any) -> Any:
        seen[func.__name__] = kw["bounds"]
        return real(func, x, y, **kw)

    monkeypatch.setattr(densing, "fit_law", spy)
    ref = _fit(small_family())
    assert seen["densing_loss"] == ([0, 0, 0, 0], [1e8, 3, 1e8, 3])
    assert seen["sigmoid_accuracy"] == ([-1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 100.0, 100.0])
    assert ref.loss_fit_.ok and ref.score_fit_.ok


def test_effective_size_where_the_loss_needed_is_exactly_the_data_term() -> None:
    """Curves with exact arithmetic: S = 1 - 0.5 / (1 + exp(-5 (L - 1))) and L = 30 N^-0.25 + 1
    (beta = 0). S = 0.75 needs L = 1 exactly, which the data term alone gives: rest = 0, no size
    reaches it (NaN, not the infinity 0^-4 is), and silently. S = 0.7 needs
    L = 1 - ln(2/3)/5, so N = ((L - 1) / 30)^-4."""
    ref = reference()
    ref.loss_fit_ = _law("densing_loss", (30.0, 0.25, 1.0, 0.0))
    ref.score_fit_ = _law("sigmoid_accuracy", (-0.5, 1.0, 5.0, 1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ref.effective_size(np.array([0.75, 0.7]))
    assert math.isnan(got[0])
    assert got[1] == pytest.approx((-math.log(2 / 3) / 5 / 30) ** -4, rel=1e-12)


def test_a_zero_width_interval_at_zero_includes_zero() -> None:
    """Three models of density 1: ln density is exactly 0, so the slope and both ends of its
    interval are exactly 0, and an interval [0, 0] includes 0."""
    tab = law_table().iloc[:3].assign(density=1.0)
    res = fit_densing_law(tab, {}, n_bootstrap=0)
    assert res.slope == 0.0 and res.slope_interval == (0.0, 0.0)
    assert res.doubling_interval == (math.inf, math.inf)
    assert res.notes[:2] == (
        "the running maximum never rises after the first model: there is no trend",
        "the slope's interval includes 0: the doubling time's upper bound is infinite",
    )


def test_default_bootstrap_draws_1000_resamples(monkeypatch: pytest.MonkeyPatch) -> None:
    """running_max runs once for the fit and once per resample: 1 + 1000 calls by default (the
    resamples get the fit's frame back here, to keep the test fast)."""
    import predictors.densing as densing

    calls: list[int] = []
    first = running_max(law_table())

    def counting(points: pd.DataFrame) -> pd.DataFrame:
        calls.append(len(points))
        return first

    monkeypatch.setattr(densing, "running_max", counting)
    res = fit_densing_law(law_table(), {})
    assert calls == [5] * 1001
    assert res.bootstrap_slope_interval == pytest.approx((res.slope, res.slope), rel=1e-9)
