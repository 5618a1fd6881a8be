"""The app with MAILROOM_BLOB_URL=s3://...: the composition root picks the S3 store, and a draft's attachment
posted over HTTP lands in the bucket, under the URL's prefix (on SeaweedFS, tests/s3_server.py)."""

import base64
import os
import secrets
from pathlib import Path

import obstore
from dishka import Provider, Scope, make_async_container, provide
from litestar.testing import AsyncTestClient
from obstore.store import S3Store

from adapters.blobs.s3 import S3BlobStore
from application.users.register import NewUser, RegisterUser
from domain.ports.storage import BlobStore
from entrypoints.http.app import create_app
from entrypoints.ioc import MemoryProvider, app_providers
from entrypoints.settings import Settings, load_settings
from tests.e2e.conftest import PASSWORD, account_body
from tests.e2e.test_cli import run
from tests.s3_server import S3Server, create_bucket
from tests.s3_server import s3_server as s3_server  # the session's SeaweedFS


async def test_an_uploaded_attachment_is_stored_in_the_bucket_under_the_prefix(
    s3_server: S3Server, tmp_path: Path
) -> None:
    bucket, prefix = await create_bucket(s3_server), f"e2e-{secrets.token_hex(4)}/blobs"
    settings = load_settings(
        {
            "MAILROOM_DATA_DIR": str(tmp_path),
            "MAILROOM_IDLE_ENABLED": "false",
            "MAILROOM_BLOB_URL": f"s3://{bucket}/{prefix}",
            "MAILROOM_BLOB_S3_ENDPOINT": s3_server.endpoint,
            "MAILROOM_BLOB_S3_REGION": s3_server.region,
            "MAILROOM_BLOB_S3_ACCESS_KEY_ID": s3_server.access_key_id,
            "MAILROOM_BLOB_S3_SECRET_ACCESS_KEY": s3_server.secret_access_key,
        }
    )
    assert s3_server.secret_access_key not in repr(settings)
    production = make_async_container(*app_providers(), context={Settings: settings})
    store = await production.get(BlobStore)
    assert isinstance(store, S3BlobStore)

    class ProductionBlobs(Provider):
        """The production wiring's store in the app on the in-memory fakes (which bring a blob fake of their own)."""

        scope = Scope.APP

        @provide(override=True)
        def blobs(self) -> BlobStore:
            return store

    app = create_app(MemoryProvider(), ProductionBlobs(), settings=settings)
    attachment = b"Quarterly figures, attached.\r\n" * 500
    try:
        async with AsyncTestClient(app) as client:
            async with app.state.dishka_container() as request:
                await (await request.get(RegisterUser))(NewUser("acme", "alice@acme.test", PASSWORD))
            login = await client.post(
                "/api/auth/login", json={"tenant": "acme", "email": "alice@acme.test", "password": PASSWORD}
            )
            auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
            account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()
            body = {
                "account_id": account["id"],
                "to": ["bob@example.org"],
                "subject": "Figures",
                "attachments": [{"filename": "figures.txt", "content_base64": base64.b64encode(attachment).decode()}],
            }
            created = await client.post("/api/compose", json=body, headers=auth)
            assert created.status_code == 201, created.text
    finally:
        await production.close()

    raw = S3Store(
        bucket,
        endpoint=s3_server.endpoint,
        region=s3_server.region,
        access_key_id=s3_server.access_key_id,
        secret_access_key=s3_server.secret_access_key,
        client_options={"allow_http": True},
    )
    stored = [meta["path"] async for page in obstore.list(raw, prefix) for meta in page]
    contents = [bytes(await (await obstore.get_async(raw, path)).bytes_async()) for path in stored]
    assert attachment in contents
    assert all(path.startswith(f"{prefix}/") for path in stored)


async def test_check_names_a_missing_bucket_and_passes_once_it_exists(s3_server: S3Server, tmp_path: Path) -> None:
    """`serve`, `worker` and `scheduler` run `mailroom check` before starting in production: a bucket that is not
    there stops them with its name, rather than failing the first sync."""
    bucket = f"check-{secrets.token_hex(4)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")} | {
        "MAILROOM_DATA_DIR": str(tmp_path),
        "MAILROOM_BLOB_URL": f"s3://{bucket}/mail",
        "MAILROOM_BLOB_S3_ENDPOINT": s3_server.endpoint,
        "MAILROOM_BLOB_S3_REGION": s3_server.region,
        "MAILROOM_BLOB_S3_ACCESS_KEY_ID": s3_server.access_key_id,
        "MAILROOM_BLOB_S3_SECRET_ACCESS_KEY": s3_server.secret_access_key,
    }
    assert run(env, "migrate").returncode == 0
    missing = run(env, "check")
    assert missing.returncode == 1
    [line] = [line for line in missing.stdout.splitlines() if line.startswith("blob store:")]
    assert line.startswith(f"blob store: failed (s3://{bucket}")
    assert s3_server.secret_access_key not in missing.stdout + missing.stderr

    await create_bucket(s3_server, bucket)
    found = run(env, "check")
    assert found.returncode == 0, found.stdout + found.stderr
    assert f"blob store: ok (s3://{bucket}/mail)" in found.stdout
