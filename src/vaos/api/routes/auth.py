"""``/api/v1/auth``: log in (password or API key), refresh, log out, and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from vaos.api.auth import authenticate
from vaos.api.context import ApiContext, context_of
from vaos.api.errors import AUTH_ERRORS, ApiError, JSONBytes
from vaos.api.schemas import LoginRequest, LogoutResult, RefreshRequest, TokenPair, WhoAmI
from vaos.store.credentials import Principal

router = APIRouter(prefix="/auth", tags=["auth"])


def _bad_credentials(message: str = "invalid username, password or API key") -> ApiError:
    return ApiError(401, "invalid_credentials", message, headers={"WWW-Authenticate": 'Bearer realm="vaos"'})


async def _pair(ctx: ApiContext, principal: Principal, refresh: str | None = None) -> Response:
    api = ctx.settings.api
    if refresh is None:
        refresh = await ctx.credentials.issue_refresh_token(principal.subject, api.refresh_token_ttl)
    return JSONBytes(
        {
            "access_token": ctx.auth.issuer.issue(principal),
            "refresh_token": refresh,
            "expires_in": api.access_token_ttl,
            "refresh_expires_in": api.refresh_token_ttl,
            "token_type": "bearer",
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post(
    "/login", response_model=TokenPair, responses=AUTH_ERRORS, summary="Get an access and a refresh token"
)
async def login(body: LoginRequest, request: Request) -> Response:
    ctx = context_of(request)
    if body.api_key is not None:
        if body.username is not None or body.password is not None:
            raise ApiError(422, "invalid_request", "send either username and password, or api_key")
        principal = await ctx.credentials.authenticate_api_key(body.api_key)
        if principal is None:
            raise _bad_credentials()
        return await _pair(ctx, principal)
    if body.username is None or body.password is None:
        raise ApiError(422, "invalid_request", "send username and password, or api_key", param="username")
    user = await ctx.credentials.authenticate_password(body.username, body.password)
    if user is None:
        raise _bad_credentials()
    return await _pair(ctx, Principal(user.subject, user.username, "user"))


@router.post(
    "/refresh",
    response_model=TokenPair,
    responses=AUTH_ERRORS,
    summary="Exchange a refresh token for new tokens (the old one is spent)",
)
async def refresh(body: RefreshRequest, request: Request) -> Response:
    ctx = context_of(request)
    outcome, subject, successor = await ctx.credentials.rotate_refresh_token(
        body.refresh_token, ctx.settings.api.refresh_token_ttl
    )
    if outcome == "reused":
        raise _bad_credentials(
            "refresh token already used: every token of its login is revoked; log in again"
        )
    if outcome == "expired":
        raise _bad_credentials("refresh token expired; log in again")
    if outcome != "ok" or subject is None or successor is None:
        raise _bad_credentials("invalid refresh token")
    principal = await ctx.credentials.principal(subject)
    if principal is None:
        raise _bad_credentials("the account behind this token is disabled or gone")
    return await _pair(ctx, principal, successor)


@router.post("/logout", response_model=LogoutResult, summary="Revoke a refresh token (and its successors)")
async def logout(body: RefreshRequest, request: Request) -> Response:
    ctx = context_of(request)
    return JSONBytes({"revoked": await ctx.credentials.revoke_refresh_token(body.refresh_token)})


@router.get("/me", response_model=WhoAmI, responses=AUTH_ERRORS, summary="Who the credentials belong to")
async def me(request: Request, principal: Principal = Depends(authenticate)) -> Response:  # noqa: B008
    ctx = context_of(request)
    return JSONBytes(
        {
            "subject": principal.subject,
            "name": principal.name,
            "kind": principal.kind,
            "auth_required": ctx.auth.required,
        }
    )
