"""Backtest harness, registry and the capcast backtest / forecast / densing commands."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from predictors.backtest import backtest
from predictors.filters import parse_filter
from predictors.laws import exponential_compute
from predictors.registry import METHODS, make_predictor
from service.cli import app


def family(noise: float = 0.0) -> pd.DataFrame:
    """Eight sizes x 3 checkpoints on one task following the exponential-in-compute law."""
    rng = np.random.default_rng(0)
    rows = []
    for n in np.logspace(7, 10, 8):
        for step in (1, 2, 3):
            d = 20 * n * step / 3
            v = float(exponential_compute(6 * n * d, 0.25, 2.0, 0.12) + rng.normal(0, noise))
            rows.append(
                dict(
                    model=f"m{n:.0e}",
                    family="fam",
                    n_params=n,
                    n_params_nonembed=n,
                    n_tokens=d,
                    flops=6 * n * d,
                    checkpoint_step=step,
                    benchmark="task",
                    metric="acc",
                    value=v,
                )
            )
    return pd.DataFrame(rows)


def test_backtest_rows_and_summary() -> None:
    est = make_predictor("exponential", benchmark="task", n_bootstrap=50)
    res = backtest(
        est,
        family(noise=0.005),
        fit=parse_filter("n_params < 1e9"),
        predict=parse_filter("n_params > 1e9"),
    )
    assert list(res.rows.columns) == [
        "model",
        "benchmark",
        "metric",
        "predicted",
        "lower",
        "upper",
        "actual",
        "abs_error",
        "rel_error",
    ]
    assert len(res.rows) == 3  # three models above 1e9, each at its final checkpoint
    truth = family()[lambda d: (d.n_params > 1e9) & (d.checkpoint_step == 3)]["value"].to_numpy()
    assert np.allclose(np.sort(res.rows["actual"]), np.sort(truth), atol=0.02)
    s = res.summary
    assert s["n"] == 3 and s["max_abs_error"] >= s["mean_abs_error"] > 0
    assert s["mean_abs_error"] < 0.03
    # coverage is the share of actual values inside [lower, upper], recounted from the rows
    # (tests/unit/test_backtest_summary.py checks it against a case worked by hand)
    r = res.rows
    inside = ((r["lower"] <= r["actual"]) & (r["actual"] <= r["upper"])).mean()
    assert s["coverage"] == pytest.approx(inside) and s["nominal_coverage"] == pytest.approx(0.9)
    assert s["mean_rel_error"] == pytest.approx((r["abs_error"] / r["actual"].abs()).mean())
    assert res.rows["abs_error"].to_numpy() == pytest.approx(
        np.abs(res.rows["predicted"] - res.rows["actual"]).to_numpy()
    )


def test_backtest_refuses_bad_splits() -> None:
    est = make_predictor("sigmoid", benchmark="task")
    f = parse_filter
    with pytest.raises(ValueError, match="unknown column 'no_such_column'"):
        backtest(est, family(), fit=f("no_such_column < 3"), predict=f("n_params > 1e9"))
    with pytest.raises(ValueError, match="lack"):  # a column the parser knows but the rows lack
        backtest(
            est, family().drop(columns="flops"), fit=f("flops > 0"), predict=f("n_params > 1e9")
        )
    with pytest.raises(TypeError, match="must be a Filter"):  # text is parsed at the boundary
        backtest(est, family(), fit="n_params < 1e9", predict=f("n_params > 1e9"))  # type: ignore[arg-type]  # deliberately wrong type
    with pytest.raises(ValueError, match="models in both splits"):
        backtest(est, family(), fit=f("n_params > 0"), predict=f("n_params > 1e9"))
    with pytest.raises(ValueError, match="no task/acc rows"):
        backtest(est, family(), fit=f("n_params < 1e9"), predict=f("n_params < 0"))


def test_registry_names_and_errors() -> None:
    assert {"gadre", "ladder", "exponential", "sigmoid", "single_step"} <= set(METHODS)
    with pytest.raises(ValueError, match="unknown method 'magic'; known: "):
        make_predictor("magic")
    with pytest.raises(ValueError, match=r"no parameter\(s\) \['wings'\]; accepted: benchmark"):
        make_predictor("sigmoid", benchmark="t", wings=3)


@pytest.fixture
def obs_file(tmp_path):
    path = tmp_path / "obs.csv"
    family(noise=0.005).to_csv(path, index=False)
    return path


def test_cli_backtest_json(obs_file) -> None:
    r = CliRunner().invoke(
        app,
        [
            "backtest",
            "--observations",
            str(obs_file),
            "--method",
            "exponential",
            "--benchmark",
            "task",
            "--fit",
            "n_params < 1e9",
            "--predict",
            "n_params > 1e9",
            "--params",
            '{"n_bootstrap": 30}',
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert len(out["rows"]) == 3 and out["summary"]["n"] == 3
    assert {"predicted", "lower", "upper", "actual", "abs_error", "rel_error"} <= set(
        out["rows"][0]
    )


def test_cli_backtest_bad_input_exits_2(obs_file, tmp_path) -> None:
    r = CliRunner().invoke(
        app,
        [
            "backtest",
            "--observations",
            str(obs_file),
            "--method",
            "nope",
            "--benchmark",
            "task",
            "--fit",
            "n_params < 1e9",
            "--predict",
            "n_params > 1e9",
        ],
    )
    assert r.exit_code == 2 and "unknown method" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("model,benchmark,metric,value\nm,task,acc,notanumber\n")
    r = CliRunner().invoke(
        app,
        [
            "backtest",
            "--observations",
            str(bad),
            "--method",
            "sigmoid",
            "--benchmark",
            "task",
            "--fit",
            "n_params < 1e9",
            "--predict",
            "n_params > 1e9",
        ],
    )
    assert r.exit_code == 2 and "line 2" in r.output


def test_cli_forecast_from_file(obs_file) -> None:
    r = CliRunner().invoke(
        app,
        [
            "forecast",
            "--method",
            "exponential",
            "--benchmark",
            "task",
            "--target",
            "n_params=7e10,n_tokens=1.4e12,flops=5.88e23",
            "--observations",
            str(obs_file),
            "--params",
            '{"n_bootstrap": 20}',
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    f = json.loads(r.stdout)
    assert f["point"] == pytest.approx(
        float(exponential_compute(5.88e23, 0.25, 2.0, 0.12)), abs=0.02
    )
    r = CliRunner().invoke(
        app,
        [
            "forecast",
            "--method",
            "exponential",
            "--benchmark",
            "task",
            "--target",
            "size=7",
            "--observations",
            str(obs_file),
        ],
    )
    assert r.exit_code == 2 and "KEY=VALUE" in r.output


def test_cli_densing_with_plot(tmp_path) -> None:
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from test_densing import reference_family, score_of

    ref = reference_family().assign(release_date=pd.NaT)
    rng = np.random.default_rng(0)
    rows = []
    for i, day in enumerate(np.sort(rng.uniform(0, 700, 12))):
        n = float(10 ** rng.uniform(8.5, 10))
        rows.append(
            dict(
                model=f"m{i}",
                family=f"fam{i}",
                n_params=n,
                n_params_nonembed=n,
                n_tokens=1e12,
                release_date=(pd.Timestamp("2022-01-01") + pd.Timedelta(days=day))
                .date()
                .isoformat(),
                benchmark="task",
                metric="acc",
                value=score_of(math.exp(0.004 * day - 1) * n),
            )
        )
    path = tmp_path / "obs.csv"
    pd.concat([ref, pd.DataFrame(rows)]).to_csv(path, index=False)
    png = tmp_path / "d.png"
    r = CliRunner().invoke(
        app,
        [
            "densing",
            "--observations",
            str(path),
            "--reference-family",
            "ref",
            "--benchmark",
            "task",
            "--loss-benchmark",
            "lm",
            "--size-column",
            "n_params_nonembed",
            "--plot",
            str(png),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["reference"]["reference_family"] == "ref"
    assert out["slope_per_day"] == pytest.approx(0.004, rel=0.2)
    assert png.stat().st_size > 10_000


def test_cli_forecast_reads_the_database_sqlite_and_postgres(db_url, monkeypatch) -> None:
    """Without --observations, forecast reads db.queries.fetch_observations (both backends)."""
    from db.config import get_settings
    from db.loader import load_observations
    from db.session import make_engine, transaction

    obs = family(noise=0.005).assign(release_date=pd.NaT)
    engine = make_engine(db_url)
    with transaction(engine) as session:
        load_observations(session, obs, source="test")
    engine.dispose()
    monkeypatch.setenv("CAPCAST_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(
            app,
            [
                "forecast",
                "--method",
                "sigmoid",
                "--benchmark",
                "task",
                "--family",
                "fam",
                "--target",
                "n_params=7e10,n_tokens=1.4e12",
                "--params",
                '{"n_bootstrap": 20}',
                "--json",
            ],
        )
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 0, r.output
    f = json.loads(r.stdout)
    assert f["point"] == pytest.approx(
        float(exponential_compute(6 * 7e10 * 1.4e12, 0.25, 2.0, 0.12)), abs=0.05
    )
    assert f["diagnostics"]["fit"]["n_obs"] == 8  # eight models at their final checkpoints
