"""``vaos auth``: the HTTP API's local users and API keys (stored hashed in the database).

A running ``vaos serve`` sees changes at once (revocations within a few seconds): it reads
the same database.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from vaos.cli.app import app
from vaos.cli.errors import bad_input, fail

if TYPE_CHECKING:
    from vaos.store.credentials import CredentialStore

T = TypeVar("T")

auth_app = typer.Typer(
    name="auth",
    help="Users and API keys of the HTTP API (vaos serve).",
    no_args_is_help=True,
)
app.add_typer(auth_app)


def _with_store(work: Callable[[CredentialStore], Awaitable[T]]) -> T:
    import asyncio

    from vaos.cli.route import load_settings
    from vaos.store.credentials import CredentialError, CredentialStore
    from vaos.store.database import Database

    settings = load_settings()

    async def run() -> T:
        settings.home.mkdir(parents=True, exist_ok=True)
        db = Database.from_settings(settings)
        try:
            await db.migrate()
            return await work(CredentialStore(db))
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except CredentialError as exc:
        bad_input(str(exc))
    except OSError as exc:
        fail(f"cannot open the database: {exc}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    import getpass

    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        bad_input("the passwords differ")
    return first


def _print_json(value: Any) -> None:
    import orjson

    sys.stdout.buffer.write(orjson.dumps(value) + b"\n")
    sys.stdout.flush()


@auth_app.command("add-user")
def add_user(
    username: str = typer.Argument(..., help="Letters, digits and _ . @ - (at most 64)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    json_output: bool = typer.Option(False, "--json", help="Print the user as JSON."),
) -> None:
    """Add a user who can log in at /api/v1/auth/login."""
    password = _read_password(password_stdin)
    user = _with_store(lambda store: store.create_user(username, password))
    if json_output:
        _print_json(user.to_dict())
    else:
        print(f"user {user.username} added")


@auth_app.command("passwd")
def passwd(
    username: str = typer.Argument(...),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
) -> None:
    """Set a user's password."""
    password = _read_password(password_stdin)
    if not _with_store(lambda store: store.set_password(username, password)):
        fail(f"no user {username!r}")
    print(f"password of {username} changed")


@auth_app.command("disable-user")
def disable_user(username: str = typer.Argument(...)) -> None:
    """Disable a user: logins, its refresh tokens and its API keys stop working."""
    if not _with_store(lambda store: store.disable_user(username)):
        fail(f"no active user {username!r}")
    print(f"user {username} disabled")


@auth_app.command("create-key")
def create_key(
    name: str = typer.Option("", "--name", help="A label, e.g. the program that uses the key."),
    user: str | None = typer.Option(None, "--user", help="The key acts as this user."),
    json_output: bool = typer.Option(False, "--json", help="Print the key and its record as JSON."),
) -> None:
    """Make an API key. It is shown once: store it now."""
    record, key = _with_store(lambda store: store.create_api_key(name, username=user))
    if json_output:
        _print_json({**record.to_dict(), "key": key})
        return
    print(key)
    print(f"key id {record.id}: shown once; use it as `Authorization: Bearer <key>`", file=sys.stderr)


@auth_app.command("revoke-key")
def revoke_key(key_id: str = typer.Argument(..., help="The id shown by `vaos auth list`.")) -> None:
    """Revoke an API key."""
    if not _with_store(lambda store: store.revoke_api_key(key_id)):
        fail(f"no active key {key_id!r}")
    print(f"key {key_id} revoked")


@auth_app.command("list")
def list_credentials(
    json_output: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Users and API keys (never the secrets)."""

    async def both(store: CredentialStore) -> tuple[list[Any], list[Any]]:
        return await store.list_users(), await store.list_api_keys()

    users, keys = _with_store(both)
    if json_output:
        _print_json({"users": [u.to_dict() for u in users], "keys": [k.to_dict() for k in keys]})
        return
    for u in users:
        print(f"user {u.username}{' (disabled)' if u.disabled else ''}")
    for k in keys:
        state = "revoked" if k.revoked else "active"
        print(f"key  {k.id} {k.name or '-'} ({state})")
    if not users and not keys:
        print("no users or API keys yet: `vaos auth create-key` or `vaos auth add-user NAME`")
