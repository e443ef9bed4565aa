"""Per-choice analysis on scores stored in the database (SQLite and PostgreSQL).

Two routes in: rows written through the ORM (as the evaluator writes them), and an
lm-evaluation-harness ``--log_samples`` file imported through ``db.importers.lmeval``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from db.importers.lmeval import read_samples
from db.importers.lmeval_db import load_samples
from db.models import Benchmark, ChoiceScore, EvalRun, Item, Model, ModelFamily
from db.session import make_engine, transaction
from predictors.perchoice import perchoice_analysis
from service.cli import app
from service.cli.perchoice_cmd import read_choice_scores_db

N_MODELS, N_ITEMS, K = 6, 40, 4


def family_frame(seed: int = 0) -> pd.DataFrame:
    """Correct choice's log-prob rises with compute faster than the incorrect ones' (which rise too)."""
    rng = np.random.default_rng(seed)
    n_params = np.geomspace(2e7, 1e9, N_MODELS)
    x = np.linspace(-1.5, 1.5, N_MODELS)
    rows = []
    for i in range(N_ITEMS):
        t = int(rng.integers(K))
        base, slope = rng.normal(-6, 1.5, K), rng.normal(0.6, 0.2, K)
        slope[t] = rng.uniform(0.8, 1.6)
        for m in range(N_MODELS):
            lp = np.minimum(base + slope * x[m] + rng.normal(0, 0.35, K), -0.01)
            for c in range(K):
                rows.append({
                    "family": "ladder-n", "model": f"ladder-{m}", "n_params": n_params[m],
                    "n_tokens": 2e10, "flops": None, "benchmark": "toy-mc", "item": f"q{i:03d}",
                    "choice_index": c, "logprob_sum": float(lp[c]), "n_chars": 4 + c,
                    "n_bytes": 4 + c, "is_correct": c == t,
                })  # fmt: skip
    return pd.DataFrame(rows)


def store_through_orm(url: str, df: pd.DataFrame) -> None:
    engine = make_engine(url)
    with transaction(engine) as s:
        fam = ModelFamily(name="ladder-n")
        bench = Benchmark(name="toy-mc", kind="multiple_choice")
        s.add_all([fam, bench])
        s.flush()
        items = {k: Item(benchmark_id=bench.id, key=k) for k in sorted(df["item"].unique())}
        s.add_all(items.values())
        models = df.drop_duplicates("model")
        for _, mrow in models.iterrows():
            model = Model(name=mrow["model"], family_id=fam.id, n_params=mrow["n_params"],
                          n_tokens=mrow["n_tokens"])  # fmt: skip
            s.add(model)
            s.flush()
            run = EvalRun(model_id=model.id, benchmark_id=bench.id, mode="choices", engine="hf",
                          config={}, config_hash=f"h-{model.id}", status="done")  # fmt: skip
            s.add(run)
            s.flush()
            sub = df[df["model"] == mrow["model"]]
            s.add_all(
                ChoiceScore(
                    run_id=run.id,
                    item_id=items[r.item].id,
                    choice_index=r.choice_index,
                    logprob_sum=r.logprob_sum,
                    n_chars=r.n_chars,
                    n_bytes=r.n_bytes,
                    is_correct=bool(r.is_correct),
                )
                for r in sub.itertuples()
            )
    engine.dispose()


def test_perchoice_on_choice_scores_stored_through_the_orm(db_url: str) -> None:
    df = family_frame()
    store_through_orm(db_url, df)
    stored = read_choice_scores_db(db_url, family="ladder-n", benchmark="toy-mc")
    assert len(stored) == len(df)
    from_db = perchoice_analysis(stored, family="ladder-n", benchmark="toy-mc")
    direct = perchoice_analysis(df, family="ladder-n", benchmark="toy-mc")
    pd.testing.assert_frame_equal(from_db.summary_table, direct.summary_table, rtol=1e-9)
    assert from_db.n_models == N_MODELS and from_db.n_items == N_ITEMS
    assert from_db.scaling == "N"
    assert from_db.ordering()[:3] == ["log_p_vocab", "p_vocab", "p_choices"]

    result = CliRunner().invoke(
        app,
        [
            "perchoice",
            "--family",
            "ladder-n",
            "--benchmark",
            "toy-mc",
            "--database-url",
            db_url,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["n_items"] == N_ITEMS and out["ordering_kendall_auc"] == from_db.ordering()
    missing = CliRunner().invoke(
        app, ["perchoice", "--family", "nope", "--database-url", db_url, "--json"]
    )
    assert missing.exit_code == 2 and "no per-choice scores" in missing.output


def write_log_samples(path, logprobs: np.ndarray, targets: list[int]) -> None:
    """A ``--log_samples`` JSONL as lm-eval 0.4 writes it for a multiple-choice task."""
    with path.open("w") as fh:
        for i, (row, t) in enumerate(zip(logprobs, targets, strict=True)):
            choices = [f" option {c}" for c in range(len(row))]
            doc = {"question": f"question {i}?", "choices": choices, "label": t}
            args = {f"gen_args_{c}": {"arg_0": f"Q: question {i}?\nA:", "arg_1": ch}
                    for c, ch in enumerate(choices)}  # fmt: skip
            resps = [[[str(lp), "False"]] for lp in row]
            fh.write(json.dumps({
                "doc_id": i, "doc": doc, "target": str(t), "arguments": args, "resps": resps,
                "filtered_resps": [r[0] for r in resps], "metrics": ["acc"],
                "acc": float(int(np.argmax(row)) == t),
            }) + "\n")  # fmt: skip


def test_perchoice_on_an_imported_lmeval_log_samples_file(db_url: str, tmp_path) -> None:
    df = family_frame(seed=1)
    engine = make_engine(db_url)
    with transaction(engine) as s:
        for m in range(N_MODELS):
            sub = df[df["model"] == f"ladder-{m}"].sort_values(["item", "choice_index"])
            lps = sub["logprob_sum"].to_numpy().reshape(N_ITEMS, K)
            targets = sub[sub.is_correct]["choice_index"].tolist()
            path = tmp_path / f"samples_toy-mc_2024-01-0{m + 1}T00-00-00.jsonl"
            write_log_samples(path, lps, targets)
            load_samples(s, read_samples(path), model=f"ladder-{m}", benchmark="toy-mc",
                         config={"num_fewshot": 0}, file=str(path), family="ladder-n")  # fmt: skip
        # lm-eval logs carry no model sizes: the ladder's sizes come from its recipe
        for m, n in enumerate(df.drop_duplicates("model")["n_params"]):
            s.execute(update(Model).where(Model.name == f"ladder-{m}")
                      .values(n_params=float(n), n_tokens=2e10))  # fmt: skip
    engine.dispose()

    stored = read_choice_scores_db(db_url, family="ladder-n", benchmark="toy-mc")
    assert len(stored) == N_MODELS * N_ITEMS * K
    res = perchoice_analysis(stored, family="ladder-n", benchmark="toy-mc")
    assert res.n_models == N_MODELS and res.n_items == N_ITEMS
    # items are keyed by lm-eval's doc_hash now, but the numbers are the same as the source frame
    direct = perchoice_analysis(df, family="ladder-n", benchmark="toy-mc")
    pd.testing.assert_frame_equal(res.summary_table, direct.summary_table, rtol=1e-9)
    assert res.ordering()[:3] == ["log_p_vocab", "p_vocab", "p_choices"]
    mass = res.mass_by_model
    first = df[(df.model == "ladder-0")]
    expected_acc = (
        first.groupby("item")
        .apply(
            lambda g: float(
                g.sort_values("choice_index")["logprob_sum"].to_numpy().argmax()
                == g[g.is_correct]["choice_index"].iloc[0]
            )
        )
        .mean()
    )
    assert mass.loc[mass.model == "ladder-0", "acc"].iloc[0] == pytest.approx(expected_acc)
    assert math.isfinite(res.incorrect_trend["fraction_rising"])
