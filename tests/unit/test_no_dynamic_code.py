"""No input reaches an interpreter or a shell: the packages contain no call that could take one.

A static guard over every module of the four packages: no ``eval``/``exec``/``compile``, no pandas
``query``/``eval`` (a zero-argument ``.eval()`` is PyTorch's train/eval switch and is allowed), no
``os.system``/``os.popen``, and no ``subprocess`` call with ``shell=True``. A new use must be argued
for here, by name, not slipped in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("service", "predictors", "evals", "db")
FORBIDDEN_BUILTINS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_ATTRS = {("os", "system"), ("os", "popen"), ("os", "execv"), ("os", "execvp")}


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _findings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{node.lineno}"
        if isinstance(func, ast.Name) and func.id in FORBIDDEN_BUILTINS:
            out.append(f"{where}: {func.id}()")
        if isinstance(func, ast.Attribute):
            if func.attr == "query" and node.args:
                out.append(f"{where}: .query(...) (pandas evaluates it as code)")
            if func.attr == "eval" and (node.args or node.keywords):
                out.append(f"{where}: .eval(...) with an argument (pandas evaluates it as code)")
            if isinstance(func.value, ast.Name) and (func.value.id, func.attr) in FORBIDDEN_ATTRS:
                out.append(f"{where}: {func.value.id}.{func.attr}()")
        for kw in node.keywords:
            if kw.arg == "shell" and not (
                isinstance(kw.value, ast.Constant) and kw.value.value is False
            ):
                out.append(f"{where}: shell=... on a process call")
    return out


def test_the_guard_finds_what_it_looks_for(tmp_path: Path) -> None:
    bad = tmp_path / "probe.py"
    sample = (
        "import os, subprocess\n"
        "df.query(expr)\nframe.eval(text)\neval('1')\nos.system('id')\n"
        "subprocess.run('id', shell=True)\nmodel.eval()\n"
    )
    bad.write_text(sample)
    found = _findings(bad)
    assert len(found) == 5, found  # model.eval() (no argument) is PyTorch's, and allowed


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_can_run_text_as_code(path: Path) -> None:
    assert _findings(path) == []
