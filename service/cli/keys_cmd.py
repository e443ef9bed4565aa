"""``capcast keys``: create, list and revoke API keys (stored hashed; a token is shown once)."""

from __future__ import annotations

import datetime as dt
import re

import typer

from service.cli.common import emit_json, err_console, fail

app = typer.Typer(
    help="API keys for the REST service. Scopes, each granting those before it: read (GET, "
    "dashboard), forecast (also compute and store forecasts), write (also create and change "
    "resources), admin (also manage keys)."
)

#: service.auth.SCOPES, spelled out for the help text: importing service.auth loads FastAPI and
#: SQLAlchemy, which every ``capcast`` start would pay for (tests/unit/test_cli_startup.py pins it).
SCOPES: tuple[str, ...] = ("read", "forecast", "write", "admin")
_SPAN = re.compile(r"(\d{1,6})([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_expiry(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """``30d``, ``12h``, ``90m`` from now, or an ISO date/time (UTC unless it says otherwise).

    Raises ValueError saying what was wrong: the caller names the option.
    """
    now = now or dt.datetime.now(dt.UTC)
    raw = text.strip()
    span = _SPAN.fullmatch(raw)
    if span:
        amount = int(span.group(1))
        if amount == 0:
            raise ValueError(f"{text!r} is not in the future; give a positive amount")
        return now + dt.timedelta(**{_UNITS[span.group(2)]: amount})  # 6 digits: < year 9999
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither Nd, Nh, Nm (days, hours, minutes from now) nor an ISO date"
        ) from None
    when = when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)
    if when <= now:
        raise ValueError(f"{text!r} is not in the future")
    return when


@app.command()
def create(
    name: str = typer.Option(..., "--name", help="Who or what uses the key."),
    scopes: str = typer.Option(
        "read",
        help=f"Comma-separated, from {', '.join(SCOPES)}; each grants those before it.",
    ),
    expires: str = typer.Option(
        None,
        "--expires",
        help="When the key stops working: 30d, 12h, 90m from now, or an ISO date "
        "(2027-01-31, UTC). Default: never.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the key's record as JSON."),
) -> None:
    """Create a key and print its token on stdout (the only time it is shown)."""
    from db.session import make_engine, transaction
    from service.auth import create_key, parse_scopes

    try:
        wanted = parse_scopes(scopes)
    except ValueError as exc:
        fail(f"--scopes: {exc}")
    try:
        expires_at = parse_expiry(expires) if expires is not None else None
    except ValueError as exc:
        fail(f"--expires: {exc}")
    engine = make_engine()
    try:
        with transaction(engine) as session:
            key, token = create_key(
                session=session, name=name, scopes=wanted, expires_at=expires_at
            )
            record = {"id": key.id, "name": key.name, "prefix": key.prefix, "scopes": wanted,
                      "expires_at": expires_at}  # fmt: skip
    finally:
        engine.dispose()
    if json_out:
        emit_json({**record, "token": token})
        return
    until = f", expires {expires_at.isoformat(timespec='seconds')}" if expires_at else ""
    err_console.print(f"key {record['id']} ({record['prefix']}) scopes {','.join(wanted)}{until}:")
    typer.echo(token)


@app.command("list")
def list_keys(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List keys (never their tokens), with their expiry and last use."""
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
                    "expires_at": k.expires_at,
                    "last_used_at": k.last_used_at,
                    "revoked_at": k.revoked_at,
                }
                for k in session.scalars(select(ApiKey).order_by(ApiKey.id))
            ]
    finally:
        engine.dispose()
    if json_out:
        emit_json(keys)
        return
    table = Table("id", "name", "prefix", "scopes", "created", "expires", "last used", "revoked")
    for k in keys:
        table.add_row(str(k["id"]), k["name"], k["prefix"], ",".join(k["scopes"]),
                      *(str(k[c] or "")[:19] for c in
                        ("created_at", "expires_at", "last_used_at", "revoked_at")))  # fmt: skip
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
