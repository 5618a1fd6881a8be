"""The API docs pages, with their scripts pinned by Subresource Integrity (W3C SRI).

Litestar's render plugins load their scripts from a CDN by floating version (`@latest`), with a favicon and a
stylesheet from a GitHub branch: whoever controls those URLs runs script on a page that holds users' bearer
tokens. Here each script and stylesheet is one exact file of an npm package version, with the SHA-384 of that
file (computed from the package tarball), so a changed file is refused by the browser. Nothing else is fetched.

To upgrade: `npm pack swagger-ui-dist@<version>` (or `@scalar/api-reference@<version>`), then
`openssl dgst -sha384 -binary package/<file> | openssl base64 -A` for each file below.
"""

from typing import Any

from litestar.connection import Request
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin

_CDN = "https://cdn.jsdelivr.net/npm"
SWAGGER_VERSION = "5.35.0"
SCALAR_VERSION = "1.76.4"
PINNED = {
    f"{_CDN}/swagger-ui-dist@{SWAGGER_VERSION}/swagger-ui-bundle.js": (
        "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9"
    ),
    f"{_CDN}/swagger-ui-dist@{SWAGGER_VERSION}/swagger-ui-standalone-preset.js": (
        "sha384-My2aDM4r2Mbm3ybHcubKm9O9U8FEjvF/O5nGvE9YK5dzqOTbWEKa79RPJ1krdMaF"
    ),
    f"{_CDN}/swagger-ui-dist@{SWAGGER_VERSION}/swagger-ui.css": (
        "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I"
    ),
    f"{_CDN}/@scalar/api-reference@{SCALAR_VERSION}/dist/browser/standalone.js": (
        "sha384-hwB9WroDTpZaI38gr+u9CXA6ksz5gUYgD2GxXazKl/agT1L2GWUiRFWGJYNiFu4Q"
    ),
}


def _pin(html: str) -> str:
    """Adds the integrity of each pinned URL to the tag that loads it; `crossorigin` makes the browser check it."""
    for url, digest in PINNED.items():
        html = html.replace(f'src="{url}" crossorigin>', f'src="{url}" integrity="{digest}" crossorigin="anonymous">')
        html = html.replace(
            f'href="{url}" rel="stylesheet">', f'href="{url}" rel="stylesheet" integrity="{digest}" crossorigin>'
        )
    return html


class PinnedSwagger(SwaggerRenderPlugin):
    def __init__(self, path: str = "/swagger") -> None:
        base = f"{_CDN}/swagger-ui-dist@{SWAGGER_VERSION}"
        super().__init__(
            js_url=f"{base}/swagger-ui-bundle.js",
            css_url=f"{base}/swagger-ui.css",
            standalone_preset_js_url=f"{base}/swagger-ui-standalone-preset.js",
            path=path,
            favicon="",
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return _pin(super().render(request, openapi_schema).decode()).encode()


class PinnedScalar(ScalarRenderPlugin):
    """Scalar's standalone bundle carries its own styles: Litestar's extra stylesheet (from a branch) is left out."""

    def __init__(self, path: str = "/scalar") -> None:
        super().__init__(js_url=f"{_CDN}/@scalar/api-reference@{SCALAR_VERSION}/dist/browser/standalone.js", path=path)
        self.favicon = ""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        html = super().render(request, openapi_schema).decode()
        html = html.replace(f'<link rel="stylesheet" type="text/css" href="{self.css_url}">', "")
        return _pin(html).encode()
