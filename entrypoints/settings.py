"""Settings from MAILROOM_* environment variables; every one is documented in deploy/.env.example."""

import json
import logging
import os
import re
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec

from adapters.blobs.s3 import S3Location
from adapters.crypto.keyring import Keyring, KeyringError
from adapters.oauth.providers import PRESETS, ProviderConfig
from domain.accounts import Security
from domain.client_address import TrustedProxies
from domain.errors import InvalidInput
from domain.oauth import ServerDefaults
from domain.webhooks import DEFAULT_RETRY_SCHEDULE

log = logging.getLogger("mailroom.settings")

PREFIX = "MAILROOM_"
MIN_JWT_SECRET_LENGTH = 32
MAX_JWT_LIFETIME_SECONDS = 24 * 3600
"""An access token is checked without the database: a stolen one is good until it expires or its session is
ended, so a day at most."""
_SECRET_FIELDS = (
    "jwt_secret",
    "encryption_keys",
    "database_url",
    "migration_database_url",
    "redis_url",
    "blob_s3_secret_access_key",
)


class SettingsError(Exception):
    """Settings are missing or invalid; the message names the variable and never shows a secret."""


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: str = "./var"
    blob_url: str = ""  # empty: the folder <data_dir>/blobs; s3://bucket/prefix: a bucket (blob_location)
    blob_s3_endpoint: str = ""  # an S3-compatible server, such as http://seaweedfs:8333; empty: AWS
    blob_s3_region: str = ""
    blob_s3_access_key_id: str = ""  # empty: the AWS_* variables or the instance's role
    blob_s3_secret_access_key: str = ""
    database_url: str = ""
    migration_database_url: str = ""  # the tables' owner, for `mailroom migrate` only
    redis_url: str | None = None
    jwt_secret: str = ""
    jwt_issuer: str = "mailroom"
    jwt_audience: str = "mailroom-api"
    jwt_lifetime_seconds: Annotated[int, msgspec.Meta(ge=60, le=MAX_JWT_LIFETIME_SECONDS)] = 900
    refresh_lifetime_seconds: Annotated[int, msgspec.Meta(ge=300, le=365 * 86400)] = 30 * 86400
    encryption_keys: str = ""
    allow_private_mail_hosts: bool | None = None
    allow_plaintext_mail: bool | None = None
    accept_unbound_secrets: bool | None = None
    mail_timeout_seconds: float = 30.0
    mail_ca_file: str | None = None
    log_level: str = "INFO"
    log_format: Literal["json", "text", ""] = ""  # read before the settings by entrypoints.logs; checked here
    sync_batch_size: Annotated[int, msgspec.Meta(gt=0)] = 500
    sync_max_message_bytes: Annotated[int, msgspec.Meta(gt=0)] = 50 * 1024 * 1024
    idle_enabled: bool = True
    idle_seconds: float = 25 * 60
    idle_refresh_seconds: Annotated[float, msgspec.Meta(gt=0)] = 10
    watches_per_process: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 1000
    watch_lease_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30
    sync_lease_seconds: Annotated[float, msgspec.Meta(gt=0)] = 300
    job_redelivery_seconds: Annotated[float, msgspec.Meta(gt=0)] = 600
    max_message_bytes: Annotated[int, msgspec.Meta(gt=0)] = 25 * 1024 * 1024
    send_max_attempts: Annotated[int, msgspec.Meta(ge=1)] = 6
    send_retry_base_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30
    send_retry_max_seconds: Annotated[float, msgspec.Meta(gt=0)] = 3600
    send_lease_seconds: Annotated[float, msgspec.Meta(gt=0)] = 300
    smtp_connections_per_login: Annotated[int, msgspec.Meta(ge=1)] = 4
    blob_grace_seconds: Annotated[float, msgspec.Meta(ge=3600)] = 24 * 3600
    rate_limit_per_minute: Annotated[int, msgspec.Meta(ge=1)] = 60
    rate_limit_per_hour: Annotated[int, msgspec.Meta(ge=1)] = 1000
    login_limit_per_minute: Annotated[int, msgspec.Meta(ge=1)] = 5
    login_limit_per_hour: Annotated[int, msgspec.Meta(ge=1)] = 30
    trusted_proxies: str = ""
    forwarded_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"
    max_request_bytes: Annotated[int, msgspec.Meta(gt=0)] = 30 * 1024 * 1024
    cors_origins: str = ""
    shutdown_grace_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30
    api_workers: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1
    worker_concurrency: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 100
    worker_metrics_port: Annotated[int, msgspec.Meta(ge=1, le=65535)] | None = None
    event_retention_days: Annotated[float, msgspec.Meta(gt=0)] = 7
    stream_heartbeat_seconds: Annotated[float, msgspec.Meta(gt=0, le=300)] = 15
    webhook_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=120)] = 15
    webhook_retry_seconds: str = ""  # comma-separated waits before each retry; empty: about three days in 11 steps
    allow_private_webhook_targets: bool | None = None
    public_url: str = "http://127.0.0.1:8000"
    """Where browsers reach the API: OAuth2 providers send users back to `{public_url}/api/oauth/{name}/callback`."""
    oauth_providers: str = ""  # comma-separated names; each configured by MAILROOM_OAUTH_<NAME>_* (oauth_configs)
    oauth_redirect_origins: str = ""  # comma-separated origins the OAuth2 callback may send the browser back to
    oauth: tuple[ProviderConfig, ...] = ()
    """Read from MAILROOM_OAUTH_<NAME>_* by load_settings, not from a variable of its own."""

    def __repr__(self) -> str:
        shown = {f: getattr(self, f) for f in self.__struct_fields__ if f not in _SECRET_FIELDS}
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in shown.items())}, <secrets hidden>)"

    @property
    def allowed_origins(self) -> list[str]:
        """`MAILROOM_CORS_ORIGINS`, comma-separated (`https://mail.example.com`); none by default."""
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def redirect_origins(self) -> frozenset[str]:
        return frozenset(o.strip().rstrip("/").lower() for o in self.oauth_redirect_origins.split(",") if o.strip())

    @property
    def blob_location(self) -> S3Location | None:
        """The bucket and prefix of `MAILROOM_BLOB_URL`; None for the local folder."""
        if not self.blob_url:
            return None
        try:
            return S3Location.parse(self.blob_url)
        except ValueError as error:
            raise SettingsError(f"{PREFIX}BLOB_URL: {error}") from None

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def private_mail_hosts_allowed(self) -> bool:
        """Loopback and private mail hosts are fine on a developer's machine, refused in production by default."""
        return not self.is_production if self.allow_private_mail_hosts is None else self.allow_private_mail_hosts

    @property
    def private_webhook_targets_allowed(self) -> bool:
        """As for mail hosts: a developer may point a webhook at a receiver on their machine; production refuses
        loopback, private and link-local targets unless told otherwise."""
        if self.allow_private_webhook_targets is None:
            return not self.is_production
        return self.allow_private_webhook_targets

    @property
    def webhook_retry_delays(self) -> tuple[float, ...] | None:
        if not self.webhook_retry_seconds.strip():
            return None
        try:
            delays = tuple(float(part) for part in self.webhook_retry_seconds.split(","))
        except ValueError:
            raise SettingsError("MAILROOM_WEBHOOK_RETRY_SECONDS: comma-separated seconds, such as 5,30,120") from None
        if not delays or any(d <= 0 for d in delays):
            raise SettingsError("MAILROOM_WEBHOOK_RETRY_SECONDS: every wait must be more than 0 seconds")
        return delays

    @property
    def plaintext_mail_allowed(self) -> bool:
        """`security: none` (passwords in clear) is fine on a developer's machine, refused in production by default."""
        return not self.is_production if self.allow_plaintext_mail is None else self.allow_plaintext_mail

    def proxies(self) -> TrustedProxies:
        """`MAILROOM_TRUSTED_PROXIES`, comma-separated addresses and networks; none by default."""
        try:
            return TrustedProxies.parse(self.trusted_proxies)
        except InvalidInput as error:
            raise SettingsError(f"{PREFIX}TRUSTED_PROXIES: {error.reason}") from None

    @property
    def unbound_secrets_accepted(self) -> bool:
        """Mail passwords stored before they were bound to their account are read on a developer's machine, and in
        production only when allowed for the upgrade (run `mailroom keys rotate`, then turn it off)."""
        return not self.is_production if self.accept_unbound_secrets is None else self.accept_unbound_secrets

    def keyring(self) -> Keyring:
        try:
            return Keyring.parse(self.encryption_keys)
        except KeyringError as error:
            raise SettingsError(f"{PREFIX}ENCRYPTION_KEYS: {error}") from None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    raw = {k[len(PREFIX) :].lower(): v for k, v in environ.items() if k.startswith(PREFIX) and v != ""}
    raw = {k: v for k, v in raw.items() if k in Settings.__struct_fields__ and k != "oauth"}
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as error:
        raise SettingsError(f"invalid setting: {_variable_name(str(error))}") from None
    settings = msgspec.structs.replace(
        settings,
        database_url=_database_url(settings),
        migration_database_url=_with_driver(settings.migration_database_url),
    )
    settings = _with_secrets(settings)
    _require_endpoint(f"{PREFIX}PUBLIC_URL", settings.public_url, production=False)
    settings = msgspec.structs.replace(settings, oauth=_oauth_providers(settings, environ))
    settings.keyring()
    settings.proxies()
    _check_blob_store(settings)
    delays = settings.webhook_retry_delays
    schedule_days = sum(delays if delays is not None else DEFAULT_RETRY_SCHEDULE) / 86400
    if settings.event_retention_days <= schedule_days:
        raise SettingsError(
            f"{PREFIX}EVENT_RETENTION_DAYS must be longer than the webhook retry schedule ({schedule_days:.1f} days):"
            " a delivery still being retried needs its event"
        )
    for lease in ("sync_lease_seconds", "send_lease_seconds"):
        if settings.job_redelivery_seconds <= getattr(settings, lease):
            raise SettingsError(
                f"{PREFIX}JOB_REDELIVERY_SECONDS must be longer than {PREFIX}{lease.upper()}: a task delivered again"
                " must find the dead worker's lease expired"
            )
    if settings.watch_lease_seconds <= 2 * settings.idle_refresh_seconds:
        raise SettingsError(
            f"{PREFIX}WATCH_LEASE_SECONDS must be more than twice {PREFIX}IDLE_REFRESH_SECONDS: a watch's lease is"
            " renewed every refresh, and one late renewal must not hand it to another process"
        )
    if settings.send_lease_seconds <= settings.mail_timeout_seconds:
        raise SettingsError(
            f"{PREFIX}SEND_LEASE_SECONDS must be longer than {PREFIX}MAIL_TIMEOUT_SECONDS: a lease expiring"
            " mid-send could send twice"
        )
    if settings.refresh_lifetime_seconds < settings.jwt_lifetime_seconds:
        raise SettingsError(
            f"{PREFIX}REFRESH_LIFETIME_SECONDS must be at least {PREFIX}JWT_LIFETIME_SECONDS: a session is pruned when"
            " its refresh tokens have expired, and none of its access tokens may outlive that"
        )
    if settings.api_workers > 1 and settings.redis_url is None:
        raise SettingsError(
            f"{PREFIX}API_WORKERS above 1 needs {PREFIX}REDIS_URL: without it each API process would run its own"
            " scheduler and jobs"
        )
    if settings.is_production and len(settings.jwt_secret) < MIN_JWT_SECRET_LENGTH:
        raise SettingsError(f"{PREFIX}JWT_SECRET must be at least {MIN_JWT_SECRET_LENGTH} characters (RFC 7518 3.2)")
    return settings


_PROVIDER_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


def _oauth_providers(settings: Settings, environ: Mapping[str, str]) -> tuple[ProviderConfig, ...]:
    """`MAILROOM_OAUTH_PROVIDERS=google,local` and, per name, `MAILROOM_OAUTH_<NAME>_CLIENT_ID`, `_CLIENT_SECRET`,
    and for a provider without a preset (or to override one) `_AUTHORIZE_URL`, `_TOKEN_URL`, `_SCOPES`,
    `_USERINFO_URL`, `_IMAP_HOST`, `_IMAP_PORT`, `_IMAP_SECURITY`, `_SMTP_HOST`, `_SMTP_PORT`, `_SMTP_SECURITY`."""
    configs = []
    for name in (n.strip().lower() for n in settings.oauth_providers.split(",") if n.strip()):
        if not _PROVIDER_NAME.fullmatch(name):
            raise SettingsError(f"{PREFIX}OAUTH_PROVIDERS: {name!r} is not a name (a-z, 0-9, _)")
        prefix = f"{PREFIX}OAUTH_{name.upper()}_"

        def value(key: str, prefix: str = prefix) -> str | None:
            return environ.get(prefix + key) or None

        preset = PRESETS.get(name)
        missing = [k for k in ("CLIENT_ID", "CLIENT_SECRET") if value(k) is None]
        if preset is None:
            missing += [k for k in ("AUTHORIZE_URL", "TOKEN_URL", "SCOPES") if value(k) is None]
        if missing:
            raise SettingsError(f"{', '.join(prefix + k for k in missing)} must be set for the OAuth2 provider {name}")
        base = preset or ProviderConfig(name, "", "", "", "", ())
        scopes = value("SCOPES")
        config = ProviderConfig(
            name=name,
            client_id=value("CLIENT_ID") or "",
            client_secret=value("CLIENT_SECRET") or "",
            authorize_url=value("AUTHORIZE_URL") or base.authorize_url,
            token_url=value("TOKEN_URL") or base.token_url,
            scopes=tuple(scopes.replace(",", " ").split()) if scopes else base.scopes,
            userinfo_url=value("USERINFO_URL") or base.userinfo_url,
            imap=_server_defaults(prefix + "IMAP_", value, "IMAP_", base.imap),
            smtp=_server_defaults(prefix + "SMTP_", value, "SMTP_", base.smtp),
            authorize_params=base.authorize_params,
        )
        for variable, url in (
            (prefix + "AUTHORIZE_URL", config.authorize_url),
            (prefix + "TOKEN_URL", config.token_url),
            *([(prefix + "USERINFO_URL", config.userinfo_url)] if config.userinfo_url else []),  # sent tokens too
        ):
            _require_endpoint(variable, url, settings.is_production)
        configs.append(config)
    return tuple(configs)


def _server_defaults(
    prefix: str, value: Callable[[str], str | None], key: str, preset: ServerDefaults | None
) -> ServerDefaults | None:
    host = value(key + "HOST")
    if host is None:
        return preset
    try:
        port = int(value(key + "PORT") or (preset.port if preset else 993 if key == "IMAP_" else 465))
        security = Security(value(key + "SECURITY") or (preset.security if preset else "ssl"))
    except ValueError:
        raise SettingsError(f"{prefix}PORT or {prefix}SECURITY: a port number, and ssl, starttls or none") from None
    return ServerDefaults(host, port, security)


def _check_blob_store(settings: Settings) -> None:
    """The S3 settings mean something only with an s3:// blob URL, and the key id and secret go together."""
    s3_settings = [f for f in Settings.__struct_fields__ if f.startswith("blob_s3_") and getattr(settings, f)]
    if settings.blob_location is None:
        if s3_settings:
            names = ", ".join(PREFIX + f.upper() for f in s3_settings)
            raise SettingsError(f"{names}: set only with {PREFIX}BLOB_URL=s3://bucket/prefix")
        return
    if settings.blob_s3_endpoint:
        _require_endpoint(f"{PREFIX}BLOB_S3_ENDPOINT", settings.blob_s3_endpoint, production=False)
        if urlsplit(settings.blob_s3_endpoint).path.strip("/"):
            raise SettingsError(  # requests are signed for /<bucket>/<key> at the server's root
                f"{PREFIX}BLOB_S3_ENDPOINT: the server's address without a path, such as http://seaweedfs:8333"
            )
    if bool(settings.blob_s3_access_key_id) != bool(settings.blob_s3_secret_access_key):
        raise SettingsError(
            f"{PREFIX}BLOB_S3_ACCESS_KEY_ID and {PREFIX}BLOB_S3_SECRET_ACCESS_KEY: both, or neither (then the"
            " AWS_* variables or the instance's role)"
        )


def _require_endpoint(variable: str, url: str, production: bool) -> None:
    """The client secret, codes and tokens go to these endpoints: HTTPS in production."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{variable}: an http(s) address")
    if production and parts.scheme != "https":
        raise SettingsError(f"{variable}: must be https when {PREFIX}ENV=production")


def _database_url(settings: Settings) -> str:
    if not settings.database_url:
        return f"sqlite+aiosqlite:///{Path(settings.data_dir).resolve() / 'mailroom.db'}"
    return _with_driver(settings.database_url)


def _with_driver(url: str) -> str:
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url[len(plain) :]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


def _with_secrets(settings: Settings) -> Settings:
    missing = [name for name in ("jwt_secret", "encryption_keys") if not getattr(settings, name)]
    if not missing:
        return settings
    if settings.is_production:
        names = ", ".join(PREFIX + name.upper() for name in missing)
        raise SettingsError(f"{names} must be set when {PREFIX}ENV=production")
    generated = _development_secrets(Path(settings.data_dir))
    return msgspec.structs.replace(settings, **{name: generated[name] for name in missing})


def _development_secrets(data_dir: Path) -> dict[str, str]:
    """Made once into the data folder so tokens and stored passwords survive a restart of `serve`."""
    path = data_dir / "dev-secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    data_dir.mkdir(parents=True, exist_ok=True)
    generated = {"jwt_secret": secrets.token_urlsafe(48), "encryption_keys": Keyring.generate_entry("dev1")}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(generated, file)
    log.warning("generated development secrets into %s; set %sENV=production with real secrets to deploy", path, PREFIX)
    return generated


def _variable_name(message: str) -> str:
    """msgspec says `... - at `$.port``; name the environment variable instead."""
    head, _, path = message.partition(" - at `$.")
    return f"{PREFIX}{path.rstrip('`').upper()}: {head}" if path else message
