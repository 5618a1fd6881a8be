"""MAILROOM_BLOB_URL and the MAILROOM_BLOB_S3_* settings: checked at start, the secret never shown."""

from pathlib import Path

import pytest

from adapters.blobs.s3 import S3Location
from entrypoints.settings import SettingsError, load_settings


def settings_with(tmp_path: Path, **blob: str) -> dict[str, str]:
    return {"MAILROOM_DATA_DIR": str(tmp_path)} | {f"MAILROOM_BLOB_{k.upper()}": v for k, v in blob.items()}


def test_no_blob_url_is_the_local_folder(tmp_path: Path) -> None:
    assert load_settings(settings_with(tmp_path)).blob_location is None


def test_an_s3_url_names_the_bucket_and_prefix_and_the_secret_stays_hidden(tmp_path: Path) -> None:
    settings = load_settings(
        settings_with(
            tmp_path,
            url="s3://mail-blobs/prod",
            s3_endpoint="http://seaweedfs:8333",
            s3_access_key_id="mailroom",
            s3_secret_access_key="very-secret-key",
        )
    )
    assert settings.blob_location == S3Location("mail-blobs", "prod")
    assert "very-secret-key" not in repr(settings)
    assert "very-secret-key" not in str(settings)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        ({"url": "/var/blobs"}, "MAILROOM_BLOB_URL: an s3://bucket"),
        ({"url": "gs://mail-blobs"}, "MAILROOM_BLOB_URL: an s3://bucket"),
        ({"url": "s3://mail-blobs/../x"}, "MAILROOM_BLOB_URL: a prefix"),
        ({"s3_endpoint": "http://seaweedfs:8333"}, "MAILROOM_BLOB_S3_ENDPOINT: set only with MAILROOM_BLOB_URL"),
        ({"url": "s3://b", "s3_endpoint": "seaweedfs:8333"}, "MAILROOM_BLOB_S3_ENDPOINT: an http"),
        ({"url": "s3://b", "s3_endpoint": "http://gateway:8333/s3"}, "MAILROOM_BLOB_S3_ENDPOINT: .* without a path"),
        ({"url": "s3://b", "s3_access_key_id": "mailroom"}, "both, or neither"),
        ({"url": "s3://b", "s3_secret_access_key": "very-secret-key"}, "both, or neither"),
        ({"s3_secret_access_key": "very-secret-key"}, "MAILROOM_BLOB_S3_SECRET_ACCESS_KEY: set only with"),
    ],
)
def test_bad_blob_settings_stop_the_start(tmp_path: Path, blob: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as refused:
        load_settings(settings_with(tmp_path, **blob))
    assert "very-secret-key" not in str(refused.value)
