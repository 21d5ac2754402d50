"""What routes receive: the assistant loaded once in the lifespan, the settings, and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from assistant.api.guards import RateLimit
from assistant.auth import AuthError, Authenticator, Caller
from assistant.metrics import Metrics
from assistant.service import Assistant
from assistant.settings import Settings


def get_assistant(request: Request) -> Assistant:
    return request.app.state.assistant


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def get_auth(request: Request) -> Authenticator:
    return request.app.state.auth


def get_caller(request: Request) -> Caller:
    auth: Authenticator = request.app.state.auth
    try:
        return auth.caller(request.headers.get("authorization"))
    except AuthError as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None


def require_official(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
    if caller.role not in ("official", "admin"):
        raise HTTPException(403, "this needs an official's or admin's API key or token")
    return caller


def require_key(caller: Annotated[Caller, Depends(require_official)]) -> Caller:
    if caller.via_token:
        raise HTTPException(403, "a token cannot be exchanged for another: use the API key")
    return caller


def limit_rate(request: Request) -> None:
    """429 with Retry-After for an anonymous client past `ASSISTANT_RATE_LIMIT`; a wrong key or
    token counts as anonymous, so guessing keys is limited too."""
    try:
        if get_caller(request).role != "citizen":
            return
    except HTTPException:
        pass
    limit: RateLimit = request.app.state.rate_limit
    wait = limit.retry_after(request.client.host if request.client else "unknown")
    if wait is not None:
        raise HTTPException(429, f"too many requests from your address: try again in {wait} s",
                            headers={"Retry-After": str(wait)})


def require_admin(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
    if caller.role != "admin":
        raise HTTPException(403, "this needs an admin API key")
    return caller


AssistantDep = Annotated[Assistant, Depends(get_assistant)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
AuthDep = Annotated[Authenticator, Depends(get_auth)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
CallerDep = Annotated[Caller, Depends(get_caller)]
OfficialDep = Annotated[Caller, Depends(require_official)]
KeyHolderDep = Annotated[Caller, Depends(require_key)]
AdminDep = Annotated[Caller, Depends(require_admin)]
