"""The pure converters of the public datasets, checked against the data's own derived tables."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from db.errors import ImportValidationError
from db.importers import benchbench, epoch, gadre, pythia, sloth


@pytest.fixture(scope="module")
def gadre_obs(shared_data: Path) -> pd.DataFrame:
    return gadre.gadre_observations(shared_data / "gadre-overtraining")


def test_gadre_matches_models_flat(gadre_obs: pd.DataFrame, shared_data: Path) -> None:
    flat = pd.read_csv(shared_data / "gadre-overtraining" / "models_flat.csv").set_index("name")
    assert gadre_obs["model"].nunique() == 104
    assert set(gadre_obs["family"]) == {"gadre-rpj", "gadre-c4_original", "gadre-rw_original"}
    counts = gadre_obs.groupby("metric").size()
    assert counts.to_dict() == {"acc": 104 * 46, "loss": 104 * 8, "err": 104 * 2}
    wide = gadre_obs.pivot_table(index="model", columns="benchmark", values="value")
    for col, bench in (
        ("loss_c4_val", "c4_val"),
        ("loss_val_de-en_100", "val_de-en_100"),
        ("acc_hellaswag", "hellaswag"),
        ("err_avg17", "avg17"),
        ("err_avg46", "avg46"),
    ):
        np.testing.assert_allclose(wide[bench], flat.loc[wide.index, col], rtol=1e-12)
    sizes = gadre_obs.drop_duplicates("model").set_index("model")
    np.testing.assert_array_equal(sizes["n_params"], flat.loc[sizes.index, "N_params"])
    np.testing.assert_array_equal(sizes["n_tokens"], flat.loc[sizes.index, "D_tokens"])
    np.testing.assert_allclose(
        sizes["flops"], flat.loc[sizes.index, "flops_6ND"].astype(float), rtol=1e-12
    )


def _gadre_copy(shared_data: Path, tmp_path: Path, n: int = 2) -> Path:
    src = shared_data / "gadre-overtraining"
    dst = tmp_path / "gadre"
    (dst / "models").mkdir(parents=True)
    (dst / "evals").mkdir()
    shutil.copy(src / "eval_metadata.csv", dst)
    for path in sorted((src / "models").glob("*.json"))[:n]:
        shutil.copy(path, dst / "models")
        shutil.copy(src / "evals" / f"evaluation_{path.stem}_heavy.json", dst / "evals")
    return dst


def test_gadre_bad_inputs_name_file_and_key(shared_data: Path, tmp_path: Path) -> None:
    d = _gadre_copy(shared_data, tmp_path)
    model_json = sorted((d / "models").glob("*.json"))[0]
    obj = json.loads(model_json.read_text())
    obj["hyperparameters"]["params"] = -1
    model_json.write_text(json.dumps(obj))
    with pytest.raises(ImportValidationError) as info:
        gadre.gadre_observations(d)
    assert info.value.column == "n_params" and info.value.file == str(model_json)
    obj["hyperparameters"]["params"] = 1e6
    model_json.write_text(json.dumps(obj)[:-20])
    with pytest.raises(ImportValidationError, match="valid JSON") as info:
        gadre.gadre_observations(d)
    assert info.value.file == str(model_json) and info.value.line == 1
    model_json.write_text(json.dumps(obj))
    eval_json = d / "evals" / f"evaluation_{model_json.stem}_heavy.json"
    ev = json.loads(eval_json.read_text())
    ev["eval_metrics"]["icl"]["made_up_task"] = 0.5
    eval_json.write_text(json.dumps(ev))
    with pytest.raises(ImportValidationError, match="unknown benchmark") as info:
        gadre.gadre_observations(d)
    assert info.value.column == "eval_metrics.icl.made_up_task"
    del ev["eval_metrics"]["icl"]["made_up_task"]
    ev["eval_metrics"]["icl"]["boolq"] = float("nan")
    eval_json.write_text(json.dumps(ev))
    with pytest.raises(ImportValidationError, match="a number") as info:
        gadre.gadre_observations(d)
    assert info.value.column == "value" and info.value.file == str(eval_json)
    assert info.value.line is None and "line" not in str(info.value).split(":")[0]


@pytest.fixture(scope="module")
def pythia_obs(shared_data: Path) -> pd.DataFrame:
    return pythia.pythia_observations(shared_data / "pythia-evals")


def test_pythia_checkpoints_tokens_and_mmlu(pythia_obs: pd.DataFrame, shared_data: Path) -> None:
    wide = pd.read_csv(shared_data / "pythia-evals" / "pythia_v1_evals_wide.csv")
    long = pd.read_csv(shared_data / "pythia-evals" / "pythia_v1_evals_long.csv")
    assert len(pythia_obs) == len(long) + len(wide)
    assert pythia_obs["model"].nunique() == 16
    assert (pythia_obs["n_tokens"] == pythia_obs["checkpoint_step"].astype(float) * 2_097_152).all()
    zero = pythia_obs[pythia_obs["benchmark"] == "arc_easy"]
    assert zero.groupby("model")["checkpoint_step"].nunique().eq(27).all()
    five = pythia_obs[pythia_obs["benchmark"] == "arc_easy@5shot"]
    assert five.groupby("model")["checkpoint_step"].nunique().eq(15).all()
    mmlu = pythia_obs[(pythia_obs["benchmark"] == "mmlu") & (pythia_obs["model"] == "pythia-12b")]
    final = wide[(wide["model"] == "pythia-12b") & (wide["shots"] == 0) & (wide["step"] == 143000)]
    assert mmlu.set_index("checkpoint_step").loc[143000, "value"] == pytest.approx(
        final["mmlu_avg_acc"].iat[0]
    )
    subjects = pythia_obs[pythia_obs["benchmark"].str.match(r"mmlu_.+@5shot$")][
        "benchmark"
    ].nunique()
    assert subjects == 57
    ded = pythia_obs[pythia_obs["model"] == "pythia-70m-deduped"].iloc[0]
    assert (ded["family"], ded["n_params"], ded["n_params_nonembed"]) == (
        "pythia-deduped",
        70426624,
        18915328,
    )


def test_pythia_unknown_task_and_bad_step(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "pythia-evals"
    d = tmp_path / "pythia"
    d.mkdir()
    shutil.copy(src / "pythia_v1_evals_wide.csv", d)
    lines = (src / "pythia_v1_evals_long.csv").read_text().splitlines()[:50]
    lines[9] = (
        lines[9].replace("arc_easy", "arc_medium", 1)
        if "arc_easy" in lines[9]
        else lines[9].replace(lines[9].split(",")[3], "arc_medium")
    )
    (d / "pythia_v1_evals_long.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportValidationError, match="unknown benchmark") as info:
        pythia.pythia_observations(d)
    assert (info.value.line, info.value.column) == (10, "task")
    lines = (src / "pythia_v1_evals_long.csv").read_text().splitlines()[:50]
    cells = lines[20].split(",")
    cells[2] = "twelve"
    lines[20] = ",".join(cells)
    (d / "pythia_v1_evals_long.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportValidationError) as info:
        pythia.pythia_observations(d)
    assert (info.value.line, info.value.column) == (21, "step")


def test_sloth_curated_and_dumps(shared_data: Path) -> None:
    obs = sloth.sloth_observations(shared_data / "sloth-openllm")
    curated = obs[obs["source"] == "sloth-openllm/data_v1.csv"]
    yi = curated[curated["model"] == "yi-1.5-34b"].iloc[0]
    assert (yi["n_params"], yi["n_tokens"], yi["flops"]) == (34e9, 3.5e12, 714e21)
    old = obs[obs["source"] == "sloth-openllm/open-llm-leaderboard_old.csv"]
    raw = pd.read_csv(shared_data / "sloth-openllm" / "open-llm-leaderboard_old.csv")
    assert old["model"].nunique() == raw["Model"].nunique()  # one submission per model
    assert old["value"].max() <= 1.0 and old["metric"].eq("score").all()
    assert any("dropped 358" in n for n in obs.attrs["notes"])
    zero = raw[raw["#Params (B)"] == 0]["Model"].iloc[0]
    assert old[old["model"] == zero]["n_params"].isna().all()  # 0 means unknown


def test_benchbench_layouts_and_direction(shared_data: Path) -> None:
    scores = benchbench.benchbench_scores(shared_data / "benchbench")
    assert list(scores.columns) == ["scenario", "model", "score", "source_file", "higher_is_better"]
    air = scores[scores["source_file"].str.contains("helm_airbench_240916")]
    assert len(air) > 0 and not air["higher_is_better"].any()
    assert scores[scores["source_file"].str.contains("hf_open_llm_v1_240829_frozen")][
        "higher_is_better"
    ].all()
    combined = scores[
        scores["source_file"].str.startswith("benchbench/historical/combined_20240704.csv:")
    ]
    assert combined["source_file"].nunique() == 11  # one source per snapshot in the long file
    assert not scores.duplicated(["scenario", "model", "source_file"]).any()
    mistral = scores[scores["source_file"].str.endswith("opencompass_academic_240829_holistic.csv")]
    assert "Mistral-7B-Instruct-v0.3" not in set(mistral["model"])  # its score is missing


def test_benchbench_bad_cell_names_file_line_column(shared_data: Path, tmp_path: Path) -> None:
    d = tmp_path / "bb"
    (d / "benchmarks").mkdir(parents=True)
    shutil.copy(
        shared_data / "benchbench/benchmarks/helm_lite_240829_holistic.csv", d / "benchmarks"
    )
    path = d / "benchmarks/helm_lite_240829_holistic.csv"
    lines = path.read_text().splitlines()
    lines[4] = lines[4].rsplit(",", 1)[0] + ",inf"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportValidationError) as info:
        benchbench.benchbench_scores(d)
    assert (info.value.file, info.value.line) == (str(path), 5)


def test_epoch_bom_dedupe_and_dates(shared_data: Path) -> None:
    obs = epoch.epoch_observations(shared_data / "epoch-benchmarks")
    assert not obs.duplicated(["model", "benchmark"]).any()
    assert {"mmlu", "gsm8k", "arc_challenge", "arc_easy"} <= set(obs["benchmark"])
    assert obs["value"].between(0, 1).all()
    dates = epoch.epoch_release_dates(shared_data / "epoch-benchmarks")
    assert list(dates.columns) == ["model_version", "model", "release_date"]  # BOM stripped
    assert dates["release_date"].notna().sum() == 538
    yi = obs[obs["model"] == "Yi-6B"]
    assert (
        yi["release_date"] == dates.set_index("model_version").loc["Yi-6B", "release_date"]
    ).all()
    assert epoch.normalise_name("meta-llama/Llama_2 7b") == "llama-2-7b"
