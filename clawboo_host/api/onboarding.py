"""``/api/onboarding``: mint a first team for a new user."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ..host import Host
from . import contract as c
from .deps import json_body, started_host, text_field

router = APIRouter(prefix="/api/onboarding", responses=c.errors(503))


@router.post(
    "/seed-native-team",
    status_code=201,
    response_model=None,
    responses={
        **c.ok(c.SeededTeam, 201, "The new team."),
        **c.errors(
            400, 404, 500, e404="No installed runtime can seed a team.", e500="A bad team plan."
        ),
    },
    openapi_extra=c.request_body(c.SeedTeamBody),
)
async def seed_native_team(request: Request, host: Host = Depends(started_host)) -> JSONResponse:
    """Each call mints a new team (it is not idempotent)."""
    body = await json_body(request)
    created = await host.onboarding.seed_team(
        provider=text_field(body, "provider"), model=text_field(body, "model")
    )
    return JSONResponse(created, status_code=201)
