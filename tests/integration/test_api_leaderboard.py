"""GET /v1/leaderboard on a live server: its numbers are predictors.backtest.backtest's."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from db.session import make_engine, transaction
from predictors.backtest import backtest
from predictors.filters import parse_filter
from predictors.registry import make_predictor
from tests.integration.live_server import live_server, make_key, server_log_errors

N_BOOT = 20


def lab_frame() -> pd.DataFrame:
    """Six models on the exponential law with noise (sd 0.01), five checkpoints each."""
    rng = np.random.default_rng(0)
    rows = []
    for i, n in enumerate(np.geomspace(2e7, 1e9, 6)):
        for step in range(1, 6):
            d = 20 * n * step / 5
            value = 0.25 + 0.75 * np.exp(-0.8 * (6 * n * d / 1e18) ** -0.3) + rng.normal(0, 0.01)
            rows.append({"model": f"m{i}", "family": "lab", "n_params": float(n),
                         "n_tokens": float(d), "checkpoint_step": step * 100, "benchmark": "task",
                         "metric": "acc", "value": float(value)})  # fmt: skip
    return pd.DataFrame(rows)


def _load(db_url: str, frame: pd.DataFrame) -> None:
    from db.loader import load_observations

    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            load_observations(session, frame, source="lab-source")
    finally:
        engine.dispose()


def direct(method: str, frame: pd.DataFrame, held: list[str]) -> dict:
    listed = "[" + ", ".join(repr(m) for m in held) + "]"
    est = make_predictor(method, benchmark="task", metric="acc", n_bootstrap=N_BOOT,
                         random_state=0, alpha=0.1)  # fmt: skip
    result = backtest(est, frame, fit=parse_filter(f"not (model in {listed})"),
                      predict=parse_filter(f"model in {listed}"))  # fmt: skip
    return result.summary


def test_leaderboard_over_rest_matches_backtest(db_url: str, tmp_path: Path) -> None:
    frame = lab_frame()
    _load(db_url, frame)
    read = make_key(db_url, "read", name="reader")
    log = tmp_path / "server.log"
    params = {"family": "lab", "methods": "exponential,sigmoid", "n_bootstrap": N_BOOT}
    with (
        live_server(db_url, log, CAPCAST_FIT_TIMEOUT_S="600") as base,  # a busy CI machine
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {read}"}, timeout=300) as c,
    ):
        assert httpx.get(f"{base}/v1/leaderboard").status_code == 401
        resp = c.get("/v1/leaderboard", params=params)
        assert resp.status_code == 200, resp.text
        board = resp.json()
        bad = c.get("/v1/leaderboard", params={"methods": "nope"})
        assert bad.status_code == 422 and "unknown method" in bad.text
        none = c.get("/v1/leaderboard", params={"family": "absent"})
        assert none.status_code == 404
        one = c.get("/v1/leaderboard", params={**params, "pooled": "true"})  # one family only
        assert one.status_code == 422 and "at least 3 families" in one.text
        split = c.get("/v1/leaderboard", params={**params, "pooled": "true", "pooled_split": "x"})
        assert split.status_code == 422 and "pooled_split" in split.text
        unpooled = c.get("/v1/leaderboard", params={**params, "pooled_split": "lofo"})
        assert unpooled.status_code == 422 and "needs pooled=True" in unpooled.text
    assert server_log_errors(log) == [], log.read_text()

    assert board["n_cells"] == board["n_cells_total"] == 1
    cells = {(c["split"], c["method"]): c for c in board["cells"]}
    assert set(cells) == {(s, m) for s in ("largest", "two_largest", "checkpoints")
                          for m in ("exponential", "sigmoid")}  # fmt: skip
    assert {c["dataset"] for c in board["cells"]} == {"lab-source"}
    # the held-out models are the largest by compute: m5, then m4 and m5
    compared: set[str] = set()
    for split, held in (("largest", ["m5"]), ("two_largest", ["m4", "m5"])):
        for method in ("exponential", "sigmoid"):
            want, got = direct(method, frame, held), cells[(split, method)]
            assert got["n"] == len(held) and got["n_refused"] == len(held) - want["n_predicted"]
            # the same code on the same numbers (SQLite and PostgreSQL store doubles exactly):
            # equal up to float summation order
            for key in ("mean_abs_error", "max_abs_error", "coverage"):
                if np.isnan(want[key]):  # no interval (or no forecast): null in JSON
                    assert got[key] is None, (split, method, key)
                else:
                    assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-12), (split, key)
                    compared.add(key)
    assert compared == {"mean_abs_error", "max_abs_error", "coverage"}  # each one a number once
    ckpt = cells[("checkpoints", "exponential")]
    assert ckpt["n"] == 6  # every model's final checkpoint, from its steps 100-300 (<= 60%)
    pooled = {r["method"]: r for r in board["table"]}
    for method in ("exponential", "sigmoid"):
        targets = [cells[(s, method)] for s in ("largest", "two_largest", "checkpoints")]
        assert pooled[method]["n"] == sum(t["n"] for t in targets) == 9
        assert pooled[method]["max_abs_error"] == pytest.approx(
            max(t["max_abs_error"] for t in targets if t["max_abs_error"] is not None)
        )
