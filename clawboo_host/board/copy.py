"""``clawboo-host db copy``: carry a board (usually the SQLite file) into another database.

Every board table is copied — teams, agents, tasks, comments, workspaces, executions, budgets,
settings — parents first, in each table's insertion order, as upserts by key inside ONE
transaction on the target: a copy that fails leaves the target as it was, and running the copy
again converges on the same rows (it is idempotent). Hosts are not copied: they are per process.
The target is migrated to the current schema first; so is the source (an older SQLite board is
upgraded in place, as on any open).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, func, select, update

from .database import display_url
from .schema import COPY_ORDER, budgets, tasks
from .store import BoardStore

BATCH = 500
Progress = Callable[[str, int, int], None]  # (table, rows done, rows in table)


class CopyRefused(Exception):
    pass


def copy_board(source_url: str, target_url: str, progress: Progress | None = None) -> dict:
    """Copy every board row from ``source_url`` into ``target_url``. Returns rows per table."""
    source, target = BoardStore(source_url), BoardStore(target_url)
    if source.url.render_as_string(hide_password=False) == target.url.render_as_string(
        hide_password=False
    ):
        raise CopyRefused(f"source and target are the same database ({display_url(target.url)})")
    source.open()
    try:
        target.open()
        try:
            return source.db.read(
                lambda src: target.db.write(
                    lambda dst: _copy_all(source, target, src, dst, progress)
                )
            )
        finally:
            target.close()
    finally:
        source.close()


def _copy_all(
    source: BoardStore, target: BoardStore, src: Connection, dst: Connection, progress
) -> dict:
    counts: dict[str, int] = {}
    for table in COPY_ORDER:
        columns = [c for c in table.columns if c.name != "seq" and c is not budgets.c.id]
        key = ["scope", "scope_id"] if table is budgets else [c.name for c in table.primary_key]
        total = src.execute(select(func.count()).select_from(table)).scalar_one()
        order = [table.c[c] for c in ("created_at", "started_at") if c in table.c][:1]
        statement = select(*columns).order_by(*order, source.db.insertion_order(table))
        done = 0
        parents: list[tuple[str, str]] = []
        if progress:
            progress(table.name, 0, total)
        for batch in src.execute(statement).mappings().partitions(BATCH):
            values = [dict(row) for row in batch]
            if table is tasks:
                # Parents may point anywhere in the table: link them once every task is in.
                parents += [(v["id"], v["parent_task_id"]) for v in values if v["parent_task_id"]]
                values = [dict(v, parent_task_id=None) for v in values]
            insert = target.db.insert(table)
            upsert = insert.on_conflict_do_update(
                index_elements=key,
                set_={c.name: insert.excluded[c.name] for c in columns if c.name not in key},
            )
            dst.execute(upsert, values)
            done += len(values)
            if progress:
                progress(table.name, done, total)
        for task_id, parent_id in parents:
            dst.execute(update(tasks).where(tasks.c.id == task_id).values(parent_task_id=parent_id))
        counts[table.name] = done
    return counts
