# Mailroom: daily commands. `uv run just --list` shows them all.

set dotenv-load := false

# how the stack recipes (build ... db-restore) call Compose; deploy/smoke.sh points them at its own stack
compose := env_var_or_default("MAILROOM_COMPOSE", "docker compose --env-file deploy/.env")

# run the API on http://127.0.0.1:8000 (embedded SQLite, in-process jobs; MAILROOM_* settings apply)
serve:
    uv run mailroom serve

# run a task worker (needs MAILROOM_REDIS_URL)
worker:
    uv run mailroom worker

# run the scheduler; exactly one per deployment (needs MAILROOM_REDIS_URL)
scheduler:
    uv run mailroom scheduler

# bring the database schema up to date
migrate:
    uv run mailroom migrate

# the whole test suite: import contracts, then pytest (set MAILROOM_REQUIRE_SERVICES=1 to fail on missing servers)
test *ARGS:
    uv run lint-imports
    uv run pytest {{ARGS}}

# ruff lint and format check
lint:
    uv run ruff check .
    uv run ruff format --check .

# format the code
fmt:
    uv run ruff format .
    uv run ruff check --fix .

# mypy, strict on domain/ and application/
typecheck:
    uv run mypy

# start the local Dovecot and Postfix on loopback (root; Debian packages dovecot-imapd dovecot-lmtpd postfix)
services:
    deploy/local/mailservers.sh start

# stop the local Dovecot and Postfix
services-stop:
    deploy/local/mailservers.sh stop

# ask a running API for its health
health:
    curl -sS http://${MAILROOM_HOST:-127.0.0.1}:${MAILROOM_PORT:-8000}/health

# benchmark: first sync of 20,000 messages from Dovecot into Postgres, a re-sync, and the raw IMAP transport
bench-sync *ARGS:
    uv run python -m bench.sync_benchmark {{ARGS}}

# benchmark: search and list latencies over 1,000,000 messages in Postgres, and a wrk load of the list endpoint
bench-search *ARGS:
    uv run python -m bench.search_benchmark {{ARGS}}

# benchmark: CPU of an API request's database work: the old token check's user read, an admin's page, a member's reach and page
bench-request-db *ARGS:
    uv run python -m bench.request_units {{ARGS}}

# benchmark: one worker holding 2,000 inbox watches (IDLE connections to the local Dovecot): its memory and CPU
bench-watch *ARGS:
    uv run python -m bench.watch_benchmark {{ARGS}}

# benchmark: 1,000 queued 10 KB sends through `mailroom worker` to a local SMTP sink, against raw aiosmtplib
bench-send *ARGS:
    uv run python -m bench.send_benchmark {{ARGS}}

# benchmark: SMTP mail to its webhook (p50/p95), and 10,000 logged events through one worker, against raw aiohttp
bench-events *ARGS:
    uv run python -m bench.events_benchmark {{ARGS}}

# benchmark: 500 blobs of 5-50 KB into a local SeaweedFS and back through the S3 store, against the blob folder
bench-blobs *ARGS:
    uv run python -m bench.blob_benchmark {{ARGS}}

# fuzz the API with Schemathesis: many more generated requests per operation than the CI run (set EXAMPLES)
fuzz EXAMPLES="300":
    MAILROOM_FUZZ_EXAMPLES={{EXAMPLES}} uv run pytest tests/e2e/test_fuzz.py -p no:warnings

# build the images (Mailroom and the local mail servers)
build:
    {{compose}} build

# start the whole stack in the background (copy deploy/.env.example to deploy/.env and set the secrets first)
up:
    {{compose}} up -d --build

# stop the stack (volumes are kept)
down:
    {{compose}} down

# follow the stack's logs, or one service's: just logs api
logs *SERVICE:
    {{compose}} logs -f {{SERVICE}}

# the stack's services and their health
ps:
    {{compose}} ps

# a psql shell on the stack's database
shell-db:
    {{compose}} exec postgres psql -U mailroom -d mailroom

# dump the stack's database to DIR/mailroom-<time>.dump (custom format, for db-restore); prints the file's name
db-backup DIR="backups":
    #!/usr/bin/env bash
    set -euo pipefail
    umask 077  # every tenant's mail is in it
    mkdir -p "{{DIR}}"
    file="{{DIR}}/mailroom-$(date +%Y%m%d-%H%M%S).dump"
    {{compose}} exec -T postgres pg_dump -U mailroom -Fc mailroom > "$file.partial"
    mv "$file.partial" "$file"
    echo "$file"

# The dump is read through first (a bad file stops nothing); api, worker and scheduler are stopped meanwhile and
# started again whatever happens; the restore is one transaction (a failed one changes nothing), and `migrate` then
# brings an older dump's schema up to date. On a new database, let `migrate` run first: it creates the role the
# services connect as, which the dump's grants name. The bucket's blobs are not in the dump (see README).
# restore a dump made by db-backup into the stack's database, replacing what is there
db-restore FILE:
    #!/usr/bin/env bash
    set -euo pipefail
    test -s "{{FILE}}" || { echo "db-restore: no dump at {{FILE}}" >&2; exit 1; }
    {{compose}} exec -T postgres pg_restore --list < "{{FILE}}" > /dev/null \
        || { echo "db-restore: {{FILE}} is not a dump pg_restore can read" >&2; exit 1; }
    {{compose}} stop api worker scheduler
    trap '{{compose}} start api worker scheduler' EXIT
    {{compose}} exec -T postgres pg_restore -U mailroom -d mailroom --clean --if-exists --single-transaction < "{{FILE}}"
    {{compose}} run --rm --no-deps migrate

# build the image and run the compose stack end to end as a client (deploy/smoke.sh; needs Docker and `docker compose`)
smoke:
    deploy/smoke.sh

# write the API's OpenAPI document (what /schema/openapi.json serves) to build/openapi.json
openapi:
    mkdir -p build
    uv run mailroom openapi > build/openapi.json

# generate a typed Python client (openapi-python-client) into build/client-python/mailroom_client
client-python: openapi
    uv run openapi-python-client generate --path build/openapi.json --config clients/python/config.yaml --meta none --output-path build/client-python/mailroom_client --overwrite

# generate TypeScript types (openapi-typescript, for openapi-fetch) into build/client-ts/api.d.ts, and type-check clients/ts/scenario.ts against them
client-ts: openapi
    cd clients/ts && npm ci --no-audit --no-fund --loglevel=error
    mkdir -p build/client-ts
    cd clients/ts && npx openapi-typescript ../../build/openapi.json --default-non-nullable false --output ../../build/client-ts/api.d.ts
    cd clients/ts && npx tsc --noEmit -p tsconfig.json
