"""``capcast import pythia-sampling`` (all 10,273 per-item rows) on SQLite and PostgreSQL: counts,
values checked against the Parquet read with pandas, the join with ``pythia-evals``, idempotence,
and bad copies that change nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from sqlalchemy import text
from typer.testing import CliRunner

from db.session import make_engine, transaction
from service.forecasting import item_observations
from tests.integration.import_harness import counts, fails, run, small_copy

PARQUET = "gsm8k_pass_at_k.parquet"
MODELS = "models_pythia.csv"


def _k1(directory: Path) -> pd.DataFrame:
    """The Parquet's per-item rows as the data set documents them, straight from pandas."""
    df = pd.read_parquet(directory / PARQUET)
    return df[df["k"] == 1]


def test_full_import_joins_pythia_evals(
    cli: CliRunner, db_url: str, shared_data: Path, tmp_path: Path
) -> None:
    src = shared_data / "pythia-sampling"
    # pythia-evals' models first (its whole wide table): the standard sizes must be reused
    evals = small_copy(
        shared_data / "pythia-evals",
        tmp_path / "evals",
        {"pythia_v1_evals_wide.csv": 0, "pythia_v1_evals_long.csv": 2},
    )
    assert run(cli, "pythia", str(evals))["models_created"] == 16
    report = run(cli, "pythia-sampling", str(src))
    k1 = _k1(src)
    assert len(k1) == 10_273 and report["rows"] == 10_273
    assert report["item_results_inserted"] == 10_273 and report["runs_created"] == 81
    assert report["items_inserted"] == k1["prompt_idx"].nunique() == 130
    # eight sizes are pythia-evals' own rows (same name, family and sizes); only 14m is new
    made = (report["models_created"], report["models_updated"], report["families_created"])
    assert made == (1, 0, 0)
    before = counts(db_url)
    again = run(cli, "pythia-sampling", str(src))
    assert again["item_results_unchanged"] == 10_273 and again["item_results_inserted"] == 0
    assert again["runs_created"] == 0 and counts(db_url) == before

    engine = make_engine(db_url)
    with engine.connect() as conn:
        view = pd.DataFrame(
            conn.execute(
                text(
                    "SELECT model, family, n_params, n_params_nonembed, n_tokens, "
                    "checkpoint_step, item, n_samples, n_pass, pass_rate FROM item_results "
                    "WHERE benchmark = 'gsm8k'"
                )
            ).all()
        )
        shared = conn.execute(
            text("SELECT COUNT(DISTINCT name) FROM model WHERE name LIKE 'pythia-%'")
        ).scalar_one()
    with transaction(engine) as session:
        obs = item_observations(session, benchmark="gsm8k", family="pythia")
    engine.dispose()
    assert shared == 17  # 16 pythia-evals models + pythia-14m, nothing duplicated
    assert len(view) == 10_273 and set(view["family"]) == {"pythia"}
    # three rows from the Parquet (nickname, problem, samples, correct), against the stored view
    picks = [("Pythia_1.4B_200B", 12, 10_112, 43), ("Pythia_12B_300B", 20, 128, 2),
             ("Pythia_14M_2M", 264, 1_000_064, 2)]  # fmt: skip
    for nick, problem, n, s in picks:
        want = k1[(k1["Model Nickname"] == nick) & (k1["prompt_idx"] == problem)]
        assert (want["Num. Samples"].tolist(), want["Num. Samples Correct"].tolist()) == ([n], [s])
        size, tokens = nick.split("_")[1:]
        step = {"200B": 100_000, "300B": 143_000, "2M": 1}[tokens]
        got = view[(view["model"] == f"pythia-{size.lower()}") & (view["item"] == str(problem))]
        got = got[got["checkpoint_step"] == step]
        assert (got["n_samples"].tolist(), got["n_pass"].tolist()) == ([n], [s]), nick
        # at k=1 the file's unbiased pass@k is correct/samples: the view's pass_rate
        assert abs(float(got["pass_rate"].iat[0]) - float(want["pass@k"].iat[0])) < 1e-12
        assert float(got["n_tokens"].iat[0]) == step * 2_097_152
    # sizes: pythia-evals' exact counts (the file rounds them), tokens per checkpoint step
    p14 = view[view["model"] == "pythia-1.4b"]
    assert set(p14["n_params"]) == {1_414_647_808} and set(p14["n_params_nonembed"]) == {
        1_208_602_624
    }
    assert set(view.loc[view["checkpoint_step"] == 30_000, "n_tokens"]) == {62_914_560_000}
    # the per-model totals of correct draws match the file's, per checkpoint
    k1 = k1.assign(model="pythia-" + k1["Model Nickname"].str.split("_").str[1].str.lower())
    step_of = {"2M": 1, "64M": 32, "512M": 256, "2B": 1000, "6B": 3000, "20B": 10_000,
               "60B": 30_000, "200B": 100_000, "300B": 143_000}  # fmt: skip
    k1 = k1.assign(step=k1["Model Nickname"].str.split("_").str[2].map(step_of))
    want_sum = k1.groupby(["model", "step"])["Num. Samples Correct"].sum().astype(int)
    got_sum = obs.groupby(["model", "checkpoint_step"])["n_pass"].sum().astype(int)
    got_sum.index = got_sum.index.set_names(["model", "step"])
    pd.testing.assert_series_equal(want_sum, got_sum, check_names=False, check_dtype=False)
    assert set(obs["metric"]) == {"pass_rate"}
    assert (obs[obs["model"] == "pythia-12b"]["checkpoint_step"] == 1).sum() == 30


def _copy(shared_data: Path, dst: Path) -> Path:
    dst.mkdir()
    src = shared_data / "pythia-sampling"
    k1 = pd.read_parquet(src / PARQUET)
    small = k1[k1["Model Nickname"].isin(["Pythia_70M_2B", "Pythia_70M_300B"])].head(40)
    small.reset_index(drop=True).to_parquet(dst / PARQUET)
    shutil.copy(src / MODELS, dst / MODELS)
    return dst


def test_bad_copies_change_nothing(
    cli: CliRunner, db_url: str, shared_data: Path, tmp_path: Path
) -> None:
    d = _copy(shared_data, tmp_path / "s")
    good = pd.read_parquet(d / PARQUET)
    first = run(cli, "pythia-sampling", str(d))
    assert first["item_results_inserted"] == int((good["k"] == 1).sum()) > 0
    before = counts(db_url)
    row = int(good.index[good["k"] == 1][3])  # its line: data rows count from 2
    cases = [
        ("Num. Samples Correct", 10**9, "Num. Samples Correct: expected at most Num. Samples"),
        ("Num. Samples Correct", 1.5, "a non-negative whole number"),
        ("Model Nickname", "Pythia_70M_7B", f"a nickname listed in {MODELS}"),
        ("Num. Samples", 0, "a positive whole number"),
    ]
    for column, value, expected in cases:
        bad = good.copy()
        if column == "Model Nickname":
            bad[column] = bad[column].astype(object)
        bad.loc[row, column] = value
        bad.to_parquet(d / PARQUET)
        message = fails(cli, "pythia-sampling", str(d))
        assert f"{PARQUET}, line {row + 2} (data row {row + 1}), column {column}" in message
        assert expected in message, message
        assert counts(db_url) == before
    # a stored result whose count changes: an error at its line, never an overwrite
    changed = good.copy()
    stored = int(changed.at[row, "Num. Samples Correct"])
    changed.loc[row, "Num. Samples Correct"] = stored + 1
    changed.to_parquet(d / PARQUET)
    message = fails(cli, "pythia-sampling", str(d))
    assert f"line {row + 2}" in message and f"expected {stored} as already stored" in message
    assert counts(db_url) == before
    # the models table: a revision that is not a step, and a missing column
    good.to_parquet(d / PARQUET)
    lines = (d / MODELS).read_text().splitlines()
    lines[4] = lines[4].replace(",step", ",main-", 1)
    (d / MODELS).write_text("\n".join(lines) + "\n")
    message = fails(cli, "pythia-sampling", str(d))
    assert f"{MODELS}, line 5 (data row 4), column HuggingFace Revision: expected step" in message
    (d / MODELS).write_text("\n".join(x.rsplit(",", 3)[0] for x in lines) + "\n")
    assert "line 1, column Parameters Excluding Embeddings: expected this column" in fails(
        cli, "pythia-sampling", str(d)
    )
    assert counts(db_url) == before
    # a stored model's size is never overwritten: one more non-embedding parameter for 70m is an
    # error at the models table's line of its final checkpoint (Pythia_70M_300B, line 19)
    text_ = (shared_data / "pythia-sampling" / MODELS).read_text()
    (d / MODELS).write_text(text_.replace(",18915328,", ",18915329,"))
    message = fails(cli, "pythia-sampling", str(d))
    assert (
        f"{MODELS}, line 19 (data row 18), column Parameters: expected n_params 70426624 as "
        "already stored for model 'pythia-70m', got 70426625" in message
    ), message
    assert counts(db_url) == before
