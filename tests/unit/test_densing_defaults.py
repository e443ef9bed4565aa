"""The densing analysis's defaults: the registry's ceiling, and the reference/task/loss picked."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from db.benchmark_registry import score_ceiling
from service.cli import app
from service.densing_defaults import (
    PAPER_DOUBLING_DAYS,
    parse_ceiling,
    pick_default,
    resolve_ceiling,
    summarise,
)


def test_ceiling_is_one_for_bounded_accuracies_only() -> None:
    assert score_ceiling("winogrande@5shot", "acc") == 1.0
    assert score_ceiling("arc_challenge@25shot", "acc_norm") == 1.0
    assert score_ceiling("mmlu_anatomy@5shot", "acc") == 1.0  # a pattern task
    assert score_ceiling("leaderboard_gpqa", "score") == 1.0
    assert score_ceiling("leaderboard_gpqa", "acc") == 1.0  # sloth's curated raw accuracy
    assert score_ceiling("lambada_openai", "ppl") is None  # a loss
    assert score_ceiling("arena_elo", "elo") is None  # a rating
    assert score_ceiling("mt_bench", "score") is None  # a leaderboard aggregate on 1-10
    assert score_ceiling("my_private_task", "acc") is None  # unknown: fit it
    assert resolve_ceiling("fitted", "winogrande", "acc")[0] is None
    assert resolve_ceiling(0.9, "winogrande", "acc") == (0.9, "score ceiling 0.9 (asked)")
    assert math.log(2) / 0.0073 == PAPER_DOUBLING_DAYS  # 94.95 days: "about 95" in the paper


@pytest.mark.parametrize("bad", ["nan", "inf", "0", "-1", "2e6", "one", ""])
def test_bad_ceilings_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"ceiling|expected"):
        parse_ceiling(bad)
    assert parse_ceiling("auto") == "auto" and parse_ceiling("0.95") == 0.95


def _rows(family: str, model: str, bench: str, metric: str, best: float, **kw: bool) -> dict:
    return {"family": family, "model": model, "benchmark": bench, "metric": metric,
            "best": best, "dated": kw.get("dated", False), "sized": kw.get("sized", True),
            "sized_nonembed": kw.get("nonembed", False)}  # fmt: skip


def test_pick_default_skips_tasks_the_reference_does_not_leave_chance_on() -> None:
    rows = []
    for i in range(4):  # the reference: 4 models, near chance on MMLU, clear of it on Winogrande
        m = f"ref-{i}"
        rows += [_rows("ref", m, "mmlu@5shot", "acc", 0.26 + 0.01 * i),
                 _rows("ref", m, "winogrande@5shot", "acc", 0.52 + 0.05 * i),
                 _rows("ref", m, "lambada_openai", "ppl", 20.0 - i),
                 _rows("ref", m, "lambada_openai@5shot", "ppl", 20.0 - i)]  # fmt: skip
    rows += [_rows("small", "s0", "mmlu@5shot", "acc", 0.3),
             _rows("small", "s0", "pile", "loss", 2.0)]  # fmt: skip
    for i in range(6):  # MMLU has more dated targets than Winogrande, and still loses
        rows.append(_rows("new", f"n{i}", "mmlu@5shot", "acc", 0.6, dated=True))
    for i in range(4):
        rows.append(_rows("new", f"n{i}", "winogrande@5shot", "acc", 0.7, dated=True))
    picked = pick_default(pd.DataFrame(rows))
    assert picked is not None
    assert (picked.reference_family, picked.benchmark) == ("ref", "winogrande@5shot")
    # ppl (the only loss metric ref has); the loss set with the task's 5 shots
    assert (picked.loss_benchmark, picked.loss_metric) == ("lambada_openai@5shot", "ppl")
    assert picked.size_column == "n_params" and picked.n_targets == 4  # no non-embedding sizes
    assert pick_default(pd.DataFrame(rows), loss_metric="bpb") is None  # nobody has bpb rows


def test_cli_densing_with_no_names_picks_the_reference_from_the_file(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from test_densing import reference_family, score_of

    ref = reference_family().assign(release_date=pd.NaT)
    rng = np.random.default_rng(0)
    rows = []
    for i, day in enumerate(np.sort(rng.uniform(0, 700, 12))):
        n = float(10 ** rng.uniform(8.5, 10))
        date = (pd.Timestamp("2022-01-01") + pd.Timedelta(days=float(day))).date().isoformat()
        rows.append({"model": f"m{i}", "family": f"fam{i}", "n_params": n,
                     "n_params_nonembed": n, "n_tokens": 1e12, "release_date": date,
                     "benchmark": "task", "metric": "acc",
                     "value": score_of(math.exp(0.004 * day - 1) * n)})  # fmt: skip
    path = tmp_path / "obs.csv"
    pd.concat([ref, pd.DataFrame(rows)]).to_csv(path, index=False)
    r = CliRunner().invoke(app, ["densing", "--observations", str(path), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["reference"]["reference_family"] == "ref" and out["reference"]["loss"] == "lm/loss"
    # every target has a non-embedding size, so that is the size used (METHODS P4)
    assert out["reference"]["size_column"] == "n_params_nonembed"
    assert out["reference"]["ceiling"] is None  # "task" is not in the registry: fitted
    # the same data as test_backtest's named run, which recovers 0.004/day within 20%
    assert out["slope_per_day"] == pytest.approx(0.004, rel=0.2)
    assert out["paper"]["slope_per_day"] == 0.0073
    summary = summarise(pd.read_csv(path), ("acc", "loss"))
    assert set(summary["metric"]) == {"acc", "loss"} and summary["dated"].sum() == 12

    half = CliRunner().invoke(app, ["densing", "--observations", str(path), "--benchmark", "x"])
    assert half.exit_code == 2 and "or none" in half.output
    bad = CliRunner().invoke(app, ["densing", "--observations", str(path), "--ceiling", "nan"])
    assert bad.exit_code == 2 and "--ceiling" in bad.output


def test_a_flat_running_maximum_has_no_r_squared() -> None:
    """The first model is the densest: nothing to explain, so R² is NaN (not -inf) and a note."""
    from predictors.densing import fit_densing_law

    days = pd.to_datetime(["2023-01-01", "2023-06-01", "2024-01-01", "2024-06-01"])
    table = pd.DataFrame({"model": list("abcd"), "release_date": days,
                          "density": [2.0, 1.0, 0.5, 1.5]})  # fmt: skip
    res = fit_densing_law(table, {"reference_family": "r"}, n_bootstrap=10)
    assert math.isnan(res.r_squared) and res.slope == pytest.approx(0.0, abs=1e-12)
    assert "there is no trend" in res.notes[0]
    assert json.dumps(res.to_dict(), default=str)  # serialisable for --json
