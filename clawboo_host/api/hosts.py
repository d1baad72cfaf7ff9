"""``/api/hosts``: every host on this board, with liveness (by lease) and its running runs."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ..board.calls import board_call
from ..board.records import host_json
from ..host import Host
from . import contract as c
from .deps import started_host

router = APIRouter(prefix="/api/hosts", responses=c.errors(503))


@router.get("", response_model=None, responses=c.ok(c.HostList))
async def list_hosts(host: Host = Depends(started_host)) -> dict:
    rows = await board_call(host.board.list_hosts)
    return {"hosts": [dict(host_json(r), self=r["id"] == host.lease.id) for r in rows]}
