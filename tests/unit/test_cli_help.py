"""Every ``capcast`` command and option documents itself in ``--help`` (scripts rely on it)."""

from __future__ import annotations

import click
import typer
from typer.testing import CliRunner

from service.cli import app


def _leaves(command: click.Command, path: tuple[str, ...] = ("capcast",)):
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield path, command
        return
    for name, sub in subcommands.items():
        yield from _leaves(sub, (*path, name))


def test_every_option_and_argument_has_help() -> None:
    undocumented = [
        (" ".join(path), param.name)
        for path, command in _leaves(typer.main.get_command(app))
        for param in command.params
        if param.name != "help" and not (getattr(param, "help", None) or "").strip()
    ]
    assert undocumented == []


def test_every_command_has_a_help_page() -> None:
    leaves = list(_leaves(typer.main.get_command(app)))
    assert len(leaves) >= 20
    runner = CliRunner()
    for path, command in leaves:
        assert (command.help or "").strip(), f"{' '.join(path)} has no description"
        res = runner.invoke(app, [*path[1:], "--help"], env={"COLUMNS": "200"})
        assert res.exit_code == 0, (path, res.output)
        assert "Usage:" in res.output
