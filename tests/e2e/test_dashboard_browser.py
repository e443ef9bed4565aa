"""Open the dashboard in headless Chromium (Debian's package) and check the Gadre scaling plot.

The page is rendered by a live server on the imported Gadre et al. data. Chromium dumps the DOM
after load, and the inline SVG must hold the measured points (one marker per model), each
method's fitted curve and interval band, and the target forecast; the trust table must say how
each method did in its own backtest. A screenshot is saved as a test artefact
(``artifacts/dashboard_gadre.png`` and under pytest's tmp_path) and checked for the plot's colours.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest
from matplotlib import image

from db import migrate
from db.session import make_engine, transaction
from tests.integration.live_server import live_server, make_key, server_log_errors

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--hide-scrollbars", "--window-size=1200,1700"]  # fmt: skip


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / "chromium-profile"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


def _import_gadre(url: str, data: Path) -> int:
    from db.importers.gadre import SOURCE, gadre_benchmarks, gadre_observations
    from db.loader import load_observations

    frame = gadre_observations(data / "gadre-overtraining")
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            attrs = gadre_benchmarks(data / "gadre-overtraining")
            load_observations(session, frame, source=SOURCE, benchmark_attrs=attrs)
    finally:
        engine.dispose()
    rpj = frame[(frame["family"] == "gadre-rpj") & (frame["benchmark"] == "avg17")]
    return rpj["model"].nunique()


@pytest.mark.browser
def test_dashboard_scaling_plot_in_chromium(tmp_path: Path, shared_data: Path) -> None:
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
    with live_server(url, log) as base:
        page = (f"{base}/dashboard/scaling?family=gadre-rpj&benchmark=avg17&metric=err"
                f"&methods=gadre,exponential&key={key}")  # fmt: skip
        # a one-time ?key= link: 303 to the page without it, the key kept in an HttpOnly cookie
        # (chromium follows it the same way)
        signed_in = httpx.get(page, timeout=60)
        assert signed_in.status_code == 303 and key not in signed_in.headers["location"]
        warm = httpx.get(page, timeout=300, follow_redirects=True)  # the first view fits
        assert warm.status_code == 200, warm.text[:2000]
        assert [r.status_code for r in warm.history] == [303]
        dom = _chromium(tmp_path, "--dump-dom", page)
        assert dom.returncode == 0, dom.stderr[-2000:]
        html = dom.stdout
        shot = tmp_path / "dashboard_gadre.png"
        done = _chromium(tmp_path, f"--screenshot={shot}", page)
        assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    assert server_log_errors(log) == []
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copy(shot, artifacts / "dashboard_gadre.png")

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
            rf'<tr data-method="{method}" data-verdict="([^"]+)">(.*?)</tr>', html, re.S
        )
        assert row and row.group(1) != "no forecast", f"{method} forecast missing"
        assert re.search(r"held-out largest models \(n=\d+\): mean relative error", row.group(2))
    figure = re.search(r'<figure id="scaling-plot" data-points="(\d+)" data-curves="([^"]+)"', html)
    assert figure and int(figure.group(1)) == n_models
    assert set(figure.group(2).split(",")) == {"gadre", "exponential"}

    pixels = image.imread(shot)[..., :3]
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 1000
    blue = np.array([0x1F, 0x77, 0xB4]) / 255  # the first method's curve
    near_blue = np.abs(pixels - blue).max(axis=-1) < 0.08
    dark = pixels.max(axis=-1) < 0.15  # measured points, axes and text
    assert near_blue.sum() > 300, "the fitted curve is not visible in the screenshot"
    assert dark.sum() > 2000
