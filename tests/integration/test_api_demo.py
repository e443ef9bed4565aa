"""``capcast demo --no-serve``: migrate, import the public data, print a working read key.

The key is made once and reused by the next run (its token kept in a 0600 file beside the
database); the dashboard URL carries no key.

The data directory holds only the Gadre set here (Pythia's import is the importers' test), so
the run also shows how a missing dataset is reported; a second run imports nothing again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.integration.live_server import ROOT, live_server


def _demo(env: dict[str, str]) -> dict:
    cmd = [
        sys.executable,
        "-c",
        "from service.cli import main; main()",
        "demo",
        "--no-serve",
        "--json",
    ]
    done = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_demo_sets_up_data_and_a_read_key(tmp_path: Path, shared_data: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "gadre-overtraining").symlink_to(shared_data / "gadre-overtraining")
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    env = {**os.environ, "CAPCAST_DATABASE_URL": url, "CAPCAST_DATA_DIR": str(data),
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    first = _demo(env)
    assert first["imports"][0].startswith(
        "gadre: gadre-overtraining: 5824 rows -> 5824 measurements inserted"
    )
    assert first["imports"][1].startswith("pythia: skipped,")
    assert first["key"].startswith("cc_") and first["key"] not in first["dashboard"]
    assert first["dashboard"].endswith("/dashboard") and not first["key_reused"]
    key_file = Path(first["key_file"])
    assert key_file == tmp_path / "demo.demo-key" and key_file.read_text().strip() == first["key"]
    assert key_file.stat().st_mode & 0o777 == 0o600
    second = _demo(env)
    assert second["imports"][0] == "gadre: already imported (source 'gadre-overtraining')"
    assert second["key"] == first["key"] and second["key_reused"]  # no new key per run
    listed = subprocess.run(
        [sys.executable, "-c", "from service.cli import main; main()", "keys", "list", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert [k["name"] for k in json.loads(listed.stdout)] == ["demo (read)"]
    with live_server(url, tmp_path / "server.log") as base:
        headers = {"Authorization": f"Bearer {first['key']}"}
        families = httpx.get(f"{base}/v1/families", headers=headers, timeout=30).json()
        assert {f["name"] for f in families["data"]} == {
            "gadre-rpj",
            "gadre-c4_original",
            "gadre-rw_original",
        }
        denied = httpx.post(f"{base}/v1/families", json={"name": "x"}, headers=headers, timeout=30)
        assert denied.status_code == 403
