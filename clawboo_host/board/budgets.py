"""Budgets: spend accrues atomically in the database, so hosts sharing a board never lose an
increment, and a ``cap`` budget that reaches its limit reads ``paused`` for every host at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Text,
    bindparam,
    case,
    literal,
    select,
    update,
)

from .common import MICRO_PER_CENT, MICRO_PER_USD, Part, now_iso
from .database import first, rows
from .schema import budgets
from .vocabulary import BUDGET_MODES, BUDGET_SCOPES

SOFT_CAP_PERCENT = 80


def budget_status(limit_cents: int, spent_micro: int, mode: str) -> str:
    """run-flow §2.6: ``paused`` from whole cents; ``soft_capped`` once the spend has really
    reached 80 % of a non-zero limit (the reference's whole-cent floor made a 1¢ budget
    soft-capped before any spend); a ``warn`` budget never reads ``paused``."""
    spent_cents = spent_micro // MICRO_PER_CENT
    if limit_cents <= 0:
        status = "active"
    elif spent_cents >= limit_cents:
        status = "paused"
    elif spent_micro * 100 >= limit_cents * MICRO_PER_CENT * SOFT_CAP_PERCENT:
        status = "soft_capped"
    else:
        status = "active"
    if status == "paused" and mode != "cap":
        status = "soft_capped"
    return status


def budget_status_sql(limit_cents, spent_micro, mode):
    """:func:`budget_status` as one SQL expression, for the accruing UPDATE."""
    limit_cents = _sql(limit_cents, BigInteger())
    mode = _sql(mode, Text())
    spent_cents = spent_micro // MICRO_PER_CENT
    return case(
        (limit_cents <= 0, "active"),
        (spent_cents >= limit_cents, case((mode == "cap", "paused"), else_="soft_capped")),
        (spent_micro * 100 >= limit_cents * (MICRO_PER_CENT * SOFT_CAP_PERCENT), "soft_capped"),
        else_="active",
    )


def _sql(value, type_):
    return value if isinstance(value, ColumnElement) else literal(value, type_)


def _scope_is(scope: str, scope_id: str):
    return (budgets.c.scope == scope) & (budgets.c.scope_id == scope_id)


_SPENT = budgets.c.spent_micro_cents + bindparam("micro", type_=BigInteger())
#: One budget's accrual, built once (building the status CASE costs more than running it).
_SPEND = (
    update(budgets)
    .where(_scope_is(bindparam("of_scope"), bindparam("of_id")))
    .values(
        spent_micro_cents=_SPENT,
        status=budget_status_sql(budgets.c.limit_usd_cents, _SPENT, budgets.c.mode),
        updated_at=bindparam("now"),
    )
    .returning(*budgets.c)
)

_PAUSED_CAPS = select(budgets.c.scope, budgets.c.scope_id).where(
    budgets.c.scope_id.in_(bindparam("ids", expanding=True)),
    budgets.c.status == "paused",
    budgets.c.mode == "cap",
)


class BudgetStore(Part):
    def put_budget(self, scope: str, scope_id: str, limit_usd: float, mode: str = "warn") -> dict:
        """Create or change a budget's limit and mode; keeps what was spent; recomputes status
        (so raising the limit un-pauses it)."""
        if scope not in BUDGET_SCOPES:
            raise ValueError(f"unknown budget scope '{scope}'")
        if mode not in BUDGET_MODES:
            raise ValueError(f"unknown budget mode '{mode}'")
        limit_cents = round(float(limit_usd) * 100)

        def write(conn: Connection) -> dict:
            ts = now_iso()
            statement = self.db.insert(budgets).values(
                scope=scope,
                scope_id=scope_id,
                limit_usd_cents=limit_cents,
                spent_micro_cents=0,
                mode=mode,
                status=budget_status(limit_cents, 0, mode),
                created_at=ts,
                updated_at=ts,
            )
            # Status from the row's own spend, in the same statement: no lost concurrent spend.
            statement = statement.on_conflict_do_update(
                index_elements=["scope", "scope_id"],
                set_=dict(
                    limit_usd_cents=limit_cents,
                    mode=mode,
                    status=budget_status_sql(limit_cents, budgets.c.spent_micro_cents, mode),
                    updated_at=ts,
                ),
            )
            conn.execute(statement)
            return first(conn, select(budgets).where(_scope_is(scope, scope_id)))  # type: ignore[return-value]

        return self.db.write(write)

    def get_budget(self, scope: str, scope_id: str) -> dict | None:
        return self.db.one(select(budgets).where(_scope_is(scope, scope_id)))

    def list_budgets(self) -> list[dict]:
        return self.db.all(select(budgets).order_by(budgets.c.scope, budgets.c.scope_id))

    def paused_cap_budget(self, scopes: Sequence[tuple[str, str | None]]) -> tuple[str, str] | None:
        """The first ``(scope, scope_id)``, in the given order, whose budget is paused in
        ``cap`` mode; scopes with a None id or no budget row are skipped."""
        return self.db.read(lambda conn: self._paused_cap_budget(conn, scopes))

    @staticmethod
    def _paused_cap_budget(
        conn: Connection, scopes: Sequence[tuple[str, str | None]]
    ) -> tuple[str, str] | None:
        wanted = [(s, i) for s, i in scopes if i is not None]
        if not wanted:
            return None
        ids = sorted({i for _, i in wanted})
        paused = {(r["scope"], r["scope_id"]) for r in rows(conn, _PAUSED_CAPS, {"ids": ids})}
        return next((s for s in wanted if s in paused), None)

    def record_spend(self, scope: str, scope_id: str, usd: float) -> dict | None:
        """Add ``usd`` (as micro-cents) to a budget and recompute its status, in ONE
        ``UPDATE … RETURNING``: concurrent spend from any number of hosts all counts.

        Returns the updated budget (with ``previous_status``, to spot a crossing), or None when
        the scope has no budget. A negative or non-finite amount adds nothing.
        """
        return self.db.write(lambda conn: self._record_spend(conn, scope, scope_id, usd))

    def spend(self, scopes: Sequence[tuple[str, str | None]], usd: float) -> tuple[str, str] | None:
        """A run's cost: :meth:`record_spend` on each scope that has an id, in one
        transaction; the first of them whose ``cap`` budget now reads ``paused`` (what
        :meth:`paused_cap_budget` would answer next)."""

        def write(conn: Connection) -> tuple[str, str] | None:
            paused = None
            for scope, scope_id in scopes:
                if scope_id:
                    row = self._record_spend(conn, scope, scope_id, usd)
                    if row and (row["mode"], row["status"]) == ("cap", "paused"):
                        paused = paused or (scope, scope_id)
            return paused

        return self.db.write(write)

    @staticmethod
    def _record_spend(conn: Connection, scope: str, scope_id: str, usd: float) -> dict | None:
        amount = float(usd) if usd is not None else 0.0
        micro = round(amount * MICRO_PER_USD) if math.isfinite(amount) and amount > 0 else 0
        row = first(
            conn, _SPEND, {"of_scope": scope, "of_id": scope_id, "micro": micro, "now": now_iso()}
        )
        if row is None:
            return None
        # Status is a function of (limit, spent, mode), so the one before is this one's less
        # the increment.
        row["previous_status"] = budget_status(
            row["limit_usd_cents"], row["spent_micro_cents"] - micro, row["mode"]
        )
        return row
