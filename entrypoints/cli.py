"""The `mailroom` command: serve, worker, scheduler, migrate, check, openapi, users create, keys rotate|generate."""

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from entrypoints import operations
from entrypoints.logs import configure_logging
from entrypoints.settings import SettingsError, load_settings

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int] | int]


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    configure_logging()
    try:
        result = args.command(args)
        code = asyncio.run(result) if asyncio.iscoroutine(result) else result
    except SettingsError as error:
        print(f"mailroom: {error}", file=sys.stderr)
        code = 2
    sys.exit(code)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailroom", description="Self-hosted headless email service.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def add(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(command=handler)
        return sub

    add("serve", _serve, "run the HTTP API (and, without Redis, the task worker and scheduler in-process)")
    add("worker", lambda _: operations.run_worker(load_settings()), "run a task worker (needs MAILROOM_REDIS_URL)")
    add("scheduler", lambda _: operations.run_scheduler(load_settings()), "run the scheduler (exactly one)")
    add("migrate", lambda _: operations.migrate(load_settings()), "bring the database schema up to date")
    add("check", lambda _: operations.check(load_settings()), "verify settings, database and broker")
    add("openapi", _openapi, "print the API's OpenAPI document (JSON), for client generators")
    revision = add("makemigration", _make_migration, "write a new migration from model changes (developers)")
    revision.add_argument("message")

    users = commands.add_parser("users", help="manage logins").add_subparsers(required=True, metavar="ACTION")
    create = users.add_parser("create", help="create a login (and its tenant when new)")
    create.add_argument("--tenant", required=True, help="tenant slug")
    create.add_argument("--email", required=True)
    create.add_argument("--role", choices=["admin", "member"], help="default: admin for a new tenant, else member")
    create.add_argument("--password-stdin", action="store_true", required=True, help="read the password from stdin")
    create.set_defaults(command=_create_user)

    keys = commands.add_parser("keys", help="manage encryption keys").add_subparsers(required=True, metavar="ACTION")
    rotate = keys.add_parser("rotate", help="re-encrypt stored mail passwords with the first (current) key")
    rotate.set_defaults(command=lambda _: operations.rotate_keys(load_settings()))
    generate = keys.add_parser("generate", help="print a new key entry for MAILROOM_ENCRYPTION_KEYS")
    generate.add_argument("--id", required=True, help="key id, e.g. 2026-11")
    generate.set_defaults(command=operations.generate_key)
    return parser


def _serve(_: argparse.Namespace) -> int:
    """The embedded default migrates its own database; production first runs `check` and stops on a failure
    (`operations.check_before_start`, as `worker` and `scheduler` do)."""
    settings = load_settings()
    if settings.uses_embedded_database:
        asyncio.run(operations.migrate(settings))
    if asyncio.run(operations.check_before_start(settings)) != 0:
        return 1
    operations.serve(settings)
    return 0


def _openapi(_: argparse.Namespace) -> int:
    sys.stdout.write(operations.openapi_document())
    return 0


def _make_migration(args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    return operations.make_migration(load_settings(), args.message)


def _create_user(args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    password = sys.stdin.readline().rstrip("\r\n")
    return operations.create_user(load_settings(), args.tenant, args.email, password, args.role)
