"""The ``capcast`` command line. Each command lives in its own module; this file only wires them."""

from __future__ import annotations

import typer

import service.cli.agreement_cmd as agreement_cmd
import service.cli.backtest_cmd as backtest_cmd
import service.cli.densing_cmd as densing_cmd
import service.cli.eval_cmd as eval_cmd
import service.cli.forecast_cmd as forecast_cmd
import service.cli.identity_cmd as identity_cmd
import service.cli.import_cmd as import_cmd
import service.cli.ladder_cmd as ladder_cmd
import service.cli.leaderboard_cmd as leaderboard_cmd
import service.cli.perchoice_cmd as perchoice_cmd
import service.cli.track_record_cmd as track_record_cmd
from service.cli import db_cmd, demo_cmd, keys_cmd, schedule_cmd, serve_cmd, worker_cmd

app = typer.Typer(
    name="capcast",
    help="Forecast LLM benchmark scores from ladders of small models, and analyse benchmarks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db_cmd.app, name="db")
# Command registrations (one line per command module) go below.
app.command("agreement")(agreement_cmd.agreement)
app.command("perchoice")(perchoice_cmd.perchoice)
app.command("backtest")(backtest_cmd.backtest)
app.command("forecast")(forecast_cmd.forecast)
app.command("track-record")(track_record_cmd.track_record)
app.command("leaderboard")(leaderboard_cmd.leaderboard)
app.command("densing")(densing_cmd.densing)
app.command("worker")(worker_cmd.worker)
app.add_typer(schedule_cmd.app, name="schedule")
app.command("serve")(serve_cmd.serve)
app.add_typer(keys_cmd.app, name="keys")
app.command("demo")(demo_cmd.demo)
app.add_typer(import_cmd.app, name="import")
app.command("eval")(eval_cmd.eval_command)
app.add_typer(ladder_cmd.app, name="ladder")
app.command("benchmarks")(identity_cmd.benchmarks)
app.command("models")(identity_cmd.models)


def main() -> None:
    app()
