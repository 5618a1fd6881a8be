"""The API docs page: Swagger UI served from files shipped with Mailroom, nothing from a CDN.

Litestar's render plugins load their scripts from a CDN by floating version (`@latest`), with a favicon and a
stylesheet from a GitHub branch: whoever controls those URLs runs script on a page that holds users' bearer
tokens, and the page does not work offline. Here the three files of one swagger-ui-dist version (Apache-2.0,
its LICENSE and NOTICE beside them) are served by the app itself under `/schema/assets/`, each tag still
carrying the file's SHA-384 (W3C Subresource Integrity), so a file changed on disk is refused by the browser.
Scalar is not offered: its standalone bundle fetches fonts from its own servers.

To upgrade: `npm pack swagger-ui-dist@<version>`, copy the three files into a folder named for the version,
and `openssl dgst -sha384 -binary <file> | openssl base64 -A` for each.
"""

from pathlib import Path
from typing import Any

from litestar import Router
from litestar.connection import Request
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

SWAGGER_VERSION = "5.35.0"
ASSETS = Path(__file__).parent / "docs_assets" / f"swagger-ui-{SWAGGER_VERSION}"
ASSETS_PATH = "/schema/assets"
PINNED = {
    f"{ASSETS_PATH}/swagger-ui-bundle.js": "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9",
    f"{ASSETS_PATH}/swagger-ui-standalone-preset.js": (
        "sha384-My2aDM4r2Mbm3ybHcubKm9O9U8FEjvF/O5nGvE9YK5dzqOTbWEKa79RPJ1krdMaF"
    ),
    f"{ASSETS_PATH}/swagger-ui.css": "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I",
}


def docs_assets() -> Router:
    """The Swagger UI files, cached by browsers for a day (a new version is a new folder and new URLs)."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[ASSETS],
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=86400),
        name="docs_assets",
    )


def _pin(html: str) -> str:
    """Adds the integrity of each pinned URL to the tag that loads it."""
    for url, digest in PINNED.items():
        html = html.replace(f'src="{url}" crossorigin>', f'src="{url}" integrity="{digest}" crossorigin="anonymous">')
        html = html.replace(
            f'href="{url}" rel="stylesheet">', f'href="{url}" rel="stylesheet" integrity="{digest}" crossorigin>'
        )
    return html


class LocalSwagger(SwaggerRenderPlugin):
    """Also the page at `/schema` itself, as the only docs page."""

    def __init__(self, path: str = "/swagger") -> None:
        super().__init__(
            js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            css_url=f"{ASSETS_PATH}/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
            path=path,
            favicon="",
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return _pin(super().render(request, openapi_schema).decode()).encode()
