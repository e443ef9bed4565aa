"""TwoStepLadder rule by rule: its documented defaults and parameter ranges, each data step on
a frame small enough to work by hand (merge, sort, drop-first, last-n mean, smoothing, anchor),
the input contract, and a noiseless ladder whose two laws, chain and diagnostics are known in
closed form (``L(C) = e^6.2 C^-0.15 + 0.8``, ``Acc(L) = -0.75/(1 + e^(-6(L - 1.5))) + 1``).
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from predictors import ladder as ladder_module
from predictors.base import MAX_BOOTSTRAP
from predictors.contracts import InputContract
from predictors.ladder import TwoStepLadder

# -- parameters ------------------------------------------------------------------------------


def _documented_defaults() -> dict[str, object]:
    """``name : type, default=VALUE`` lines of the class docstring, read as Python literals."""
    out: dict[str, object] = {}
    doc = TwoStepLadder.__doc__ or ""
    for names, value in re.findall(r"^\s{4}([\w, ]+) : .*default=(.+)$", doc, flags=re.M):
        for name in names.split(", "):
            out[name] = ast.literal_eval(value)  # the docstring's literals: "acc", 5, 0.1, None
    return out


def test_defaults_are_the_documented_ones() -> None:
    est = TwoStepLadder(benchmark="b")
    doc = _documented_defaults()
    assert len(doc) == 14  # every parameter but benchmark documents its default
    assert est.get_params() == {"benchmark": "b", **doc}


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [
        ("alpha", 1.5, "alpha=1.5 outside [0.0, 1.0]"),
        ("alpha", -0.1, "alpha=-0.1 outside [0.0, 1.0]"),
        ("n_bootstrap", -1, f"n_bootstrap=-1 outside [0, {MAX_BOOTSTRAP}]"),
        ("n_bootstrap", MAX_BOOTSTRAP + 1, f"n_bootstrap={MAX_BOOTSTRAP + 1} outside"),
        ("input", "tokens", "input='tokens'; allowed: ('nd', 'flops')"),
        ("step1_points", "last", "step1_points='last'; allowed: ('final', 'all')"),
        ("last_n", 0, "last_n=0 outside [1, None]"),
        ("smooth", 0, "smooth=0 outside [1, None]"),
        ("drop_first", 0.995, "drop_first=0.995 outside [0.0, 0.99]"),
        ("drop_first", -0.01, "drop_first=-0.01 outside [0.0, 0.99]"),
        ("huber_delta", -1e-3, "huber_delta=-0.001 outside [0.0, None]"),
    ],
)
def test_parameter_ranges_are_checked_first(param: str, value: object, message: str) -> None:
    est = TwoStepLadder(benchmark="b").set_params(**{param: value})
    with pytest.raises(ValueError, match=re.escape(f"TwoStepLadder: {message}")):
        est.fit(pd.DataFrame())


def test_the_edges_of_the_ranges_are_allowed() -> None:
    obs = ladder(n_models=5)
    for kw in ({"alpha": 1.0, "drop_first": 0.99}, {"alpha": 0.0, "huber_delta": 0.0}):
        est = TwoStepLadder(benchmark="b", input="flops", n_bootstrap=0, **kw).fit(obs)
        assert est.n_points_[0] == 5


# -- data steps on hand-sized frames ---------------------------------------------------------


def _row(model: str, step: float, metric: str, value: float, bench: str = "b") -> dict:
    return dict(
        model=model,
        checkpoint_step=step,
        n_params=1e8 if model == "m0" else 2e8,
        n_tokens=1e9 * step,
        flops=7e17 * step,
        benchmark=bench,
        metric=metric,
        value=value,
    )


def test_trajectories_pair_loss_and_score_per_checkpoint_sorted() -> None:
    obs = pd.DataFrame(
        [
            _row("m1", 2, "bpb", 1.5),
            _row("m1", 2, "err", 0.4),
            _row("m1", 1, "err", 0.6),
            _row("m1", 1, "bpb", 2.0),
            _row("m0", 3, "bpb", 1.9),  # no score at this checkpoint: left out
            _row("m0", 1, "err", 0.7),
            _row("m0", 1, "bpb", 2.2),
            _row("m0", 1, "ppl", math.e**3, "c4"),
        ]
    )
    tr = TwoStepLadder(benchmark="b", metric="err")._trajectories(obs)
    assert list(tr.columns) == [
        "model",
        "checkpoint_step",
        "n_params",
        "n_tokens",
        "flops",
        "L",
        "S",
    ]
    assert tr["model"].tolist() == ["m0", "m1", "m1"]
    assert tr["checkpoint_step"].tolist() == [1, 1, 2]
    assert tr["L"].tolist() == [2.2, 2.0, 1.5]
    assert tr["S"].tolist() == pytest.approx([0.3, 0.4, 0.6])  # err is fitted as 1 - err
    # a perplexity is fitted as its log; another size column is kept beside n_params
    ppl = TwoStepLadder(
        benchmark="b",
        metric="err",
        intermediate_benchmark="c4",
        intermediate_metric="ppl",
        size_column="n_params_nonembed",
    )._trajectories(obs.assign(n_params_nonembed=5e7))
    assert ppl["L"].tolist() == pytest.approx([3.0])
    assert ppl.columns[2:4].tolist() == ["n_params_nonembed", "n_params"]


def test_trajectories_without_steps_and_without_common_checkpoints() -> None:
    obs = pd.DataFrame([_row("m0", 1, "bpb", 2.0), _row("m0", 1, "acc", 0.5)])
    tr = TwoStepLadder(benchmark="b")._trajectories(obs.drop(columns="checkpoint_step"))
    assert tr["checkpoint_step"].tolist() == [0] and tr["L"].tolist() == [2.0]
    nan_step = obs.assign(checkpoint_step=np.nan)
    assert TwoStepLadder(benchmark="b")._trajectories(nan_step)["checkpoint_step"].tolist() == [0]
    apart = pd.DataFrame([_row("m0", 1, "bpb", 2.0), _row("m0", 2, "acc", 0.5)])
    with pytest.raises(ValueError) as info:
        TwoStepLadder(benchmark="b")._trajectories(apart)
    assert str(info.value) == "TwoStepLadder.fit: no checkpoint has both b/bpb and b/acc"


def _tr() -> pd.DataFrame:
    """m0: 10 checkpoints with L = 11 - step; m1: 2 checkpoints; m2: 1 checkpoint."""
    rows = [("m0", s, 11.0 - s, 0.05 * s) for s in range(1, 11)]
    rows += [("m1", 1, 4.0, 0.2), ("m1", 2, 3.0, 0.3), ("m2", 5, 7.0, 0.1)]
    tr = pd.DataFrame(rows, columns=["model", "checkpoint_step", "L", "S"])
    return tr.assign(n_params=1e8, n_tokens=2e9 * tr["checkpoint_step"], flops=np.nan)


def test_step1_final_points_drop_the_first_share_and_average_the_last_n() -> None:
    est = TwoStepLadder(benchmark="b", drop_first=0.5, last_n=2)
    p1 = est._step1_points(_tr())
    # m0 keeps steps 6..10 and averages L at 9 and 10 (2 and 1); m1 keeps only step 2
    assert p1["model"].tolist() == ["m0", "m1", "m2"]
    assert p1["checkpoint_step"].tolist() == [10, 2, 5]
    assert p1["L"].tolist() == [1.5, 3.0, 7.0]
    assert p1["n_tokens"].tolist() == [2e10, 4e9, 1e10]
    assert all(p1[c].dtype.kind == "f" for c in ("L", "S", "n_params", "n_tokens"))
    every = TwoStepLadder(benchmark="b", drop_first=0.5, step1_points="all")._step1_points(_tr())
    assert every["checkpoint_step"].tolist() == [6, 7, 8, 9, 10, 2, 5]
    assert every["L"].tolist() == [5.0, 4.0, 3.0, 2.0, 1.0, 3.0, 7.0]


def test_step2_points_are_smoothed_after_the_drop_with_the_anchor() -> None:
    est = TwoStepLadder(benchmark="b", drop_first=0.5, smooth=2)
    L, S = est._step2_points(_tr())
    # m0: L 5, 4, 3, 2, 1 -> running means of 2 (the first alone); m1: step 2; m2: its one point
    assert L.tolist() == pytest.approx([5.0, 4.5, 3.5, 2.5, 1.5, 3.0, 7.0, 0.0])
    assert S.tolist() == pytest.approx([0.3, 0.325, 0.375, 0.425, 0.475, 0.3, 0.1, 1.0])
    no_anchor = TwoStepLadder(benchmark="b", smooth=1, intermediate_metric="loss")
    assert len(no_anchor._step2_points(_tr())[0]) == 9 + 2 + 1  # 10% of 10 (and of 2) dropped
    forced = no_anchor.set_params(anchor=True)._step2_points(_tr())
    assert (forced[0][-1], forced[1][-1]) == (0.0, 1.0)
    off = TwoStepLadder(benchmark="b", anchor=False)._step2_points(_tr())[0]
    assert len(off) == 12 and off[-1] == 7.0


def test_x_is_size_and_tokens_or_compute() -> None:
    df = pd.DataFrame(
        {"n_params": [1e8, 2e8], "n_params_nonembed": [9e7, 1.8e8], "n_tokens": [1e9, 3e9]}
    )
    n, d = TwoStepLadder(benchmark="b")._x(df)
    assert (n.tolist(), d.tolist()) == ([1e8, 2e8], [1e9, 3e9])
    ne, _ = TwoStepLadder(benchmark="b", size_column="n_params_nonembed")._x(df)
    assert ne.tolist() == [9e7, 1.8e8]
    c = TwoStepLadder(benchmark="b", input="flops")._x(df.assign(flops=[5e18, np.nan]))
    assert c.tolist() == [5e18, 6 * 2e8 * 3e9]


def test_input_contracts() -> None:
    series = (("b", "bpb"), ("b", "acc"))
    assert TwoStepLadder(benchmark="b", input="flops").input_contract() == InputContract(
        size=("flops", "n_params_nonembed"), series=series
    )
    assert TwoStepLadder(benchmark="b").input_contract() == InputContract(
        size=("n_params", "n_params_nonembed"), columns=("n_tokens",), series=series
    )
    ne = TwoStepLadder(benchmark="b", size_column="n_params_nonembed").input_contract()
    assert ne.size == ("n_params_nonembed", "n_params")
    assert TwoStepLadder(benchmark="b", size_column="width").input_contract().size == ("width",)
    val = TwoStepLadder(benchmark="b", intermediate_benchmark="c4", intermediate_metric="loss")
    assert val.input_contract().series == (("c4", "loss"), ("b", "acc"))


# -- a noiseless ladder ----------------------------------------------------------------------

SIZES = (1e8, 2e8, 4e8, 8e8, 1.6e9)


def loss_law(c: np.ndarray | float) -> np.ndarray | float:
    return np.exp(6.2) * c**-0.15 + 0.8


def acc_law(L: np.ndarray | float) -> np.ndarray | float:
    return -0.75 / (1 + np.exp(-6.0 * (L - 1.5))) + 1.0


def ladder(n_models: int = 5, flops: bool = True, noise: float = 0.0) -> pd.DataFrame:
    """Five checkpoints per run, D = 4 N k at checkpoint k, and a ``flops`` column C = 6.6 N D
    (attention counted: not 6 N D, so using it and falling back to 6 N D differ)."""
    rng = np.random.default_rng(0)
    rows = []
    for i, n in enumerate(SIZES[:n_models]):
        for k in range(1, 6):
            c = 6.6 * n * 4 * n * k
            base = dict(model=f"m{i}", n_params=n, n_tokens=4 * n * k, checkpoint_step=k)
            base |= {"benchmark": "b", "flops": c} if flops else {"benchmark": "b"}
            rows += [
                dict(base, metric="bpb", value=float(loss_law(c)) + rng.normal(0, noise)),
                dict(base, metric="acc", value=float(acc_law(loss_law(c))) + rng.normal(0, noise)),
            ]
    return pd.DataFrame(rows)


FINAL_FLOPS = sum(6.6 * n * 4 * n * 5 for n in SIZES)
EXACT = dict(benchmark="b", input="flops", last_n=1, smooth=1, drop_first=0.0)


@pytest.fixture(scope="module")
def exact() -> TwoStepLadder:
    return TwoStepLadder(**EXACT, n_bootstrap=8).fit(ladder())


def test_a_noiseless_ladder_recovers_both_laws(exact: TwoStepLadder) -> None:
    assert list(exact.step1_.params) == pytest.approx([6.2, 0.15, 0.8], rel=1e-4)
    assert list(exact.step2_.params) == pytest.approx([-0.75, 1.0, 6.0, 1.5], rel=1e-4)
    assert exact.n_points_ == (5, 26)  # one step-1 point per run; 25 checkpoints + the anchor
    assert exact.fit_flops_ == pytest.approx(FINAL_FLOPS, rel=1e-12)
    # without a flops column the final checkpoints' compute is 6 N D
    no_flops = TwoStepLadder(**EXACT, n_bootstrap=0).fit(ladder(flops=False))
    assert no_flops.fit_flops_ == pytest.approx(FINAL_FLOPS / 1.1, rel=1e-12)


def test_the_chain_its_diagnostics_and_a_tight_interval(exact: TwoStepLadder) -> None:
    t = pd.DataFrame(
        {
            "model": ["big", "no_flops"],
            "n_params": [7e9, 1e9],
            "n_tokens": [1.4e11, 2e10],
            "flops": [6 * 7e9 * 1.4e11, np.nan],
        }
    )
    f, g = exact.predict(t)
    c = 6 * 7e9 * 1.4e11
    assert f.diagnostics["predicted_intermediate"] == pytest.approx(loss_law(c), rel=1e-5)
    assert f.point == pytest.approx(acc_law(loss_law(c)), abs=1e-5)
    assert g.point == pytest.approx(acc_law(loss_law(6 * 1e9 * 2e10)), abs=1e-5)
    assert f.diagnostics["fit_flops_fraction"] == pytest.approx(FINAL_FLOPS / c, rel=1e-12)
    assert g.diagnostics["fit_flops_fraction"] == pytest.approx(FINAL_FLOPS / 1.2e20, rel=1e-12)
    d = f.diagnostics
    assert d["step1"] == exact.step1_.to_dict() and d["step2"] == exact.step2_.to_dict()
    assert (d["fit_flops"], d["n_points"]) == (exact.fit_flops_, [5, 26])
    assert (d["intermediate"], d["input"]) == ("b/bpb", "flops")
    assert f.notes[0] == "5 step-1 points, 26 step-2 points"
    assert (f.method, f.benchmark, f.metric, f.alpha) == ("ladder", "b", "acc", 0.1)
    assert (f.target, g.target) == ("big", "no_flops")
    names = ["s1_a", "s1_alpha", "s1_E", "s2_a", "s2_b", "s2_k", "s2_L0"]
    assert list(f.params) == names
    assert list(f.params.values()) == [*exact.step1_.params, *exact.step2_.params]
    # noiseless: every refit is the truth again, so the 90% interval closes on the point
    assert f.lower == pytest.approx(f.point, abs=1e-6)
    assert f.upper == pytest.approx(f.point, abs=1e-6)


def test_the_size_column_feeds_the_nd_chain_and_no_compute_means_no_fraction() -> None:
    obs = ladder(flops=False)
    est = TwoStepLadder(
        benchmark="b", size_column="n_params_nonembed", step1_points="all", n_bootstrap=0
    )
    est = est.fit(obs.assign(n_params_nonembed=obs["n_params"]))
    t = pd.DataFrame({"model": ["x"], "n_params_nonembed": [7e9], "n_tokens": [1.4e11]})
    f = est.predict(t)[0]
    assert f.diagnostics["fit_flops_fraction"] is None  # no n_params: no compute to compare
    assert f.diagnostics["input"] == "nd" and math.isfinite(f.point)
    unknown = est.predict(t.assign(n_params=np.nan))[0]  # n_params given but not known
    assert unknown.diagnostics["fit_flops_fraction"] is None


def test_a_failed_step_one_fit_is_reported_not_numbers() -> None:
    est = TwoStepLadder(benchmark="b", n_bootstrap=5).fit(ladder(n_models=2))
    assert est.step1_.status == "failed" and est.step2_.ok
    f = est.predict(pd.DataFrame({"model": ["x"], "n_params": [7e9], "n_tokens": [1.4e11]}))[0]
    assert math.isnan(f.point) and math.isnan(f.lower) and not f.ok
    assert f.notes == ("no forecast: chinchilla_loss failed: 2 points for 5 parameters",)
    assert f.diagnostics["n_points"] == [2, 10 + 1]  # 10% of 5 checkpoints is none; the anchor
    assert (f.method, f.benchmark, f.metric, f.alpha, f.target) == ("ladder", "b", "acc", 0.1, "x")


def test_a_failed_step_two_fit_is_named_when_step_one_is_ok() -> None:
    """Three runs of one checkpoint: step 1 (3 parameters) interpolates, step 2 without the
    anchor has 3 points for 4 parameters."""
    obs = ladder(n_models=3)
    obs = obs[obs["checkpoint_step"] == 5]
    est = TwoStepLadder(**EXACT, anchor=False, n_bootstrap=0).fit(obs)
    assert est.step1_.ok and est.step2_.status == "failed"
    t = pd.DataFrame({"model": ["x"], "n_params": [7e9], "n_tokens": [1.4e11], "flops": [6e21]})
    f = est.predict(t)[0]
    assert f.notes == ("no forecast: sigmoid_accuracy failed: 3 points for 4 parameters",)


def test_the_fit_and_predict_name_themselves_in_refusals() -> None:
    obs = pd.DataFrame([_row("m0", 1, "bpb", 2.0), _row("m0", 1, "acc", 0.5)])
    for drop, metric in (("bpb", "bpb"), ("acc", "acc")):
        with pytest.raises(ValueError) as info:
            TwoStepLadder(benchmark="b")._trajectories(obs[obs["metric"] != drop])
        assert str(info.value).startswith(
            f"TwoStepLadder.fit: no rows with benchmark='b' metric='{metric}'"
        )
    with pytest.raises(ValueError, match=r"^TwoStepLadder\.fit: needs column 'n_tokens'"):
        TwoStepLadder(benchmark="b").fit(ladder().drop(columns="n_tokens"))
    est = TwoStepLadder(benchmark="b", n_bootstrap=0).fit(ladder())
    with pytest.raises(ValueError, match=r"^TwoStepLadder\.predict: "):
        est.predict(pd.DataFrame({"model": ["x"], "n_params": [7e9]}))
    with pytest.raises(ValueError, match=r"^TwoStepLadder\.predict: .*\['model'\]"):
        est.predict(pd.DataFrame({"n_params": [7e9], "n_tokens": [1e11]}))


def test_a_stand_in_size_is_noted_on_every_forecast() -> None:
    obs = ladder().rename(columns={"n_params": "n_params_nonembed"})
    est = TwoStepLadder(benchmark="b", step1_points="all", n_bootstrap=0).fit(obs)
    assert est.step1_.ok and est.step2_.ok
    assert est.inputs_.used == "n_params_nonembed" and len(est.inputs_.notes) == 1
    t = pd.DataFrame({"model": ["x"], "n_params_nonembed": [7e9], "n_tokens": [1.4e11]})
    assert est.predict(t)[0].notes[0] == est.inputs_.notes[0]


def test_intervals_are_reproducible_per_random_state() -> None:
    obs = ladder(noise=0.005)
    t = pd.DataFrame({"model": ["x"], "n_params": [7e9], "n_tokens": [1.4e11], "flops": [6e21]})

    def interval(seed: int) -> tuple[float, float]:
        f = TwoStepLadder(**EXACT, n_bootstrap=10, random_state=seed).fit(obs).predict(t)[0]
        return f.lower, f.upper

    assert interval(3) == interval(3)
    assert interval(3) != interval(4)


def test_the_bootstrap_resamples_every_point_under_the_fits_bounds_and_loss(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each resample draws its points with replacement from all of that step's points; the
    refits use the full fits' bounds and loss, and a draw needs both steps' refits."""
    fits: list[dict[str, Any]] = []
    refits: list[dict[str, Any]] = []
    law_fit, batch = ladder_module.fit_law, ladder_module.batch_refit

    def spy_fit(*a: Any, **k: Any) -> Any:
        fits.append(k)
        return law_fit(*a, **k)

    def spy_batch(*a: Any, **k: Any) -> Any:
        refits.append({**k, "y": a[2]})
        p, ok = batch(*a, **k)
        ok[len(refits) - 1] = False  # step 1 refuses resample 0, step 2 resample 1
        return p, ok

    monkeypatch.setattr(ladder_module, "fit_law", spy_fit)
    monkeypatch.setattr(ladder_module, "batch_refit", spy_batch)
    est = TwoStepLadder(**EXACT, n_bootstrap=40, huber_delta=0.002).fit(ladder(noise=0.005))
    assert len(est._draws) == 38
    (f1, f2), (r1, r2) = fits, refits
    assert f1["loss"] == r1["loss"] == "huber_log:0.002"
    assert f2.get("loss", "l2") == r2.get("loss", "l2") == "l2"
    assert f1["bounds"] == r1["bounds"] and f2["bounds"] == r2["bounds"]
    assert None not in (f1["bounds"], f2["bounds"])
    assert r1["require_converged"] is False  # a slow Huber refit is kept (see _bootstrap)
    for r, y in ((r1, est._y1), (r2, est._S2)):
        assert r["y"].shape == (40, len(y))
        assert set(np.unique(r["y"])) == set(y)  # every point is drawn somewhere
        # each resample is its own n draws (all equal has probability n^-(n-1) per row)
        assert all(len(np.unique(row)) > 1 for row in r["y"])


def test_the_forecast_noise_is_step_two_residuals(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    real = ladder_module.bootstrap_forecasts

    def spy(*a: Any, **k: Any) -> Any:
        seen.append(a[2])
        return real(*a, **k)

    monkeypatch.setattr(ladder_module, "bootstrap_forecasts", spy)
    est = TwoStepLadder(**EXACT, n_bootstrap=7).fit(ladder(noise=0.005))
    est.predict(pd.DataFrame({"model": ["x"], "n_params": [7e9], "n_tokens": [1.4e11]}))
    (draws,) = seen
    assert draws.residuals == est.step2_.residuals and len(draws.residuals) == 26
    assert (draws.n_params, draws.n_resamples) == (4, 7)


def test_a_ladder_of_non_embedding_sizes_alone_fits_and_reports_no_compute() -> None:
    """The ladder paper's N is non-embedding parameters; a file with only that column (no
    total parameters, no FLOPs) fits, and the compute bookkeeping says it cannot be summed
    rather than failing on the missing total (it raised KeyError 'n_params' before)."""
    obs = ladder(flops=False)
    obs = obs.assign(n_params_nonembed=obs["n_params"]).drop(columns="n_params")
    est = TwoStepLadder(
        benchmark="b", size_column="n_params_nonembed", step1_points="all", n_bootstrap=0
    ).fit(obs)
    assert math.isnan(est.fit_flops_)
    t = pd.DataFrame({"model": ["x"], "n_params_nonembed": [7e9], "n_tokens": [1.4e11]})
    f = est.predict(t)[0]
    assert f.diagnostics["fit_flops"] is None and f.diagnostics["fit_flops_fraction"] is None
    # the same fit with the totals known: the ND chain is the same, the compute is 6 N D
    with_totals = TwoStepLadder(
        benchmark="b", size_column="n_params_nonembed", step1_points="all", n_bootstrap=0
    ).fit(obs.assign(n_params=obs["n_params_nonembed"]))
    assert with_totals.fit_flops_ == pytest.approx(sum(6 * n * 4 * n * 5 for n in SIZES))
    assert with_totals.predict(t)[0].point == pytest.approx(f.point, rel=1e-9)


# -- the fits' boxes, and what a failed fit skips --------------------------------------------

#: Step 1's box: every parameter >= 0; a, b <= 200 (e^200), exponents <= 5, E <= 50.
STEP1_BOX = {"flops": (200.0, 5.0, 50.0), "nd": (200.0, 200.0, 5.0, 5.0, 50.0)}
#: Step 2's box (``sigmoid_accuracy``: a in [-1, 0], the score falls with the loss).
STEP2_BOX = ([-1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 100.0, 100.0])


def _points(n: np.ndarray, d: np.ndarray, L: np.ndarray, S: np.ndarray) -> pd.DataFrame:
    """One run of one checkpoint per point (so both steps fit exactly these points)."""
    rows = []
    for i in range(len(L)):
        base = dict(model=f"m{i:02d}", n_params=n[i], n_tokens=d[i], checkpoint_step=1)
        base |= {"benchmark": "b", "flops": 6.0 * n[i] * d[i]}
        rows += [dict(base, metric="bpb", value=L[i]), dict(base, metric="acc", value=S[i])]
    return pd.DataFrame(rows)


def _fit_points(obs: pd.DataFrame, input: str = "nd") -> TwoStepLadder:
    """Both steps on every point as given: no drop, no averaging, no anchor, no resamples."""
    est = TwoStepLadder(
        benchmark="b",
        input=input,
        step1_points="all",
        drop_first=0.0,
        smooth=1,
        anchor=False,
        n_bootstrap=0,
    )
    return est.fit(obs)


def _grid(n: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (N, D) pair of the two axes, flattened."""
    nn, dd = np.meshgrid(n, d, indexing="ij")
    return nn.ravel(), dd.ravel()


_SMALL = np.exp(np.linspace(2.0, 2.5, 5))  # e^2..e^2.5: a steep power law spans a few units
_HUGE = np.exp(np.linspace(41.5, 42.5, 5))  # e^41.5..e^42.5: e^205 N^-4.9 spans e^-3.3..e^1.7
_N, _D = np.array(SIZES), np.geomspace(1e9, 1e11, 5)


@pytest.mark.parametrize(
    ("input", "law", "n", "d", "j"),
    [
        ("flops", (205.0, 4.9, 0.8), _HUGE / 6.0, np.ones(5), 0),
        ("flops", (14.0, 6.0, 1.0), _SMALL / 6.0, np.ones(5), 1),
        ("flops", (6.2, 0.15, 60.0), _N, 4.0 * _N, 2),
        ("nd", (205.0, 6.5, 4.9, 0.3, 0.5), *_grid(_HUGE, _D), 0),
        ("nd", (4.0, 205.0, 0.3, 4.9, 0.5), *_grid(_N, _HUGE), 1),
        ("nd", (14.0, 6.5, 6.0, 0.3, 0.5), *_grid(_SMALL, _D), 2),
        ("nd", (4.0, 14.0, 0.3, 6.0, 0.5), *_grid(_N, _SMALL), 3),
        ("nd", (4.0, 6.5, 0.3, 0.3, 60.0), *_grid(_N, _D), 4),
    ],
)
def test_step_one_stays_in_its_box_when_the_law_lies_beyond_it(
    input: str, law: tuple[float, ...], n: np.ndarray, d: np.ndarray, j: int
) -> None:
    """Noiseless losses of a law with parameter ``j`` above its upper bound: the fit ends on
    that bound (every other parameter inside the box), not at the law itself."""
    f1 = TwoStepLadder(benchmark="b", input=input)._step1_spec()[0]
    x = 6.0 * n * d if input == "flops" else (n, d)
    L = f1(x, *law)
    est = _fit_points(_points(n, d, L, np.full(len(L), 0.5)), input)
    p = np.array(est.step1_.params)
    hi = np.array(STEP1_BOX[input])
    assert p[j] == pytest.approx(hi[j], abs=1e-6)
    assert np.all(p >= 0.0) and np.all(p <= hi)


_L = np.linspace(0.5, 3.0, 12)


@pytest.mark.parametrize(
    ("law", "L", "j", "edge"),
    [
        # a span of 1.3 seen only above score 0: the fit's span stops at 1
        ((-1.3, 1.0, 3.0, 1.5), np.linspace(0.5, 1.9, 12), 0, -1.0),
        # the sigmoid's midpoint below every loss (and below 0): held at L0 = 0
        ((-0.8, 1.0, 2.0, -0.5), _L, 3, 0.0),
        # the midpoint at 110 on losses 90..130: held at L0 = 100
        ((-0.7, 0.95, 0.2, 110.0), np.linspace(90.0, 130.0, 12), 3, 100.0),
    ],
)
def test_step_two_stays_in_its_box_when_the_law_lies_beyond_it(
    law: tuple[float, ...], L: np.ndarray, j: int, edge: float
) -> None:
    S = ladder_module.sigmoid_accuracy(L, *law)
    est = _fit_points(_points(np.full(12, 1e9), np.geomspace(1e9, 1e11, 12), L, S))
    p = np.array(est.step2_.params)
    assert p[j] == pytest.approx(edge, abs=1e-6)
    assert np.all(p >= STEP2_BOX[0]) and np.all(p <= STEP2_BOX[1])


def test_step_two_takes_a_jump_with_its_steepest_slope_and_a_gentle_law_as_it_is() -> None:
    """A score that jumps between two losses has no finite best slope: the fit takes the
    steepest in the box (k = 100, not past it). A gentle sigmoid (k = 0.5) or one centred below
    L = 1 (L0 = 0.5) is recovered, so the lower bounds of k and L0 are 0, not 1."""
    n, d = np.full(12, 1e9), np.geomspace(1e9, 1e11, 12)
    jump = ladder_module.sigmoid_accuracy(_L, -0.7, 0.95, 300.0, 1.5)
    k = _fit_points(_points(n, d, _L, jump)).step2_.params[2]
    assert 99.0 < k <= 100.0
    for law, L in (
        ((-0.75, 1.0, 0.5, 3.0), np.linspace(0.5, 8.0, 12)),
        ((-0.75, 1.0, 4.0, 0.5), np.linspace(0.1, 2.0, 12)),
    ):
        S = ladder_module.sigmoid_accuracy(L, *law)
        assert _fit_points(_points(n, d, L, S)).step2_.params == pytest.approx(law, abs=1e-4)


def test_a_score_rising_with_the_loss_is_not_fitted_as_a_rising_sigmoid() -> None:
    """a <= 0: the fitted accuracy never rises with the loss, even where the data does (a
    rising sigmoid, a = 0.5, fits these points exactly but lies outside the box)."""
    S = ladder_module.sigmoid_accuracy(_L, 0.5, 0.2, 3.0, 1.5)
    est = _fit_points(_points(np.full(12, 1e9), np.geomspace(1e9, 1e11, 12), _L, S))
    p = est.step2_.params
    assert p[0] <= 0.0
    assert np.all(np.diff(ladder_module.sigmoid_accuracy(_L, *p)) <= 1e-12)
    assert est.step2_.rss > 0.01  # far from the exact rising fit


def test_a_failed_step_draws_no_resamples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refitting a failed fit's (NaN) parameters is wasted work: no draws are made when either
    step failed, and predict answers the failure (with the stand-in size note first)."""

    def refuse(*a: Any, **k: Any) -> Any:
        raise AssertionError("a resample was refitted after a failed fit")

    monkeypatch.setattr(ladder_module, "batch_refit", refuse)
    obs = ladder(n_models=2).rename(columns={"n_params": "n_params_nonembed"})
    est = TwoStepLadder(benchmark="b", step1_points="final", n_bootstrap=5).fit(obs)
    assert est.step1_.status == "failed" and est.step2_.ok and est._draws == []
    t = pd.DataFrame({"model": ["x"], "n_params_nonembed": [7e9], "n_tokens": [1.4e11]})
    (f,) = est.predict(t)
    assert len(est.inputs_.notes) == 1 and not f.ok
    assert f.notes == (
        est.inputs_.notes[0],
        "no forecast: chinchilla_loss failed: 2 points for 5 parameters",
    )


def test_the_fit_compute_fraction_needs_a_positive_target_compute() -> None:
    """Any positive compute gives a fraction (even under one FLOP); zero or a negative entry
    gives none rather than a meaningless or negative share. (An N, D fit: the targets' flops
    column feeds the fraction only.)"""
    est = TwoStepLadder(benchmark="b", step1_points="all", n_bootstrap=0).fit(ladder())
    flops = [0.5, 2e21, 0.0, -1e21]
    t = pd.DataFrame({"model": list("abcd"), "n_params": 7e9, "n_tokens": 1.4e11, "flops": flops})
    got = [f.diagnostics["fit_flops_fraction"] for f in est.predict(t)]
    assert got[0] == pytest.approx(FINAL_FLOPS / 0.5, rel=1e-12)
    assert got[1] == pytest.approx(FINAL_FLOPS / 2e21, rel=1e-12)
    assert got[2:] == [None, None]
