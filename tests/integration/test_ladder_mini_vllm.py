"""The ladder lab end to end on a two-size miniature: train, evaluate with vLLM, export, import.

Training and evaluation run once per module (a few minutes on a quiet 2-core CPU); the import
then runs on SQLite and on PostgreSQL and is queried through the ``observations`` view.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from db import migrate
from db.queries import fetch_observations
from db.session import make_engine, session_factory
from evals.ladder.recipe import load_config

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")

pytestmark = [pytest.mark.vllm, pytest.mark.slow]
MINI = Path(__file__).resolve().parents[2] / "evals" / "ladder" / "configs" / "mini.yaml"


@pytest.fixture(scope="module")
def mini_ladder(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Train the miniature, evaluate it through vLLM into SQLite, export it."""
    from evals.ladder.evaluate import evaluate_ladder
    from evals.ladder.export import export_ladder
    from evals.ladder.train import train_ladder

    base = tmp_path_factory.mktemp("ladder")
    cfg = load_config(MINI)
    wd, out = base / "work", base / "reference"
    summaries = train_ladder(cfg, wd, log=lambda _m: None)
    url = f"sqlite:///{base / 'eval.sqlite'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    rows = evaluate_ladder(cfg, wd, session_factory(engine), engine="vllm", log=lambda _m: None)
    with session_factory(engine)() as s:
        manifest = export_ladder(s, cfg, wd, out)
    engine.dispose()
    return {"cfg": cfg, "summaries": summaries, "rows": rows, "out": out, "manifest": manifest}


def test_mini_ladder_trains_with_one_recipe(mini_ladder: dict) -> None:
    cfg, sums = mini_ladder["cfg"], mini_ladder["summaries"]
    assert [s["name"] for s in sums] == [s.name for s in cfg.sizes]
    vocab = mini_ladder["manifest"]["data"]["vocab_size"]
    for s in sums:
        # the final checkpoint and the two before it, saved in HF format with the tokenizer
        assert len(s["checkpoints"]) == 3 and s["checkpoints"][-1]["step"] == s["steps"]
        ck = mini_ladder["out"].parent / "work" / s["checkpoints"][-1]["path"]
        assert (ck / "config.json").exists() and (ck / "tokenizer.json").exists()
        # training moved the held-out loss well below a uniform guess over the vocabulary
        assert s["final_val_loss"] < math.log(vocab) - 0.5
        # one recipe: tokens = tokens_per_param * N (rounded up to whole batches), C = 6 N D
        assert s["n_tokens"] >= cfg.recipe.tokens_per_param * s["n_params"]
        assert s["flops"] == pytest.approx(6 * s["n_params"] * s["n_tokens"])
        assert s["n_params_nonembed"] == s["n_params"] - vocab * s["hidden"]
    assert sums[1]["flops"] > sums[0]["flops"]


def test_mini_ladder_evaluates_every_mode_vllm(mini_ladder: dict) -> None:
    modes = {(r["task"], r["mode"]) for r in mini_ladder["rows"]}
    assert ("ladder_add", "samples") in modes and ("ladder_add", "passuntil") in modes
    assert ("ladder_nextline", "greedy") in modes and ("ladder_rev_mc", "choices") in modes
    res = pd.read_parquet(mini_ladder["out"] / "results.parquet")
    sampled = res[res["mode"] == "samples"]
    assert (sampled["n_samples"] == 4).all()
    pu = res[res["mode"] == "passuntil"]
    # PassUntil stops at r=2 successes or at the budget, never beyond it
    assert ((pu["n_pass"] >= 2) | (pu["n_samples"] >= 16)).all() and (pu["n_samples"] <= 16).all()
    ch = pd.read_parquet(mini_ladder["out"] / "choices.parquet")
    assert (ch.groupby(["model", "item"])["is_correct"].sum() == 1).all()
    assert (mini_ladder["out"] / "pass_rate_vs_compute.png").stat().st_size > 1000


def test_mini_ladder_import_and_query_vllm(
    mini_ladder: dict,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    from db.config import get_settings
    from service.cli import app

    out = mini_ladder["out"]
    runner = CliRunner()
    monkeypatch.setenv("CAPCAST_DATABASE_URL", db_url)
    get_settings.cache_clear()  # the CLI reads the URL through the cached settings
    request.addfinalizer(get_settings.cache_clear)
    first = runner.invoke(app, ["import", "ladder", str(out), "--json"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["import", "ladder", str(out), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["item_results_inserted"] == 0  # idempotent
    res = pd.read_parquet(out / "results.parquet")
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            obs = fetch_observations(s, family="ladder-mini")
            n_items = s.execute(
                text("SELECT COUNT(*) FROM item_results WHERE family = 'ladder-mini'")
            ).scalar_one()
            greedy = pd.read_sql(
                text(
                    "SELECT model, checkpoint_step, n_tokens, flops FROM item_results "
                    "WHERE family = 'ladder-mini' AND mode = 'greedy'"
                ),
                s.connection(),
            ).drop_duplicates()
            passed = s.execute(
                text(
                    "SELECT SUM(n_pass), SUM(n_samples) FROM item_results "
                    "WHERE family = 'ladder-mini' AND mode = 'samples'"
                )
            ).one()
    finally:
        engine.dispose()
    assert n_items == len(res)
    # each checkpoint keeps its own step and compute (one model row per size holds all three)
    for sm in mini_ladder["summaries"]:
        g = greedy[greedy["model"] == f"ladder-mini-{sm['name']}"].sort_values("checkpoint_step")
        assert list(g["checkpoint_step"]) == [c["step"] for c in sm["checkpoints"]]
        assert list(g["n_tokens"]) == [c["n_tokens"] for c in sm["checkpoints"]]
        want = [6.0 * sm["n_params"] * c["n_tokens"] for c in sm["checkpoints"]]
        assert g["flops"].to_numpy() == pytest.approx(want, rel=1e-9)
    assert tuple(passed) == (
        int(res.loc[res["mode"] == "samples", "n_pass"].sum()),
        int(res.loc[res["mode"] == "samples", "n_samples"].sum()),
    )
    loss = obs[(obs["benchmark"] == "stdlib_heldout") & (obs["metric"] == "loss")]
    assert set(loss["model"]) == {"ladder-mini-m1-d32l1", "ladder-mini-m2-d64l1"}
    assert loss["checkpoint_step"].notna().all() and loss["n_tokens"].notna().all()
    pr = obs[(obs["benchmark"] == "ladder_add") & (obs["metric"] == "pass_rate")]
    assert len(pr) == 2 and pr["value"].between(0, 1).all()
