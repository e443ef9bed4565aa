"""The adversarial payload catalogue: every hostile input the security suite replays, in one place.

Expressions carry ``{canary}``, replaced by an absolute path in the test's own directory: if any of
them ever runs, the file appears and the test fails however the server answered. The entries
marked ``finding`` replay a payload from issue 13 as it was reported (with the canary as target).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

CANARY = "{canary}"


@dataclass(frozen=True)
class Expr:
    """A filter expression that must be refused wherever an expression is accepted."""

    id: str
    text: str
    finding: bool = False

    def render(self, canary: str) -> str:
        return self.text.replace(CANARY, canary)


_TOUCH = "touch {canary}"
_IMPORT_OS = f"__import__('os').system('{_TOUCH}')"

#: Expression injection: dunder access, ``@`` names, attribute chains, calls, lambdas, walrus,
#: f-strings, comprehensions, unicode look-alikes, shell syntax, oversize and overdeep text.
EXPRESSIONS: tuple[Expr, ...] = (
    Expr("at-pd-os-system", f'@pd.io.common.os.system("{_TOUCH}")', finding=True),
    Expr(
        "at-pd-os-system-or-split",
        f"@pd.io.common.os.system('{_TOUCH}') == 0 or n_params < 2e9",
        finding=True,
    ),
    Expr("at-np-loader", "@np.__loader__", finding=True),
    Expr("at-builtins-import", f"@__builtins__.__import__('os').system('{_TOUCH}')"),
    Expr("at-local-name", "@n_params > 0"),
    Expr("dunder-import", _IMPORT_OS),
    Expr("dunder-import-in-condition", f"n_params < 2e9 and {_IMPORT_OS} == 0"),
    Expr("subclasses-chain", "().__class__.__base__.__subclasses__()"),
    Expr(
        "subclasses-catch-warnings",
        "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'catch_warnings']"
        f"[0]()._module.__builtins__['__import__']('os').system('{_TOUCH}')",
    ),
    Expr("column-dunder-class", "n_params.__class__"),
    Expr("column-mro-subscript", "n_params.__class__.__mro__[-1].__subclasses__()"),
    Expr("column-globals", "model.__init__.__globals__"),
    Expr("column-method-call", "model.str.contains('x')"),
    Expr("getattr-call", "getattr(n_params, '__class__')"),
    Expr("eval-call", f'eval("{_IMPORT_OS}")'),
    Expr("exec-call", f'exec("{_IMPORT_OS}")'),
    Expr("matmul-operator", "n_params @ 2"),
    Expr("walrus", f"(x := {_IMPORT_OS})"),
    Expr("walrus-plain", "(x := 1)"),
    Expr("lambda-called", f"(lambda: {_IMPORT_OS})()"),
    Expr("lambda-plain", "lambda: 0"),
    Expr("f-string", 'f"{' + _IMPORT_OS + '}"'),
    Expr("f-string-plain", 'f"{1}"'),
    Expr("list-comprehension", f"[{_IMPORT_OS} for x in [1]]"),
    Expr("generator", f"any({_IMPORT_OS} for x in [1])"),
    Expr("conditional-expression", f"n_params < 2e9 if {_IMPORT_OS} else True"),
    Expr("not-not-call", f"not not {_IMPORT_OS}"),
    Expr("subscript", "model[0] == 'a'"),
    Expr("slice", "model[0:1] == 'a'"),
    Expr("starred-list", "n_params in [*range(10)]"),
    Expr("dict-display", "{'a': 1} == n_params"),
    Expr("power-bomb", "n_params < 10 ** 10 ** 10"),
    Expr("string-times-huge", "model * 1000000000 == 'a'"),
    Expr("fullwidth-import", f"＿＿import＿＿('os').system('{_TOUCH}')"),
    Expr("math-bold-eval", f'𝐞𝐯𝐚𝐥("{_IMPORT_OS}")'),
    Expr("fullwidth-column-dunder", "ｎ_params.__class__"),
    Expr("zero-width-in-name", "n_\u200bparams < 2e9"),
    Expr("unknown-name-os", f"os.system('{_TOUCH}')"),
    Expr("unknown-name-builtins", "__builtins__"),
    Expr("newline-second-statement", f"n_params < 2e9\n{_IMPORT_OS}"),
    Expr("semicolon-statement", f"n_params < 2e9; {_IMPORT_OS}"),
    Expr("shell-substitution", f"$({_TOUCH})"),
    Expr("shell-backticks", f"`{_TOUCH}`"),
    Expr("overlong", " or ".join(["n_params > 1"] * 600)),
    Expr("overdeep", "(" * 900 + "n_params > 1" + ")" * 900),
)

#: One payload per kind of attack, for fields where the whole catalogue would only repeat the
#: same parser: every finding, then dunder, attribute chain, call, lambda, walrus, f-string,
#: look-alike, shell syntax and oversize.
REPRESENTATIVE: tuple[Expr, ...] = tuple(
    e
    for e in EXPRESSIONS
    if e.finding
    or e.id
    in {
        "dunder-import",
        "subclasses-catch-warnings",
        "column-dunder-class",
        "matmul-operator",
        "lambda-called",
        "walrus",
        "f-string",
        "fullwidth-import",
        "shell-substitution",
        "overlong",
    }
)

#: A harmless expression in the same fields: accepted, so a refusal above is the filter's doing.
BENIGN_FIT = "n_params < 1e10"


@dataclass(frozen=True)
class Refusal:
    """A request that must be a 4xx naming ``where`` (a prefix of the error's ``where`` path
    or the path itself) and, when given, containing ``words`` in the message."""

    id: str
    method: str
    path: str
    body: Any = None
    where: str | None = None
    words: tuple[str, ...] = ()
    not_words: tuple[str, ...] = ()
    statuses: tuple[int, ...] = (422,)
    raw: bytes | None = None
    params: dict[str, Any] = field(default_factory=dict)
    finding: bool = False


def forecast_query(**change: Any) -> dict[str, Any]:
    """A valid exponential forecast query on the seeded data, with ``change`` applied."""
    query: dict[str, Any] = {
        "method": "exponential",
        "benchmark": "hellaswag",
        "metric": "acc",
        "family": "gadre-rpj",
        "params": {"n_bootstrap": 2},
        "target": {"n_params": 6.9e9, "n_tokens": 1.38e11},
    }
    query.update(change)
    return query


def gadre_query(**params: Any) -> dict[str, Any]:
    """The gadre query of finding 1, with ``params``."""
    return {
        "method": "gadre",
        "benchmark": "avg17",
        "metric": "err",
        "family": "gadre-rpj",
        "params": {"n_bootstrap": 2, **params},
        "target": {"n_params": 6.9e9, "n_tokens": 1.38e11},
    }


def _measure(**change: Any) -> dict[str, Any]:
    row = {
        "model": "sec-m1",
        "family": "sec",
        "n_params": 1e8,
        "n_tokens": 2e9,
        "benchmark": "hellaswag",
        "metric": "acc",
        "value": 0.4,
    }
    row.update(change)
    return {"source": "security", "rows": [row]}


def _with_nested(body: dict[str, Any], depth: int) -> bytes:
    """``body`` as JSON text with its ``"DEEP"`` string replaced by ``[[[...1...]]]`` nested
    ``depth`` deep (too deep for Python's json to write)."""
    return json.dumps(body).replace('"DEEP"', "[" * depth + "1" + "]" * depth).encode()


def _nested_json(depth: int, key: str) -> bytes:
    """``{"KEY": [[[...1...]]]}`` as raw text (Python's json cannot even write it)."""
    return ('{"' + key + '": ' + "[" * depth + "1" + "]" * depth + "}").encode()


_BIG = 10 * 1024 * 1024
_NAN_BODY = b'{"method": "exponential", "benchmark": "hellaswag", "family": "gadre-rpj", '
_INF = float("inf")

#: Huge and non-finite numbers, 10 MB bodies, deeply nested JSON, and the request payloads of
#: issue 13's findings that are refusals; each must be a quick 4xx that names the field.
REFUSALS: tuple[Refusal, ...] = (
    # -- finding 2: runaway work ------------------------------------------------------------------
    Refusal(
        "n-bootstrap-1e8",
        "POST",
        "/v1/forecasts",
        forecast_query(params={"n_bootstrap": 100_000_000}),
        "body.params",
        ("n_bootstrap",),
        finding=True,
    ),
    Refusal(
        "gadre-n-bootstrap-1e8",
        "POST",
        "/v1/forecasts",
        gadre_query(n_bootstrap=100_000_000),
        "body.params",
        ("n_bootstrap",),
        finding=True,
    ),
    Refusal(
        "n-bootstrap-10e30",
        "POST",
        "/v1/forecasts",
        forecast_query(params={"n_bootstrap": 10**30}),
        "body.params",
        ("n_bootstrap",),
    ),
    Refusal(
        "n-bootstrap-float",
        "POST",
        "/v1/forecasts",
        forecast_query(params={"n_bootstrap": 1e300}),
        "body.params",
        ("n_bootstrap",),
    ),
    Refusal(
        "n-bootstrap-negative",
        "POST",
        "/v1/forecasts",
        forecast_query(params={"n_bootstrap": -1}),
        "body.params",
        ("n_bootstrap",),
    ),
    # -- non-finite and huge numbers ----------------------------------------------------------------
    Refusal(
        "target-nan",
        "POST",
        "/v1/forecasts",
        raw=_NAN_BODY + b'"target": {"n_params": NaN, "n_tokens": 1e11}}',
        where="body.target.n_params",
    ),
    Refusal(
        "target-infinity",
        "POST",
        "/v1/forecasts",
        raw=_NAN_BODY + b'"target": {"n_params": Infinity, "n_tokens": 1e11}}',
        where="body.target.n_params",
    ),
    Refusal(
        "target-1e400",
        "POST",
        "/v1/forecasts",
        raw=_NAN_BODY + b'"target": {"n_params": 1e400, "n_tokens": 1e11}}',
        where="body.target.n_params",
    ),
    Refusal(
        "target-negative",
        "POST",
        "/v1/forecasts",
        forecast_query(target={"n_params": -7e9, "n_tokens": 1.4e11}),
        "body.target.n_params",
        finding=True,
    ),
    Refusal(
        "target-1e308",
        "POST",
        "/v1/forecasts",
        forecast_query(target={"n_params": 1e308, "n_tokens": 1.4e11}),
        "body.target.n_params",
    ),
    Refusal(
        "target-flops-1e300",
        "POST",
        "/v1/forecasts",
        forecast_query(target={"flops": 1e300}),
        "body.target.flops",
    ),
    Refusal(
        "alpha-nan",
        "POST",
        "/v1/forecasts",
        raw=_NAN_BODY + b'"alpha": NaN, "target": {"flops": 1e21}}',
        where="body.alpha",
    ),
    Refusal(
        "measurement-value-nan",
        "POST",
        "/v1/measurements",
        raw=b'{"rows": [{"model": "m", "benchmark": "b", "metric": "acc", "value": NaN}]}',
        where="body.rows[0].value",
    ),
    Refusal(
        "measurement-value-inf",
        "POST",
        "/v1/measurements",
        raw=b'{"rows": [{"model": "m", "benchmark": "b", "metric": "acc", "value": -1e400}]}',
        where="body.rows[0].value",
    ),
    Refusal(
        "measurement-step-2e63",
        "POST",
        "/v1/measurements",
        _measure(checkpoint_step=2**63),
        "body.rows[0].checkpoint_step",
    ),
    Refusal(
        "measurement-params-1e300",
        "POST",
        "/v1/measurements",
        _measure(n_params=1e300),
        "body.rows[0].n_params",
    ),
    Refusal(
        "measurement-metric-accuracy",
        "POST",
        "/v1/measurements",
        _measure(metric="accuracy"),
        "body.rows[0].metric",
        ("accuracy",),
        finding=True,
    ),
    Refusal(
        "job-priority-1e30",
        "POST",
        "/v1/jobs",
        {"kind": "noop", "payload": {}, "priority": 10**30},
        "body.priority",
    ),
    Refusal(
        "job-sleep-1e308",
        "POST",
        "/v1/jobs",
        {"kind": "sleep", "payload": {"seconds": 1e308}},
        "body",
        ("seconds",),
    ),
    Refusal(
        "job-max-attempts-1e9",
        "POST",
        "/v1/jobs",
        {"kind": "noop", "payload": {}, "max_attempts": 10**9},
        "body.max_attempts",
    ),
    Refusal("agreement-n-exps-1e9", "POST", "/v1/agreement", {"n_exps": 10**9}, "body.n_exps"),
    Refusal("agreement-size-1e9", "POST", "/v1/agreement", {"sizes": [10**9]}, "body.sizes[0]"),
    Refusal(
        "agreement-size-negative",
        "POST",
        "/v1/agreement",
        {"sizes": [5, -3]},
        "body.sizes[1]",
        finding=True,
    ),
    Refusal(
        "densing-d0-inf",
        "POST",
        "/v1/densing",
        raw=b'{"reference_family": "f", "benchmark": "b", "loss_benchmark": "l", "d0": Infinity}',
        where="body.d0",
    ),
    Refusal(
        "list-limit-1e30", "GET", "/v1/measurements", params={"limit": 10**30}, where="query.limit"
    ),
    Refusal(
        "list-offset-negative", "GET", "/v1/forecasts", params={"offset": -1}, where="query.offset"
    ),
    Refusal("path-id-1e20", "GET", "/v1/jobs/100000000000000000000", where="path.job_id"),
    Refusal(
        "cron-minute-61",
        "POST",
        "/v1/schedules",
        {"name": "sec-cron-61", "cron": "61 3 * * *", "job_kind": "noop", "job_payload": {}},
        "body",
        ("61",),
        ("expected 5 fields",),
        finding=True,
    ),
    # -- finding 6: parameter errors name only the bad parameters; an empty fit names body.fit ----
    Refusal(
        "unknown-parameter",
        "POST",
        "/v1/forecasts",
        forecast_query(params={"colour": "red"}),
        "body.params",
        ("colour",),
        finding=True,
    ),
    Refusal(
        "fit-selects-nothing",
        "POST",
        "/v1/forecasts",
        forecast_query(fit="n_params > 1e15"),
        "body.fit",
        finding=True,
    ),
    # -- 10 MB bodies -------------------------------------------------------------------------------
    Refusal(
        "10mb-measurement-source",
        "POST",
        "/v1/measurements",
        {"source": "x" * _BIG, "rows": _measure()["rows"]},
        "body",
        statuses=(413, 422),
    ),
    Refusal(
        "10mb-forecast-fit",
        "POST",
        "/v1/forecasts",
        forecast_query(fit="n_params > 1 or " * (_BIG // 16) + "n_params > 1"),
        "body",
        statuses=(413, 422),
    ),
    Refusal(
        "10mb-job-payload",
        "POST",
        "/v1/jobs",
        {"kind": "noop", "payload": {f"k{i}": "v" * 100 for i in range(_BIG // 110)}},
        "body",
        statuses=(413, 422),
    ),
    Refusal(
        "10mb-not-json",
        "POST",
        "/v1/forecasts",
        raw=b"\xff" * _BIG,
        where="body",
        statuses=(400, 413, 422),
    ),
    Refusal(
        "60000-measurement-rows",
        "POST",
        "/v1/measurements",
        {"rows": _measure()["rows"] * 60_000},
        "body",
        statuses=(413, 422),
    ),
    # -- deeply nested JSON -------------------------------------------------------------------------
    Refusal(
        "nested-100k-forecast-params",
        "POST",
        "/v1/forecasts",
        raw=_nested_json(100_000, "params"),
        where="body",
        statuses=(400, 413, 422),
    ),
    Refusal(
        "nested-1000-forecast-params",
        "POST",
        "/v1/forecasts",
        raw=_with_nested(forecast_query(params={"n_bootstrap": 2, "deep": "DEEP"}), 1000),
        where="body",
        statuses=(400, 413, 422),
    ),
    Refusal(
        "nested-100k-job-payload",
        "POST",
        "/v1/jobs",
        raw=b'{"kind": "noop", "payload": {"deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
        where="body",
        statuses=(400, 413, 422),
    ),
    Refusal(
        "nested-5000-job-payload",
        "POST",
        "/v1/jobs",
        raw=_with_nested({"kind": "noop", "payload": {"deep": "DEEP"}}, 5000),
        where="body",
        statuses=(400, 413, 422),
    ),
)


@dataclass(frozen=True)
class PathAttack:
    """A path outside the allowed job roots, built from the test's directories."""

    id: str
    template: str  # {root}: the allowed root; {outside}: a valid file outside it

    def render(self, root: str, outside: str) -> str:
        return self.template.replace("{root}", root).replace("{outside}", outside)


#: Path traversal: each names a real, readable file or directory outside ``CAPCAST_JOB_PATHS``.
PATHS: tuple[PathAttack, ...] = (
    PathAttack("etc-passwd", "/etc/passwd"),
    PathAttack("outside-absolute", "{outside}"),
    PathAttack("dotdot-from-root", "{root}/../outside/obs.csv"),
    PathAttack("dotdot-deep", "{root}/sub/../../../../../../etc/passwd"),
    PathAttack("relative-dotdot", "../../../../../../../../etc/passwd"),
    PathAttack("symlink-in-root", "{root}/link-to-outside.csv"),
    PathAttack("symlinked-dir-in-root", "{root}/linkdir/obs.csv"),
    PathAttack("tilde-home", "~/.bashrc"),
    PathAttack("file-url", "file:///etc/passwd"),
    PathAttack("proc-self-environ", "/proc/self/environ"),
    PathAttack("filesystem-root", "/"),
)


@dataclass(frozen=True)
class Escape:
    """Python code for the sandbox that tries to create ``{canary}`` (or to do other harm)."""

    id: str
    code: str


ESCAPES: tuple[Escape, ...] = (
    Escape("open-write", "open('{canary}', 'w').write('x')\n"),
    Escape("os-system", "import os\nos.system('touch {canary}')\n"),
    Escape("subprocess", "import subprocess\nsubprocess.run(['touch', '{canary}'], check=True)\n"),
    Escape("ctypes-libc-system", "import ctypes\nctypes.CDLL(None).system(b'touch {canary}')\n"),
    Escape(
        "chdir-up-and-write", "import os\nos.chdir('/')\nopen('{canary}'[1:], 'w').write('x')\n"
    ),
    Escape(
        "symlink-out", "import os\nos.symlink('{canary}', 'out')\nopen('out', 'w').write('x')\n"
    ),
    Escape("proc-root-path", "open('/proc/self/root{canary}', 'w').write('x')\n"),
    Escape("setuid-root", "import os\nos.setuid(0)\nopen('{canary}', 'w').write('x')\n"),
    Escape(
        "detached-grandchild",
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        time.sleep(20)\n        open('{canary}', 'w').write('x')\n    os._exit(0)\n"
        "print('parent done')\n",
    ),
    Escape("kill-parent", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"),
    Escape("kill-all", "import os, signal\nos.kill(-1, signal.SIGKILL)\n"),
    Escape(
        "read-environment",
        "import os\nprint(sorted(os.environ))\nprint(open('/proc/1/environ').read())\n",
    ),
)

#: Numbers Python's json reads from hostile JSON; kept for readable ids in assertions.
NON_FINITE = (math.nan, _INF, -_INF)
