"""Alembic environment: runs on the connection that adapters.persistence.migrations hands over."""

from alembic import context

# the imports register every table on the metadata
import adapters.persistence.access_models
import adapters.persistence.audit
import adapters.persistence.change_models
import adapters.persistence.draft_models
import adapters.persistence.mail_models  # noqa: F401  (registers the mail tables on the metadata)
from adapters.persistence.models import TenantModel

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `mailroom migrate`, which supplies the database connection")

context.configure(
    connection=connection,
    target_metadata=TenantModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=connection.dialect.name != "sqlite",  # SQLite reflects GUID columns as NUMERIC
)
with context.begin_transaction():
    context.run_migrations()
