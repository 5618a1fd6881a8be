"""S3 RenameObject with conditions on its source, the one request of the S3 blob store that its client library
(obstore) does not make: a signed `PUT /<bucket>/<target>?renameObject`, signed here with AWS Signature Version 4
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html).

RenameObject moves an object to another key within the bucket in one step, as the filesystem's rename(2) does;
`x-amz-rename-source-if-unmodified-since` makes the move happen only if the source was not written since that
time, and `If-None-Match: *` only if nothing is at the target. SeaweedFS's S3 gateway checks both and moves the
entry under the object's write lock. AWS offers the call on directory buckets only: on a general purpose bucket, and
on servers that lack it, the answer is `Unsupported`.
"""

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote, urlsplit

import aiohttp

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_TIMEOUT = aiohttp.ClientTimeout(total=30)


_ERROR_BODY_BYTES = 64 * 1024


class Unsupported(Exception):
    """The server does not offer RenameObject with its conditions."""


class Refused(Exception):
    """Any other error answer: its status and S3 error code."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"RenameObject answered {status} {code}")
        self.status, self.code = status, code


@dataclass
class RenameClient:
    endpoint: str
    bucket: str
    region: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    _session: aiohttp.ClientSession | None = field(default=None, repr=False)

    async def rename(self, source: str, target: str, *, unmodified_since: datetime | None = None) -> bool:
        """Moves `source` to `target` if `source` exists, was not written after `unmodified_since` (second
        precision, as HTTP dates have) and nothing is at `target`. False when a condition failed or the source is
        missing."""
        headers = {"x-amz-rename-source": quote(source, safe="/~"), "if-none-match": "*"}
        if unmodified_since is not None:
            headers["x-amz-rename-source-if-unmodified-since"] = format_datetime(unmodified_since, usegmt=True)
        status, code = await self._put(f"/{quote(target, safe='/~')}", "renameObject", headers)
        if status == 200:
            return True
        if status in (404, 412) and code in ("NoSuchKey", "PreconditionFailed", ""):
            return False
        if status in (405, 501) or code in ("NotImplemented", "InvalidRequest", "InvalidArgument"):
            raise Unsupported(f"{status} {code}")
        raise Refused(status, code)

    async def create_bucket(self) -> None:
        """CreateBucket, private (no ACL given); a bucket this key already owns is fine. For tests and tools:
        the service expects its bucket to exist."""
        status, code = await self._put("", "", {})
        if status != 200 and code != "BucketAlreadyOwnedByYou":
            raise Refused(status, code)

    async def _put(self, object_path: str, query: str, headers: dict[str, str]) -> tuple[int, str]:
        """A signed PUT with an empty body to `/<bucket><object_path>`: the status and S3 error code."""
        path = f"/{quote(self.bucket, safe='~')}{object_path}"
        url = f"{self.endpoint.rstrip('/')}{path}{'?' + query if query else ''}"
        signed = self._signed("PUT", path, f"{query}=" if query else "", headers)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=_TIMEOUT)
        # A redirect is not followed (the signature names this host) and an error body is read only as far as an
        # S3 error document goes: a hostile server gets neither.
        async with self._session.put(url, headers=signed, data=b"", allow_redirects=False) as answer:
            if answer.status == 200:
                return 200, ""
            body = await answer.content.read(_ERROR_BODY_BYTES)
            return answer.status, _error_code(body.decode("utf-8", "replace"))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _signed(self, method: str, path: str, query: str, headers: dict[str, str]) -> dict[str, str]:
        now = datetime.now(UTC)
        stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        all_headers = {
            **headers,
            "host": urlsplit(self.endpoint).netloc,
            "x-amz-content-sha256": _EMPTY_SHA256,
            "x-amz-date": stamp,
        }
        names = sorted(all_headers)
        canonical = "\n".join(
            [
                method,
                path,
                query,
                *(f"{name}:{all_headers[name].strip()}" for name in names),
                "",
                ";".join(names),
                _EMPTY_SHA256,
            ]
        )
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = f"AWS4{self.secret_access_key}".encode()
        for part in (day, self.region, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        authorization = (
            f"AWS4-HMAC-SHA256 Credential={self.access_key_id}/{scope}, SignedHeaders={';'.join(names)}, "
            f"Signature={signature}"
        )
        return {**all_headers, "authorization": authorization}


def _error_code(body: str) -> str:
    """The <Code> of an S3 error document."""
    start = body.find("<Code>")
    end = body.find("</Code>", start)
    return body[start + len("<Code>") : end] if start >= 0 and end > start else ""
