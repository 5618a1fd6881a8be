"""The Postgres roles around row-level security: the one the service connects as, and what the tables' owner grants it.

Migrations 0008 and 0012 put every tenant-owned table under policies, FORCEd so they bind the tables' owner too.
Three kinds of role still get past them (Postgres docs, "Row Security Policies"): superusers and BYPASSRLS roles
skip every policy, and the owner of a table may switch them off (`ALTER TABLE ... NO FORCE ROW LEVEL SECURITY`,
`DROP POLICY`). A role that may become one of those (`SET ROLE` to a role it is a member of) is as good as one.
So the service connects as a role of its own that may only read and write rows, and the migrations run as the owner.
"""

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.errors import DependencyUnavailable

_SESSION_ROLE = text(
    """
    SELECT current_user,
      EXISTS (SELECT FROM pg_roles r WHERE r.rolsuper AND pg_has_role(current_user, r.oid, 'MEMBER')),
      EXISTS (SELECT FROM pg_roles r WHERE r.rolbypassrls AND pg_has_role(current_user, r.oid, 'MEMBER')),
      EXISTS (SELECT FROM pg_roles r WHERE r.rolcreaterole AND pg_has_role(current_user, r.oid, 'MEMBER')),
      ARRAY(
        SELECT c.relname::text FROM pg_class c
        WHERE c.relrowsecurity AND c.relkind IN ('r', 'p') AND pg_has_role(current_user, c.relowner, 'MEMBER')
        ORDER BY c.relname
      )
    """
)


@dataclass(frozen=True, slots=True)
class SessionRole:
    """The role a connection runs as, and every way it could pass the row-level security policies."""

    name: str
    superuser: bool
    bypass_rls: bool
    create_role: bool
    """CREATEROLE: before Postgres 16 such a role may grant itself membership in any role but a superuser, the
    tables' owner among them; from 16 it still administers the roles it creates."""
    owned_tables: tuple[str, ...]  # tables under row-level security it owns, or whose owner it may become

    @property
    def bypasses_row_security(self) -> bool:
        return self.superuser or self.bypass_rls or self.create_role or bool(self.owned_tables)

    @property
    def why(self) -> str:
        """Why it bypasses, first reason only: a superuser also owns every table, which would say nothing more."""
        if self.superuser:
            return f"role {self.name!r} is a superuser"
        if self.bypass_rls:
            return f"role {self.name!r} has BYPASSRLS"
        if self.owned_tables:
            shown = ", ".join(self.owned_tables[:3]) + (", ..." if len(self.owned_tables) > 3 else "")
            return f"role {self.name!r} owns the tables ({shown}) and may switch their policies off"
        if self.create_role:
            return f"role {self.name!r} has CREATEROLE and could make itself a member of the tables' owner"
        return f"role {self.name!r} is under row-level security"


async def session_role(engine: AsyncEngine) -> SessionRole | None:
    """The role the engine's connections run as; None on a database without row-level security (SQLite)."""
    if engine.dialect.name != "postgresql":
        return None
    async with engine.connect() as connection:
        name, superuser, bypass_rls, create_role, owned = (await connection.execute(_SESSION_ROLE)).one()
    return SessionRole(name, superuser, bypass_rls, create_role, tuple(owned))


# Run by the owner after the migrations. The role and its password arrive as transaction-local settings and
# are quoted by format() (%I, %L) inside Postgres, so no name or password is ever spliced into SQL here.
_GRANT = """
DO $grant$
DECLARE
  service text := current_setting('mailroom.service_role');
  password text := nullif(current_setting('mailroom.service_password'), '');
  schema text := current_schema();
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = service) THEN
    IF password IS NULL THEN
      RAISE EXCEPTION 'role "%" does not exist', service USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE',
                   service, password);
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', schema, service);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', schema, service);
  EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', schema, service);
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I',
                 schema, service);
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO %I', schema, service);
  IF to_regclass('alembic_version') IS NOT NULL THEN
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM %I', service);
  END IF;
END
$grant$
"""


async def grant_service_role(owner: AsyncEngine, service_url: str) -> str | None:
    """Lets the role of `service_url` read and write the rows of every table, and of the tables later migrations
    add (default privileges), and read the schema's revision; nothing else (no DDL, no TRUNCATE, no ownership).
    Creates the role with the URL's password when it does not exist yet; an existing role keeps its attributes
    and password. Returns the role, or None when there is none to grant to (not Postgres, or the owner itself).

    Run as the tables' owner: default privileges cover the tables that the role setting them creates."""
    service = make_url(service_url)
    if owner.dialect.name != "postgresql" or service.get_backend_name() != "postgresql" or not service.username:
        return None
    settings = text(
        "SELECT set_config('mailroom.service_role', :role, true), set_config('mailroom.service_password', :pw, true)"
    )
    try:
        async with owner.begin() as connection:
            if service.username == await connection.scalar(text("SELECT current_user")):
                return None
            await connection.execute(settings, {"role": service.username, "pw": service.password or ""})
            await connection.exec_driver_sql(_GRANT)
    except DBAPIError as error:
        detail = str(error.orig).splitlines()[0] if error.orig is not None else type(error).__name__
        raise DependencyUnavailable(f"could not grant the tables to role {service.username!r}: {detail}") from None
    return service.username
