"""GadreChain rule by rule: documented defaults and parameter ranges, which rows each law fits
(final checkpoints, filters and their refusals), the bootstrap's two resampling schemes on hand
numbers, and a noiseless chain whose laws, diagnostics and compute fraction are known in closed
form (``L = 50 N^-0.2 + 80 6^-0.1 (N M)^-0.2 + 1.8``, ``Err = 0.9 - 1.5 e^(-0.5 L)``).
"""

from __future__ import annotations

import ast
import dataclasses
import math
import re

import numpy as np
import pandas as pd
import pytest

from predictors.base import MAX_BOOTSTRAP
from predictors.contracts import InputContract
from predictors.filters import FilterError, parse_filter
from predictors.laws import LawFit, gadre_error, gadre_loss
from predictors.loss_accuracy import GadreChain

LOSS_P = (50.0, 80.0, -0.2, 1.8)
ERR_P = (1.5, 0.5, 0.9)
N = np.repeat([1e7, 3e7, 1e8, 3e8, 6e8], 3)
M = np.tile([20.0, 80.0, 320.0], 5)


def chain_obs(loss_shift: np.ndarray | None = None) -> pd.DataFrame:
    """One final checkpoint per model: the loss (``loss_shift`` added to the measured one only)
    and the task error of the true loss."""
    loss = gadre_loss((N, M), *LOSS_P)
    err = gadre_error(loss, *ERR_P)
    measured = loss + (0.0 if loss_shift is None else loss_shift)
    rows = []
    for i in range(N.size):
        base = dict(model=f"m{i}", n_params=N[i], n_tokens=N[i] * M[i], checkpoint_step=1)
        rows += [
            {**base, "benchmark": "c4_val", "metric": "loss", "value": measured[i]},
            {**base, "benchmark": "avg", "metric": "err", "value": err[i]},
        ]
    return pd.DataFrame(rows)


FIT_FLOPS = float(np.sum(6 * N * N * M))

# -- parameters ------------------------------------------------------------------------------


def _documented_defaults() -> dict[str, object]:
    """``names : type, default=VALUES`` lines of the class docstring (one value per name)."""
    out: dict[str, object] = {}
    doc = GadreChain.__doc__ or ""
    for names, value in re.findall(r"^\s{4}([\w, ]+) : .*default=(.+)$", doc, flags=re.M):
        keys = names.split(", ")
        # the docstring's literals: "avg17", 0.1, or "c4_val", "loss"
        values = ast.literal_eval(value)
        out |= dict(zip(keys, values, strict=True)) if len(keys) > 1 else {keys[0]: values}
    return out


def test_defaults_are_the_documented_ones() -> None:
    doc = _documented_defaults()
    assert len(doc) == 10  # all but the two filters, whose default None is in the prose
    assert GadreChain().get_params() == {**doc, "loss_fit": None, "error_fit": None}


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [
        ("alpha", 1.5, "alpha=1.5 outside [0.0, 1.0]"),
        ("alpha", -0.1, "alpha=-0.1 outside [0.0, 1.0]"),
        ("n_bootstrap", -1, f"n_bootstrap=-1 outside [0, {MAX_BOOTSTRAP}]"),
        ("n_bootstrap", MAX_BOOTSTRAP + 1, f"n_bootstrap={MAX_BOOTSTRAP + 1} outside"),
        ("bootstrap", "wild", "bootstrap='wild'; allowed: ('pairs', 'residuals')"),
        ("checkpoints", "last", "checkpoints='last'; allowed: ('final', 'all')"),
    ],
)
def test_parameter_ranges_are_checked_first(param: str, value: object, message: str) -> None:
    est = GadreChain().set_params(**{param: value})
    with pytest.raises(ValueError, match=re.escape(f"GadreChain: {message}")):
        est.fit(pd.DataFrame())


def test_input_contract() -> None:
    assert GadreChain(benchmark="avg", loss_metric="ppl").input_contract() == InputContract(
        size=("n_params", "n_params_nonembed"),
        columns=("n_tokens",),
        series=(("c4_val", "ppl"), ("avg", "err")),
    )


# -- which rows each law fits ----------------------------------------------------------------


def test_final_or_all_checkpoints() -> None:
    obs = chain_obs()
    early = obs.assign(checkpoint_step=0, value=obs["value"] + 0.5)  # off-law early checkpoints
    both = pd.concat([early, obs], ignore_index=True)
    final = GadreChain(benchmark="avg", n_bootstrap=0).fit(both)
    assert final.n_fit_points_ == (15, 15)
    assert list(final.loss_fit_.params) == pytest.approx(LOSS_P, rel=1e-3)
    every = GadreChain(benchmark="avg", checkpoints="all", n_bootstrap=0).fit(both)
    assert every.n_fit_points_ == (30, 30)  # each error row met its own checkpoint's loss


def test_filters_choose_points_and_refusals_name_the_filter() -> None:
    obs = chain_obs()
    est = GadreChain(
        benchmark="avg",
        loss_fit=parse_filter("n_params < 2e8"),
        error_fit=parse_filter("n_params > 2e7"),
        n_bootstrap=0,
    ).fit(obs)
    assert est.n_fit_points_ == (9, 12)
    assert est.fit_flops_ == pytest.approx(FIT_FLOPS, rel=1e-12)  # the union is every model
    empty = GadreChain(benchmark="avg", error_fit=parse_filter("n_params > 1e12"))
    with pytest.raises(ValueError) as info:
        empty.fit(obs)
    assert str(info.value) == "GadreChain.fit: filter 'n_params > 1e12' keeps no avg/err rows"
    lacking = GadreChain(benchmark="avg", loss_fit=parse_filter("family == 'x'"))
    with pytest.raises(
        FilterError,
        match=r"^GadreChain\.loss_fit: filter \"family == 'x'\" names column\(s\) \['family'\]",
    ):
        lacking.fit(obs)


# -- the bootstrap's pieces ------------------------------------------------------------------


def _law_fit(residuals: tuple[float, ...], n_params: int) -> LawFit:
    names = tuple(f"p{i}" for i in range(n_params))
    return LawFit("law", names, (1.0,) * n_params, "ok", "", len(residuals), 0.0, 1.0, residuals)


def test_residual_draws_are_inflated_for_the_fitted_parameters() -> None:
    est = GadreChain(bootstrap="residuals")
    rng = np.random.default_rng(0)
    # 4 residuals, 3 parameters: inflation sqrt(4 / 1) = 2
    d = est._draw(4, _law_fit((1.0, -1.0, 2.0, -2.0), 3), rng)
    assert d.shape == (4,) and set(d.tolist()) <= {2.0, -2.0, 4.0, -4.0}
    # as many residuals as parameters: n - p = 0 is floored at 1, inflation sqrt(3)
    d3 = est._draw(3, _law_fit((1.0, -1.0, 0.5), 3), rng)
    s3 = math.sqrt(3)
    assert set(d3.tolist()) <= {s3, -s3, 0.5 * s3}
    many = est._draw(200, _law_fit((1.0,) * 100 + (-1.0,) * 100, 1), rng)
    assert set(many.tolist()) == {math.sqrt(200 / 199), -math.sqrt(200 / 199)}
    pairs = GadreChain()._draw(5, _law_fit((0.0,) * 5, 3), rng)
    assert pairs.dtype.kind == "i" and set(pairs.tolist()) <= set(range(5))


def test_resampled_inputs_for_both_schemes() -> None:
    fit = _law_fit((0.1, -0.2), 1)
    y, x = np.array([1.0, 2.0]), np.array([10.0, 20.0])
    draws = np.array([[0.5, 0.5], [0.0, -1.0]])
    rx, ry = GadreChain(bootstrap="residuals")._resampled(x, y, fit, draws)
    assert rx is x  # the inputs stay; fitted values (y + residual) plus the drawn noise
    assert np.allclose(ry, [[1.6, 2.3], [1.1, 0.8]], rtol=0, atol=1e-12)
    idx = np.array([[1, 1], [0, 1]])
    px, py = GadreChain()._resampled((x, x + 1), y, fit, idx)
    assert [v.tolist() for v in px] == [[[20.0, 20.0], [10.0, 20.0]], [[21.0, 21.0], [11.0, 21.0]]]
    assert py.tolist() == [[2.0, 2.0], [1.0, 2.0]]
    rows = np.array([[10.0, 20.0], [30.0, 40.0]])  # one row of x per resample already
    qx, _ = GadreChain()._resampled(rows, y, fit, idx)
    assert qx.tolist() == [[20.0, 20.0], [30.0, 40.0]]


# -- a noiseless chain -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def exact() -> GadreChain:
    return GadreChain(benchmark="avg", n_bootstrap=6).fit(chain_obs())


def test_a_noiseless_chain_recovers_both_laws(exact: GadreChain) -> None:
    assert list(exact.loss_fit_.params) == pytest.approx(LOSS_P, rel=1e-3)
    assert list(exact.error_fit_.params) == pytest.approx(ERR_P, rel=1e-3)
    assert exact.n_fit_points_ == (15, 15)
    assert exact.fit_flops_ == pytest.approx(FIT_FLOPS, rel=1e-12)


def test_the_chain_its_diagnostics_and_a_tight_interval(exact: GadreChain) -> None:
    t = pd.DataFrame({"model": ["big", "mid"], "n_params": [7e9, 1e9], "n_tokens": [1.4e11, 4e10]})
    f, g = exact.predict(t)
    loss = gadre_loss((7e9, 20.0), *LOSS_P)
    assert f.diagnostics["predicted_loss"] == pytest.approx(loss, rel=1e-5)
    assert f.point == pytest.approx(gadre_error(loss, *ERR_P), abs=1e-5)
    assert g.point == pytest.approx(gadre_error(gadre_loss((1e9, 40.0), *LOSS_P), *ERR_P), abs=1e-5)
    assert f.diagnostics["fit_flops_fraction"] == pytest.approx(FIT_FLOPS / 5.88e21, rel=1e-12)
    assert g.diagnostics["fit_flops_fraction"] == pytest.approx(FIT_FLOPS / 2.4e20, rel=1e-12)
    d = f.diagnostics
    assert d["loss_fit"] == exact.loss_fit_.to_dict()
    assert d["error_fit"] == exact.error_fit_.to_dict()
    assert (d["fit_flops"], d["n_fit_points"]) == (exact.fit_flops_, [15, 15])
    assert (d["loss_column"], d["n_bootstrap_ok"]) == ("c4_val/loss", 6)
    assert f.notes == ("15 loss-law and 15 error-law points",)
    assert (f.method, f.benchmark, f.metric, f.alpha, f.target) == (
        "gadre",
        "avg",
        "err",
        0.1,
        "big",
    )
    assert list(f.params) == ["alpha", "beta", "b", "E", "err_k", "err_gamma", "err_eps"]
    assert list(f.params.values()) == [*exact.loss_fit_.params, *exact.error_fit_.params]
    # noiseless: every refit is the truth again, so the 90% interval closes on the point
    assert f.lower == pytest.approx(f.point, abs=1e-6)
    assert f.upper == pytest.approx(f.point, abs=1e-6)


def test_error_law_on_predicted_losses() -> None:
    """Measured losses of the four largest models are off by 0.05; errors follow the true loss.

    The loss law, fitted on the other eleven (exact) points, predicts the true loss everywhere, so
    the error law fitted on predicted losses is exact (rss ~ 0) while one fitted on the measured
    losses is not. Its bootstrap moves the error law's inputs with each refitted loss law.
    """
    shift = np.where(N > 2e8, 0.05, 0.0) * np.tile([1.0, 1.0, 0.0], 5)  # 4 models
    obs = chain_obs(shift)
    kw = dict(benchmark="avg", loss_fit=parse_filter("n_params < 2e8 or n_tokens > 9e10"))
    pred = GadreChain(**kw, error_on_predicted_loss=True, n_bootstrap=6).fit(obs)
    meas = GadreChain(**kw, n_bootstrap=0).fit(obs)
    assert pred.n_fit_points_ == (11, 15)
    assert list(pred.error_fit_.params) == pytest.approx(ERR_P, rel=1e-3)
    assert pred.error_fit_.rss < 1e-12 < 1e-6 < meas.error_fit_.rss
    f = pred.predict(pd.DataFrame({"model": ["big"], "n_params": [7e9], "n_tokens": [1.4e11]}))[0]
    want = gadre_error(gadre_loss((7e9, 20.0), *LOSS_P), *ERR_P)
    assert f.point == pytest.approx(want, abs=1e-5)
    assert f.lower == pytest.approx(want, abs=1e-5) and f.upper == pytest.approx(want, abs=1e-5)


def test_residual_bootstrap_of_a_noiseless_chain_is_tight() -> None:
    est = GadreChain(benchmark="avg", bootstrap="residuals", n_bootstrap=6).fit(chain_obs())
    f = est.predict(pd.DataFrame({"model": ["big"], "n_params": [7e9], "n_tokens": [1.4e11]}))[0]
    assert f.diagnostics["n_bootstrap_ok"] == 6
    assert f.upper - f.lower < 1e-6 and f.lower <= f.point + 1e-9


def test_a_failed_law_is_reported_not_numbers() -> None:
    obs = chain_obs()
    t = pd.DataFrame({"model": ["big"], "n_params": [7e9], "n_tokens": [1.4e11]})
    loss_bad = GadreChain(benchmark="avg", loss_fit=parse_filter("n_params < 2e7"), n_bootstrap=3)
    loss_bad.fit(obs)
    # no loss law: the error law is not attempted on NaN losses
    assert loss_bad.error_fit_.message == "0 points for 3 parameters"
    f = loss_bad.predict(t)[0]
    assert f.notes == ("no forecast: gadre_loss failed: 3 points for 4 parameters",)
    two = parse_filter("n_params < 2e7 and n_tokens < 1e9")  # M = 20 and 80 of the smallest
    err_bad = GadreChain(benchmark="avg", error_fit=two, n_bootstrap=3).fit(obs)
    assert err_bad.loss_fit_.ok
    g = err_bad.predict(t)[0]
    assert g.notes == ("no forecast: gadre_error failed: 2 points for 3 parameters",)
    assert math.isnan(g.point) and g.diagnostics["n_fit_points"] == [15, 2]


# -- messages, merge keys, transforms and the bootstrap's wiring -------------------------------

BIG = pd.DataFrame({"model": ["big"], "n_params": [7e9], "n_tokens": [1.4e11]})


def test_refusals_name_the_estimator_and_step() -> None:
    obs = chain_obs()
    nan_err = obs.assign(value=np.where(obs["benchmark"] == "avg", np.nan, obs["value"]))
    with pytest.raises(ValueError, match=r"^GadreChain\.fit: no rows with benchmark='avg'"):
        GadreChain(benchmark="avg").fit(nan_err)
    with pytest.raises(ValueError, match=r"^GadreChain\.fit: needs column 'n_tokens'"):
        GadreChain(benchmark="avg").fit(obs.drop(columns="n_tokens"))
    est = GadreChain(benchmark="avg", n_bootstrap=0).fit(obs)
    with pytest.raises(ValueError, match=r"^GadreChain\.predict: targets need column 'n_tokens'"):
        est.predict(BIG.drop(columns="n_tokens"))
    with pytest.raises(ValueError, match=r"^GadreChain\.predict: observations lack column"):
        est.predict(BIG.drop(columns="model"))


def test_without_checkpoint_steps_rows_meet_on_the_model() -> None:
    est = GadreChain(benchmark="avg", n_bootstrap=0).fit(
        chain_obs().drop(columns="checkpoint_step")
    )
    assert est.n_fit_points_ == (15, 15)
    assert list(est.error_fit_.params) == pytest.approx(ERR_P, rel=1e-3)


def test_perplexity_is_fitted_as_log_perplexity() -> None:
    """ppl = exp(loss): both the loss law and the error law's inputs see the loss again."""
    obs = chain_obs()
    is_loss = obs["benchmark"] == "c4_val"
    ppl = obs.assign(metric=np.where(is_loss, "ppl", obs["metric"]))
    ppl["value"] = np.where(is_loss, np.exp(obs["value"]), obs["value"])
    est = GadreChain(benchmark="avg", loss_metric="ppl", n_bootstrap=0).fit(ppl)
    assert list(est.loss_fit_.params) == pytest.approx(LOSS_P, rel=1e-3)
    assert list(est.error_fit_.params) == pytest.approx(ERR_P, rel=1e-3)


@pytest.mark.parametrize("half_first", [False, True])
def test_fit_flops_count_each_model_once_at_its_final_checkpoint(half_first: bool) -> None:
    """Half-trained checkpoints add nothing, before or after the final rows (the first row per
    model was taken before, so half-trained rows listed first halved the compute)."""
    obs = chain_obs()
    half = obs.assign(checkpoint_step=0, n_tokens=obs["n_tokens"] / 2)
    rows = [half, obs] if half_first else [obs, half]
    est = GadreChain(benchmark="avg", checkpoints="all", n_bootstrap=0).fit(
        pd.concat(rows, ignore_index=True)
    )
    assert est.n_fit_points_ == (30, 30)
    assert est.fit_flops_ == pytest.approx(FIT_FLOPS, rel=1e-12)


def test_integer_sizes_do_not_overflow_the_compute_fraction(exact: GadreChain) -> None:
    """6 N^2 M overflows int64 for N = 7e9 unless the sizes are read as floats."""
    t = pd.DataFrame({"model": ["big"], "n_params": [7_000_000_000], "n_tokens": [140_000_000_000]})
    f = exact.predict(t)[0]
    assert f.diagnostics["fit_flops_fraction"] == pytest.approx(FIT_FLOPS / 5.88e21, rel=1e-12)


def test_unequal_point_counts_are_noted_in_order() -> None:
    est = GadreChain(benchmark="avg", loss_fit=parse_filter("n_params < 2e8"), n_bootstrap=0).fit(
        chain_obs()
    )
    assert est.predict(BIG)[0].notes[0] == "9 loss-law and 15 error-law points"


def test_failed_forecasts_carry_the_request_and_the_stand_in_note() -> None:
    obs = chain_obs().rename(columns={"n_params": "n_params_nonembed"})
    est = GadreChain(
        benchmark="avg", alpha=0.2, loss_fit=parse_filter("n_params < 2e7"), n_bootstrap=3
    ).fit(obs)
    assert est._draws is None  # no bootstrap of a failed chain
    t = BIG.rename(columns={"n_params": "n_params_nonembed"})
    f = est.predict(t)[0]
    assert (f.target, f.benchmark, f.metric, f.alpha, f.method) == (
        "big",
        "avg",
        "err",
        0.2,
        "gadre",
    )
    assert len(f.notes) == 2 and "n_params_nonembed" in f.notes[0]
    assert f.notes[1] == "no forecast: gadre_loss failed: 3 points for 4 parameters"
    two = parse_filter("n_params < 2e7 and n_tokens < 1e9")
    err_bad = GadreChain(benchmark="avg", error_fit=two, n_bootstrap=3).fit(chain_obs())
    assert err_bad.loss_fit_.ok and err_bad._draws is None


def test_error_law_residuals_widen_the_interval_towards_the_data() -> None:
    """Error-law residuals (prediction - data) all >= 0: observed errors sit below the law, so a
    new model's error may too, and only the lower end of the (error-sense) interval moves, by
    the inflated residual 0.05 * sqrt(15 / 12) (the refits of a noiseless chain add no spread).
    An interval that grew upwards would put the data's scatter on the side it never fell."""
    est = GadreChain(benchmark="avg", n_bootstrap=6).fit(chain_obs())
    est.error_fit_ = dataclasses.replace(est.error_fit_, residuals=(0.0,) * 10 + (0.05,) * 5)
    f = est.predict(BIG)[0]
    assert f.metric == "err"
    assert f.upper == pytest.approx(f.point, abs=1e-6)
    assert f.lower == pytest.approx(f.point - 0.05 * math.sqrt(15 / 12), abs=1e-6)
    g = GadreChain(benchmark="avg", n_bootstrap=6).fit(chain_obs())
    g.error_fit_ = est.error_fit_
    assert (g.predict(BIG)[0].lower, g.predict(BIG)[0].upper) == (f.lower, f.upper)


def test_pair_draws_reach_every_point_and_residual_draws_repeat() -> None:
    rng = np.random.default_rng(0)
    pairs = np.concatenate([GadreChain()._draw(5, _law_fit((0.0,) * 5, 3), rng) for _ in range(50)])
    assert set(pairs.tolist()) == set(range(5))
    # with replacement: a draw of 4 from 4 distinct residuals repeats one with prob. 1 - 4!/4^4
    fit = _law_fit((1.0, -1.0, 2.0, -2.0), 1)
    est = GadreChain(bootstrap="residuals")
    assert any(len(set(est._draw(4, fit, rng).tolist())) < 4 for _ in range(20))


def test_the_resamples_are_drawn_from_random_state() -> None:
    """The same ``random_state`` draws the same resamples (a leaderboard table is the same every
    time); another one draws others. On points off the law the refits then differ."""
    shift = np.where(N > 2e8, 0.05, 0.0) * np.tile([1.0, 1.0, 0.0], 5)

    def draws(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return (
            GadreChain(benchmark="avg", n_bootstrap=4, random_state=seed)
            .fit(chain_obs(shift))
            ._draws
        )

    first, again, other = draws(3), draws(3), draws(4)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, again, strict=True))
    assert not all(np.allclose(a[1], b[1]) for a, b in zip(first, other, strict=True))


def test_bootstraps_refit_what_was_fitted() -> None:
    """The measured-loss error law is refitted on measured (shifted) losses, so its resamples
    scatter; residual draws stay real numbers, so a noisy fit's refits move."""
    shift = np.where(N > 2e8, 0.05, 0.0) * np.tile([1.0, 1.0, 0.0], 5)
    kw = dict(benchmark="avg", loss_fit=parse_filter("n_params < 2e8 or n_tokens > 9e10"))
    meas = GadreChain(**kw, n_bootstrap=4).fit(chain_obs(shift))
    assert max(abs(pe[0] - ERR_P[0]) for _, pe in meas._draws) > 1e-3
    res = GadreChain(benchmark="avg", bootstrap="residuals", n_bootstrap=4).fit(chain_obs(shift))
    assert max(abs(pe[0] - res.error_fit_.params[0]) for _, pe in res._draws) > 1e-3


def test_too_many_failed_resamples_give_no_interval() -> None:
    """1 of 6 refits kept: 5/6 failed is above the 20% share, so the point stands alone."""
    est = GadreChain(benchmark="avg", n_bootstrap=6).fit(chain_obs())
    est._draws = est._draws[:1]
    f = est.predict(BIG)[0]
    assert f.notes[-1].startswith("only 1 of 6 bootstrap resamples could be fitted")
    assert math.isnan(f.lower) and math.isnan(f.upper)
    assert f.point == pytest.approx(gadre_error(gadre_loss((7e9, 20.0), *LOSS_P), *ERR_P), abs=1e-5)
