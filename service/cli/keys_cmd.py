"""``capcast keys``: create, list and revoke API keys (stored hashed; a token is shown once)."""

from __future__ import annotations

import typer

from service.cli.common import emit_json, err_console, fail

app = typer.Typer(help="API keys for the REST service: scopes read, write (implies read), admin.")

#: service.auth.SCOPES, spelled out for the help text: importing service.auth loads FastAPI and
#: SQLAlchemy, which every ``capcast`` start would pay for (tests/unit/test_cli_startup.py pins it).
SCOPES: tuple[str, ...] = ("read", "write", "admin")


@app.command()
def create(
    name: str = typer.Option(..., "--name", help="Who or what uses the key."),
    scopes: str = typer.Option("read", help=f"Comma-separated, from {', '.join(SCOPES)}."),
    json_out: bool = typer.Option(False, "--json", help="Print the key's record as JSON."),
) -> None:
    """Create a key and print its token on stdout (the only time it is shown)."""
    from db.session import make_engine, transaction
    from service.auth import create_key, parse_scopes

    try:
        wanted = parse_scopes(scopes)
    except ValueError as exc:
        fail(str(exc))
    engine = make_engine()
    try:
        with transaction(engine) as session:
            key, token = create_key(session=session, name=name, scopes=wanted)
            record = {"id": key.id, "name": key.name, "prefix": key.prefix, "scopes": wanted}
    finally:
        engine.dispose()
    if json_out:
        emit_json({**record, "token": token})
        return
    err_console.print(f"key {record['id']} ({record['prefix']}) scopes {','.join(wanted)}:")
    typer.echo(token)


@app.command("list")
def list_keys(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List keys (never their tokens)."""
    from rich.table import Table
    from sqlalchemy import select

    from db.models import ApiKey
    from db.session import make_engine, transaction

    engine = make_engine()
    try:
        with transaction(engine) as session:
            keys = [
                {
                    "id": k.id,
                    "name": k.name,
                    "prefix": k.prefix,
                    "scopes": list(k.scopes),
                    "created_at": k.created_at,
                    "revoked_at": k.revoked_at,
                }
                for k in session.scalars(select(ApiKey).order_by(ApiKey.id))
            ]
    finally:
        engine.dispose()
    if json_out:
        emit_json(keys)
        return
    table = Table("id", "name", "prefix", "scopes", "created", "revoked")
    for k in keys:
        table.add_row(str(k["id"]), k["name"], k["prefix"], ",".join(k["scopes"]),
                      str(k["created_at"])[:19], str(k["revoked_at"] or "")[:19])  # fmt: skip
    err_console.print(table)


@app.command()
def revoke(ident: str = typer.Argument(..., help="The key's id or prefix.")) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    from db.session import make_engine, transaction
    from service.auth import revoke_key

    engine = make_engine()
    try:
        with transaction(engine) as session:
            key = revoke_key(session=session, ident=ident)
            if key is None:
                fail(f"no API key with id or prefix {ident!r}")
            err_console.print(f"revoked key {key.id} ({key.prefix}, {key.name})")
    finally:
        engine.dispose()
