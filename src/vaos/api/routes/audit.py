"""``GET /api/v1/audit`` (the latest ledger records) and ``GET /api/v1/audit/verify``."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from vaos.api.context import context_of
from vaos.api.errors import ApiError, ErrorResponse, JSONBytes
from vaos.api.schemas import AuditRecords, AuditVerification

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=AuditRecords, summary="The latest audit records, oldest first")
async def records(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=10_000, description="How many of the latest records.")] = 100,
) -> Response:
    from vaos.governance.ledger import read_records

    ctx = context_of(request)
    found = await asyncio.to_thread(read_records, ctx.settings.path("ledger"), limit)
    return JSONBytes({"records": found, "count": len(found)})


@router.get(
    "/audit/verify",
    response_model=AuditVerification,
    responses={503: {"model": ErrorResponse, "description": "The kernel's public keys cannot be read"}},
    summary="Verify the whole audit ledger (`ok` false names the first bad record)",
)
async def verify(
    request: Request,
    full: Annotated[bool, Query(description="Verify every signature, not only the chain heads.")] = False,
) -> Response:
    from vaos.governance.errors import GovernanceError
    from vaos.governance.ledger import verify_home

    ctx = context_of(request)
    try:
        report = await asyncio.to_thread(verify_home, ctx.settings.home, full=full)
    except (GovernanceError, OSError, ValueError) as exc:
        raise ApiError(503, "audit_unavailable", f"cannot verify the ledger: {exc}") from None
    return JSONBytes(report.to_dict())
