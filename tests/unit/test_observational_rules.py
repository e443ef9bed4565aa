"""The observational estimator's rules, on a noise-free one-capability world with closed forms.

Three families whose two base benchmarks are linear in one capability, cap = log10 C - 21.5 +
offset, with the target a sigmoid of it. With two collinear base benchmarks and no scaling the
first principal component is exactly |v| (cap - mean cap), v = (0.1, 0.12), so slopes, offsets,
the link and every point forecast have closed forms.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from predictors.base import FitError
from predictors.observational import (
    ObservationalScaling,
    _per_model,
    _split_label,
    capability_space,
)
from predictors.observational_fit import fit_link, fit_space, link

OFFSETS = {"a": 0.0, "b": 0.5, "c": -0.5}
LOG_C = np.linspace(20.0, 23.0, 6)
V = np.array([0.1, 0.12])
NORM = float(np.linalg.norm(V))  # PC1 per unit of capability
FLOOR = 0.25  # the target's floor; its ceiling is 1 and its slope 1 per unit of capability


def _target(cap: np.ndarray | float) -> np.ndarray:
    return FLOOR + (1 - FLOOR) / (1 + np.exp(-np.asarray(cap, dtype=float)))


def world(families: dict[str, float] = OFFSETS, wiggle: float = 0.0) -> pd.DataFrame:
    """Long observations; ``wiggle`` adds +-wiggle to the target alternately (a known scatter)."""
    rows = []
    for fam, off in families.items():
        for i, lc in enumerate(LOG_C):
            cap = lc - 21.5 + off
            meta = {"model": f"{fam}{i}", "family": fam, "flops": 10**lc, "metric": "acc"}
            t = float(_target(cap)) + wiggle * (-1) ** i
            for bench, val in [("x", 0.5 + V[0] * cap), ("y", 0.4 + V[1] * cap), ("t", t)]:
                rows.append({**meta, "benchmark": bench, "value": val})
    return pd.DataFrame(rows)


def est(**kw: Any) -> ObservationalScaling:
    params: dict[str, Any] = {
        "benchmark": "t",
        "base_benchmarks": ("x/acc", "y/acc"),
        "n_components": 1,
        "imputer": "mean",
        "n_bootstrap": 5,
    } | kw
    return ObservationalScaling(**params)


def test_split_label() -> None:
    """The metric is after the last slash; a label without both parts is refused."""
    assert _split_label("org/bench@5shot/acc_norm") == ("org/bench@5shot", "acc_norm")
    for bad in ("acc", "/acc", "bench/"):
        with pytest.raises(ValueError, match=f"base benchmark '{bad}' is not 'benchmark/metric'"):
            _split_label(bad)


def test_per_model_final_checkpoint_mean_over_sources_and_score_sense() -> None:
    """One number per model: the last checkpoint's rows (NaN steps ranking first), averaged over
    sources, non-finite values dropped, an error metric turned into 1 - err."""
    obs = pd.DataFrame(
        {
            "model": ["m", "m", "m", "m", "n", "n", "k", "k", "o", "o"],
            "benchmark": ["x"] * 7 + ["z", "x", "x"],
            "metric": ["err"] * 10,
            "checkpoint_step": [100, 200, 200, 200, np.nan, 50, np.nan, np.nan, np.nan, 0],
            "value": [0.9, 0.4, 0.2, np.inf, 0.7, 0.1, 0.3, 0.5, 0.6, 0.8],
        }
    )
    got = _per_model(obs, "x", "err")
    want = {"m": 1 - 0.3, "n": 1 - 0.1, "k": 1 - 0.3, "o": 1 - 0.8}  # step 0 beats no step
    assert got.to_dict() == pytest.approx(want)
    assert _per_model(obs, "x", "acc").empty
    # no checkpoint steps at all: every row of a model is averaged
    no_steps = obs.drop(columns="checkpoint_step")
    assert _per_model(no_steps, "x", "err")["m"] == pytest.approx(1 - (0.9 + 0.4 + 0.2) / 3)
    all_nan = obs.assign(checkpoint_step=np.nan)
    assert _per_model(all_nan, "x", "err")["n"] == pytest.approx(1 - 0.4)


def test_fit_recovers_the_closed_forms() -> None:
    """PC1 = |v| (cap - mean cap); slope |v| per decade; offsets |v| (offset - 21.5 - mean cap);
    link: floor 0.25, ceiling 1 (fixed), slope 1 / |v|, intercept mean cap."""
    obs = world()
    e = est(n_bootstrap=3).fit(obs)
    cap = np.array([lc - 21.5 + off for off in OFFSETS.values() for lc in LOG_C])
    mean_cap = cap.mean()
    assert e.n_components_ == 1 and e.cv_errors_ == {}
    assert e.base_ == ("x/acc", "y/acc")
    pcs = e.capabilities_.set_index("model")["PC1"]
    assert np.allclose(pcs[[f"a{i}" for i in range(6)]], NORM * (LOG_C - 21.5 - mean_cap))
    assert e.capabilities_["log10_flops"].to_numpy() == pytest.approx(np.tile(LOG_C, 3))
    assert list(e.capabilities_["family"]) == [f for f in OFFSETS for _ in LOG_C]
    assert e.slopes_ == pytest.approx([NORM], abs=1e-9)
    for f, off in OFFSETS.items():
        assert e.offsets_[f] == pytest.approx([NORM * (off - 21.5 - mean_cap)], abs=1e-8)
    assert e.families_ == ["a", "b", "c"]
    assert e.link_params_ == pytest.approx([FLOOR, 1.0, mean_cap, 1 / NORM], abs=1e-5)
    assert np.max(np.abs(e.residuals_existing_)) < 1e-6
    assert np.max(np.abs(e.residuals_planned_)) < 1e-6
    # the new-family path uses the mean offset, 0 here: each family misses by its own offset
    want = _target(cap - np.repeat(list(OFFSETS.values()), 6)) - _target(cap)
    assert np.allclose(e.residuals_new_family_, want, atol=1e-5)
    assert e.base_scores_.shape == (18, 2)
    assert e.boot_links_.shape == (3, 4) and e.boot_offsets_.shape == (3, 3, 1)
    assert e.boot_slopes_ == pytest.approx(np.full((3, 1), NORM), abs=1e-8)


def test_predict_paths_points_and_notes() -> None:
    """Planned (own family, unseen family, no family), existing (own scores, or the fit's scores
    by name), and a target with neither: each point from the closed form."""
    e = est(n_bootstrap=4).fit(world())
    targets = pd.DataFrame(
        {
            "model": ["b-next", "z-next", "none", "seen", "a3", "lost"],
            "family": ["b", "zz", None, None, None, "a"],
            "flops": [10**23.2, 10**22.0, 10**21.0, np.nan, np.nan, np.nan],
            "x/acc": [np.nan, np.nan, np.nan, 0.5 + 0.1 * 1.3, np.nan, np.nan],
            "y": [np.nan, np.nan, np.nan, 0.4 + 0.12 * 1.3, np.nan, np.nan],
        }
    )
    f = e.predict(targets)
    assert [x.target for x in f] == ["b-next", "z-next", "none", "seen", "a3", "lost"]
    assert f[0].point == pytest.approx(float(_target(23.2 - 21.5 + 0.5)), abs=1e-5)
    assert f[1].point == pytest.approx(float(_target(22.0 - 21.5)), abs=1e-5)
    assert f[2].point == pytest.approx(float(_target(21.0 - 21.5)), abs=1e-5)
    assert f[3].point == pytest.approx(float(_target(1.3)), abs=1e-5)
    assert f[4].point == pytest.approx(float(_target(LOG_C[3] - 21.5)), abs=1e-5)
    assert not f[5].ok and "needs its base scores (x/acc, y/acc)" in f[5].notes[0]
    assert f[0].diagnostics["case"] == "planned" and f[0].diagnostics["family"] == "b"
    assert f[1].diagnostics["family"] is None and f[2].diagnostics["family"] is None
    assert f[0].diagnostics["capability"] == pytest.approx(
        [float(e.slopes_[0] * 23.2 + e.offsets_["b"][0])]
    )
    assert f[3].diagnostics == {"case": "existing", "capability": pytest.approx([NORM * 1.3 -
        NORM * np.mean([lc - 21.5 + o for o in OFFSETS.values() for lc in LOG_C])])}  # fmt: skip
    assert f[0].notes[0].startswith("planned model: capability from its family's")
    assert "not seen" in f[1].notes[0] and "not seen" in f[2].notes[0]
    # "seen" has no family (and no model of that name in the fit): errs like a left-out family;
    # a3's family comes from the fit, which saw it
    assert f[3].notes[0] == (
        "existing model: capability from its base scores (1 components); its family has no "
        "target scores in the fit, so the interval has the errors of models predicted with their "
        "family left out"
    )
    assert f[4].notes[0] == "existing model: capability from its base scores (1 components)"
    p = f[0].params
    assert p["n_components"] == 1 and p["floor"] == pytest.approx(FLOOR, abs=1e-5)
    assert p["ceiling"] == pytest.approx(1.0, abs=1e-5)
    assert p["beta_PC1"] == pytest.approx(1 / NORM, abs=1e-4)
    assert p["slope_PC1"] == pytest.approx(NORM, abs=1e-9)
    assert set(p) == {"n_components", "floor", "ceiling", "intercept", "beta_PC1", "slope_PC1",
                      "family_effect_sd"}  # fmt: skip
    assert p["family_effect_sd"] == 0.0  # noise-free: no family differs beyond its capability
    assert f[0].method == "observational" and f[0].benchmark == "t" and f[0].alpha == 0.1


def test_one_family_fit_plans_models_of_no_family_as_that_family() -> None:
    """Fitted on one family, a planned model without a family is taken to be of that family.

    Also n_bootstrap=0 (allowed): the fit once failed reshaping its empty list of refits."""
    e = est(n_bootstrap=0).fit(world({"b": 0.5}))
    f = e.predict(pd.DataFrame({"model": ["p"], "flops": [10**22.0]}))[0]
    assert f.point == pytest.approx(float(_target(22.0 - 21.5 + 0.5)), abs=1e-5)
    assert f.diagnostics["family"] == "b" and f.notes[0].startswith("planned model: capability")


def test_planned_flops_from_params_and_tokens() -> None:
    """No flops column: 6 N D, for fitting and for planned targets; zero compute is missing."""
    obs = world()
    n = obs["flops"] / 6 / 1e10
    e = est().fit(obs.drop(columns="flops").assign(n_params=n, n_tokens=1e10))
    assert e.slopes_ == pytest.approx([NORM], abs=1e-9)
    t = pd.DataFrame({"model": ["p", "q"], "family": ["a", "a"], "n_params": [10**22 / 6e10, 0.0],
                      "n_tokens": [1e10, 1e10]})  # fmt: skip
    f = e.predict(t)
    assert f[0].point == pytest.approx(float(_target(22.0 - 21.5)), abs=1e-5)
    assert not f[1].ok


def test_residual_scatter_sets_the_interval() -> None:
    """Target off the curve by +-0.02 alternately: least squares fits at least as well as the
    truth (sum of squares <= 18 x 0.02^2) and, with 4 parameters for 18 points, leaves about
    (18 - 4) / 18 of it; the 90% interval of a planned model is about the residuals' 5%..95%
    range, 0.04 wide, times sqrt(18 / 13) for the 5 parameters (0.047), plus the refits'
    spread; the interval shrinks to ~0 without them."""
    e = est(n_bootstrap=40).fit(world(wiggle=0.02))
    ss = float(np.sum(np.square(e.residuals_existing_)))
    assert 0.6 * 18 * 0.02**2 < ss <= 18 * 0.02**2
    f = e.predict(pd.DataFrame({"model": ["p"], "family": ["a"], "flops": [10**21.5]}))[0]
    assert f.point == pytest.approx(float(_target(0.0)), abs=0.005)
    assert 0.04 < f.upper - f.lower < 0.08
    g = (
        est(n_bootstrap=40)
        .fit(world())
        .predict(pd.DataFrame({"model": ["p"], "family": ["a"], "flops": [10**21.5]}))[0]
    )
    assert g.upper - g.lower < 1e-4


def test_error_metric_target_and_half_the_base_scores() -> None:
    """A target in 'err' is fitted as 1 - err and forecast back in err; a model with one of two
    base scores (half) is kept, with none it is dropped."""
    obs = world()
    tmask = obs["benchmark"] == "t"
    obs.loc[tmask, "value"] = 1 - obs.loc[tmask, "value"]
    obs.loc[tmask, "metric"] = "err"
    obs = obs[~((obs["model"] == "a0") & (obs["benchmark"] == "y"))]
    obs = obs[~((obs["model"] == "a1") & obs["benchmark"].isin(["x", "y"]))]
    e = est(metric="err", imputer="iterative").fit(obs)
    assert "a0" in e.base_scores_.index and "a1" not in e.base_scores_.index
    f = e.predict(pd.DataFrame({"model": ["p"], "family": ["b"], "flops": [10**22.0]}))[0]
    assert f.point == pytest.approx(1 - float(_target(22.0 - 21.5 + 0.5)), abs=1e-4)


def test_target_left_out_of_base_and_fixed_ends() -> None:
    """The target among the base benchmarks is left out; fixed floor and ceiling are kept."""
    e = est(base_benchmarks=("x/acc", "t/acc", "y/acc"), floor=0.2, ceiling=0.95).fit(world())
    assert e.base_ == ("x/acc", "y/acc")
    assert e.link_params_[0] == pytest.approx(0.2, abs=1e-6)
    assert e.link_params_[1] == pytest.approx(0.95, abs=1e-6)
    assert est(base_benchmarks=("x/acc", "t/acc")).input_contract().series == (
        ("t", "acc"),
        ("x", "acc"),
    )


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"base_benchmarks": "x/acc"}, "base_benchmarks must be a list of 1 to 64"),
        ({"base_benchmarks": ()}, "base_benchmarks must be a list of 1 to 64"),
        ({"base_benchmarks": tuple(f"b{i}/acc" for i in range(65))}, "base_benchmarks must be"),
        ({"n_components": 0}, "n_components must be 'cv' or an int >= 1, got 0"),
        ({"n_components": True}, "n_components must be 'cv' or an int >= 1, got True"),
        ({"n_components": "auto"}, "n_components must be 'cv' or an int >= 1, got 'auto'"),
        ({"n_components": 3}, "n_components=3 exceeds the 2 base benchmarks"),
        ({"floor": 1.5}, "floor must be None or a number in \\[0, 1\\], got 1.5"),
        ({"ceiling": -0.1}, "ceiling must be None or a number in \\[0, 1\\], got -0.1"),
        ({"floor": "0.2"}, "floor must be None or a number in \\[0, 1\\], got '0.2'"),
    ],
)
def test_parameter_checks(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"ObservationalScaling: {message}"):
        est(**kw).fit(world())


def test_parameter_edges_accepted() -> None:
    """64 base benchmarks, K equal to their number, floor 0 and ceiling 1 are all allowed."""
    est(base_benchmarks=tuple(f"b{i}/acc" for i in range(64)))._check_params()
    est(n_components=2, floor=0, ceiling=1)._check_params()
    est(base_benchmarks=("x/acc",))._check_params()


def test_fit_refusals() -> None:
    obs = world()
    w = "ObservationalScaling.fit"
    with pytest.raises(ValueError, match=f"{w}: observations lack column 'family'"):
        est().fit(obs.drop(columns="family"))
    with pytest.raises(ValueError, match=f"{w}: observations lack column 'flops'"):
        est().fit(obs.drop(columns="flops").assign(n_params=1.0))
    with pytest.raises(ValueError, match=f"{w}: no base benchmark besides the target 't'"):
        est(base_benchmarks=("t/acc",)).fit(obs)
    few = obs[obs["model"].isin(["a0", "a1", "a2"])]
    with pytest.raises(FitError, match=f"{w}: only 3 models have at least half"):
        est().fit(few)
    four = obs[obs["model"].isin(["a0", "a1", "a2", "a3"])]
    est().fit(obs[obs["model"].isin(["a0", "a1", "a2", "a3", "a4"])])  # 5 = k + 4 models
    with pytest.raises(FitError, match=f"{w}: 4 models have both base scores and t/acc; need 5"):
        est().fit(four)
    with pytest.raises(FitError, match=f"{w}: no model with base scores has both a family"):
        est().fit(obs.assign(family=None))
    with pytest.raises(ValueError, match="lack column\\(s\\) \\['metric'\\]"):
        est().fit(obs.drop(columns="metric"))


def test_choose_k_is_grouped_cross_validation() -> None:
    """cv_errors_ are the mean absolute errors of leave-one-family-out link fits on the space's
    first k components (3 families, one fold each), recomputed here from the pieces."""
    obs = world(wiggle=0.01)
    e = est(n_components="cv").fit(obs)
    wide = e.base_scores_.to_numpy(float)
    space = fit_space(wide, "mean", False, 0)
    y = obs[obs["benchmark"] == "t"].set_index("model")["value"].loc[e.base_scores_.index]
    fam = np.array([m[0] for m in e.base_scores_.index])
    s = space.transform(wide, 2)
    for k in (1, 2):
        errs = np.empty(len(y))
        for f in "abc":
            test = fam == f
            p = fit_link(s[~test, :k], y.to_numpy()[~test], None, 1.0)
            errs[test] = np.abs(link(s[test, :k], p) - y.to_numpy()[test])
        assert e.cv_errors_[k] == pytest.approx(errs.mean(), rel=1e-6)
    # K=2 adds a component with no variance: no better by a standard error, so K = min(3, 2).
    assert e.n_components_ == 2


def test_choose_k_falls_back_without_enough_families_or_models() -> None:
    """Two families, or fewer than kmax + 8 models with a target: K = min(3, kmax), no CV."""
    two = est(n_components="cv").fit(world({"a": 0.0, "b": 0.5}))
    assert two.n_components_ == 2 and two.cv_errors_ == {}
    obs = world()
    small = obs[obs["model"].str[1].isin(["0", "1", "2"])]  # 9 models < 2 + 8
    e = est(n_components="cv").fit(small)
    assert e.n_components_ == 2 and e.cv_errors_ == {}
    ten = obs[obs["model"].str[1].isin(["0", "1", "2", "3"]) & ~obs["model"].isin(["c3", "b3"])]
    assert est(n_components="cv").fit(ten).cv_errors_.keys() == {1, 2}  # 10 models = 2 + 8


def test_cross_validation_with_a_model_of_no_family_and_one_without_base_scores() -> None:
    """A link model without a family is its own group ('?'); a model with a target but no base
    scores is in neither the link nor the groups: 4 groups (a, b, c, ?), 18 link models."""
    obs = world()
    obs.loc[obs["model"] == "a5", "family"] = None
    extra = pd.DataFrame([{"model": "q", "family": "c", "flops": 1e21, "metric": "acc",
                           "benchmark": "t", "value": 0.5}])  # fmt: skip
    e = est(n_components="cv").fit(pd.concat([obs, extra], ignore_index=True))
    assert e.cv_errors_.keys() == {1, 2} and len(e.residuals_existing_) == 18


def test_capability_space_closed_form_and_refusals() -> None:
    """PC1 and the compute efficiency of the world; refusals name the problem."""
    obs = world()
    frame, fit = capability_space(obs, base_benchmarks=("x/acc", "y/acc"), n_components=1)
    cap = np.array([lc - 21.5 + off for off in OFFSETS.values() for lc in LOG_C])
    assert np.allclose(frame["PC1"], NORM * (cap - cap.mean()), atol=1e-9)
    assert list(frame.columns) == ["model", "family", "log10_flops", "PC1"]
    assert frame["log10_flops"].to_numpy() == pytest.approx(np.tile(LOG_C, 3))
    assert fit["slopes"] == pytest.approx([NORM], abs=1e-9)
    assert fit["offsets"]["b"] == pytest.approx([NORM * (0.5 - 21.5 - cap.mean())], abs=1e-8)
    assert fit["explained"] == pytest.approx([1.0])
    _, fit2 = capability_space(obs, base_benchmarks=("x/acc", "y/acc"), n_components=2)
    assert fit2["explained"] == pytest.approx([1.0, 0.0], abs=1e-12)
    # one model per family: no slope can be told from the offsets
    one = obs[obs["model"].str[1] == "0"]
    _, fit1 = capability_space(one, base_benchmarks=("x/acc", "y/acc"), n_components=1)
    assert fit1["slopes"] is None and fit1["offsets"] == {}
    w = "capability_space"
    with pytest.raises(ValueError, match=f"{w}: n_components must be 1 to 2"):
        capability_space(obs, base_benchmarks=("x/acc", "y/acc"), n_components=3)
    with pytest.raises(ValueError, match=f"{w}: n_components must be 1 to 2"):
        capability_space(obs, base_benchmarks=("x/acc", "y/acc"), n_components=0)
    with pytest.raises(ValueError, match=f"{w}: no rows for base benchmark 'q/acc'"):
        capability_space(obs, base_benchmarks=("x/acc", "q/acc"), n_components=1)
    with pytest.raises(ValueError, match=f"{w}: only 2 models have half"):
        capability_space(obs[obs["model"].isin(["a0", "b0"])], base_benchmarks=("x/acc",
                         "y/acc"), n_components=1)  # fmt: skip
    with pytest.raises(ValueError, match="lack column\\(s\\) \\['family'\\]"):
        capability_space(obs.drop(columns="family"), base_benchmarks=("x/acc", "y/acc"))


def world3(**kw: Any) -> pd.DataFrame:
    """The world with a third collinear base benchmark z = 0.6 + 0.08 cap (half of 3 is 2)."""
    obs = world(**kw)
    x = obs[obs["benchmark"] == "x"]
    z = x.assign(benchmark="z", value=0.6 + 0.08 * (x["value"] - 0.5) / V[0])
    return pd.concat([obs, z], ignore_index=True)


BASE3 = ("x/acc", "y/acc", "z/acc")


def test_half_of_the_base_scores_rule_with_three() -> None:
    """Three base benchmarks: a model needs ceil(3 / 2) = 2 of them, to fit and to be forecast
    as existing; with one it is dropped from the fit, and a target with one is planned."""
    obs = world3()
    drop_one = ~((obs["model"] == "a0") & (obs["benchmark"] == "z"))
    drop_two = ~((obs["model"] == "a1") & obs["benchmark"].isin(["y", "z"]))
    e = est(base_benchmarks=BASE3, imputer="iterative").fit(obs[drop_one & drop_two])
    assert "a0" in e.base_scores_.index and "a1" not in e.base_scores_.index
    frame, _ = capability_space(obs[drop_one & drop_two], base_benchmarks=BASE3, n_components=1)
    assert "a0" in set(frame["model"]) and "a1" not in set(frame["model"])
    t = pd.DataFrame({"model": ["two", "one"], "family": ["a", "a"], "flops": [10**22.0] * 2,
                      "x": [0.5 + 0.1 * 1.3] * 2, "y": [0.4 + 0.12 * 1.3, np.nan]})  # fmt: skip
    two, one = e.predict(t)
    assert two.diagnostics["case"] == "existing" and one.diagnostics["case"] == "planned"
    assert two.point == pytest.approx(float(_target(1.3)), abs=1e-3)
    assert one.point == pytest.approx(float(_target(22.0 - 21.5)), abs=1e-3)


def test_models_outside_the_link_or_without_compute() -> None:
    """A model with base scores but no target is in the space, not in the link's residuals; a
    model with a target but no flops is in the link, not in the planned residuals; a model with
    a family but no flops has no say in the compute efficiency; one with a target but no base
    scores is ignored."""
    obs = world()
    obs = obs[~((obs["model"] == "a2") & (obs["benchmark"] == "t"))]
    obs.loc[obs["model"] == "b3", "flops"] = np.nan
    extra = pd.DataFrame([{"model": "q", "family": "c", "flops": 1e21, "metric": "acc",
                           "benchmark": "t", "value": 0.5}])  # fmt: skip
    e = est().fit(pd.concat([obs, extra], ignore_index=True))
    assert len(e.residuals_existing_) == 17 and np.max(np.abs(e.residuals_existing_)) < 1e-5
    assert len(e.residuals_planned_) == 16 and np.max(np.abs(e.residuals_planned_)) < 1e-5
    assert e.slopes_ == pytest.approx([NORM], abs=1e-9)
    frame, fit = capability_space(obs, base_benchmarks=("x/acc", "y/acc"), n_components=1)
    assert fit["slopes"] == pytest.approx([NORM], abs=1e-9)
    assert list(frame["model"]) == [f"{f}{i}" for f in OFFSETS for i in range(6)]


def test_fixed_ends_hold_in_every_refit_and_standardize_scales() -> None:
    """Refits keep the fixed floor and ceiling; standardize=True gives the space unit scales."""
    e = est(floor=0.2, ceiling=0.95, n_bootstrap=4).fit(world(wiggle=0.01))
    assert np.allclose(e.boot_links_[:, 0], 0.2, atol=1e-6)
    assert np.allclose(e.boot_links_[:, 1], 0.95, atol=1e-6)
    s = est(standardize=True).fit(world())
    x_sd = np.std([0.5 + V[0] * (lc - 21.5 + o) for o in OFFSETS.values() for lc in LOG_C])
    assert s.space_.scale == pytest.approx([x_sd, x_sd * V[1] / V[0]])


def test_same_seed_same_refits_and_intervals() -> None:
    """Refits and residual draws come from random_state: two fits agree draw for draw."""
    obs = world(wiggle=0.02)
    a, b = est(n_bootstrap=6).fit(obs), est(n_bootstrap=6).fit(obs)
    assert np.array_equal(a.boot_links_, b.boot_links_)
    t = pd.DataFrame({"model": ["p", "n", "a3"], "family": ["a", "zz", None],
                      "flops": [10**22.0, 10**22.0, np.nan]})  # fmt: skip
    for f, g in zip(a.predict(t), b.predict(t), strict=True):
        assert (f.lower, f.upper) == (g.lower, g.upper)


def _noise_free_with(residuals: float) -> ObservationalScaling:
    """Fitted on the noise-free world (every refit the same), then given residuals of +-r."""
    e = est(n_bootstrap=40).fit(world())
    pm = tuple(residuals * (-1) ** i for i in range(18))
    e.residuals_existing_ = e.residuals_planned_ = e.residuals_new_family_ = pm
    return e


def test_interval_is_the_residual_inflated_for_the_parameters() -> None:
    """Refits all agree, residuals are +-0.02 (18 of them): the 90% interval is the point
    +- 0.02 sqrt(18 / (18 - p)), p = 4 link parameters for an existing model and 5 (the link
    and the family offset) for a planned one."""
    e = _noise_free_with(0.02)
    t = pd.DataFrame({"model": ["a3", "p", "n"], "family": [None, "a", "zz"],
                      "flops": [np.nan, 10**22.0, 10**22.0]})  # fmt: skip
    ex, pl, new = e.predict(t)
    for f, p in ((ex, 4), (pl, 5), (new, 5)):
        half = 0.02 * math.sqrt(18 / (18 - p))
        assert f.lower == pytest.approx(f.point - half, abs=1e-6)
        assert f.upper == pytest.approx(f.point + half, abs=1e-6)


def test_new_family_interval_uses_the_spread_of_families() -> None:
    """A planned model of an unseen family draws the new-family residuals (each family's offset
    from the mean: up to 0.1 here), not the own-family ones (0 on noise-free data)."""
    e = est(n_bootstrap=20).fit(world())
    t = pd.DataFrame({"model": ["p", "n"], "family": ["a", "zz"], "flops": [10**21.5] * 2})
    own, new = e.predict(t)
    assert own.upper - own.lower < 1e-4
    spread = np.quantile(e.residuals_new_family_, [0.05, 0.95])
    assert new.upper - new.lower > 0.8 * (spread[1] - spread[0]) > 0.1
    assert new.notes == (
        "planned model of a family the fit has not seen (or none given): the mean family "
        "offset, with the spread of families around it in the interval",
    )


def test_too_many_failed_refits_refuse_the_interval() -> None:
    """2 refits of 40 asked for (the rest taken away, as if they failed): no interval."""
    e = est(n_bootstrap=40).fit(world())
    e.boot_links_, e.boot_slopes_, e.boot_offsets_ = (
        e.boot_links_[:2], e.boot_slopes_[:2], e.boot_offsets_[:2]
    )  # fmt: skip
    t = pd.DataFrame({"model": ["a3", "p"], "family": [None, "a"], "flops": [np.nan, 1e22]})
    for f in e.predict(t):
        assert math.isfinite(f.point) and math.isnan(f.lower) and math.isnan(f.upper)


def test_existing_model_with_flops_stays_existing() -> None:
    """Base scores decide: a model with them and with family and flops is 'existing'."""
    e = est().fit(world())
    t = pd.DataFrame({"model": ["m"], "family": ["b"], "flops": [10**23.0],
                      "x": [0.5 + 0.1 * 1.3], "y": [0.4 + 0.12 * 1.3]})  # fmt: skip
    f = e.predict(t)[0]
    assert f.diagnostics["case"] == "existing"
    assert f.point == pytest.approx(float(_target(1.3)), abs=1e-5)


def test_target_base_scores_in_error_sense_and_unreadable_cells() -> None:
    """A base benchmark in 'err' is read from a target's column as 1 - err; a cell that is not
    a number counts as missing."""
    obs = world()
    xm = obs["benchmark"] == "x"
    obs.loc[xm, "value"] = 1 - obs.loc[xm, "value"]
    obs.loc[xm, "metric"] = "err"
    e = est(base_benchmarks=("x/err", "y/acc")).fit(obs)
    t = pd.DataFrame({"model": ["m", "u"], "family": ["b", "b"], "flops": [np.nan, 10**22.0],
                      "x/err": [1 - (0.5 + 0.1 * 1.3), "n/a"], "y": [0.4 + 0.12 * 1.3, "n/a"]})  # fmt: skip
    m, u = e.predict(t)
    assert m.point == pytest.approx(float(_target(1.3)), abs=1e-5)
    assert u.diagnostics["case"] == "planned"
    assert u.point == pytest.approx(float(_target(22.0 - 21.5 + 0.5)), abs=1e-5)


def test_two_component_unseen_family_takes_the_mean_offset_per_component() -> None:
    """K = 2: an unseen family's capability is the slope times log C plus each component's own
    mean offset; on the one-capability world its point is the mean family's curve."""
    e = est(base_benchmarks=BASE3, n_components=2, imputer="iterative").fit(world3())
    f = e.predict(pd.DataFrame({"model": ["n"], "family": ["zz"], "flops": [10**22.0]}))[0]
    mean_off = np.mean([e.offsets_[g] for g in e.families_], axis=0)
    assert f.diagnostics["capability"] == pytest.approx(list(e.slopes_ * 22.0 + mean_off))
    assert f.point == pytest.approx(float(_target(22.0 - 21.5)), abs=1e-4)


def test_refusals_name_where() -> None:
    """Each refusal names the method that raised it and the whole rule."""
    e = est().fit(world())
    with pytest.raises(ValueError, match=r"^ObservationalScaling\.predict: observations lack"):
        e.predict(pd.DataFrame({"name": ["m"]}))
    with pytest.raises(ValueError, match=r"^ObservationalScaling\.fit: observations lack"):
        est().fit(world().drop(columns="value"))
    with pytest.raises(ValueError, match=r"^ObservationalScaling\.fit: no .*benchmark='q'"):
        est(base_benchmarks=("x/acc", "q/acc")).fit(world())
    with pytest.raises(ValueError, match=r"^capability_space: observations lack"):
        capability_space(world().drop(columns="value"), base_benchmarks=("x/acc", "y/acc"))
    with pytest.raises(ValueError, match=r"must be a list of 1 to 64 'benchmark/metric' names$"):
        est(base_benchmarks=()).fit(world())
    with pytest.raises(FitError, match=r"family and flops \(or n_params and n_tokens\); "
                       "planned-model forecasts need them$"):  # fmt: skip
        est().fit(world().assign(family=None))
    six = tuple(f"b{i}/acc" for i in range(6))
    with pytest.raises(ValueError, match=r"capability_space: n_components must be 1 to 5$"):
        capability_space(world(), base_benchmarks=six, n_components=6)
    lost = e.predict(pd.DataFrame({"model": ["lost"]}))[0]
    assert lost.notes == (
        "no forecast: ObservationalScaling.predict: target needs its base scores (x/acc, y/acc) "
        "or column "
        "'flops' (or n_params and n_tokens) with its family",
    )
    assert (lost.benchmark, lost.metric, lost.alpha, lost.method, lost.diagnostics) == (
        "t",
        "acc",
        0.1,
        "observational",
        {},
    )


def test_defaults() -> None:
    """The documented defaults: K by cross-validation, iterative imputation, 200 refits."""
    p = ObservationalScaling(benchmark="t").get_params()
    assert (p["n_components"], p["imputer"], p["n_bootstrap"], p["random_state"]) == (
        "cv",
        "iterative",
        200,
        0,
    )
    assert p["ceiling"] == 1.0 and p["floor"] is None and p["standardize"] is False
    c = est().input_contract()
    assert c.size_optional is True and c.columns == () and c.size == ("flops", "n_params")


def test_capability_space_imputes_iteratively_by_default() -> None:
    """A missing y score of a model is regressed on x (collinear: exact), not the mean."""
    obs = world()
    obs = obs[~((obs["model"] == "a0") & (obs["benchmark"] == "y"))]
    frame, _ = capability_space(obs, base_benchmarks=("x/acc", "y/acc"), n_components=1)
    cap = np.array([lc - 21.5 + off for off in OFFSETS.values() for lc in LOG_C])
    assert frame["PC1"].to_numpy() == pytest.approx(NORM * (cap - cap.mean()), abs=2e-3)
    mean = capability_space(obs, base_benchmarks=("x/acc", "y/acc"), n_components=1,
                            imputer="mean")[0]  # fmt: skip
    assert abs(mean["PC1"].iloc[0] - NORM * (cap[0] - cap.mean())) > 0.01


class _Space:
    """A capability space whose components are the base columns themselves."""

    def transform(self, base: np.ndarray, k: int) -> np.ndarray:
        return base[:, :k]


def _choose(errors: dict[int, list[float]], monkeypatch: pytest.MonkeyPatch,
            floor: float | None = None) -> tuple[int, ObservationalScaling, list[Any]]:  # fmt: skip
    """Run _choose_k with a link whose absolute error at row i for K = k is errors[k][i]."""
    import predictors.observational as mod

    calls: list[Any] = []

    def fake_fit(s: np.ndarray, y: np.ndarray, fl: Any, ce: Any, start: Any = None) -> Any:
        calls.append((s.shape, fl, ce))
        return s.shape[1]

    def fake_link(s: np.ndarray, k: Any) -> np.ndarray:
        return np.asarray(s[:, 0] * 0 + np.array(errors[k])[s[:, -1].astype(int)])

    monkeypatch.setattr(mod, "fit_link", fake_fit)
    monkeypatch.setattr(mod, "link", fake_link)
    e = est(n_components="cv", floor=floor)
    e.__dict__["space_"] = _Space()
    n = len(errors[1])
    base = np.tile(np.arange(n)[:, None], (1, 5)).astype(float)  # last column: the row
    fams = np.array([f"f{i % 12:02d}" for i in range(n)])
    return e._choose_k(base, np.zeros(n), fams, 5), e, calls


_ALT = [0.0, 0.2] * 12  # mean 0.1, standard error sqrt(0.24 / 23) / sqrt(24) = 0.020852


@pytest.mark.parametrize(
    ("errors", "want"),
    [
        # K=1 beats the anchor (K=3, 0.5) by far more than its standard error
        ({1: [0.05, 0.15] * 12, 2: [0.5] * 24, 3: [0.5] * 24, 4: [0.5] * 24, 5: [0.5] * 24}, 1),
        # the best is K=5 (not the smallest K, nor the one with the smallest SE)
        ({1: [0.5] * 24, 2: [0.5] * 24, 3: [0.5] * 24, 4: [0.5] * 24, 5: [0.05, 0.15] * 12}, 5),
        # anchor 0.121 > 0.1 + 0.020852 (0.120852): K=1; with ddof=2 (SE 0.021320) or SE x n
        # it would be within one SE
        ({1: _ALT, 2: [0.5] * 24, 3: [0.121] * 24, 4: [0.5] * 24, 5: [0.5] * 24}, 1),
        # anchor 0.12 <= 0.120852: K=3 is kept
        ({1: _ALT, 2: [0.5] * 24, 3: [0.12] * 24, 4: [0.5] * 24, 5: [0.5] * 24}, 3),
    ],
)
def test_choose_k_rule(
    errors: dict[int, list[float]], want: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """K = 3 unless the lowest mean error beats it by more than that K's standard error; folds
    are whole families, at most 10 (12 families: f00 and f10 share a fold), so each K is fitted
    10 times, with the estimator's floor and ceiling."""
    k, e, calls = _choose(errors, monkeypatch, floor=0.2)
    assert k == want
    assert e.cv_errors_ == pytest.approx({j: float(np.mean(v)) for j, v in errors.items()})
    assert len(calls) == 50 and {c[1:] for c in calls} == {(0.2, 1.0)}
    # 12 families of 2 rows: folds 0 and 1 hold 4 rows, the other 8 hold 2
    assert sorted(c[0][0] for c in calls if c[0][1] == 1) == [20] * 2 + [22] * 8
