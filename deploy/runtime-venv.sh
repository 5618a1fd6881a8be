#!/bin/sh
# Builds the virtualenv the image runs: the locked runtime dependencies and Mailroom, nothing for development.
# deploy/Dockerfile runs it (with --deps-only first, so the dependencies make their own cached layer), and
# tests/test_deployment.py runs it to check that what it builds serves the API.
#
# Left out, as nothing Mailroom runs imports them: Faker (25 MB, Litestar's polyfactory invents OpenAPI
# examples with it) and rich, rich-click, Pygments, markdown-it-py and mdurl (15 MB, Litestar's own command line
# and what only rich reads; Mailroom has its own). The compiled extensions ship with debug information (41 MB,
# uvloop alone 11) and symbol tables (7 MB) that only a debugger reads: --strip-unneeded keeps just the symbols
# Python links against.
# The virtualenv goes where UV_PROJECT_ENVIRONMENT says; uv runs in the project's directory.
set -eu
only=""
if [ "${1:-}" = "--deps-only" ]; then only="--no-install-project"; fi
uv sync --locked --no-dev --no-editable $only \
    --no-install-package faker --no-install-package rich --no-install-package rich-click \
    --no-install-package pygments --no-install-package markdown-it-py --no-install-package mdurl
find "${UV_PROJECT_ENVIRONMENT:?set it to the virtualenv to build}" -name "*.so" -exec strip --strip-unneeded {} +
# Some wheels ship the C and Cython sources of their extensions (selectolax's lexbor.c alone is 3 MB): only a
# build reads them.
find "$UV_PROJECT_ENVIRONMENT" -path "*/site-packages/*" \( -name "*.c" -o -name "*.pyx" -o -name "*.pxd" -o -name "*.pxi" \) \
    -delete
# Type stubs are read by type checkers only, and the test suites some wheels ship (greenlet's, aiosqlite's) by
# nobody here.
find "$UV_PROJECT_ENVIRONMENT" -path "*/site-packages/*" -name "*.pyi" -delete
for suite in greenlet/tests aiosqlite/tests certifi/tests; do
    rm -rf "$UV_PROJECT_ENVIRONMENT"/lib/python3*/site-packages/$suite
done
