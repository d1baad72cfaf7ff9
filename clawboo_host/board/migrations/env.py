"""Alembic environment: always run on the connection the store hands over.

:func:`clawboo_host.board.migrate.upgrade` opens the transaction (and takes the migration
lock) itself, so every revision runs inside it and two hosts starting at once never both
migrate.
"""

from alembic import context

from clawboo_host.board.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
