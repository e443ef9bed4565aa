"""Model-name normalisation that matches one model across leaderboards without merging others.

Leaderboards spell the same model differently ("GPT-4o (2024-05-13)", "gpt-4o-2024-05-13",
"GPT-4o-20240513"); agreement testing needs them to be one row. The reference package (IBM
benchbench) lower-cases, swaps separators and drops the organisation, which also merges *different*
models: two organisations' fine-tunes with the same repo name, or (in versions with fuzzy matching)
dated variants such as ``gpt-4o-2024-05-13`` and ``gpt-4o-2024-08-06``. Here:

- separators, case, brackets and date spellings are normalised (``2024-05-13`` == ``20240513``);
- dates, versions and sizes are never dropped, so dated variants stay apart;
- the organisation prefix is dropped *unless* that would merge two distinct names of one source,
  in which case those names keep their organisation (a merge inside one leaderboard is always a
  mistake: one leaderboard lists one model once);
- nothing is fuzzy-matched: near-misses are *reported* (difflib) for a person to decide.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

_DATE = re.compile(r"(?<!\d)(20\d\d)[-_ ./]?(0[1-9]|1[0-2])[-_ ./]?([0-2]\d|3[01])(?!\d)")
_SEP = re.compile(r"[\s\-./:,]+")
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=\d)")
_REPEAT = re.compile(r"_+")
#: "org/name" (a hub id); not "GPT-4 Preview (11/06)", whose slash is inside a date.
_ORG = re.compile(r"^([\w.\-]+)/([^/]+)$")

#: Spellings that mean the same thing; applied after lower-casing, before separators change.
ALIASES: dict[str, str] = {
    "β": "beta",
    "command-r+": "command-r-plus",
    "dbrx-inst": "dbrx-instruct",
}


def normalise_model_name(name: str, *, keep_org: bool = False) -> str:
    """The matching key of one model name (see the module docstring for the rules).

    >>> normalise_model_name("GPT-4o (2024-05-13)") == normalise_model_name("gpt-4o-20240513")
    True
    >>> normalise_model_name("gpt-4o-2024-05-13") == normalise_model_name("gpt-4o-2024-08-06")
    False
    >>> normalise_model_name("meta-llama/Llama-2-70b-chat-hf")
    'llama_2_70b_chat'
    """
    text = str(name).strip().lower()
    if "dbrx-instruct" in text:
        text = text.replace("dbrx-instruct", "dbrx-inst")
    for old, new in ALIASES.items():
        text = text.replace(old, new)
    org = ""
    m = _ORG.match(text)
    if m:
        org, text = m.group(1), m.group(2)
    text = _DATE.sub(lambda m: f"_{m.group(1)}{m.group(2)}{m.group(3)}_", text)
    text = text.replace("(", " ").replace(")", " ").replace("*", " ").replace("+", " plus ")
    text = re.sub(r"[-_ ]hf$", "", text)
    text = _SEP.sub("_", text)
    text = _LETTER_DIGIT.sub("_", text)
    text = _REPEAT.sub("_", text).strip("_")
    if text.startswith("meta_llama"):
        text = text[len("meta_") :]
    if keep_org and org:
        return _REPEAT.sub("_", _SEP.sub("_", org)).strip("_") + "__" + text
    return text


@dataclass
class NameReport:
    """What matching did: keys in several sources, keys in one, near-misses and kept-apart names."""

    matched: dict[str, list[str]] = field(default_factory=dict)
    unmatched: dict[str, str] = field(default_factory=dict)
    near_misses: list[dict[str, Any]] = field(default_factory=list)
    kept_apart: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_matched": len(self.matched),
            "n_unmatched": len(self.unmatched),
            "matched": self.matched,
            "near_misses": self.near_misses,
            "kept_apart": self.kept_apart,
            "unmatched": self.unmatched,
        }


def normalise_names(
    df: pd.DataFrame, *, model_col: str = "model", source_col: str = "source"
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Add ``model_key``; names whose org-less key collides inside one source keep their org.

    Returns the frame (with the raw name kept in ``model_raw``) and the kept-apart records.
    """
    out = df.copy()
    out["model_raw"] = out[model_col].astype(str)
    groups = out[source_col] if source_col in out.columns else pd.Series("", index=out.index)
    raw = out["model_raw"]
    keys = raw.map(normalise_model_name)
    kept_apart: list[dict[str, Any]] = []
    pairs = pd.DataFrame({"g": groups.values, "raw": raw.values, "key": keys.values})
    distinct = pairs.drop_duplicates(["g", "raw"])
    clash = distinct.groupby(["g", "key"])["raw"].transform("nunique") > 1
    for (g, key), sub in distinct[clash].groupby(["g", "key"]):
        kept_apart.append({"source": g, "key": key, "names": sorted(sub["raw"].tolist())})
    if kept_apart:
        clash_set = {(r["source"], n) for r in kept_apart for n in r["names"]}
        mask = [(g, r) in clash_set for g, r in zip(groups.values, raw.values, strict=True)]
        keys = keys.where(~pd.Series(mask, index=out.index), raw.map(_org_key))
    out[model_col] = keys
    return out, kept_apart


def _org_key(name: str) -> str:
    return normalise_model_name(name, keep_org=True)


def match_report(
    df: pd.DataFrame,
    *,
    model_col: str = "model",
    source_col: str = "source",
    cutoff: float = 0.9,
    kept_apart: list[dict[str, Any]] | None = None,
) -> NameReport:
    """Which normalised names occur in several sources, which in one, and near-misses between them.

    A near-miss is an unmatched key whose closest key from another source has a difflib ratio of at
    least ``cutoff``; it is reported, never merged (``gpt_4o_20240513`` vs ``gpt_4o_20240806``).
    """
    pairs = df[[model_col, source_col]].drop_duplicates()
    by_key = pairs.groupby(model_col)[source_col].agg(lambda s: sorted(set(s)))
    report = NameReport(kept_apart=list(kept_apart or []))
    for key, sources in by_key.items():
        if len(sources) > 1:
            report.matched[str(key)] = sources
        else:
            report.unmatched[str(key)] = sources[0]
    keys = sorted(report.unmatched)
    all_keys = sorted(by_key.index.astype(str))
    for key in keys:
        own = report.unmatched[key]
        others = [k for k in all_keys if k != key and own not in by_key[k]]
        close = difflib.get_close_matches(key, others, n=1, cutoff=cutoff)
        if close:
            ratio = difflib.SequenceMatcher(None, key, close[0]).ratio()
            report.near_misses.append(
                {
                    "name": key,
                    "source": own,
                    "closest": close[0],
                    "closest_sources": by_key[close[0]],
                    "ratio": round(ratio, 3),
                }
            )
    return report
