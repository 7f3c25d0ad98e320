"""``vaos audit verify``, ``vaos audit show`` and ``vaos audit export``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vaos.cli.app import app
from vaos.cli.errors import bad_input, fail

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

audit_app = typer.Typer(
    name="audit",
    help="The audit ledger: verify it, list its records, export a verifiable bundle.",
    no_args_is_help=True,
)
app.add_typer(audit_app)

LedgerOption = Annotated[
    Path | None,
    typer.Option(
        "--ledger", help="Ledger directory (or an exported bundle directory) [default: $VAOS_HOME/ledger]."
    ),
]


@audit_app.command("verify")
def verify(
    ledger: LedgerOption = None,
    keys: Annotated[Path | None, typer.Option("--keys", help="JWKS file of the trusted public keys.")] = None,
    full: bool = typer.Option(False, "--full", help="Verify every signature, not only the chain heads."),
    json_output: bool = typer.Option(False, "--json", help="Print the report as one JSON document."),
) -> None:
    """Verify the whole ledger: exit 0 intact, 1 tampered (names the first bad record and why)."""
    from vaos.governance.ledger_verify import CHECKPOINTS_FILE, RECORDS_FILE, verify_ledger

    directory, public_keys = _ledger_and_keys(ledger, keys)
    records_file = directory / RECORDS_FILE
    if not public_keys and records_file.exists() and records_file.stat().st_size:
        fail("no kernel public keys to verify with (none in $VAOS_HOME/keys); pass --keys JWKS_FILE")
    report = verify_ledger(directory / RECORDS_FILE, directory / CHECKPOINTS_FILE, public_keys, full=full)
    if json_output:
        _print_json(report.to_dict())
    else:
        for warning in report.warnings:
            print(f"vaos: warning: {warning}", file=sys.stderr)
        if report.ok:
            rate = (
                f", {report.records / report.seconds:,.0f} records/s"
                if report.seconds and report.records >= 10_000
                else ""
            )
            head = f", head {report.head}" if report.head else ""
            print(
                f"intact: {report.records} records, {report.checkpoints} checkpoints{head}"
                f" ({report.mode} verification, {report.signatures_checked} signatures checked{rate})"
            )
        else:
            print(f"TAMPERED: {report.problem}")
    if not report.ok:
        raise SystemExit(1)


@audit_app.command("show")
def show(
    json_output: bool = typer.Option(False, "--json", help="Print the records as one JSON list."),
    limit: int = typer.Option(20, "--limit", min=0, help="How many of the latest records (0 = all)."),
    ledger: LedgerOption = None,
) -> None:
    """List the latest audit records, oldest first."""
    from vaos.governance.ledger import read_records

    directory = _ledger_dir(ledger)
    records = read_records(directory, limit or None)
    if json_output:
        _print_json(records)
        return
    if not records:
        print(f"no audit records in {directory}")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"audit ledger {directory} (last {len(records)})")
    for column in ("seq", "time (UTC)", "kind", "outcome", "agent", "action", "detail"):
        table.add_column(column, overflow="fold")
    for rec in records:
        table.add_row(
            str(rec.get("seq", "")),
            str(rec.get("ts", ""))[:23],
            str(rec.get("kind", "")),
            str(rec.get("outcome", "")),
            str(rec.get("agent_id") or ""),
            str(rec.get("action_type") or ""),
            _detail(rec),
        )
    Console().print(table)


@audit_app.command("export")
def export(
    out: Annotated[
        Path | None, typer.Option("--out", help="Bundle file [default: ./vaos-audit-<time>.tar.gz].")
    ] = None,
    ledger: LedgerOption = None,
    json_output: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Write a self-contained bundle (ledger, public keys, verifier) anyone can verify."""
    import time

    from vaos.governance.export import export_bundle

    directory = _ledger_dir(ledger)
    jwks = _jwks(ledger)
    target = out or Path(f"vaos-audit-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.tar.gz")
    try:
        manifest = export_bundle(directory, jwks, target)
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")
    if json_output:
        _print_json({**manifest, "path": str(target)})
    else:
        state = "intact" if manifest["intact_at_export"] else "NOT intact (run vaos audit verify)"
        print(
            f"wrote {target}: {manifest['records']} records, {manifest['checkpoints']} checkpoints, {state}"
        )


def _ledger_dir(ledger: Path | None) -> Path:
    if ledger is not None:
        if not ledger.is_dir():
            bad_input(f"no ledger directory at {ledger}")
        return ledger
    from vaos.cli.kernel import load_settings

    return load_settings().path("ledger")


def _jwks(ledger: Path | None) -> dict[str, Any]:
    """Every public key: the bundle's ``jwks.json`` when given one, else the keyring."""
    from vaos.governance.ledger_verify import KEYS_FILE

    if ledger is not None and (ledger / KEYS_FILE).is_file():
        import orjson

        try:
            document: dict[str, Any] = orjson.loads((ledger / KEYS_FILE).read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            bad_input(f"cannot read {ledger / KEYS_FILE}: {exc}")
        return document
    from vaos.cli.kernel import load_settings
    from vaos.governance.keys import KeyStore, public_jwk

    keys = KeyStore.open_public(load_settings().path("keys"))
    return {"keys": [public_jwk(key, kid) for kid, key in keys.items()]}


def _ledger_and_keys(ledger: Path | None, keys_file: Path | None) -> tuple[Path, dict[str, Ed25519PublicKey]]:
    from vaos.governance.errors import KeyStoreError
    from vaos.governance.keys import keys_from_jwks

    directory = _ledger_dir(ledger)
    if keys_file is not None:
        import orjson

        try:
            return directory, keys_from_jwks(orjson.loads(keys_file.read_bytes()))
        except (OSError, ValueError) as exc:
            bad_input(f"cannot read keys from {keys_file}: {exc}")
    try:
        return directory, keys_from_jwks(_jwks(ledger))
    except (KeyStoreError, ValueError) as exc:
        fail(f"cannot read the kernel's public keys: {exc}")


def _detail(rec: dict[str, Any]) -> str:
    if rec.get("reason"):
        return str(rec["reason"])
    data: dict[str, Any] = rec["data"] if isinstance(rec.get("data"), dict) else {}
    if rec.get("kind") == "routing_log":
        parts = [data.get("stage"), f"tier={data.get('tier')}", data.get("provider"), data.get("model")]
        return " ".join(str(p) for p in parts if p)
    if rec.get("kind") == "tokens_issued":
        return f"{len(data.get('grants') or [])} token(s)"
    if rec.get("action_id"):
        return f"action {rec['action_id']}"
    return str(rec.get("id", ""))


def _print_json(value: Any) -> None:
    import orjson

    sys.stdout.buffer.write(orjson.dumps(value) + b"\n")
    sys.stdout.flush()
