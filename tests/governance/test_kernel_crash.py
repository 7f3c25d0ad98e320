"""kill -9 during appends: every acknowledged record survives and verifies; a torn final
write is reported (never accepted as a record) and recovered on the next open."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from kernel_helpers import verify

from vaos.governance.keys import KeyStore
from vaos.governance.ledger import LedgerWriter, read_records

APPENDER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from vaos.governance.keys import KeyStore
    from vaos.governance.ledger import Ledger

    async def main(home):
        ledger = Ledger.open(home / "ledger", KeyStore.open(home / "keys"))
        print("open", ledger.count, flush=True)

        async def worker(w):
            i = 0
            while True:
                pad = "x" * (500 + (w * 997 + i * 131) % 6000)  # uneven line sizes
                rec = await ledger.append({"kind": "audit_confirmed", "outcome": "confirmed",
                                           "agent_id": "vaos", "data": {"w": w, "i": i, "pad": pad}})
                sys.stdout.write(f"{rec.seq} {rec.id}\\n")
                sys.stdout.flush()
                i += 1

        await asyncio.gather(*(worker(w) for w in range(16)))

    asyncio.run(main(Path(sys.argv[1])))
    """
)


def run_and_kill(home: Path, script: Path, acks_wanted: int) -> dict[int, str]:
    """Start the appender, let it acknowledge ``acks_wanted`` records, then SIGKILL it."""
    proc = subprocess.Popen([sys.executable, str(script), str(home)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    acked: dict[int, str] = {}
    deadline = time.monotonic() + 30
    try:
        assert proc.stdout.readline().startswith("open")
        while len(acked) < acks_wanted and time.monotonic() < deadline:
            seq, rec_id = proc.stdout.readline().split()
            acked[int(seq)] = rec_id
    finally:
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
    for line in rest.splitlines():  # acknowledgements written before the kill
        parts = line.split()
        if len(parts) == 2:
            acked[int(parts[0])] = parts[1]
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= acks_wanted
    return acked


@pytest.mark.slow
def test_kill_9_during_appends_loses_no_acknowledged_record(vaos_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "appender.py"
    script.write_text(APPENDER, encoding="utf-8")
    keystore = KeyStore.open(vaos_home / "keys")
    all_acked: dict[int, str] = {}
    torn_seen = 0
    for round_ in range(3):
        acked = run_and_kill(vaos_home, script, 300)
        all_acked.update(acked)

        report = verify(vaos_home)  # straight after the crash, before any recovery
        assert report.ok, report.problem
        assert report.records >= max(all_acked), "an acknowledged record is missing"
        torn_seen += len(report.torn_tail)
        for torn in report.torn_tail:
            assert torn["offset"] >= 0 and "never acknowledged" in " ".join(report.warnings)
        by_seq = {r["seq"]: r["id"] for r in read_records(vaos_home / "ledger")}
        assert all(by_seq[seq] == rec_id for seq, rec_id in all_acked.items()), f"round {round_}"

        writer = LedgerWriter.open(vaos_home / "ledger", keystore)  # recovery, as a restart does
        writer.close()
        assert verify(vaos_home).ok
    final = verify(vaos_home, full=True)
    assert final.ok and final.torn_tail == [], final.problem
    assert len(final.recovered) == torn_seen
