"""How a stored forecast finds its target's measurement (service/track_record.py, pure part)."""

from __future__ import annotations

import pandas as pd
import pytest

from service.track_record import REL_TOL, forecast_targets, score_forecasts, summarise

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def _forecasts(rows: list[dict]) -> pd.DataFrame:
    base = {"method": "exponential", "benchmark": "b", "metric": "acc", "point": 0.5,
            "lower": 0.4, "upper": 0.6, "alpha": 0.1, "created_at": T0}  # fmt: skip
    out = []
    for i, r in enumerate(rows, start=1):
        query = {"family": r.pop("family", "fam"), "target": r.pop("target")}
        out.append({"id": i, **base, **r, "query": query})
    return forecast_targets(pd.DataFrame(out))


def _measured(rows: list[dict]) -> pd.DataFrame:
    base = {"family": "fam", "benchmark": "b", "metric": "acc", "checkpoint_step": None,
            "flops": float("nan"), "created_at": T0 + pd.Timedelta(days=1)}  # fmt: skip
    df = pd.DataFrame([{**base, **r} for r in rows])
    df["flops"] = df["flops"].fillna(6 * df["n_params"] * df["n_tokens"])
    return df


def test_named_target_uses_final_checkpoint_and_averages_sources() -> None:
    targets = _forecasts([{"target": {"model": "m7", "n_params": 7e9, "n_tokens": 1e12}}])
    meas = _measured([
        {"model": "m7", "n_params": 6.9e9, "n_tokens": 5e11, "checkpoint_step": 1, "value": 0.1},
        {"model": "m7", "n_params": 6.9e9, "n_tokens": 9e11, "checkpoint_step": 2, "value": 0.62},
        {"model": "m7", "n_params": 6.9e9, "n_tokens": 9e11, "checkpoint_step": 2, "value": 0.66},
    ])  # fmt: skip
    got = score_forecasts(targets, meas).iloc[0]
    # 1e12 tokens is no checkpoint's (9e11 is 10% off): the final step's two sources, averaged
    assert (got["matched_by"], got["n_measurements"]) == ("model", 2)
    assert got["actual"] == pytest.approx(0.64) and got["abs_error"] == pytest.approx(0.14)
    assert not got["inside"] and got["prospective"]  # 0.64 is outside [0.4, 0.6]


def test_size_match_needs_the_family_and_the_tolerance() -> None:
    n, d = 2e9, 4e10
    targets = _forecasts([
        {"target": {"model": "target", "n_params": n, "n_tokens": d}},
        {"target": {"model": "target", "n_params": n, "n_tokens": d}, "family": "other"},
        {"target": {"model": "target", "n_params": n, "n_tokens": d}, "family": None},
        {"target": {"model": "target", "flops": 6 * n * d}},
    ])  # fmt: skip
    meas = _measured([
        {"model": "target", "n_params": n * (1 + 3 * REL_TOL), "n_tokens": d, "value": 0.9},
        {"model": "a", "n_params": n * (1 + 0.5 * REL_TOL), "n_tokens": d, "value": 0.55},
    ])  # fmt: skip
    scored = score_forecasts(targets, meas).set_index("forecast_id")
    # forecast 2 has another family, 3 none (and "target" names nothing): neither is scored
    assert sorted(scored.index) == [1, 4]
    assert scored.loc[1, "measured_model"] == "a" and scored.loc[1, "actual"] == pytest.approx(0.55)
    assert scored.loc[4, "matched_by"] == "size" and scored.loc[4, "actual"] == pytest.approx(0.55)


def test_summary_per_method() -> None:
    targets = _forecasts([
        {"target": {"model": "m1", "n_params": 1e9, "n_tokens": 2e10}, "point": 0.50},
        {"target": {"model": "m2", "n_params": 2e9, "n_tokens": 4e10}, "point": 0.70},
        {"target": {"model": "m2", "n_params": 2e9, "n_tokens": 4e10}, "method": "sigmoid",
         "point": 0.61, "lower": None, "upper": None},
    ])  # fmt: skip
    meas = _measured([
        {"model": "m1", "n_params": 1e9, "n_tokens": 2e10, "value": 0.45},
        {"model": "m2", "n_params": 2e9, "n_tokens": 4e10, "value": 0.62},
    ])  # fmt: skip
    summary = summarise(score_forecasts(targets, meas)).set_index("method")
    exp = summary.loc["exponential"]
    # errors 0.05 (inside [0.4, 0.6]) and 0.08 (0.62 outside): mean 0.065, max 0.08, coverage 1/2
    assert (exp["n"], exp["n_intervals"]) == (2, 2)
    assert exp["mean_abs_error"] == pytest.approx(0.065)
    assert exp["max_abs_error"] == pytest.approx(0.08)
    assert exp["coverage"] == pytest.approx(0.5) and exp["nominal_coverage"] == pytest.approx(0.9)
    sig = summary.loc["sigmoid"]
    assert sig["n"] == 1 and sig["n_intervals"] == 0 and pd.isna(sig["coverage"])
    assert sig["mean_abs_error"] == pytest.approx(0.01)
