"""A predictor that cannot fit the data is the user's 422; a predictor that breaks is our 500."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from predictors.baselines import ExponentialCompute
from service.errors import ApiError
from service.fit_pool import FitFailed, FitPool
from service.forecasting import FitBug, ForecastService, fit_and_backtest
from service.metrics import Metrics
from service.schemas import ForecastQuery

QUERY = ForecastQuery.model_validate(
    {"method": "exponential", "benchmark": "task", "target": {"n_params": 1e10, "n_tokens": 2e11}}
)


def _obs() -> pd.DataFrame:
    n = np.logspace(7, 9, 6)
    return pd.DataFrame(
        {
            "model": [f"m{i}" for i in range(6)],
            "n_params": n,
            "n_tokens": 20 * n,
            "flops": 120 * n * n,
            "checkpoint_step": 1,
            "benchmark": "task",
            "metric": "acc",
            "value": np.linspace(0.3, 0.6, 6),
        }
    )


def test_a_data_error_passes_through_and_a_bug_becomes_fitbug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self, observations):  # a bug: an attribute that does not exist
        return self.no_such_attribute

    monkeypatch.setattr(ExponentialCompute, "fit", broken)
    with pytest.raises(FitBug, match="AttributeError: 'ExponentialCompute' object has no attr"):
        fit_and_backtest(QUERY, _obs())

    def refuses(self, observations):
        raise ValueError("no rows with benchmark='task'")

    monkeypatch.setattr(ExponentialCompute, "fit", refuses)
    with pytest.raises(ValueError, match="no rows"):
        fit_and_backtest(QUERY, _obs())


@pytest.mark.parametrize(
    ("kind", "status", "text"),
    [("FitBug", 500, "internal error (error id "), ("ValueError", 422, "could not fit")],
)
def test_the_service_answers_a_bug_with_500_and_a_data_error_with_422(
    monkeypatch: pytest.MonkeyPatch, kind: str, status: int, text: str
) -> None:
    service = ForecastService(metrics=Metrics(), fit_timeout_s=5, max_concurrent_fits=1)

    def run(self, *args, **kwargs):  # what the fit process reports back
        raise FitFailed(kind, "Traceback ...: AttributeError: boom")

    monkeypatch.setattr(FitPool, "run", run)
    with pytest.raises(ApiError) as caught:
        service._run_fit(QUERY, _obs(), None)
    assert caught.value.status_code == status and text in str(caught.value.detail)
    assert "boom" not in str(caught.value.detail) or status == 422  # a bug's text stays in the log


def test_the_fit_forecasts_its_own_target_and_an_unpredictable_target_is_a_422(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from service.forecasting import Fitted, forecast_fields, target_frame, target_key

    outcome = fit_and_backtest(QUERY, _obs())
    direct = outcome.estimator.predict(target_frame(QUERY.target))[0]
    assert outcome.prediction["point"] == direct.point
    assert outcome.prediction["diagnostics"]["n_observations"] == 6
    entry = Fitted(outcome.estimator, "fp", _obs(), outcome.backtest)
    entry.predictions[target_key(QUERY.target)] = outcome.prediction
    fields = forecast_fields(QUERY, entry, "body.target")
    assert (fields["point"], fields["lower"], fields["upper"]) == (
        outcome.prediction["point"],
        outcome.prediction["lower"],
        outcome.prediction["upper"],
    )

    def cannot(self, targets):  # the fitted law has nothing to say at this target
        raise ValueError("target outside the law's domain")

    monkeypatch.setattr(ExponentialCompute, "predict", cannot)
    refused = fit_and_backtest(QUERY, _obs())
    assert refused.prediction == {"error": "target outside the law's domain"}
    with pytest.raises(ApiError) as caught:
        forecast_fields(QUERY, Fitted(refused.estimator, "fp", _obs(), {}, {target_key(QUERY.target): refused.prediction}), "body.target")  # fmt: skip
    assert caught.value.status_code == 422
    assert "could not predict the target: target outside" in str(caught.value.detail)
