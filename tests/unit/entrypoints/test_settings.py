from pathlib import Path

import pytest

from adapters.crypto.keyring import Keyring
from entrypoints.settings import SettingsError, load_settings


def test_development_secrets_are_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings({"MAILROOM_DATA_DIR": str(tmp_path)})
    second = load_settings({"MAILROOM_DATA_DIR": str(tmp_path)})
    assert first.jwt_secret
    assert first.jwt_secret == second.jwt_secret
    assert first.encryption_keys == second.encryption_keys
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o777 == 0o600


def test_production_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="MAILROOM_JWT_SECRET, MAILROOM_ENCRYPTION_KEYS"):
        load_settings({"MAILROOM_ENV": "production", "MAILROOM_DATA_DIR": str(tmp_path)})
    assert not (tmp_path / "dev-secrets.json").exists()


def test_a_bad_value_names_its_variable() -> None:
    with pytest.raises(SettingsError, match="MAILROOM_PORT"):
        load_settings({"MAILROOM_PORT": "eighty", "MAILROOM_JWT_SECRET": "x", "MAILROOM_ENCRYPTION_KEYS": "bad"})


def test_plain_postgres_urls_select_asyncpg(tmp_path: Path) -> None:
    settings = load_settings({"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_DATABASE_URL": "postgres://u:p@db/mail"})
    assert settings.database_url == "postgresql+asyncpg://u:p@db/mail"
    assert not settings.uses_embedded_database


def test_settings_repr_hides_secrets(tmp_path: Path) -> None:
    settings = load_settings(
        {"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_DATABASE_URL": "postgres://u:db-password@db/mail"}
    )
    shown = repr(settings)
    for secret in (settings.jwt_secret, settings.encryption_keys, "db-password"):
        assert secret not in shown


def test_private_mail_hosts_are_allowed_only_in_development_by_default(tmp_path: Path) -> None:
    secrets = {"MAILROOM_JWT_SECRET": "j" * 40, "MAILROOM_ENCRYPTION_KEYS": "k1:" + "A" * 43}
    assert load_settings({"MAILROOM_DATA_DIR": str(tmp_path)}).private_mail_hosts_allowed
    assert not load_settings({"MAILROOM_ENV": "production", **secrets}).private_mail_hosts_allowed
    production_allowing = {"MAILROOM_ENV": "production", "MAILROOM_ALLOW_PRIVATE_MAIL_HOSTS": "true", **secrets}
    assert load_settings(production_allowing).private_mail_hosts_allowed


def test_production_needs_a_long_jwt_secret() -> None:
    short = {"MAILROOM_ENV": "production", "MAILROOM_JWT_SECRET": "short", "MAILROOM_ENCRYPTION_KEYS": "k1:" + "A" * 43}
    with pytest.raises(SettingsError, match="at least 32"):
        load_settings(short)


def test_a_task_is_delivered_again_only_after_the_sync_lease_expires(tmp_path: Path) -> None:
    base = {"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_SYNC_LEASE_SECONDS": "300"}
    with pytest.raises(SettingsError, match="MAILROOM_JOB_REDELIVERY_SECONDS"):
        load_settings(base | {"MAILROOM_JOB_REDELIVERY_SECONDS": "300"})
    with pytest.raises(SettingsError, match="MAILROOM_SYNC_LEASE_SECONDS"):
        load_settings(base | {"MAILROOM_SYNC_LEASE_SECONDS": "0"})
    assert load_settings(base | {"MAILROOM_JOB_REDELIVERY_SECONDS": "301"}).job_redelivery_seconds == 301


@pytest.mark.parametrize("name", ["MAILROOM_SYNC_BATCH_SIZE", "MAILROOM_SYNC_MAX_MESSAGE_BYTES"])
def test_sync_sizes_must_be_positive(tmp_path: Path, name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({"MAILROOM_DATA_DIR": str(tmp_path), name: "0"})


def test_the_send_lease_must_outlast_a_mail_timeout_and_be_shorter_than_redelivery(tmp_path: Path) -> None:
    base = {"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_MAIL_TIMEOUT_SECONDS": "30"}
    with pytest.raises(SettingsError, match="MAILROOM_SEND_LEASE_SECONDS"):
        load_settings(base | {"MAILROOM_SEND_LEASE_SECONDS": "30"})
    with pytest.raises(SettingsError, match="MAILROOM_JOB_REDELIVERY_SECONDS"):
        load_settings(base | {"MAILROOM_SEND_LEASE_SECONDS": "700"})
    assert load_settings(base | {"MAILROOM_SEND_LEASE_SECONDS": "31"}).send_lease_seconds == 31


@pytest.mark.parametrize("lifetime", ["0", "86401", "31536000"])
def test_a_token_lifetime_beyond_a_day_or_under_a_minute_is_refused(tmp_path: Path, lifetime: str) -> None:
    with pytest.raises(SettingsError, match="MAILROOM_JWT_LIFETIME_SECONDS"):
        load_settings({"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_JWT_LIFETIME_SECONDS": lifetime})


@pytest.mark.parametrize(
    ("variable", "allowed_by"),
    [
        ("MAILROOM_ALLOW_PLAINTEXT_MAIL", "plaintext_mail_allowed"),
        ("MAILROOM_ACCEPT_UNBOUND_SECRETS", "unbound_secrets_accepted"),
    ],
    ids=["plaintext-mail-logins", "unbound-secrets"],
)
@pytest.mark.parametrize(
    ("env", "setting", "allowed"),
    [("development", None, True), ("production", None, False), ("production", "true", True)],
)
def test_a_development_leniency_is_off_in_production_unless_allowed(
    tmp_path: Path, variable: str, allowed_by: str, env: str, setting: str | None, allowed: bool
) -> None:
    environ = {"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_ENV": env}
    if env == "production":
        environ |= {"MAILROOM_JWT_SECRET": "s" * 48, "MAILROOM_ENCRYPTION_KEYS": Keyring.generate_entry("k1")}
    if setting is not None:
        environ[variable] = setting
    assert getattr(load_settings(environ), allowed_by) is allowed


def test_no_access_token_outlives_the_refresh_tokens_of_its_session(tmp_path: Path) -> None:
    """A session is pruned once its refresh tokens have expired; an access token of it must have expired too."""
    base = {"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_JWT_LIFETIME_SECONDS": "3600"}
    with pytest.raises(SettingsError, match="MAILROOM_REFRESH_LIFETIME_SECONDS"):
        load_settings(base | {"MAILROOM_REFRESH_LIFETIME_SECONDS": "600"})
    assert load_settings(base | {"MAILROOM_REFRESH_LIFETIME_SECONDS": "3600"}).refresh_lifetime_seconds == 3600
