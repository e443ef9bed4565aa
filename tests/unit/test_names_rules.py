"""Name keys and the match report on hand-made names: exact keys, exact report entries.

difflib ratios are 2M/T (M matched characters, T both lengths): for two 10-letter keys that
differ in the last letter, 2 x 9 / 20 = 0.9; for two 11-letter keys, 2 x 10 / 22 = 0.909; keys of
the two families share at most one letter (ratio < 0.1).
"""

from __future__ import annotations

import pandas as pd

from predictors.names import NameReport, match_report, normalise_model_name, normalise_names


def test_keys_of_awkward_spellings() -> None:
    assert normalise_model_name("llama2-7b") == "llama_2_7b"  # a digit after letters splits
    assert normalise_model_name("model*") == normalise_model_name("model") == "model"
    assert normalise_model_name("a*b") == "a_b"
    assert normalise_model_name("Meta-Llama-3-8B") == "llama_3_8b"  # the org prefix in the name
    assert normalise_model_name("gpt-4o", keep_org=True) == "gpt_4o"  # no org to keep
    assert normalise_model_name("Meta-Llama/Llama-2", keep_org=True) == "meta_llama__llama_2"
    assert normalise_model_name("-ai-/Model", keep_org=True) == "ai__model"


def _df(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["model", "source"])


def test_match_report_entries_exactly() -> None:
    df = _df([
        ("shared", "A"), ("shared", "B"), ("abcdefghij", "A"), ("abcdefghik", "B"),
        ("klmnopqrstu", "A"), ("klmnopqrstx", "B"), ("abcdefxxxx", "A"), ("lonely", "B"),
    ])  # fmt: skip
    kept = [{"source": "A", "key": "k", "names": ["x/k", "y/k"]}]
    rep = match_report(df, kept_apart=kept)
    assert rep.matched == {"shared": ["A", "B"]}
    assert rep.unmatched == {
        "abcdefghij": "A", "klmnopqrstu": "A", "klmnopqrstx": "B", "abcdefghik": "B",
        "abcdefxxxx": "A", "lonely": "B",
    }  # fmt: skip
    assert rep.kept_apart == kept and rep.kept_apart is not kept
    by_name = {m["name"]: m for m in rep.near_misses}
    assert by_name["abcdefghij"] == {
        "name": "abcdefghij", "source": "A", "closest": "abcdefghik", "closest_sources": ["B"],
        "ratio": 0.9,
    }  # fmt: skip
    assert by_name["klmnopqrstu"]["ratio"] == 0.909 and by_name["klmnopqrstu"]["closest"] == (
        "klmnopqrstx"
    )
    # abcdefxxxx vs abcdefghik: 2 x 6 / 20 = 0.6 < 0.9; its close A neighbours are its own source
    assert "abcdefxxxx" not in by_name and "lonely" not in by_name
    assert sorted(by_name) == ["abcdefghij", "abcdefghik", "klmnopqrstu", "klmnopqrstx"]
    loose = match_report(df, cutoff=0.55)
    assert {m["name"] for m in loose.near_misses} >= {"abcdefxxxx"}
    assert match_report(df).kept_apart == []


def test_close_names_of_one_source_are_no_near_miss() -> None:
    rep = match_report(_df([("abcdefghij", "A"), ("abcdefghiz", "A"), ("other", "B")]))
    assert rep.near_misses == []


def test_report_to_dict() -> None:
    rep = NameReport(matched={"a": ["X", "Y"]}, unmatched={"b": "X", "c": "Y"})
    assert rep.to_dict() == {
        "n_matched": 1, "n_unmatched": 2, "matched": {"a": ["X", "Y"]}, "near_misses": [],
        "kept_apart": [], "unmatched": {"b": "X", "c": "Y"},
    }  # fmt: skip


def test_names_without_a_source_column_are_one_source() -> None:
    df = pd.DataFrame({"model": ["org1/M-1", "org2/M-1", "acme/other"]}, index=[5, 6, 7])
    out, kept = normalise_names(df)
    assert kept == [{"source": "", "key": "m_1", "names": ["org1/M-1", "org2/M-1"]}]
    assert out["model"].tolist() == ["org1__m_1", "org2__m_1", "other"]  # no clash: org dropped
    assert out.index.tolist() == [5, 6, 7]
