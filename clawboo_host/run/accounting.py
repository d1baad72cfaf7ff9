"""Cost and budgets: price each cost event, spend it against the run's budgets, stop the run
when a ``cap`` budget pauses; and the totals of a chain of executions."""

from __future__ import annotations

import asyncio
import contextlib

from ..plugin_api.types import CostEvent
from ..pricing import estimate_cost_usd
from .model import PreparedRun, RunTally
from .services import Services

BUDGET_ABORT = "budget:"  # an abort request's reason when a cap stops a run: budget:<scope>


def price(run: PreparedRun, tally: RunTally, event: CostEvent) -> float | None:
    """Fold one cost event into ``tally``; the dollars to spend against the budgets (None:
    the event carries no cost)."""
    usd = event.cost_usd
    if usd is None:
        if not (event.input_tokens or event.output_tokens):
            return None
        usd = estimate_cost_usd(
            event.model or run.request.model, event.input_tokens, event.output_tokens
        )
        tally.estimated = True
    tally.cost_usd = (tally.cost_usd or 0.0) + usd
    tally.input_tokens += max(event.input_tokens, 0)
    tally.output_tokens += max(event.output_tokens, 0)
    return usd


async def spend(svc: Services, run: PreparedRun, tally: RunTally, usd: float) -> None:
    """Spend ``usd`` against the run's budgets; a paused cap budget aborts the run."""
    paused = await svc.db(svc.board.spend, run.budget_scopes, usd)
    await stop_on_paused_budget(svc, run, tally, paused)


#: The least time between two of a run's spend writes: a runtime reporting costs faster than
#: this (a fast tool loop) shares a write, so the board's write is not a cost of every turn.
SPEND_INTERVAL_S = 0.05


class Spending:
    """A run's spends, recorded off the event stream's path: the runtime goes on with its next
    step while the board records the last one's cost (a cap it reaches aborts the run's next
    step). The first cost is written at once; costs that come while a write is under way, or
    within :data:`SPEND_INTERVAL_S` of it, are summed into the next. :meth:`settled` writes
    what is owed before the outcome counts."""

    def __init__(self, svc: Services, run: PreparedRun, tally: RunTally) -> None:
        self.svc, self.run, self.tally = svc, run, tally
        self._owed: float | None = None  # priced, not yet written
        self._writer: asyncio.Future | None = None
        self._settling = asyncio.Event()

    def add(self, event: CostEvent) -> None:
        usd = price(self.run, self.tally, event)
        if usd is None:
            return
        self._owed = (self._owed or 0.0) + usd
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        while self._owed is not None:
            usd, self._owed = self._owed, None
            await spend(self.svc, self.run, self.tally, usd)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._settling.wait(), SPEND_INTERVAL_S)

    async def settled(self) -> None:
        self._settling.set()
        if self._writer is not None:
            await self._writer


async def check_budgets(svc: Services, run: PreparedRun, tally: RunTally) -> bool:
    """True (and the run aborted with reason ``budget``) when one of its cap budgets is paused;
    every other run in that scope, on whichever host, is asked to stop too."""
    paused = await svc.db(svc.board.paused_cap_budget, run.budget_scopes)
    return await stop_on_paused_budget(svc, run, tally, paused)


async def stop_on_paused_budget(
    svc: Services, run: PreparedRun, tally: RunTally, stop: tuple[str, str] | None
) -> bool:
    """:func:`check_budgets` with the paused budget already read."""
    if stop and tally.budget_stop is None:
        tally.budget_stop = stop[0]
        run.abort.set("budget")
        await svc.db(svc.board.request_scope_abort, *stop, f"{BUDGET_ABORT}{stop[0]}")
    return tally.budget_stop is not None


def note_budget_abort(run: PreparedRun, tally: RunTally) -> None:
    """A cap reached by another run in the scope (maybe on another host) stopped this one:
    it reports as auto-paused, like the run that reached it."""
    reason = run.abort.reason or ""
    if tally.budget_stop is None and reason.startswith(BUDGET_ABORT):
        tally.budget_stop = reason.removeprefix(BUDGET_ABORT)


def totals(tallies: list[RunTally]) -> dict:
    """The response's ``costUsd``, ``usage`` and ``costEstimated`` over every execution."""
    costs = [t.cost_usd for t in tallies if t.cost_usd is not None]
    return {
        "costUsd": round(sum(costs), 6) if costs else None,
        "usage": {
            "inputTokens": sum(t.input_tokens for t in tallies),
            "outputTokens": sum(t.output_tokens for t in tallies),
        },
        "costEstimated": any(t.estimated for t in tallies),
    }
