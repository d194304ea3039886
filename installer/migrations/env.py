"""Alembic's entry point for pyinstall's run records: migrations run on the connection records.py gives."""

from alembic import context

context.configure(connection=context.config.attributes["connection"], render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
