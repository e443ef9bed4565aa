"""The dashboard's content over real HTTP (live server, cookie sign-in, SQLite and PostgreSQL):
the readable agreement table, the densing page's default, and verdicts that say what they rest on.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from db import migrate
from db.session import make_engine, transaction
from tests.integration.live_server import live_server, make_key, server_log_errors
from tests.unit.test_densing import reference_family, score_of


def _post(c: httpx.Client, rows: list[dict]) -> None:
    for start in range(0, len(rows), 1000):
        resp = c.post("/v1/measurements", json={"source": "t", "rows": rows[start : start + 1000]})
        assert resp.status_code == 200, resp.text


def _load(db_url: str, frame: pd.DataFrame, source: str = "t", attrs: dict | None = None) -> None:
    """Import through the loader, as the importers do (REST rows carry no release date)."""
    from db.loader import load_observations

    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            load_observations(session, frame, source=source, benchmark_attrs=attrs)
    finally:
        engine.dispose()


def agreement_rows() -> list[dict]:
    """8 models; benchmarks that rank them by skill, one constant (no finite agreement)."""
    rng = np.random.default_rng(0)
    skill = np.linspace(0.2, 0.8, 8)
    names = ["mmlu_a", "mmlu_b", "mmlu_c", "arc_easy", "arc_challenge", "piqa@5shot", "lonely"]
    rows = []
    for j, name in enumerate(names):
        values = skill + rng.normal(0, 0.03 * (j + 1), 8)
        rows += [{"model": f"m{i}", "family": "fam", "benchmark": name, "metric": "acc",
                  "value": float(v)} for i, v in enumerate(values)]  # fmt: skip
    rows += [{"model": f"m{i}", "family": "fam", "benchmark": "wsc@5shot", "metric": "acc",
              "value": 0.5} for i in range(8)]  # fmt: skip
    return rows


def densing_rows() -> list[dict]:
    """The densing unit test's reference family and 30 dated models whose density grows."""
    ref = reference_family()
    rows = [{k: (float(v) if isinstance(v, np.floating) else v) for k, v in r.items()}
            for r in ref.to_dict("records")]  # fmt: skip
    for r in rows:
        r["checkpoint_step"] = int(r["checkpoint_step"])
    rng = np.random.default_rng(0)
    for i, day in enumerate(np.sort(rng.uniform(0, 700, 30))):
        n = float(10 ** rng.uniform(8.5, 10))
        rho = math.exp(0.004 * day - 1.0 + rng.normal(0, 0.15))
        date = (pd.Timestamp("2022-01-01") + pd.Timedelta(days=float(day))).strftime("%Y-%m-%d")
        rows.append({"model": f"new-{i}", "family": "new", "n_params": n,
                     "n_params_nonembed": n, "release_date": date, "benchmark": "task",
                     "metric": "acc", "value": score_of(rho * n)})  # fmt: skip
    return rows


def test_agreement_and_densing_pages(db_url: str, tmp_path: Path) -> None:
    read = make_key(db_url, "read", name="reader")
    log = tmp_path / "server.log"
    with (
        live_server(db_url, log) as base,
        httpx.Client(base_url=base, cookies={"capcast_key": read}, timeout=120) as page,
    ):
        empty = page.get("/dashboard/densing")  # an empty database: a clear message, not a blank
        assert empty.status_code == 200, empty.text[:2000]
        assert 'id="densing-message"' in empty.text and "holds no acc or loss scores" in empty.text

        _load(db_url, pd.DataFrame(agreement_rows() + densing_rows()))

        html = page.get("/dashboard/agreement", params={"family": "fam"})
        assert html.status_code == 200, html.text[:2000]
        text = html.text
        assert 'id="heatmap-cells"' in text and 'id="agreement-table"' in text
        assert "position: sticky" in text and "<thead>" in text
        assert 'data-benchmark="wsc@5shot"' not in text  # constant: no finite agreement
        assert "1 benchmark(s) dropped: no finite agreement" in text and "wsc@5shot" in text
        headers = re.findall(r'<th data-column="([^"]+)">', text)
        assert headers == ["5 models", "all"]  # 10 and 20 models are "all" with 8 models
        assert "subset size(s) 10, 20 not shown" in text
        groups = re.findall(r'<tbody data-group="([^"]+)">', text)
        assert groups == ["*@5shot", "arc_*", "mmlu_*", "other"]
        shown = re.findall(r'<tr data-benchmark="([^"]+)">', text)
        assert len(shown) == 7 and "(z=+nan)" not in text

        by_name = page.get("/dashboard/agreement", params={"family": "fam", "sort": "name"})
        order = re.findall(r'<tr data-benchmark="([^"]+)">', by_name.text)
        assert order == ["piqa@5shot", "arc_challenge", "arc_easy", "mmlu_a", "mmlu_b", "mmlu_c",
                         "lonely"]  # fmt: skip
        assert '<option value="name" selected>' in by_name.text
        filtered = page.get("/dashboard/agreement", params={"family": "fam", "q": "mmlu"})
        kept = re.findall(
            r'<tr data-benchmark="([^"]+)"><td>[^<]*</td>\s*<td class="num">'
            r'([-0-9.]+)</td>\s*<td class="num">([-0-9.]+)</td>',
            filtered.text,
        )
        assert sorted(b for b, _, _ in kept) == ["mmlu_a", "mmlu_b", "mmlu_c"]
        taus = [float(t) for _, _, t in kept]  # default sort: tau (the "all" column) descending
        assert taus == sorted(taus, reverse=True)
        assert "4 hidden by the filter" in filtered.text
        bad = page.get("/dashboard/agreement", params={"sort": "tau; drop table"})
        assert bad.status_code == 422

        dens = page.get("/dashboard/densing")  # no parameters: the database's reference, fitted
        assert dens.status_code == 200, dens.text[:2000]
        assert 'id="density-plot" data-models="30"' in dens.text
        assert "Showing the default: ref, task, loss set lm" in dens.text
        assert re.search(r'<th>doubling time</th><td id="densing-doubling">\d+ days', dens.text)
        assert 'id="densing-message"' not in dens.text
        partial = page.get("/dashboard/densing", params={"reference_family": "ref"})
        assert partial.status_code == 200 and "all three" in partial.text
    assert server_log_errors(log) == [], log.read_text()


def test_densing_default_on_the_demo_data(db_url: str, tmp_path: Path, shared_data: Path) -> None:
    """The demo's Gadre data has loss and task rows but no release dates: say so, pre-selected."""
    from db.importers.gadre import SOURCE, gadre_benchmarks, gadre_observations

    migrate.upgrade(db_url)
    folder = shared_data / "gadre-overtraining"
    _load(db_url, gadre_observations(folder), SOURCE, gadre_benchmarks(folder))
    read = make_key(db_url, "read", name="reader")
    log = tmp_path / "server.log"
    with (
        live_server(db_url, log) as base,
        httpx.Client(base_url=base, cookies={"capcast_key": read}, timeout=120) as page,
    ):
        dens = page.get("/dashboard/densing")
        assert dens.status_code == 200, dens.text[:2000]
        families = re.search(r'name="reference_family" [^>]*value="([^"]+)"', dens.text)
        assert families and families.group(1).startswith("gadre-")
        loss = re.search(r'name="loss_benchmark" [^>]*value="([^"]+)"', dens.text)
        assert loss and loss.group(1)
        assert "No model in the database has a release date" in dens.text
        for family in ("gadre-rpj", "gadre-c4_original", "gadre-rw_original"):
            assert f'<option value="{family}">' in dens.text
    assert server_log_errors(log) == [], log.read_text()


def scaling_rows(sizes: np.ndarray, family: str) -> list[dict]:
    """Final scores on a smooth compute law: every method's backtest is near exact."""
    return [{"model": f"{family}-{n:.3g}", "family": family, "n_params": float(n),
             "n_tokens": 20 * float(n), "benchmark": "task", "metric": "acc",
             "value": 0.25 + 0.75 * float(np.exp(-0.8 * (120 * n * n / 1e18) ** -0.3))}
            for n in sizes]  # fmt: skip


def test_verdicts_say_how_many_held_out_models(db_url: str, tmp_path: Path) -> None:
    write = make_key(db_url, "write", name="loader")
    read = make_key(db_url, "read", name="reader")
    log = tmp_path / "server.log"
    with (
        live_server(db_url, log) as base,
        httpx.Client(base_url=base, cookies={"capcast_key": read}, timeout=300) as page,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {write}"}, timeout=120) as c,
    ):
        _post(c, scaling_rows(np.geomspace(2e7, 1e9, 10), "ten")
              + scaling_rows(np.geomspace(2e7, 1e9, 4), "four"))  # fmt: skip
        verdicts = {}
        for family, held_out in (("ten", 3), ("four", 1)):
            resp = page.get("/dashboard/scaling", params={"family": family, "benchmark": "task",
                                                          "methods": "exponential"})  # fmt: skip
            assert resp.status_code == 200, resp.text[:3000]
            row = re.search(r'<tr data-method="exponential" data-verdict="([^"]+)">(.*?)</tr>',
                            resp.text, re.S)  # fmt: skip
            assert row, resp.text[:3000]
            plural = "" if held_out == 1 else "s"
            assert f"rests on {held_out} held-out model{plural}" in row.group(2)
            verdicts[family] = row.group(1)
            target = re.search(r'name="n_params" size="9" value="([^"]+)"', resp.text)
            assert target and float(target.group(1)) == 2e9  # twice the largest model
        assert verdicts["four"] != "trustworthy"  # one held-out model is never enough
        assert verdicts["ten"] in ("trustworthy", "use with caution", "do not trust")
    assert server_log_errors(log) == [], log.read_text()


def test_leaderboard_page_shows_the_rest_numbers(db_url: str, tmp_path: Path) -> None:
    """The page's per-method table is GET /v1/leaderboard's; the nav links to it."""
    from tests.integration.test_api_leaderboard import lab_frame

    _load(db_url, lab_frame(), "lab-source")
    read = make_key(db_url, "read", name="reader")
    log = tmp_path / "server.log"
    params = {"family": "lab", "methods": "exponential,sigmoid"}
    with (
        live_server(db_url, log, CAPCAST_FIT_TIMEOUT_S="600") as base,  # a busy CI machine
        httpx.Client(base_url=base, cookies={"capcast_key": read}, timeout=300) as page,
    ):
        html = page.get("/dashboard/leaderboard", params=params)
        assert html.status_code == 200, html.text[:2000]
        rest = page.get("/v1/leaderboard", params=params,
                        headers={"Authorization": f"Bearer {read}"}).json()  # fmt: skip
        ask = page.get("/dashboard/leaderboard")  # no selection: a hint, no backtests
        assert ask.status_code == 200 and 'id="leaderboard-message"' in ask.text
        bad = page.get("/dashboard/leaderboard", params={"family": "lab", "methods": "nope"})
        assert bad.status_code == 422 and 'id="leaderboard-error"' in bad.text
        one = page.get("/dashboard/leaderboard", params={**params, "pooled": "true"})
        lofo = page.get("/dashboard/leaderboard",
                        params={**params, "pooled": "true", "pooled_split": "lofo"})  # fmt: skip
        odd = page.get("/dashboard/leaderboard", params={**params, "pooled_split": "x"})
    assert server_log_errors(log) == [], log.read_text()
    # the split chosen stays chosen (cutoff by default); an unknown one is a 422 that names it
    assert '<option value="cutoff" selected>' in html.text
    assert lofo.status_code == 422 and '<option value="lofo" selected>' in lofo.text
    assert odd.status_code == 422 and "pooled_split" in odd.text
    # pooled cells need three families; the lab has one: the reason, and the box stays ticked
    assert one.status_code == 422 and "at least 3 families" in one.text
    assert 'value="true" checked> pooled over families' in one.text
    assert 'value="true"> pooled over families' in html.text  # unticked by default
    assert '<a href="/dashboard/leaderboard">leaderboard</a>' in html.text
    assert 'data-cells="1" data-cells-total="1"' in html.text
    shown = re.findall(r'<tr data-method="([^"]+)" data-mae="([^"]*)">', html.text)
    assert [m for m, _ in shown] == [r["method"] for r in rest["table"]]
    for (_, mae), row in zip(shown, rest["table"], strict=True):
        assert float(mae) == pytest.approx(row["mean_abs_error"], rel=1e-12)
    cells = re.findall(r'<tr data-cell="lab/task/acc/([a-z_]+)/([a-z_]+)">', html.text)
    assert len(cells) == 6 and {s for s, _ in cells} == {"largest", "two_largest", "checkpoints"}
