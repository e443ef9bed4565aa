"""Fetch a public dataset from its source repository at the pinned commit when the shared data
folder is absent (PROVENANCE.md of each dataset names repository, commit and paths).

Only files copied verbatim can be fetched; ``gadre-overtraining/models_flat.csv`` and the
``pythia-evals`` CSVs were derived by a script and are not in any repository, so ``pythia`` cannot
be fetched (the error says so). Files land in ``get_settings().cache_dir / "public-data"``; a
file already there is not fetched again. Tests never need this: CI has the shared data.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from db.config import get_settings

RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
TREE = "https://api.github.com/repos/{repo}/git/trees/{commit}?recursive=1"

#: dataset -> (repository, [(commit, source folder or file, local folder, suffix filter)])
SOURCES: dict[str, tuple[str, list[tuple[str, str, str, str]]]] = {
    "gadre-overtraining": (
        "mlfoundations/scaling",
        [
            ("a003c4913793ac2ae7ef87b28ecb562955d026d5", "exp_data/models", "models", ".json"),
            ("a003c4913793ac2ae7ef87b28ecb562955d026d5", "exp_data/evals", "evals", ".json"),
            ("a003c4913793ac2ae7ef87b28ecb562955d026d5", "exp_data/eval_metadata.csv", "", ""),
        ],
    ),
    "benchbench": (
        "IBM/benchbench",
        [
            (
                "1dfd46a6f5dbc6ca8b7728425f1991625a6d4088",
                "src/bat/assets/benchmarks",
                "benchmarks",
                ".csv",
            ),
            (
                "1dfd46a6f5dbc6ca8b7728425f1991625a6d4088",
                "src/bat/assets/benchmarks_old",
                "benchmarks_old",
                ".csv",
            ),
            (
                "76e0e4dad9aeb28579fa2439482ad85ea98228d9",
                "src/bat/assets/combined_20240704.csv",
                "historical",
                "",
            ),
            (
                "76e0e4dad9aeb28579fa2439482ad85ea98228d9",
                "src/bat/assets/combined_holistic.csv",
                "historical",
                "",
            ),
            (
                "76e0e4dad9aeb28579fa2439482ad85ea98228d9",
                "src/bat/assets/combined_holistic_20240708.csv",
                "historical",
                "",
            ),
            (
                "b5a91da152eb7f90fb73ea0800c8aa655298e7c9",
                "src/bat/assets/benchmarks/eureka_241002.csv",
                "historical",
                "",
            ),
        ],
    ),
    "sloth-openllm": (
        "felipemaiapolo/sloth",
        [
            ("6dc6bb3efeefc7c1db01d60cba1f4b73e5d260d1", f"data/{name}", "", "")
            for name in (
                "data_v1.csv",
                "data_v2.csv",
                "lower_bounds.csv",
                "tokens.csv",
                "training_tokens.csv",
                "open-llm-leaderboard_new.csv",
                "open-llm-leaderboard_old.csv",
            )
        ],
    ),
    "pythia-sampling": (
        "RylanSchaeffer/KoyejoLab-Large-How-Do-Language-Monkey-Power-Get-Their-Power",
        [
            ("cd078aef2a13e4310fab204860b99c4c39c25d40", f"data/raw_data/{path}", "", "")
            for path in (
                "large_language_monkeys/gsm8k_pass_at_k.parquet",
                "gpt4_gsm8k/models_pythia.csv",
            )
        ],
    ),
    "epoch-benchmarks": (
        "epoch-research/benchmark-stitching",
        [("f87d3cc8e8a8f8471be475ebce58fb9a73b4e756", "data", "", "")],
    ),
}
_EPOCH_FILES = (
    "model_versions.csv",
    *tuple(
        f"external_benchmark_{b}.csv"
        for b in (
            "mmlu",
            "bbh",
            "gsm8k",
            "hellaswag",
            "arc_ai2",
            "winogrande",
            "piqa",
            "openbookqa",
            "boolq",
            "lambada",
            "triviaqa",
            "scienceqa",
            "anli",
            "superglue",
            "csqa2",
        )
    ),
)


class DatasetUnavailable(RuntimeError):
    """Neither the shared data nor a download can provide the dataset."""


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return bytes(resp.read())  # urlopen's response is typed Any


def _tree(repo: str, commit: str) -> list[str]:
    data = json.loads(_fetch(TREE.format(repo=repo, commit=commit)))
    return [e["path"] for e in data.get("tree", []) if e.get("type") == "blob"]


def _files(name: str, repo: str, commit: str, src: str, suffix: str) -> list[str]:
    if name == "epoch-benchmarks":
        return [f"{src}/{f}" for f in _EPOCH_FILES]
    if not suffix:
        return [src]
    return [
        p
        for p in _tree(repo, commit)
        if p.startswith(src + "/") and p.endswith(suffix) and "/" not in p[len(src) + 1 :]
    ]


def download_dataset(name: str, cache_dir: Path | None = None) -> Path:
    """Fetch dataset ``name`` into the cache (skipping files already there); return its folder."""
    if name not in SOURCES:
        raise DatasetUnavailable(
            f"{name} cannot be downloaded (its files were derived, not copied; see its "
            f"PROVENANCE.md); set CAPCAST_DATA_DIR to a folder that has it"
        )
    root = (cache_dir or get_settings().cache_dir) / "public-data" / name
    repo, entries = SOURCES[name]
    for commit, src, local, suffix in entries:
        for path in _files(name, repo, commit, src, suffix):
            target = root / local / Path(path).name
            if target.is_file():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(target.suffix + ".part")
            tmp.write_bytes(_fetch(RAW.format(repo=repo, commit=commit, path=path)))
            tmp.replace(target)
    return root


def resolve_dataset(name: str, directory: str | Path | None = None) -> Path:
    """The folder to import ``name`` from: the one given, the shared data, or a download."""
    if directory is not None:
        return Path(directory)
    shared = get_settings().data_dir / name
    if shared.is_dir():
        return shared
    cached = get_settings().cache_dir / "public-data" / name
    if cached.is_dir() and any(cached.iterdir()):
        return cached
    try:
        return download_dataset(name)
    except OSError as exc:
        raise DatasetUnavailable(f"{name}: not in {shared} and the download failed: {exc}") from exc
