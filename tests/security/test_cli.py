"""Expression injection and hostile numbers on the command line: ``capcast backtest --fit/--predict``
and ``capcast forecast --params/--target`` against a seeded database. Each exits 2 with a message
naming the option (or parameter), runs nothing and changes no row. Finding 1's commands also run
as real ``capcast`` processes.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from db import loader, migrate
from db.config import get_settings
from db.session import make_engine, transaction
from service.cli import app
from tests.integration.jobs_helpers import CAPCAST, ROOT, proc_env
from tests.security.conftest import seed_rows, table_checksums
from tests.security.payloads import EXPRESSIONS, REPRESENTATIVE, Expr

GADRE = ["--method", "gadre", "--benchmark", "avg17", "--metric", "err", "--family", "gadre-rpj"]
TARGET = ["--target", "n_params=6.9e9,n_tokens=1.38e11"]


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A seeded SQLite database (the CLI reads it; the server's backends are tested over REST)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'capcast.sqlite'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with transaction(engine) as session:
        loader.load_observations(session, pd.DataFrame(seed_rows()), source="seed")
    engine.dispose()
    return url


@pytest.fixture
def run(cli_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Invoke ``capcast ARGS`` in-process on the seeded database; assert it exits 2 naming
    ``names`` and that no table changed; return the output."""
    monkeypatch.setenv("CAPCAST_DATABASE_URL", cli_db)
    monkeypatch.setenv("COLUMNS", "400")
    get_settings.cache_clear()
    engine = make_engine(cli_db)
    runner = CliRunner()

    def invoke(args: list[str], *names: str) -> str:
        before = table_checksums(engine)
        result = runner.invoke(app, args)
        output = result.output
        assert result.exit_code == 2, (result.exit_code, output[-3000:], result.exception)
        assert "Traceback" not in output, output[-3000:]
        for name in names:
            assert name in output, f"{name!r} is not named: {output[-2000:]}"
        assert table_checksums(engine) == before, "rows changed"
        return output

    yield invoke
    engine.dispose()
    get_settings.cache_clear()


def _gadre_params(**params: object) -> str:
    return json.dumps({"n_bootstrap": 2, **params})


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=lambda e: e.id)
def test_backtest_fit_refused(run, canary: Path, expr: Expr) -> None:
    fit = expr.render(str(canary))
    run(["backtest", *GADRE, "--fit", fit, "--predict", "n_params > 2e8", "--params",
         _gadre_params()], "--fit")  # fmt: skip
    assert not canary.exists(), "the --fit payload ran"


@pytest.mark.parametrize("expr", REPRESENTATIVE, ids=lambda e: e.id)
def test_backtest_predict_refused(run, canary: Path, expr: Expr) -> None:
    predict = expr.render(str(canary))
    run(["backtest", *GADRE, "--fit", "n_params < 2e8", "--predict", predict, "--params",
         _gadre_params()], "--predict")  # fmt: skip
    assert not canary.exists(), "the --predict payload ran"


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=lambda e: e.id)
def test_forecast_params_loss_fit_refused(run, canary: Path, expr: Expr) -> None:
    params = _gadre_params(loss_fit=expr.render(str(canary)))
    run(["forecast", *GADRE, *TARGET, "--params", params], "--params", "loss_fit")
    assert not canary.exists(), "the loss_fit payload ran"


@pytest.mark.parametrize("expr", REPRESENTATIVE, ids=lambda e: e.id)
def test_backtest_params_error_fit_refused(run, canary: Path, expr: Expr) -> None:
    params = _gadre_params(error_fit=expr.render(str(canary)))
    run(["backtest", *GADRE, "--fit", "n_params < 2e8", "--predict", "n_params > 2e8",
         "--params", params], "--params", "error_fit")  # fmt: skip
    assert not canary.exists(), "the error_fit payload ran"


@pytest.mark.parametrize(
    ("args", "names"),
    [
        pytest.param(["--params", _gadre_params(n_bootstrap=100_000_000)], ("n_bootstrap",),
                     id="n-bootstrap-1e8"),
        pytest.param(["--params", '{"n_bootstrap": NaN}'], ("--params",), id="params-nan"),
        pytest.param(["--params", '{"n_bootstrap": 1e400}'], ("--params",), id="params-1e400"),
        pytest.param(["--params", '{"colour": "red"}'], ("colour",), id="unknown-parameter"),
        pytest.param(["--params", "[" * 100_000 + "]" * 100_000], ("--params",),
                     id="params-nested-100k"),
        pytest.param(["--target", "n_params=-7e9,n_tokens=1.4e11"], ("--target",),
                     id="target-negative"),
        pytest.param(["--target", "n_params=nan,n_tokens=1.4e11"], ("--target",), id="target-nan"),
        pytest.param(["--target", "n_params=inf,n_tokens=1.4e11"], ("--target",), id="target-inf"),
        pytest.param(["--target", "n_params=1e400,n_tokens=1.4e11"], ("--target",),
                     id="target-1e400"),
        pytest.param(["--alpha", "nan"], ("--alpha",), id="alpha-nan"),
    ],
)  # fmt: skip
def test_forecast_hostile_numbers_refused(run, args: list[str], names: tuple[str, ...]) -> None:
    full = ["forecast", *GADRE, *TARGET, "--params", _gadre_params(), *args]
    run(full, *names)


def test_agreement_negative_size_refused(run) -> None:
    """Finding 6: ``--sizes 5,-3`` used to drop -3 silently."""
    run(["agreement", "--sizes", "5,-3"], "--sizes")


def test_finding1_cli_commands_as_real_processes(cli_db: str, canary: Path) -> None:
    """The reported commands, run as ``capcast`` processes: exit 2 and nothing executed."""
    env = proc_env(cli_db)
    fit = f"@pd.io.common.os.system('touch {canary}') == 0 or n_params < 2e9"
    loss_fit = json.dumps({"loss_fit": f"@pd.io.common.os.system('touch {canary}')"})
    commands = [
        ["backtest", *GADRE, "--fit", fit, "--predict", "n_params >= 2e9"],
        ["forecast", *GADRE, *TARGET, "--params", loss_fit],
    ]
    for args in commands:
        proc = subprocess.run([*CAPCAST, *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert proc.returncode == 2, (args, proc.returncode, proc.stderr[-3000:])
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
        assert not canary.exists(), f"{args[0]}: the payload ran"
