"""``/api/executions``: stop a live run from anywhere — this host or any other on the board."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ..board.calls import board_call
from ..host import Host
from . import contract as c
from .deps import started_host
from .errors import ApiError

router = APIRouter(prefix="/api/executions", responses=c.errors(503))

ABORT_REASON = "aborted by request"


@router.post(
    "/{exec_id}/abort",
    response_model=None,
    responses={
        **c.ok(c.AbortResult),
        **c.errors(
            404,
            409,
            e409="The execution already finished, or is running in no host of this board.",
        ),
    },
)
async def abort(exec_id: str, host: Host = Depends(started_host)) -> dict:
    if host.executor.abort(exec_id, ABORT_REASON):
        return {"ok": True, "execId": exec_id}
    execution = await board_call(host.board.get_execution, exec_id)
    if execution is None:
        raise ApiError(404, f"unknown execution '{exec_id}'")
    if execution["status"] != "running":
        raise ApiError(409, f"execution '{exec_id}' already finished ({execution['status']})")
    owner = execution["host_id"]
    if owner is None or owner == host.lease.id:
        raise ApiError(409, f"execution '{exec_id}' is not running in this host")
    # Another host runs it: leave the request on its row; that host polls and stops it.
    if not await board_call(host.board.request_abort, exec_id, ABORT_REASON):
        raise ApiError(409, f"execution '{exec_id}' already finished")
    return {"ok": True, "execId": exec_id, "hostId": owner, "requested": True}
