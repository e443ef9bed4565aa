"""The benchmark registry maps each source's names, on real rows from ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from db.benchmark_registry import canonical_name, registry
from db.importers import benchbench, epoch, pythia, sloth
from db.model_identity import identity_key


def _mapped(df: pd.DataFrame, source: str | pd.Series, **kw: pd.Series) -> pd.DataFrame:
    out, _unmatched = registry().map_observations(df, source, **kw)
    return out


def test_canonical_names() -> None:
    assert canonical_name("winogrande", 0) == "winogrande"
    assert canonical_name("winogrande", 5) == "winogrande@5shot"
    assert canonical_name("winogrande", "unknown") == "winogrande@unknownshot"


def test_pythia_names_are_already_canonical(shared_data: Path) -> None:
    df = pythia.pythia_observations(shared_data / "pythia-evals")
    out, unmatched = registry().map_observations(df, "pythia")
    assert unmatched == []
    assert (out["benchmark"] == df["benchmark"]).all() and (out["metric"] == df["metric"]).all()
    assert {"winogrande", "winogrande@5shot", "mmlu_anatomy@5shot"} <= set(out["benchmark"])


def test_sloth_curated_maps_to_the_pythia_names(shared_data: Path) -> None:
    df = sloth.sloth_observations(shared_data / "sloth-openllm", dumps=False)
    out = _mapped(df, sloth.registry_sources(df["source"]))
    # data_v1.csv: pythia-12b scores 0.6369 on Winogrande (5-shot acc on Open LLM v1)
    row = out[(out["model"] == "pythia-12b") & out["source"].str.endswith("data_v1.csv")]
    wg = row[row["benchmark"] == "winogrande@5shot"]
    assert wg["metric"].tolist() == ["acc"]
    raw = df[(df["model"] == "pythia-12b") & (df["benchmark"] == "Winogrande")]
    assert wg["value"].iloc[0] == pytest.approx(raw["value"].iloc[0], abs=0)
    assert set(row.loc[row["benchmark"] == "arc_challenge@25shot", "metric"]) == {"acc_norm"}
    assert "mmlu_anatomy@5shot" in set(row["benchmark"])
    assert not ({"Winogrande", "ARC", "hendrycksTest-anatomy"} & set(out["benchmark"]))


def test_open_llm_v1_and_v2_dumps(shared_data: Path) -> None:
    d = shared_data / "sloth-openllm"
    v1, _ = sloth._dump(d / "open-llm-leaderboard_old.csv", "openllm_v1")
    v2, _ = sloth._dump(d / "open-llm-leaderboard_new.csv", "openllm_v2")
    out1, un1 = registry().map_observations(v1, "openllm_v1")
    out2, un2 = registry().map_observations(v2, "openllm_v2")
    assert un1 == [] and un2 == []
    assert set(out1["benchmark"]) == {
        "arc_challenge@25shot",
        "hellaswag@10shot",
        "mmlu@5shot",
        "truthfulqa_mc2",
        "winogrande@5shot",
        "gsm8k@5shot",
        "openllm_v1_average",
    }
    assert {"leaderboard_bbh@3shot", "leaderboard_math_hard@4shot", "leaderboard_gpqa"} <= set(
        out2["benchmark"]
    )
    # v2 keeps the normalised score and the raw metric apart
    bbh = out2[out2["benchmark"] == "leaderboard_bbh@3shot"]
    assert set(bbh["metric"]) == {"score", "acc"}


def test_epoch_shots_come_from_the_row(shared_data: Path) -> None:
    df = epoch.epoch_observations(shared_data / "epoch-benchmarks")
    out, unmatched = registry().map_observations(df, "epoch", shots=df["shots"])
    assert unmatched == []
    wg = out[df["benchmark"].to_numpy() == "winogrande"]
    shots = df.loc[df["benchmark"] == "winogrande", "shots"]
    # each row's shot count decides its variant: 0 -> winogrande, 5 -> @5shot, blank -> unknown
    expect = {"0": "winogrande", "5": "winogrande@5shot", "": "winogrande@unknownshot"}
    for s, name in expect.items():
        assert set(wg.loc[(shots == s).to_numpy(), "benchmark"]) == {name}
    gpt4 = out[(out["model"] == "gpt-4-0314") & (df["benchmark"].to_numpy() == "winogrande")]
    assert gpt4["benchmark"].tolist() == ["winogrande@5shot"]
    assert gpt4["value"].iloc[0] == pytest.approx(0.875)


def test_benchbench_rescales_the_open_llm_average(shared_data: Path) -> None:
    df = benchbench.benchbench_observations(shared_data / "benchbench")
    out, unmatched = registry().map_observations(df, "benchbench")
    avg = out[out["benchmark"] == "openllm_v1_average"]
    first = df[df["benchmark"] == "hf_open_llm_v1"]
    # 81.14 on the leaderboard's percent scale is 0.8114 beside the sloth dumps' average
    assert len(avg) == len(first) > 1000
    assert avg["value"].max() <= 1.0 and first["value"].max() > 1.0
    assert avg["value"].to_numpy() == pytest.approx(first["value"].to_numpy() * 0.01)
    assert "mmlu@unknownshot" in set(out["benchmark"])
    assert len(unmatched) > 0 and all(u.startswith("benchbench:") for u in unmatched)


def test_lm_eval_names(shared_data: Path) -> None:
    # pythia-evals is flattened lm-eval 0.3 output: its raw task names are lm-eval's
    tasks = pd.read_csv(shared_data / "pythia-evals" / "pythia_v1_evals_long.csv", usecols=["task"])
    names = sorted(set(tasks["task"]))
    got = {n: registry().resolve("lm_eval", n, "acc") for n in names}
    assert all(v is not None for v in got.values())
    assert got["hendrycksTest-anatomy"].benchmark == "mmlu_anatomy"  # type: ignore[union-attr]  # asserted not None above
    assert registry().resolve("lm_eval", "winogrande@5shot", "acc").benchmark == "winogrande@5shot"  # type: ignore[union-attr]  # a registry alias
    assert registry().resolve("lm_eval", "no_such_task", "acc") is None


def test_identity_key_joins_spellings_but_not_variants() -> None:
    assert identity_key("meta-llama/Llama-2-70b-hf") == identity_key("llama_2_70b")
    assert identity_key("Chinchilla (70B)") == "chinchilla-70b"
    assert identity_key("Llama-2-7b-chat") != identity_key("Llama-2-7b")
    assert identity_key("pythia-1.4b") != identity_key("pythia-1.4b-deduped")


def test_sloth_v2_table_maps_the_leaderboard_v2_columns(shared_data: Path) -> None:
    df = sloth.sloth_observations(shared_data / "sloth-openllm", dumps=False)
    v2 = df[df["source"].str.endswith("data_v2.csv")]
    out, unmatched = registry().map_observations(v2, sloth.registry_sources(v2["source"]))
    # data_v2.csv line 177: yi-1.5-34b, Open LLM Leaderboard v2 raw accuracies (PROVENANCE.md says
    # normalised scores, but they are the v2 dump's "<X> Raw" of 01-ai/Yi-1.5-34B: its BBH is 42.75)
    yi = out[out["model"] == "yi-1.5-34b"].set_index("benchmark")
    expect = {"leaderboard_ifeval": 0.28, "leaderboard_bbh@3shot": 0.60,
              "leaderboard_math_hard@4shot": 0.14, "leaderboard_gpqa": 0.37,
              "leaderboard_musr": 0.42, "leaderboard_mmlu_pro@5shot": 0.47}  # fmt: skip
    for name, value in expect.items():
        assert yi.loc[name, "metric"] == "acc"  # raw, beside the dump's "<X> Raw", not its score
        assert yi.loc[name, "value"] == value  # copied, not rescaled: exact
    # its v1 columns, in the same row, land on the v1 names as data_v1.csv's do
    assert yi.loc["winogrande@5shot", "value"] == 0.8406
    assert yi.loc["winogrande@5shot", "metric"] == "acc"
    # the 37 v2 sub-task columns map to lm-eval's leaderboard task names too: nothing is left
    assert unmatched == []
    assert {"leaderboard_ifeval", "leaderboard_bbh@3shot"} <= set(out["benchmark"])
    assert not ({"IFEval", "BBH", "MATH Lvl 5", "GPQA", "MUSR", "MMLU-PRO"} & set(out["benchmark"]))


def test_lm_eval_results_json_lands_where_pythia_does(shared_data: Path, tmp_path: Path) -> None:
    """Real Pythia rows written as lm-eval 0.4 results files map to the Pythia importer's names."""
    import json

    from db.importers import lmeval

    long = pd.read_csv(shared_data / "pythia-evals" / "pythia_v1_evals_long.csv")
    rows = long[(long["model"] == "pythia-12b") & (long["step"] == 143000)]
    frames = []
    for shots, part in rows.groupby("shots"):  # one results file per shot count, as lm-eval runs
        results: dict[str, dict[str, float]] = {}
        for r in part.itertuples():
            results.setdefault(str(r.task), {})[f"{r.metric},none"] = float(r.value)
        doc = {"results": results, "n-shot": {t: int(shots) for t in results},
               "config": {"model_args": "pretrained=EleutherAI/pythia-12b"}}  # fmt: skip
        path = tmp_path / f"results_{shots}.json"
        path.write_text(json.dumps(doc))
        frames.append(lmeval.results_observations(path))
    got, unmatched = registry().map_observations(pd.concat(frames), "lm_eval")
    assert unmatched == []
    ref = pythia.pythia_observations(shared_data / "pythia-evals")
    ref = ref[(ref["model"] == "pythia-12b") & (ref["checkpoint_step"] == 143000)]
    key = ["benchmark", "metric"]
    # the Pythia importer adds the wide table's MMLU averages, which lm-eval 0.3 did not report
    want = ref[~ref["benchmark"].isin(["mmlu", "mmlu@5shot"])].set_index(key)["value"]
    have = got.set_index(key)["value"]
    assert len(have) == 256 and sorted(have.index) == sorted(want.index)  # 258 rows less 2
    assert (have.sort_index() == want.sort_index()).all()  # same numbers, read two ways: exact
    assert ("winogrande@5shot", "acc") in have.index and ("mmlu_anatomy", "acc") in have.index
