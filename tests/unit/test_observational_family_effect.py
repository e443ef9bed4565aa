"""Family effects of the observational predictor: what a family scores on the target beyond
what its base scores predict, shrunk by empirical Bayes (hand-computed numbers), and recovered
on a synthetic world where one family is better and one worse on the target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from predictors.observational import ObservationalScaling
from predictors.observational_fit import FamilyEffects, family_effects

FAMILY = np.array(["a"] * 3 + ["b"] * 3 + ["c"] * 3, dtype=object)
RESID = np.array([0.10, 0.12, 0.08, -0.10, -0.08, -0.12, 0.0, 0.02, -0.02])


def test_shrunk_means_by_hand() -> None:
    """Within-family variance 0.0024 / 6 = 0.0004; family means 0.1, -0.1, 0 vary by 0.01, so
    tau2 = 0.01 - 0.0004 / 3; a mean over 3 models keeps tau2 / (tau2 + 0.0004 / 3) of itself."""
    fe = family_effects(RESID, FAMILY)
    tau2 = 0.01 - 0.0004 / 3
    assert fe.sigma2 == pytest.approx(0.0004) and fe.tau2 == pytest.approx(tau2)
    keep = tau2 / (tau2 + 0.0004 / 3)
    assert fe.effects == pytest.approx({"a": 0.1 * keep, "b": -0.1 * keep, "c": 0.0}, abs=1e-12)
    assert fe.counts == {"a": 3, "b": 3, "c": 3}


def test_leave_one_out_uses_the_other_members_only() -> None:
    """a's first model (0.10): the others' mean is 0.10, kept at tau2 / (tau2 + 0.0004 / 2);
    b's last (-0.12): the others' mean is -0.09. A family of one gets no effect."""
    fe = family_effects(RESID, FAMILY)
    keep2 = fe.tau2 / (fe.tau2 + 0.0004 / 2)
    loo = fe.leave_one_out(RESID, FAMILY)
    assert loo[0] == pytest.approx(0.10 * keep2) and loo[5] == pytest.approx(-0.09 * keep2)
    single = FamilyEffects({"z": 0.3}, {"z": 1}, fe.tau2, fe.sigma2)
    assert single.leave_one_out(np.array([0.3]), np.array(["z"], dtype=object))[0] == 0.0


def test_no_spread_between_families_means_no_effects() -> None:
    """Equal family means (only noise inside families) and too few families both give 0."""
    same = family_effects(np.array([0.1, -0.1] * 3), np.array(["a", "a", "b", "b", "c", "c"]))
    assert same.tau2 == 0.0 and set(same.effects.values()) == {0.0}
    two = family_effects(RESID[:6], FAMILY[:6])  # two families cannot show a spread
    assert two.tau2 == 0.0 and two.effects == {"a": 0.0, "b": 0.0}
    unknown = family_effects(RESID, np.array([None] * 9, dtype=object))
    assert unknown.effects == {}


BUMP = {"a": 0.0, "b": 0.08, "c": -0.06, "d": 0.0}
OFFSET = {"a": 0.0, "b": 0.4, "c": -0.4, "d": 0.2}
V = np.array([0.1, 0.12])


def _target(cap: float) -> float:
    return 0.25 + 0.75 / (1 + np.exp(-cap))


def _world() -> pd.DataFrame:
    """Four families, six models each; the target is a sigmoid of the capability plus each
    family's bump (b better, c worse), with +-0.01 alternating scatter."""
    rows = []
    for fam, off in OFFSET.items():
        for i, lc in enumerate(np.linspace(20.0, 23.0, 6)):
            cap = lc - 21.5 + off
            meta = {"model": f"{fam}{i}", "family": fam, "flops": 10**lc, "metric": "acc"}
            t = _target(cap) + BUMP[fam] + 0.01 * (-1) ** i
            for bench, val in [("x", 0.5 + V[0] * cap), ("y", 0.4 + V[1] * cap), ("t", t)]:
                rows.append({**meta, "benchmark": bench, "value": val})
    return pd.DataFrame(rows)


def _fit(**kw: object) -> ObservationalScaling:
    return ObservationalScaling(
        benchmark="t", base_benchmarks=("x/acc", "y/acc"), n_components=1, imputer="mean",
        n_bootstrap=100, **kw,
    ).fit(_world())  # fmt: skip


def _new(fam: str | None, cap: float, name: str = "new") -> dict[str, object]:
    return {"model": name, "family": fam, "x": 0.5 + V[0] * cap, "y": 0.4 + V[1] * cap}


def test_a_new_member_of_a_better_family_gets_its_bump() -> None:
    """b's new model scores 0.08 above the link: with the family effect the forecast is within
    0.015 and its interval covers the truth; without it, it is 0.06 or more too low."""
    cap = 0.3
    truth = _target(cap) + BUMP["b"]
    targets = pd.DataFrame([_new("b", cap)])
    with_fe = _fit().predict(targets)[0]
    without = _fit(family_effect=False).predict(targets)[0]
    assert abs(with_fe.point - truth) < 0.015 and with_fe.lower < truth < with_fe.upper
    assert truth - without.point > 0.06
    assert with_fe.diagnostics["family"] == "b"
    assert 0.07 < with_fe.diagnostics["family_effect"] < 0.09
    assert with_fe.notes[0].endswith(
        "plus its family's effect on this target (shrunk mean residual)"
    )
    assert "family_effect" not in without.diagnostics


def test_worse_family_from_the_fit_and_unseen_family_without() -> None:
    """A model named like one in the fit takes the fit's family (c: 0.06 below the link); an
    unseen family gets no effect, and the errors of left-out families in its interval."""
    e = _fit()
    assert e.family_effects_.effects["c"] == pytest.approx(-0.06, abs=0.01)
    assert e.family_effects_.effects["a"] == pytest.approx(0.0, abs=0.01)
    assert e._params()["family_effect_sd"] > 0.04
    base = _world().pivot_table(index="model", columns="benchmark", values="value")
    row = {"model": "c3", "x": base.loc["c3", "x"], "y": base.loc["c3", "y"]}
    c3, unseen = e.predict(pd.DataFrame([row, _new("zz", 0.3, "z-new")]))
    cap_c3 = np.linspace(20.0, 23.0, 6)[3] - 21.5 + OFFSET["c"]
    assert c3.point == pytest.approx(_target(cap_c3) - 0.06, abs=0.015)
    assert c3.diagnostics["family"] == "c"
    assert unseen.diagnostics == {"case": "existing", "capability": pytest.approx(
        unseen.diagnostics["capability"])}  # fmt: skip
    assert unseen.notes[0].endswith("errors of models predicted with their family left out")
    assert abs(unseen.point - _target(0.3)) < 0.03  # the link alone (the bumps nearly cancel)


def test_switched_off_fits_no_effects() -> None:
    e = _fit(family_effect=False)
    assert e.family_effects_.means == {} and e._params()["family_effect_sd"] == 0.0
    assert e.boot_family_effects_.shape == (100, 0)
    with pytest.raises(ValueError, match="family_effect"):
        # a string where a bool belongs, as a JSON payload could send: the type is the point
        ObservationalScaling(benchmark="t", family_effect="yes").fit(_world())  # type: ignore[arg-type]


def test_an_unseen_family_draws_the_errors_of_left_out_families() -> None:
    """Four families, four folds: each model's unseen-family residual is the link fitted on the
    other three families, evaluated on it (prediction minus data); the bumps make those errors
    larger than the in-sample ones, and the unseen target's interval wider than a seen one's."""
    from predictors.observational_fit import fit_link, link

    e = _fit()
    obs = _world()
    wide = obs.pivot_table(index="model", columns="benchmark", values="value")
    s = e.space_.transform(wide[["x", "y"]].to_numpy(float), 1)
    fam = wide.index.str[0].to_numpy()
    y = wide["t"].to_numpy()
    want = np.empty(len(y))
    for f in "abcd":
        out = fam == f
        p = fit_link(s[~out], y[~out], None, 1.0)
        want[out] = link(s[out], p) - y[out]
    order = [list(e.base_scores_.index).index(m) for m in wide.index]
    assert np.array(e.residuals_unseen_)[order] == pytest.approx(want, abs=1e-6)
    assert np.mean(np.abs(want)) > 1.25 * np.mean(np.abs(e.residuals_existing_))
    seen, unseen = e.predict(pd.DataFrame([_new("a", 0.3, "a-new"), _new("zz", 0.3, "z-new")]))
    assert unseen.upper - unseen.lower > 1.5 * (seen.upper - seen.lower)
