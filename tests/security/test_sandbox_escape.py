"""Escape attempts against the code sandbox (``evals.sandbox.run_python``), at every isolation
level this machine can run: each tries to create a canary outside its directory (or to harm the
caller); the canary never appears, the caller lives, no sandboxed process outlives the run and
the environment holds no capcast setting.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from evals.sandbox import SandboxLimits, namespaces_missing, run_python
from tests.security.payloads import ESCAPES, Escape

LIMITS = SandboxLimits(wall_seconds=4, cpu_seconds=2, memory_bytes=512 << 20, max_processes=32)
#: Every level and every attempt is always collected; what this machine cannot run is a skip
#: record that says why, never a test that silently is not there.
LEVELS = [
    pytest.param(
        True,
        marks=pytest.mark.skipif(
            namespaces_missing() is not None, reason=namespaces_missing() or ""
        ),
        id="namespaces",
    ),
    pytest.param(False, id="rlimits"),
]
#: Without a user switch the code runs as the caller: signalling every process would hit the test
#: run itself, so those attempts run only where the sandbox drops to ``nobody`` (as root).
HARMFUL_UNLESS_ROOT = {"kill-parent", "kill-all"}
CASES = [
    pytest.param(
        e,
        id=e.id,
        marks=pytest.mark.skipif(
            e.id in HARMFUL_UNLESS_ROOT and os.geteuid() != 0,
            reason=f"needs root: {e.id} signals other processes, safe only as nobody",
        ),
    )
    for e in ESCAPES
]


def _nobody_processes() -> dict[int, str]:
    out = subprocess.run(["ps", "-u", "65534", "-o", "pid=,args="], capture_output=True, text=True)
    rows = (line.strip().split(None, 1) for line in out.stdout.splitlines() if line.strip())
    return {int(row[0]): row[-1] for row in rows}


@pytest.mark.parametrize("isolate", LEVELS)
@pytest.mark.parametrize("escape", CASES)
def test_escape_is_contained(canary: Path, escape: Escape, isolate: bool) -> None:
    code = escape.code.replace("{canary}", str(canary))
    earlier = set(_nobody_processes())  # other sandbox runs on this machine are not ours
    result = run_python(code, limits=LIMITS, isolate=isolate)
    deadline = time.monotonic() + 5  # killed processes take a moment to be reaped
    while set(_nobody_processes()) - earlier and time.monotonic() < deadline:
        time.sleep(0.2)
    left = {pid: args for pid, args in _nobody_processes().items() if pid not in earlier}
    for pid in left:  # started by this run: stop them so later tests start clean
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not canary.exists(), f"escaped ({result.isolation}): {canary} was created"
    assert left == {}, f"sandboxed processes outlived the run ({result.isolation}): {left}"
    assert "CAPCAST_" not in result.stdout and "DATABASE_URL" not in result.stdout, result.stdout
    assert result.duration < LIMITS.wall_seconds + 5
