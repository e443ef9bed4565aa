"""Model-name normalisation: match the same model across leaderboards, never merge different ones."""

from __future__ import annotations

import pandas as pd
import pytest

from predictors.names import match_report, normalise_model_name, normalise_names


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("GPT-4o (2024-05-13)", "gpt-4o-2024-05-13"),
        ("gpt-4o-2024-05-13", "GPT-4o-20240513"),
        ("Claude 3.5 Sonnet (20240620)", "claude-3-5-sonnet-20240620"),
        ("meta-llama/Llama-2-70b-chat-hf", "llama-2-70b-chat"),
        ("Qwen2-72B-Instruct", "qwen2_72b_instruct"),
        ("Command R+", "command-r-plus"),
        ("DBRX Instruct", "dbrx-instruct"),
    ],
)
def test_same_model_spelled_differently_matches(a: str, b: str) -> None:
    assert normalise_model_name(a) == normalise_model_name(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("gpt-4o-2024-05-13", "gpt-4o-2024-08-06"),  # dated variants
        ("Command R", "Command R+"),
        ("Llama-2-70b", "Llama-2-70b-chat"),
        ("mistral-7b-v0.1", "mistral-7b-v0.2"),
        ("GPT-4 Preview (11/06)", "GPT 3.5 Turbo (11/06)"),  # slash in a date is not an org
        ("hf-model-7b", "model-7b"),  # "hf" is dropped only as a suffix
    ],
)
def test_different_models_stay_apart(a: str, b: str) -> None:
    assert normalise_model_name(a) != normalise_model_name(b)


def test_org_is_kept_where_dropping_it_would_merge_two_names_of_one_source() -> None:
    df = pd.DataFrame(
        {
            "model": [
                "mistralai/Mixtral-8x22B-v0.1",
                "mistral-community/Mixtral-8x22B-v0.1",
                "google/gemma-7b",
                "Mixtral-8x22B-v0.1",
            ],
            "source": ["hf", "hf", "hf", "arena"],
            "score": [1.0, 2.0, 3.0, 4.0],
        }
    )
    out, kept = normalise_names(df)
    assert len(kept) == 1 and kept[0]["source"] == "hf" and len(kept[0]["names"]) == 2
    hf = out[out.source == "hf"]["model"].tolist()
    assert len(set(hf)) == 3  # nothing merged inside the leaderboard
    assert "gemma_7b" in hf  # no clash: organisation dropped as usual
    assert out["model_raw"].tolist() == df["model"].tolist()


def test_match_report_lists_matched_unmatched_and_near_misses() -> None:
    df = pd.DataFrame(
        {
            "model": [
                "GPT-4o (2024-05-13)",
                "gpt-4o-2024-08-06",
                "Claude 3.5 Sonnet (20240620)",
                "gpt-4o-2024-05-13",
                "claude-3.5-sonnet-0620",
            ],
            "source": ["helm", "helm", "helm", "arena", "arena"],
        }
    )
    out, kept = normalise_names(df)
    rep = match_report(out, kept_apart=kept)
    assert rep.matched == {"gpt_4o_20240513": ["arena", "helm"]}
    assert set(rep.unmatched) == {
        "gpt_4o_20240806", "claude_3_5_sonnet_20240620", "claude_3_5_sonnet_0620"
    }  # fmt: skip
    near = {(n["name"], n["closest"]) for n in rep.near_misses}
    # reported for a person to decide, not merged
    assert ("claude_3_5_sonnet_0620", "claude_3_5_sonnet_20240620") in near
    # the dated variant's closest name is listed by its own leaderboard: not a near-miss
    assert all(n["name"] != "gpt_4o_20240806" for n in rep.near_misses)
    d = rep.to_dict()
    assert d["n_matched"] == 1 and d["n_unmatched"] == 3
