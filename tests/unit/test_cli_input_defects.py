"""Issue 13's smaller defects that need no database: CLI numbers and filters, CSV quotes, messages.

The CLI runs for real (typer's runner on ``service.cli.app``) with ``--observations`` files, so
every refusal is checked where a user meets it: the exit status, the option named on stderr, and
nothing executed (a canary file that code in an expression would create never appears).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from db.errors import ImportValidationError
from db.observations import _unclosed_quote, read_observations
from predictors.registry import make_predictor
from service.cli import app

CANARY = "CANARY"
INJECT = f"@pd.io.common.os.system('touch {CANARY}') == 0 or n_params < 2e9"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """A CLI runner working in ``tmp_path`` (where a canary would appear) with wide messages."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "400")
    return CliRunner()


@pytest.fixture
def obs(tmp_path: Path) -> Path:
    """Seven models of one family on a sigmoid in log-compute (benchmark b, metric acc)."""
    rows = []
    for i, n in enumerate([1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9, 6.4e9]):
        d = 20 * n
        acc = 0.25 + 0.5 / (1 + np.exp(-(np.log(6 * n * d) - np.log(1e20))))
        rows.append({"model": f"m{i}", "family": "f", "n_params": n, "n_tokens": d,
                     "flops": 6 * n * d, "benchmark": "b", "metric": "acc",
                     "value": round(float(acc), 4)})  # fmt: skip
    path = tmp_path / "obs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _err(res) -> str:
    return " ".join(res.stderr.split())


def _forecast(runner: CliRunner, obs: Path, *extra: str):
    return runner.invoke(
        app,
        ["forecast", "--observations", str(obs), "--method", "exponential", "--benchmark", "b",
         "--json", *extra],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("target", "key"),
    [
        ("n_params=-7e9,n_tokens=1.4e11", "n_params"),
        ("n_params=nan,n_tokens=1.4e11", "n_params"),
        ("n_params=7e9,n_tokens=inf", "n_tokens"),
        ("n_params=7e9,n_tokens=-inf", "n_tokens"),
        ("n_params=0,n_tokens=1.4e11", "n_params"),
        ("flops=-1e22", "flops"),
    ],
)
def test_forecast_refuses_a_target_size_that_is_not_finite_and_positive(
    runner: CliRunner, obs: Path, target: str, key: str
) -> None:
    res = _forecast(runner, obs, "--target", target)
    assert res.exit_code == 2, res.output
    assert f"--target: {key} must be a finite number above zero" in _err(res)
    assert res.stdout == ""  # no null forecast printed


def test_forecast_of_a_good_target_prints_a_finite_point(runner: CliRunner, obs: Path) -> None:
    res = _forecast(runner, obs, "--target", "n_params=7e9,n_tokens=1.4e11")
    assert res.exit_code == 0, res.output
    point = json.loads(res.stdout)["point"]
    assert point is not None and 0.25 < point < 0.8


def test_forecast_without_a_finite_point_exits_2(runner: CliRunner, obs: Path) -> None:
    """Only n_params: the compute law has no FLOPs to work with; the error names the column and
    the target lacking it (predictors/contracts.py), not a null forecast with exit 0."""
    res = _forecast(runner, obs, "--target", "n_params=7e9")
    assert res.exit_code == 2, res.output
    assert "targets need flops" in _err(res) and "missing for ['target']" in _err(res)
    assert res.stdout == ""


def test_forecast_whose_fit_fails_exits_2_without_a_traceback(runner: CliRunner, obs: Path) -> None:
    res = runner.invoke(
        app,
        ["forecast", "--observations", str(obs), "--method", "ladder", "--benchmark", "b",
         "--target", "n_params=7e9,n_tokens=1.4e11"],
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "no rows for benchmark='b' metric='bpb'; benchmark 'b' has metric(s) ['acc']" in _err(
        res
    )
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit)


@pytest.mark.parametrize("alpha", ["0", "1", "-0.1", "nan", "1.5"])
def test_forecast_and_backtest_refuse_alpha_outside_0_1(
    runner: CliRunner, obs: Path, alpha: str
) -> None:
    res = _forecast(runner, obs, "--target", "n_params=7e9,n_tokens=1.4e11", "--alpha", alpha)
    assert res.exit_code == 2 and "--alpha" in _err(res), res.output
    res = _backtest(runner, obs, "--alpha", alpha)
    assert res.exit_code == 2 and "--alpha" in _err(res), res.output


def _backtest(runner: CliRunner, obs: Path, *extra: str, fit: str = "n_params < 2e9",
              predict: str = "n_params > 5e9", method: str = "exponential"):  # fmt: skip
    return runner.invoke(
        app,
        ["backtest", "--observations", str(obs), "--method", method, "--benchmark", "b",
         "--fit", fit, "--predict", predict, *extra],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("option", "expr", "refused"),
    [
        ("--fit", INJECT, "not a valid filter"),
        ("--predict", f"__import__('os').system('touch {CANARY}')", "Call is not allowed"),
        ("--fit", "n_params.__class__ == 1", "not allowed"),
        ("--fit", "(lambda: 1)() == 1", "not allowed"),
        ("--predict", "(x := 1) == 1", "not allowed"),
        ("--fit", "f'{n_params}' == 'x'", "not allowed"),
        ("--fit", "model * 1000000000 == 'a'", "arithmetic needs numbers"),  # parses, cannot apply
    ],
)
def test_backtest_filters_are_parsed_never_run(
    runner: CliRunner, obs: Path, tmp_path: Path, option: str, expr: str, refused: str
) -> None:
    kwargs = {"fit": expr} if option == "--fit" else {"predict": expr}
    res = _backtest(runner, obs, **kwargs)
    assert res.exit_code == 2, res.output
    message = _err(res)
    assert message.startswith(f"error: {option} ") and refused in message, message
    assert not (tmp_path / CANARY).exists()


def test_params_filter_with_code_is_refused_before_anything_runs(
    runner: CliRunner, obs: Path, tmp_path: Path
) -> None:
    params = json.dumps({"loss_fit": f"@pd.io.common.os.system('touch {CANARY}') == 0"})
    res = _backtest(runner, obs, "--params", params, method="gadre")
    assert res.exit_code == 2, res.output
    assert "--params" in _err(res) and "loss_fit" in _err(res)
    res = runner.invoke(
        app,
        ["forecast", "--observations", str(obs), "--method", "gadre", "--benchmark", "b",
         "--target", "n_params=7e9,n_tokens=1.4e11", "--params", params],
    )  # fmt: skip
    assert res.exit_code == 2 and "loss_fit" in _err(res), res.output
    assert not (tmp_path / CANARY).exists()
    text_times = json.dumps({"loss_fit": "model * 2 == 'a'"})  # a filter that cannot apply
    res = _backtest(runner, obs, "--params", text_times, method="gadre")
    assert res.exit_code == 2, res.output
    assert "--params: loss_fit \"model * 2 == 'a'\"" in _err(res), _err(res)


@pytest.mark.parametrize("params", ['{"n_bootstrap": NaN}', '{"n_bootstrap": Infinity}', "[1]"])
def test_params_must_be_a_json_object_of_finite_numbers(
    runner: CliRunner, obs: Path, params: str
) -> None:
    res = _backtest(runner, obs, "--params", params)
    assert res.exit_code == 2 and "--params" in _err(res), res.output


def test_backtest_good_filters_still_score(runner: CliRunner, obs: Path) -> None:
    res = _backtest(runner, obs, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["fit"] == "n_params < 2e9" and [r["model"] for r in out["rows"]] == ["m6"]
    assert out["summary"]["n_predicted"] == 1


def test_backtest_without_any_finite_prediction_exits_2(
    runner: CliRunner, obs: Path, tmp_path: Path
) -> None:
    df = pd.read_csv(obs)
    df.loc[df["n_params"] > 5e9, ["n_tokens", "flops"]] = np.nan
    df.to_csv(tmp_path / "no_flops.csv", index=False)
    res = _backtest(runner, tmp_path / "no_flops.csv")
    assert res.exit_code == 2, res.output
    assert "targets need flops" in _err(res) and "missing for ['m6']" in _err(res)


@pytest.fixture
def scores(tmp_path: Path) -> Path:
    """Thirty models on five benchmarks that share one skill (a wide scores file)."""
    rng = np.random.default_rng(0)
    skill = rng.normal(size=30)
    wide = pd.DataFrame({"model": [f"org/m{i}" for i in range(30)]})
    for j in range(5):
        wide[f"bench{j}"] = skill + rng.normal(scale=0.3 + 0.2 * j, size=30)
    wide.to_csv(tmp_path / "scores.csv", index=False)
    return tmp_path / "scores.csv"


@pytest.mark.parametrize(
    ("sizes", "bad"),
    [("5,-3", "'-3' must be above zero"), ("5,0", "'0' must be above zero"),
     ("5,2.5", "'2.5' is not a whole number"), ("5,x", "'x' is not a whole number"),
     (",", "--sizes is empty")],
)  # fmt: skip
def test_agreement_refuses_bad_sizes(runner: CliRunner, scores: Path, sizes: str, bad: str) -> None:
    res = runner.invoke(
        app,
        ["agreement", "--data", str(scores), "--reference", "bench0,bench1", "--sizes", sizes,
         "--n-exps", "3", "--json"],
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "--sizes" in _err(res) and bad in _err(res)
    assert res.stdout == ""


def test_agreement_collapses_duplicate_sizes(runner: CliRunner, scores: Path) -> None:
    res = runner.invoke(
        app,
        ["agreement", "--data", str(scores), "--reference", "bench0,bench1",
         "--sizes", "5,5,10", "--n-exps", "3", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["sizes"] == [5, 10]
    res = runner.invoke(app, ["agreement", "--data", str(scores), "--n-exps", "0"])
    assert res.exit_code == 2 and "--n-exps" in _err(res)


def test_unknown_parameter_error_lists_only_the_unknown_names() -> None:
    with pytest.raises(ValueError) as info:
        make_predictor("exponential", benchmark="b", metric="acc", alpha=0.1, bogus=1, zeta=2)
    message = str(info.value)
    unknown, _, accepted = message.partition("accepted")
    assert "bogus" in unknown and "zeta" in unknown
    for valid in ("alpha", "benchmark", "metric"):
        assert valid not in unknown and valid in accepted, message


# --------------------------------------------------------------------------- CSV quotes


def _csv(tmp_path: Path, text: str, name: str = "obs.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


HEADER = "model,benchmark,metric,value\n"


@pytest.mark.parametrize(
    ("body", "line", "column", "char"),
    [
        ('m1,b,acc,0.5\nm2,b,acc,"0.6\nm3,b,acc,0.7\n', 3, "value", 10),  # swallows line 4
        ('m1,b,acc,0.5\nm2,b,acc,"0.6\n', 3, "value", 10),  # would import 0.6 silently
        ('m1,b,acc,0.5\nm2,"b,acc,0.6\n', 3, "benchmark", 4),
        ('m1,b,acc,0.5\r\nm2,b,"acc,0.6\r\n\r\n', 3, "metric", 6),
        ('"m1\nstill m1",b,acc,0.5\nm2,b,acc,"0.6', 4, "value", 10),  # after a quoted newline
    ],
)
def test_csv_with_an_unclosed_quote_is_refused_at_its_line_and_column(
    tmp_path: Path, body: str, line: int, column: str, char: int
) -> None:
    with pytest.raises(ImportValidationError) as info:
        read_observations(_csv(tmp_path, HEADER + body))
    err = info.value
    assert (err.line, err.column, err.got) == (line, column, "end of file")
    assert f"line {line}, column {column}: expected a closing quote" in str(err)
    assert f"character {char} of line {line}" in str(err)


def test_unclosed_quote_in_the_header_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportValidationError) as info:
        read_observations(_csv(tmp_path, 'model,"benchmark,metric,value\nm1,b,acc,0.5\n'))
    assert info.value.line == 1 and "closing quote" in str(info.value)


def test_closed_quotes_doubled_quotes_and_quoted_newlines_still_read(tmp_path: Path) -> None:
    body = 'm1,"b, with comma",acc,0.5\n"m ""two""\nsecond line",b,acc,"0.6"\n\n'
    df = read_observations(_csv(tmp_path, HEADER + body))
    assert df["model"].tolist() == ["m1", 'm "two"\nsecond line']
    assert df["value"].tolist() == [0.5, 0.6]
    assert df.index.tolist() == [2, 3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('a,"b', (0, 3, 1)),
        ('a,"b""c', (0, 3, 1)),
        ('a,"b""c"', None),
        ('a,b"c', None),  # a quote inside an unquoted field is a plain character
        ('"a"x,"b\n\nc', (0, 6, 1)),
        ('x\r"a', (1, 1, 0)),
    ],
)
def test_unclosed_quote_scanner(text: str, expected: tuple[int, int, int] | None) -> None:
    assert _unclosed_quote(text, ",") == expected
