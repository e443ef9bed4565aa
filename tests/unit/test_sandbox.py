"""Hostile completions in the code sandbox are stopped or contained and recorded as failures, and
an evaluation over them keeps going (real sandbox, real runner, real database)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from db import results as R
from db.session import make_engine, session_factory
from evals.engines.base import ChoiceRequest, ChoiceScores, GenerateRequest
from evals.runner import run_eval
from evals.sandbox import SandboxLimits, namespaces_missing, run_python

LIMITS = SandboxLimits(wall_seconds=4, cpu_seconds=2, memory_bytes=512 << 20, max_processes=32)
#: Both levels are always collected; without root the namespaced one is a visible skip record.
NEEDS_NAMESPACES = pytest.mark.skipif(
    namespaces_missing() is not None, reason=namespaces_missing() or ""
)
LEVELS = [
    pytest.param(True, marks=NEEDS_NAMESPACES, id="namespaces"),
    pytest.param(False, id="rlimits"),
]


def _nobody_processes() -> int:
    out = subprocess.run(["ps", "-u", "65534", "-o", "pid="], capture_output=True, text=True)
    return len(out.stdout.split())


@pytest.mark.parametrize("isolate", LEVELS)
class TestHostileCode:
    def test_good_code_passes(self, isolate: bool) -> None:
        r = run_python("print(sum(range(10)))", limits=LIMITS, isolate=isolate)
        assert r.ok and r.stdout.strip() == "45"
        assert r.isolation == ("namespaces" if isolate else "rlimits")

    def test_infinite_loop_is_stopped(self, isolate: bool) -> None:
        t = time.monotonic()
        r = run_python("while True:\n    pass\n", limits=LIMITS, isolate=isolate)
        assert not r.ok
        assert r.timed_out or r.reason == "signal SIGXCPU" or r.reason == "signal SIGKILL"
        assert time.monotonic() - t < LIMITS.wall_seconds + 5

    def test_sleeping_forever_hits_wall_clock(self, isolate: bool) -> None:
        r = run_python("import time\ntime.sleep(60)\n", limits=LIMITS, isolate=isolate)
        assert r.timed_out and not r.ok

    def test_allocating_10gb_fails(self, isolate: bool) -> None:
        r = run_python(
            "x = bytearray(10 * 1024**3)\nprint('allocated')\n", limits=LIMITS, isolate=isolate
        )
        assert not r.ok
        assert "allocated" not in r.stdout
        assert "MemoryError" in r.stderr

    def test_fork_bomb_is_contained_and_cleaned_up(self, isolate: bool) -> None:
        code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
        r = run_python(code, limits=LIMITS, isolate=isolate)
        assert not r.ok
        deadline = time.monotonic() + 10  # killed processes take a moment to be reaped
        while _nobody_processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _nobody_processes() == 0, "fork-bomb children survived the sandbox"

    def test_socket_is_refused(self, isolate: bool) -> None:
        code = "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=3)\nprint('connected')\n"
        r = run_python(code, limits=LIMITS, isolate=isolate)
        assert not r.ok and "connected" not in r.stdout

    def test_writing_outside_its_directory_is_denied(self, isolate: bool, tmp_path: Path) -> None:
        target = tmp_path / "escaped.txt"
        code = f"open({str(target)!r}, 'w').write('x')\nprint('wrote')\n"
        r = run_python(code, limits=LIMITS, isolate=isolate)
        assert not r.ok and not target.exists()
        here = run_python(
            "open('out.txt', 'w').write('x')\nprint(open('out.txt').read())",
            limits=LIMITS,
            isolate=isolate,
        )
        assert here.ok and here.stdout.strip() == "x"

    def test_output_is_capped(self, isolate: bool) -> None:
        limits = SandboxLimits(wall_seconds=4, cpu_seconds=2, output_bytes=4096)
        r = run_python("print('y' * 1_000_000)", limits=limits, isolate=isolate)
        assert not r.ok and len(r.stdout) <= 4096


@NEEDS_NAMESPACES
def test_raw_socket_has_no_network_in_namespace() -> None:
    """Below Python's socket module too: the namespace has no route anywhere."""
    code = "import _socket\ns = _socket.socket()\ns.settimeout(3)\ns.connect(('1.1.1.1', 80))\n"
    r = run_python(code, limits=LIMITS, isolate=True)
    assert not r.ok and "unreachable" in r.stderr.lower()


HOSTILE = {
    "good": "    return a + b\n",
    "loop": "    while True:\n        pass\n",
    "memory": "    x = bytearray(10 * 1024**3)\n    return a + b\n",
    "fork": "    import os\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n",
    "socket": "    import socket\n    socket.create_connection(('1.1.1.1', 80), timeout=3)\n    return a + b\n",
    "escape": "    open(ESCAPE_TARGET, 'w').write('x')\n    return a + b\n",  # a path outside
    "wrong": "    return a - b\n",
}


class ScriptedEngine:
    """Returns a fixed completion per prompt: stands in for a model that writes hostile code."""

    name, version, model_path = "scripted", "scripted-1", "scripted"

    def __init__(self, by_prompt: dict[str, str]) -> None:
        self.by_prompt = by_prompt

    def generate(self, requests: list[GenerateRequest]) -> list[list[str]]:
        return [[self.by_prompt[r.prompt]] * r.n for r in requests]

    def score_choices(self, requests: list[ChoiceRequest]) -> list[ChoiceScores]:
        raise NotImplementedError

    def close(self) -> None:
        pass


def test_evaluator_records_hostile_completions_as_failures(db_url: str, tmp_path: Path) -> None:
    task = tmp_path / "code.jsonl"
    header = {
        "_task": {
            "name": "hostile",
            "checker": {"kind": "code", "wall_seconds": 4, "cpu_seconds": 2},
        }
    }
    lines = [json.dumps(header)]
    prompts = {}
    escape_target = tmp_path / "escaped-by-sandbox-test"
    for name, body in HOSTILE.items():
        prompt = f"def add_{name}(a, b):\n"
        prompts[prompt] = body.replace("ESCAPE_TARGET", repr(str(escape_target)))
        lines.append(json.dumps({"prompt": prompt, "answer": f"assert add_{name}(2, 3) == 5\n"}))
    task.write_text("\n".join(lines) + "\n")
    engine = make_engine(db_url)
    res = run_eval(
        session_factory=session_factory(engine),
        model_path=str(tmp_path / "no-model"),
        task_path=task,
        mode="greedy",
        engine=ScriptedEngine(prompts),
    )
    assert res.n_items == len(HOSTILE)
    with session_factory(engine)() as s:
        rows = {
            item.prompt.split("(")[0][len("def add_") :]: r
            for item, r in R.run_results(s, res.run_id)
        }
    assert set(rows) == set(HOSTILE)
    assert rows["good"].greedy_correct is True
    for name in HOSTILE:
        if name != "good":
            assert rows[name].greedy_correct is False, name
            assert rows[name].n_pass == 0
    assert res.metrics["pass_rate"] == pytest.approx(1 / len(HOSTILE))
    assert not escape_target.exists()
    engine.dispose()
