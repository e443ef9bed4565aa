"""Every dashboard page in headless Chromium (Debian's package), driven over the DevTools protocol.

A live server holds the imported Gadre et al. data plus one benchmark named
``</script><script>alert(1)</script>`` (a copy of hellaswag's scores). The browser signs in
through the form, then visits the index, the scaling page, the agreement page, the densing form,
the capability space, the track record, ``/docs`` and ``/redoc``, and for each: saves a full-page screenshot into
``artifacts/`` (and tmp_path), and checks that every request the page made went to the server itself. On the chart
pages the plotly chart must render from the page's embedded JSON, a real mouse hover over a
measured point must show that model's name and values, and hovering a verdict-table row or a curve
must highlight the other (linked selection). The server-rendered SVG fallback stays in the DOM
(hidden) with the ids the no-JavaScript page is checked by. The injected benchmark name must stay
text: no dialog opens and the heatmap's label shows it literally.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import quote, urlsplit

import numpy as np
import pytest
from matplotlib import image

from db import migrate
from db.session import make_engine, transaction
from tests.e2e.cdp import Browser, Page
from tests.integration.live_server import live_server, make_key, server_log_errors

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
EVIL = "</script><script>alert(1)</script>"
AGREE = ["arc_easy", "arc_challenge", "hellaswag", "boolq", "copa", "mmlu", "openbook_qa",
         "lambada_openai", "commonsense_qa", "jeopardy", EVIL]  # fmt: skip


def _import_gadre(url: str, data: Path) -> int:
    from db.importers.gadre import SOURCE, gadre_benchmarks, gadre_observations
    from db.loader import load_observations

    frame = gadre_observations(data / "gadre-overtraining")
    evil = frame[(frame["family"] == "gadre-rpj") & (frame["benchmark"] == "hellaswag")].copy()
    evil["benchmark"] = EVIL
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            attrs = gadre_benchmarks(data / "gadre-overtraining")
            load_observations(session, frame, source=SOURCE, benchmark_attrs=attrs)
            load_observations(session, evil, source="e2e-injection")
    finally:
        engine.dispose()
    rpj = frame[(frame["family"] == "gadre-rpj") & (frame["benchmark"] == "avg17")]
    return rpj["model"].nunique()


def _visit(page: Page, url: str, name: str, shots: Path) -> tuple[str, list[str]]:
    """Load a page, screenshot it; its DOM and the requests it made."""
    seen = len(page.requests)
    page.navigate(url)
    page.pump(0.5)
    html = page.evaluate("document.documentElement.outerHTML")
    page.screenshot(shots / f"{name}.png")
    return html, page.requests[seen:]


def _assert_local(requests: list[str], base: str, name: str, blocked: set[str]) -> None:
    """Every request went to the server itself (or never left: data:, or refused by CSP)."""
    server = urlsplit(base)
    assert requests, f"{name}: no requests recorded"
    for url in requests:
        part = urlsplit(url)
        if part.scheme in ("data", "blob", "about") or url in blocked:
            continue
        assert (part.scheme, part.hostname, part.port) == ("http", "127.0.0.1", server.port), (
            f"{name} requested {url}: only the server itself may be asked"
        )


def _chart_point(page: Page, trace_name: str, index: int) -> list:
    """Viewport pixel of one data point of a plotly trace (after scrolling the chart in view)."""
    return page.evaluate(f"""(() => {{
        const gd = window.capcastChart.gd; gd.scrollIntoView();
        const tr = gd.data.find(t => t.name === {trace_name!r});
        const i = {index} < 0 ? tr.x.length + {index} : {index};
        const fl = gd._fullLayout, r = gd.getBoundingClientRect();
        return [r.left + fl.xaxis._offset + fl.xaxis.d2p(tr.x[i]),
                r.top + fl.yaxis._offset + fl.yaxis.d2p(tr.y[i])];
    }})()""")


def _hover_text(page: Page) -> str:
    return page.wait_for(
        "Array.from(document.querySelectorAll('#chart .hoverlayer .hovertext'))"
        ".map(e => e.textContent).join(' | ')",
        timeout=10,
    )


@pytest.mark.browser
def test_every_dashboard_page_in_chromium(tmp_path: Path, shared_data: Path) -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: `make sysdeps` installs Debian's package")
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    url = f"sqlite:///{tmp_path / 'dash.sqlite'}"
    migrate.upgrade(url)
    n_models = _import_gadre(url, shared_data)
    assert n_models >= 30
    key = make_key(url, "read", name="browser")
    log = tmp_path / "server.log"
    shots = tmp_path / "shots"
    shots.mkdir()
    pages: dict[str, tuple[str, list[str]]] = {}
    with live_server(url, log) as base, Browser(CHROMIUM, tmp_path / "profile") as browser:
        page = browser.page()
        # signed out, the dashboard answers the sign-in form; sign in through it
        pages["login"] = _visit(page, f"{base}/dashboard", "dashboard_login", shots)
        assert 'id="login"' in pages["login"][0]
        page.evaluate(f"document.querySelector('input[name=key]').value = {key!r};"
                      "document.getElementById('login').submit()")  # fmt: skip
        page.wait_for("document.readyState === 'complete' && !document.getElementById('login')")
        pages["index"] = _visit(page, f"{base}/dashboard", "dashboard_index", shots)
        assert "gadre-rpj" in pages["index"][0]

        scaling = (f"{base}/dashboard/scaling?family=gadre-rpj&benchmark=avg17&metric=err"
                   f"&methods=gadre,exponential")  # fmt: skip
        pages["scaling"] = _visit(page, scaling, "dashboard_scaling", shots)
        assert page.wait_for("document.getElementById('chart').dataset.rendered") == "scaling"
        x, y = _chart_point(page, "measured", 0)
        page.mouse(x, y)
        hover = _hover_text(page)
        page.screenshot(shots / "dashboard_scaling_hover.png", full=False)
        models = page.evaluate("window.capcastChart.spec.points.model")
        assert any(m in hover for m in models) and "FLOPs" in hover, hover
        assert re.search(r"N [\d.e+]+ params, D [\d.e+]+ tokens", hover), hover
        # linked selection: a verdict-table row highlights its curve, a curve its row
        page.evaluate("document.querySelector('tr[data-method=gadre]').scrollIntoView()")
        row = page.evaluate("""(() => { const r = document.querySelector('tr[data-method=gadre]')
            .getBoundingClientRect(); return [r.left + 20, r.top + r.height / 2]; })()""")
        page.mouse(*row)
        assert page.evaluate("document.getElementById('scaling-plot').dataset.highlight") == "gadre"
        dimmed = page.evaluate(
            "window.capcastChart.gd.data.filter(t => t.meta === 'exponential').map(t => t.opacity)"
        )
        assert dimmed and all(o == 0.2 for o in dimmed), dimmed
        page.screenshot(shots / "dashboard_scaling_linked.png")
        page.mouse(5, 5)
        x, y = _chart_point(page, "exponential", -1)
        page.mouse(x, y)
        assert "exponential" in _hover_text(page)
        linked = page.evaluate(
            "Array.from(document.querySelectorAll('tr.linked')).map(r => r.dataset.method)"
        )
        assert linked == ["exponential"], linked
        scaling_html = pages["scaling"][0]

        agreement = (f"{base}/dashboard/agreement?family=gadre-rpj&metric=acc"
                     f"&benchmarks={quote(','.join(AGREE))}")  # fmt: skip
        pages["agreement"] = _visit(page, agreement, "dashboard_agreement", shots)
        assert page.wait_for("document.getElementById('chart').dataset.rendered") == "heatmap"
        labels = page.evaluate(
            "Array.from(document.querySelectorAll('#chart .ytick text')).map(e => e.textContent)"
        )
        assert any(label.startswith(EVIL) for label in labels), labels  # shown, as text
        page.screenshot(shots / "dashboard_agreement.png")

        pages["densing"] = _visit(page, f"{base}/dashboard/densing", "dashboard_densing", shots)
        space = quote("arc_easy/acc,arc_challenge/acc,hellaswag/acc,boolq/acc")
        pages["observational"] = _visit(page, f"{base}/dashboard/observational?base={space}",
                                        "dashboard_observational", shots)  # fmt: skip
        assert 'id="capability-plot"' in pages["observational"][0]
        track = f"{base}/dashboard/track-record"  # no stored forecast: the page says so
        pages["track_record"] = _visit(page, track, "dashboard_track_record", shots)
        assert 'id="track-empty"' in pages["track_record"][0]
        # one cell and one method: a few seconds of backtests
        board = (f"{base}/dashboard/leaderboard?family=gadre-rpj&benchmark=avg17&metric=err"
                 "&methods=exponential")  # fmt: skip
        pages["leaderboard"] = _visit(page, board, "dashboard_leaderboard", shots)
        assert 'data-method="exponential"' in pages["leaderboard"][0]
        pages["docs"] = _visit(page, f"{base}/docs", "docs", shots)
        page.wait_for("document.querySelectorAll('.opblock').length > 10")
        page.screenshot(shots / "docs.png")
        pages["redoc"] = _visit(page, f"{base}/redoc", "redoc", shots)
        page.wait_for("document.querySelector('.api-content') !== null")
        page.screenshot(shots / "redoc.png")
        page.pump(0.5)
        dialogs, errors = list(page.dialogs), list(page.console_errors)
        every_request, blocked = list(page.requests), set(page.blocked)
    assert server_log_errors(log) == []
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    for shot in shots.glob("*.png"):
        shutil.copy(shot, artifacts / shot.name)

    assert dialogs == [], f"a page opened a dialog: {dialogs}"  # the injected alert(1) stayed text
    assert errors == [], errors
    for name, (_, requests) in pages.items():
        _assert_local(requests, base, name, blocked)
    _assert_local(every_request, base, "the session", blocked)
    assert blocked <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}, blocked  # ReDoc's logo only
    assert any(u.endswith("/dashboard/static/vendor/plotly.min.js") for u in every_request)
    assert any(u.endswith("/dashboard/static/charts.js") for u in every_request)
    evil_html = pages["agreement"][0]
    assert EVIL not in evil_html.split('id="chart-data">', 1)[1].split("</script>", 1)[0]
    assert "\\u003c/script\\u003e" in evil_html  # escaped inside the JSON

    # the no-JavaScript fallback: the server's SVG, with its ids, still in the page (hidden)
    html = scaling_html
    points = re.search(r'<g id="measured-points">(.*?)</g>\s*</g>', html, re.S)
    assert points, "no measured-points group in the SVG"
    assert len(re.findall(r"<use ", points.group(1))) == n_models  # one marker per model
    for method in ("gadre", "exponential"):
        curve = re.search(rf'<g id="fit-curve-{method}">\s*<path d="([^"]+)"', html)
        assert curve and curve.group(1).count("L") >= 20, f"no fitted curve for {method}"
        band = re.search(
            rf'<g id="interval-band-{method}">\s*(?:<defs>\s*)?<path (?:id="[^"]*" )?d="([^"]+)"',
            html,
        )
        assert band and band.group(1).count("L") >= 20, f"no interval band for {method}"
        assert f'id="forecast-{method}"' in html
        row = re.search(
            rf'<tr data-method="{method}" data-verdict="([^"]+)"[^>]*>(.*?)</tr>', html, re.S
        )
        assert row and row.group(1) != "no forecast", f"{method} forecast missing"
        assert re.search(r"held-out largest models \(n=\d+\): mean relative error", row.group(2))
    figure = re.search(r'<figure id="scaling-plot" data-points="(\d+)" data-curves="([^"]+)"', html)
    assert figure and int(figure.group(1)) == n_models
    assert set(figure.group(2).split(",")) == {"gadre", "exponential"}
    assert 'id="heatmap-cells"' in pages["agreement"][0]

    for name in ("dashboard_scaling", "dashboard_agreement", "docs", "redoc"):
        pixels = image.imread(shots / f"{name}.png")[..., :3]
        assert pixels.shape[1] >= 1000 and pixels.shape[0] >= 600, name
        assert pixels.std() > 0.05, f"{name}: the screenshot is blank"
    pixels = image.imread(shots / "dashboard_scaling.png")[..., :3]
    blue = np.array([0x1F, 0x77, 0xB4]) / 255  # the methods' curves, drawn by plotly
    red = np.array([0xD6, 0x27, 0x28]) / 255  # (the second is drawn over the first)
    near_blue = np.abs(pixels - blue).max(axis=-1) < 0.08
    near_red = np.abs(pixels - red).max(axis=-1) < 0.08
    dark = pixels.max(axis=-1) < 0.15  # measured points, axes and text
    assert near_blue.sum() > 30 and near_red.sum() > 300, "the fitted curves are not visible"
    assert dark.sum() > 2000
