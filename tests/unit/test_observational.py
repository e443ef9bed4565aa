"""The observational predictor: recovery of a known capability structure, intervals, contract,
the command line, and real sloth-openllm rows."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import subspace_angles
from typer.testing import CliRunner

from predictors.observational import ObservationalScaling
from predictors.registry import make_predictor
from service.cli import app

BASE = tuple(f"b{j}/acc" for j in range(6))
#: Truth: 2 capability dimensions, each linear in log10 FLOPs with one slope for all families and
#: an offset per family; 6 base benchmarks linear in capability; the target a sigmoid of it.
SLOPES = np.array([1.0, 0.4])
OFFSETS = {"fa": np.array([-21.5, -8.4]), "fb": np.array([-21.0, -8.8]),
           "fc": np.array([-22.0, -8.0]), "fd": np.array([-21.3, -8.6])}  # fmt: skip
LOADINGS = np.array([[0.08, 0.00], [0.06, 0.03], [0.05, -0.04],
                     [0.03, 0.06], [0.07, 0.02], [0.02, -0.05]])  # fmt: skip
MEANS = np.array([0.5, 0.45, 0.55, 0.4, 0.5, 0.6])
LINK = (0.2, 1.0, 0.3, 2.0, -1.0)  # floor, ceiling, intercept, beta1, beta2
BASE_NOISE, TARGET_NOISE = 0.004, 0.01


def capability(family: str, log_c: np.ndarray) -> np.ndarray:
    return log_c[:, None] * SLOPES[None, :] + OFFSETS[family][None, :]


def target_of(cap: np.ndarray) -> np.ndarray:
    lo, hi, a, b1, b2 = LINK
    return lo + (hi - lo) / (1 + np.exp(-(a + cap @ np.array([b1, b2]))))


def synthetic(
    seed: int, n_per_family: int = 12, lo: float = 19.0, hi: float = 23.0
) -> pd.DataFrame:
    """Long observations of four families on the truth above, with Gaussian noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for fam in OFFSETS:
        log_c = np.sort(rng.uniform(lo, hi, n_per_family))
        cap = capability(fam, log_c)
        base = MEANS + cap @ LOADINGS.T + rng.normal(0, BASE_NOISE, (len(log_c), 6))
        y = target_of(cap) + rng.normal(0, TARGET_NOISE, len(log_c))
        for i, lc in enumerate(log_c):
            name = f"{fam}-{i}"
            meta = {"model": name, "family": fam, "flops": 10**lc, "n_params": np.nan,
                    "n_tokens": np.nan, "metric": "acc"}  # fmt: skip
            rows += [{**meta, "benchmark": f"b{j}", "value": base[i, j]} for j in range(6)]
            rows.append({**meta, "benchmark": "target", "value": y[i]})
    return pd.DataFrame(rows)


def fitted(obs: pd.DataFrame, **params: object) -> ObservationalScaling:
    kw: dict[str, object] = {"base_benchmarks": BASE, "n_bootstrap": 100} | params
    return ObservationalScaling(benchmark="target", **kw).fit(obs)


def _pc_map(est: ObservationalScaling, obs: pd.DataFrame) -> np.ndarray:
    """Least-squares linear map M (with intercept) from true capability to fitted components."""
    cap = est.capabilities_.set_index("model")
    fam = obs.groupby("model")["family"].first()
    lc = np.log10(obs.groupby("model")["flops"].first())
    true = np.vstack([capability(fam[m], np.array([lc[m]]))[0] for m in cap.index])
    pcs = cap[[f"PC{i + 1}" for i in range(est.n_components_)]].to_numpy()
    design = np.column_stack([np.ones(len(true)), true])
    coef = np.linalg.lstsq(design, pcs, rcond=None)[0]
    return coef[1:].T  # (k, 2)


def test_recovers_subspace_offsets_and_link() -> None:
    obs = synthetic(0)
    est = fitted(obs, ceiling=None)  # the models span the whole sigmoid: fit both ends
    # K by cross-validation: the truth has 2 dimensions, so one component cannot carry the
    # link (its CV error is several times the noise-level error of K=2); K=3 (the prior) adds a
    # pure-noise component, which the rule keeps unless K=2 is better by one SE.
    assert est.n_components_ in (2, 3)
    assert est.cv_errors_[1] > 2 * est.cv_errors_[2]
    # Components up to rotation: the fitted 2-D subspace of base scores (scaled as the PCA saw them) against the
    # true loadings' span. Noise/signal per benchmark is 0.004 / ~0.1 = 0.04, so angles of a few
    # hundredths of a radian are expected; 0.15 rad (~3.5x) bounds it.
    true = LOADINGS / est.space_.scale[:, None]
    angles = subspace_angles(est.space_.axes[:2].T, true)
    assert angles.max() < 0.15
    # Slopes and family offsets, mapped through the fitted linear map M (true -> components):
    # offsets differ by 0.4-1.0 log10 units; the per-family offset's SE is ~ the capability noise
    # (0.004 / 0.06 ~ 0.07 per model, / sqrt(12)) ~ 0.02 after M, so 0.1 is ~5 SE.
    m = _pc_map(est, obs)
    assert np.allclose(est.slopes_, m @ SLOPES, atol=0.1)
    for f in ("fb", "fc", "fd"):
        diff = est.offsets_[f] - est.offsets_["fa"]
        assert np.allclose(diff, m @ (OFFSETS[f] - OFFSETS["fa"]), atol=0.1)
    # The link: floor and ceiling within 0.04 (the target noise 0.01 over the ~10 models near each
    # end gives an SE of ~0.005, plus the capability noise).
    lo, hi = est.link_params_[:2]
    assert abs(lo - LINK[0]) < 0.04 and abs(hi - LINK[1]) < 0.04
    # Residual scatter: at least the target noise, at most that plus the base noise carried
    # through the space (0.004 / ~0.1 loading = 0.04 capability) and the link's steepest slope
    # ((1 - 0.2) * 2 / 4 = 0.4): sqrt(0.01^2 + 0.016^2) = 0.0189; 20% either side for the
    # chi-square spread of ~48 residuals (SD ~10%).
    assert 0.8 * TARGET_NOISE < np.std(est.residuals_existing_) < 1.2 * 0.0189


def test_planned_and_existing_forecasts_land_in_their_intervals() -> None:
    obs = synthetic(1)
    est = fitted(obs)
    lc = np.array([23.2])  # just past fc's largest model, on the sigmoid's slope (truth 0.84)
    truth = float(target_of(capability("fc", lc))[0])
    plan = pd.DataFrame({"model": ["fc-next"], "family": ["fc"], "flops": [10**23.2]})
    f = est.predict(plan)[0]
    assert f.lower <= truth <= f.upper
    # A 90% prediction interval: the target noise alone gives +-1.645 * 0.01 = 0.033 wide (less
    # ~20% for the scatter of 5%/95% percentiles of 100 draws); above 0.2 it would be useless.
    assert 0.026 <= f.upper - f.lower <= 0.2
    # The same model given its base scores (an existing model) agrees with the planned forecast
    # to within the capability noise propagated through the link (< 0.03).
    cap = capability("fc", lc)
    base = {f"b{j}": float(MEANS[j] + (cap @ LOADINGS.T)[0, j]) for j in range(6)}
    g = est.predict(pd.DataFrame([{"model": "fc-seen", **base}]))[0]
    assert g.diagnostics["case"] == "existing" and abs(g.point - truth) < 0.03
    # A family the fit never saw: the mean offset, a wider interval, and a note saying so.
    h = est.predict(pd.DataFrame({"model": ["new"], "family": ["zz"], "flops": [10**22.0]}))[0]
    assert any("not seen" in n for n in h.notes) and h.upper - h.lower > f.upper - f.lower


def test_interval_coverage_near_nominal_on_replications() -> None:
    """30 replications x 4 held-out models (one per family, inside the fitted compute range):
    120 checks of 90% intervals. Binomial SD of the share is sqrt(0.9 * 0.1 / 120) = 0.027; the
    bootstrap's small-sample under-cover adds a little, so [0.80, 0.98] is ~3.5 SD either side."""
    inside = []
    for seed in range(30):  # ~1 s each
        obs = synthetic(100 + seed, n_per_family=10)
        test = obs.groupby("family")["model"].last().tolist()
        est = fitted(obs[~obs["model"].isin(test)], n_components=2, n_bootstrap=60)
        t = obs[obs["model"].isin(test) & (obs["benchmark"] == "target")]
        for f, v in zip(est.predict(t[["model", "family", "flops"]]), t["value"], strict=True):
            inside.append(f.lower <= v <= f.upper)
    assert 0.80 <= np.mean(inside) <= 0.98


def test_contract_errors_name_the_missing_column() -> None:
    obs = synthetic(2, n_per_family=5)
    with pytest.raises(ValueError, match="lack column 'family'"):
        fitted(obs.drop(columns="family"))
    with pytest.raises(ValueError, match="lack column 'flops'"):
        fitted(obs.drop(columns=["flops", "n_params"]))
    with pytest.raises(ValueError, match="benchmark='b9' metric='acc'"):
        fitted(obs, base_benchmarks=(*BASE, "b9/acc"))
    with pytest.raises(ValueError, match="n_bootstrap=20000 outside"):
        fitted(obs, n_bootstrap=20_000)
    est = fitted(obs, n_bootstrap=10)
    f = est.predict(pd.DataFrame({"model": ["x"], "family": ["fa"]}))[0]
    assert not f.ok and "'flops'" in f.notes[0]
    assert make_predictor("observational", benchmark="target").method == "observational"


def test_cli_backtest_on_an_observations_file(tmp_path) -> None:
    path = tmp_path / "obs.csv"
    synthetic(3).to_csv(path, index=False)
    params = json.dumps({"base_benchmarks": list(BASE), "n_bootstrap": 50})
    r = CliRunner().invoke(app, ["backtest", "--observations", str(path), "--method",
                                 "observational", "--benchmark", "target", "--fit",
                                 "flops <= 1e22", "--predict", "flops > 1e22", "--params",
                                 params, "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)["summary"]
    # Held-out models are extrapolated in compute; the target noise is 0.01, so a mean error
    # below 0.03 (3 sigma) means the planned path works end to end.
    assert s["n_predicted"] == s["n"] > 5 and s["mean_abs_error"] < 0.03


def test_real_sloth_openllm_rows(shared_data) -> None:
    """Sloth's curated table: fit up to 8.4e22 FLOPs, predict MATH Lvl 5 (v2) of the larger
    models from their Leaderboard v1 scores. The constant forecast (the training models' mean)
    errs by 0.064 there; a capability space worth having must cut that by at least 30% (it
    measured 0.027 when written, so the bound also leaves room for refits to move)."""
    from db.benchmark_registry import registry
    from db.importers import sloth

    raw = sloth.sloth_observations(shared_data / "sloth-openllm", dumps=False)
    obs, _ = registry().map_observations(raw, sloth.registry_sources(raw["source"]))
    obs = obs[obs["source"].str.endswith("data_v1.csv")]
    key = ("leaderboard_math_hard@4shot", "acc")  # the curated table's raw accuracy
    big = obs["flops"] > 8.4e22
    est = ObservationalScaling(benchmark=key[0], metric=key[1], n_bootstrap=50).fit(obs[~big])
    base = obs[big].pivot_table(index="model", columns="benchmark", values="value")
    v1 = [label.rpartition("/")[0] for label in est.base_]
    truth = base[key[0]][base[v1].notna().all(axis=1)].dropna()  # existing models: v1 scores
    targets = base.loc[truth.index].reset_index()
    forecasts = est.predict(targets)
    err = np.abs(np.array([f.point for f in forecasts]) - truth.to_numpy())
    assert len(err) > 20 and all(math.isfinite(e) for e in err)
    fit_scores = obs[~big & (obs["benchmark"] == key[0])].groupby("model")["value"].mean()
    constant = float(np.abs(fit_scores.mean() - truth.to_numpy()).mean())
    assert constant == pytest.approx(0.064, abs=0.002)
    assert err.mean() < 0.7 * constant
