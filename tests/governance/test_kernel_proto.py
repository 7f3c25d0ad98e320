"""The proto: committed generated code in sync with protos/kernel.proto, wire names and
numbers of the original, and a client compiled independently from the proto file."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import textwrap
from pathlib import Path

import jwt
import pytest
from kernel_helpers import INTENT, records, verify

from vaos.governance._pb import kernel_pb2 as pb
from vaos.governance.protogen import GENERATED, PACKAGE_DIR, default_proto, generate
from vaos.governance.server import KernelServer

PROTO = default_proto()

# The original vaos-daemon protos/kernel.proto (reference/vas_swarm.md section 1.1).
ORIGINAL_FIELDS = {
    "TokenRequest": {"agent_id": 1, "intent_hash": 2, "action_type": 3, "metadata": 4},
    "TokenResponse": {"token": 1, "expires_at": 2, "scope": 3, "error": 4},
    "TelemetryRequest": {
        "agent_id": 1,
        "timestamp": 2,
        "status": 3,
        "cpu_usage": 4,
        "memory_usage": 5,
        "tasks_completed": 6,
        "tasks_failed": 7,
        "avg_task_duration": 8,
        "tokens_used": 9,
        "cost_estimate": 10,
        "custom_metrics": 11,
    },
    "TelemetryResponse": {"success": 1, "message": 2},
    "RoutingLogRequest": {
        "session_id": 1,
        "agent_id": 2,
        "timestamp": 3,
        "mode": 4,
        "genre": 5,
        "type": 6,
        "format": 7,
        "weight": 8,
        "confidence": 9,
        "tier": 10,
        "model": 11,
        "provider": 12,
        "intent_hash": 13,
    },
    "RoutingLogResponse": {"success": 1, "message": 2, "correlation_id": 3},
    "AuditConfirmation": {
        "agent_id": 1,
        "action_id": 2,
        "intent_hash": 3,
        "jwt_token": 4,
        "attributable": 5,
        "legible": 6,
        "contemporaneous": 7,
        "original": 8,
        "accurate": 9,
        "performed_at": 10,
        "performed_by": 11,
        "method": 12,
        "context": 13,
    },
    "AuditResponse": {"confirmed": 1, "audit_id": 2, "error": 3},
}
ORIGINAL_TYPES = {
    ("TelemetryRequest", "cpu_usage"): "float",
    ("TelemetryRequest", "timestamp"): "int64",
    ("TelemetryRequest", "tasks_completed"): "int32",
    ("RoutingLogRequest", "weight"): "float",
    ("TokenResponse", "expires_at"): "int64",
    ("AuditConfirmation", "performed_at"): "int64",
    ("AuditConfirmation", "attributable"): "bool",
}
_TYPE_NAMES = {2: "float", 3: "int64", 5: "int32", 8: "bool", 9: "string", 11: "message"}
_VERSION_LINES = re.compile(
    rb"^(# Protobuf Python Version:.*|GRPC_GENERATED_VERSION = .*|    \d+,|    '',)$", re.MULTILINE
)


def _normalised(data: bytes) -> bytes:
    """Generated code without the generator's version stamps (they follow the installed tools)."""
    return _VERSION_LINES.sub(b"", data)


def test_committed_code_matches_a_fresh_generation(tmp_path: Path) -> None:
    fresh = generate(PROTO, tmp_path)
    assert [p.name for p in fresh] == list(GENERATED)
    for path in fresh:
        committed = PACKAGE_DIR / path.name
        assert committed.exists(), f"{path.name} is not committed; run python -m vaos.governance.protogen"
        assert _normalised(committed.read_bytes()) == _normalised(path.read_bytes()), (
            f"{path.name} is stale; run: .venv/bin/python -m vaos.governance.protogen"
        )


def test_package_service_and_rpcs_are_the_originals() -> None:
    assert pb.DESCRIPTOR.package == "vaos.kernel"
    service = pb.DESCRIPTOR.services_by_name["KernelService"]
    assert service.full_name == "vaos.kernel.KernelService"
    methods = {m.name: (m.input_type.name, m.output_type.name) for m in service.methods}
    assert methods == {
        "RequestToken": ("TokenRequest", "TokenResponse"),
        "SubmitTelemetry": ("TelemetryRequest", "TelemetryResponse"),
        "SubmitRoutingLog": ("RoutingLogRequest", "RoutingLogResponse"),
        "ConfirmAudit": ("AuditConfirmation", "AuditResponse"),
    }


@pytest.mark.parametrize("message", sorted(ORIGINAL_FIELDS))
def test_original_field_names_and_numbers_are_kept(message: str) -> None:
    descriptor = pb.DESCRIPTOR.message_types_by_name[message]
    numbers = {f.name: f.number for f in descriptor.fields}
    for name, number in ORIGINAL_FIELDS[message].items():
        assert numbers.get(name) == number, f"{message}.{name}"
    added = {n for f, n in numbers.items() if f not in ORIGINAL_FIELDS[message]}
    assert all(n > max(ORIGINAL_FIELDS[message].values()) for n in added), "additions use new numbers only"
    for (msg, field_name), type_name in ORIGINAL_TYPES.items():
        if msg == message:
            assert _TYPE_NAMES[descriptor.fields_by_name[field_name].type] == type_name


INTEROP_CLIENT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from grpc_tools import protoc
    from importlib.resources import files
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    proto = Path(sys.argv[1])
    include = str(files("grpc_tools").joinpath("_proto"))
    assert protoc.main(["protoc", f"-I{proto.parent}", f"-I{include}", f"--python_out={out}",
                        f"--grpc_python_out={out}", proto.name]) == 0
    sys.path.insert(0, str(out))
    import grpc, kernel_pb2 as pb, kernel_pb2_grpc as rpc
    intent = sys.argv[4]
    with grpc.insecure_channel(sys.argv[3]) as channel:
        stub = rpc.KernelServiceStub(channel)
        token = stub.RequestToken(pb.TokenRequest(agent_id="vaos", intent_hash=intent,
                                                  action_type="file_read", metadata={"session_id": "s-1"}),
                                  timeout=5)
        refused = stub.RequestToken(pb.TokenRequest(agent_id="intruder", intent_hash=intent,
                                                    action_type="file_read"), timeout=5)
        routing = stub.SubmitRoutingLog(pb.RoutingLogRequest(
            session_id="s-1", agent_id="vaos", timestamp=int(time.time()), mode="build", genre="direct",
            type="request", format="command", weight=0.75, confidence="high", tier="elite",
            model="m", provider="p", intent_hash=intent), timeout=5)
        telemetry = stub.SubmitTelemetry(pb.TelemetryRequest(agent_id="vaos", status="busy",
                                                             cpu_usage=0.5, tasks_completed=3), timeout=5)
        audit = stub.ConfirmAudit(pb.AuditConfirmation(
            agent_id="vaos", action_id="a-1", intent_hash=intent, jwt_token=token.token, attributable=True,
            legible=True, contemporaneous=True, original=True, accurate=True, performed_at=int(time.time()),
            performed_by="alice", method="file_read", context={"session_id": "s-1"}), timeout=5)
    print(json.dumps({
        "token": token.token, "expires_at": token.expires_at, "scope": token.scope, "error": token.error,
        "refused_error": refused.error, "refused_token": refused.token,
        "routing": [routing.success, routing.correlation_id],
        "telemetry": [telemetry.success, telemetry.message],
        "audit": [audit.confirmed, audit.audit_id, audit.error],
    }))
    """
)


async def test_a_client_compiled_from_the_proto_file_talks_to_the_kernel(
    kernel: KernelServer, tmp_path: Path, vaos_home: Path
) -> None:
    script = tmp_path / "interop_client.py"
    script.write_text(INTEROP_CLIENT, encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        str(PROTO),
        str(tmp_path / "gen"),
        kernel.address,
        INTENT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out)

    assert result["error"] == "" and result["scope"] == "file_read"
    assert result["refused_token"] == "" and "unknown agent" in result["refused_error"]
    assert result["routing"][0] is True and result["routing"][1]
    assert result["telemetry"] == [True, "telemetry received"]
    assert result["audit"][0] is True and result["audit"][1] and result["audit"][2] == ""

    # The token verifies with PyJWT, using the keys fetched from the kernel's JWKS URL.
    assert kernel.jwks_url is not None
    signing_key = await asyncio.to_thread(
        lambda: jwt.PyJWKClient(kernel.jwks_url).get_signing_key_from_jwt(result["token"])
    )
    claims = jwt.decode(
        result["token"],
        signing_key.key,
        algorithms=["EdDSA"],
        audience="vaos",
        issuer="vaos-kernel",
        options={"require": ["exp", "iat", "nbf", "jti", "sub", "aud", "iss"]},
    )
    assert claims["sub"] == claims["agent_id"] == "vaos"
    assert claims["intent_fingerprint"] == INTENT
    assert claims["action_type"] == claims["scope"] == "file_read"
    assert claims["exp"] - claims["iat"] == 60 and claims["nbf"] == claims["iat"]
    assert claims["exp"] == result["expires_at"]
    assert jwt.get_unverified_header(result["token"])["alg"] == "EdDSA"

    kinds = [r["kind"] for r in records(vaos_home)]
    for kind in ("tokens_issued", "token_refused", "routing_log", "telemetry", "audit_confirmed"):
        assert kind in kinds
    assert verify(vaos_home, full=True).ok
