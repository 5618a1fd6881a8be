#!/usr/bin/env bash
# The container path end to end, as README's "Run in production" describes it: build the images, start the compose
# stack, wait for every health check, then use it as a client would; then back up, wipe and restore the database.
#
#   deploy/smoke.sh            (or: uv run just smoke)   needs Docker with `docker compose`, and python3
#
# Base images are the official ones unless POSTGRES_IMAGE, REDIS_IMAGE, SEAWEEDFS_IMAGE, PYTHON_IMAGE, UV_IMAGE and
# DEBIAN_IMAGE name others: on a machine without a registry, `eval "$(deploy/local/images.sh env)"` after
# `deploy/local/images.sh build` (CI does). The stack runs as its own compose project on other published ports
# than the defaults, with a settings file of generated secrets, and is removed at the end with its volumes
# (SMOKE_KEEP=1 keeps it and its settings for a look, and prints how: `uv run just ps` then works on it).
set -euo pipefail
cd "$(dirname "$0")/.."

PROJECT=${SMOKE_PROJECT:-mailroom-smoke}
MESSAGES=${SMOKE_MESSAGES:-3000}
WORK=$(mktemp -d)
export MAILROOM_ENV_FILE=$WORK/smoke.env
export API_PUBLISH=127.0.0.1:18000 POSTGRES_PUBLISH=127.0.0.1:15432 REDIS_PUBLISH=127.0.0.1:16379
export IMAP_PUBLISH=127.0.0.1:11143 SUBMISSION_PUBLISH=127.0.0.1:11587 SMTPS_PUBLISH=127.0.0.1:11465
export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0}  # the classic builder: Debian's Docker has no buildx
# The Justfile's stack recipes (db-backup, db-restore, ps, logs) run against this stack.
export MAILROOM_COMPOSE="docker compose --env-file $MAILROOM_ENV_FILE -f compose.yaml -f deploy/compose.trial.yaml -p $PROJECT"
API=http://$API_PUBLISH

compose() { $MAILROOM_COMPOSE "$@"; }
step() { echo; echo "=== smoke: $* ($((SECONDS - T0)) s)"; }
client() {
  python3 deploy/smoke_client.py "$@" --api "$API" --imap "$IMAP_PUBLISH" --count "$MESSAGES" \
    --state "$WORK/state.json" --maildir "$WORK/maildir"
}
secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(36).replace("-", "x").replace("_", "y"))'; }

finish() {
  local status=$?
  if [ $status -ne 0 ]; then
    echo "smoke: FAILED; the services' state and last logs follow" >&2
    compose ps -a >&2 || true
    compose logs --no-color --tail 60 >&2 || true
  fi
  if [ -z "${SMOKE_KEEP:-}" ]; then
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    rm -rf "$WORK"
  else
    echo "smoke: the stack is kept; its settings are in $WORK: export MAILROOM_COMPOSE=\"$MAILROOM_COMPOSE\"" >&2
  fi
  exit $status
}
trap finish EXIT

# Waits until each named service's container is healthy (a one-shot one: exited 0); fails on one that exits otherwise.
wait_healthy() {
  local deadline=$((SECONDS + ${SMOKE_WAIT_SECONDS:-300})) service id state
  for service in "$@"; do
    while :; do
      id=$(compose ps -a -q "$service")
      state=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id" 2>/dev/null || echo "missing")
      case $state in
        "running 0 healthy" | "exited 0 ") break ;;
        exited* | dead* ) echo "smoke: $service stopped: $state" >&2; return 1 ;;
      esac
      [ $SECONDS -lt $deadline ] || { echo "smoke: $service not healthy: $state" >&2; return 1; }
      sleep 1
    done
  done
}

T0=$SECONDS
step "settings with generated secrets"
cp deploy/.env.example "$MAILROOM_ENV_FILE"
{
  echo "POSTGRES_PASSWORD=$(secret)"
  echo "POSTGRES_APP_PASSWORD=$(secret)"
  echo "BLOB_S3_SECRET=$(secret)"
  echo "POSTGRES_SHARED_BUFFERS=128MB"
  echo "MAILROOM_JWT_SECRET=$(secret)$(secret)"
  echo "MAILROOM_API_WORKERS=2"
  # A worker stopped mid-sync leaves its job and its lease behind: another takes them over once they expire.
  echo "MAILROOM_SYNC_LEASE_SECONDS=10"
  echo "MAILROOM_SEND_LEASE_SECONDS=40"
  echo "MAILROOM_JOB_REDELIVERY_SECONDS=45"
} >> "$MAILROOM_ENV_FILE"

step "build the images"
build_started=$SECONDS
compose build
echo "smoke: images built in $((SECONDS - build_started)) s"
echo "MAILROOM_ENCRYPTION_KEYS=$(docker run --rm mailroom:0.1 keys generate --id k1 | tail -n 1)" >> "$MAILROOM_ENV_FILE"
base=${PYTHON_IMAGE:-python:3.11-slim-bookworm}
image_bytes=$(docker image inspect -f '{{.Size}}' mailroom:0.1)
base_bytes=$(docker image inspect -f '{{.Size}}' "$base")
echo "smoke: mailroom:0.1 is $((image_bytes / 1000000)) MB: $(((image_bytes - base_bytes) / 1000000)) MB of its own layers on $base ($((base_bytes / 1000000)) MB)"

step "start the stack"
up_started=$SECONDS
compose up -d --no-build
wait_healthy postgres redis seaweedfs blob-bucket mailservers migrate api worker scheduler
echo "smoke: every service healthy $((SECONDS - up_started)) s after \`up\`"
compose ps

step "the services connect as a role that row-level security holds"
roles=$(compose exec -T postgres psql -U mailroom -d mailroom -At -F ' ' -c "
  SELECT r.rolname, r.rolsuper, r.rolbypassrls,
         (SELECT count(*) FROM pg_tables t WHERE t.tableowner = r.rolname AND t.schemaname = 'public')
  FROM pg_roles r
  WHERE r.rolname IN (SELECT usename FROM pg_stat_activity
                      WHERE datname = 'mailroom' AND backend_type = 'client backend' AND pid <> pg_backend_pid())")
echo "$roles"
[ "$roles" = "mailroom_app f f 0" ] || { echo "smoke: expected only mailroom_app (no superuser, no BYPASSRLS, owns no table)" >&2; exit 1; }
owner_rls=$(compose exec -T postgres psql -U mailroom -d mailroom -At -c \
  "SELECT count(*) FROM pg_class WHERE relname = 'messages' AND relrowsecurity AND relforcerowsecurity")
[ "$owner_rls" = 1 ] || { echo "smoke: row-level security is not forced on messages" >&2; exit 1; }

step "a first login, as README says"
echo "smoke-password-1" | compose exec -T api mailroom users create --tenant smoke --email ops@smoke.test --password-stdin

step "an account on the Dovecot container, $MESSAGES messages in it"
client seed
tar -C "$WORK/maildir/.Smoke" -c new | compose exec -T mailservers sh -c \
  'cd /var/lib/mailservers/mail/example.test/dave/Maildir/.Smoke && tar -x && chown -R vmail:vmail new'
client account

step "sync; the worker is killed mid-sync and started again"
client sync-started
compose kill -s SIGKILL worker
compose start worker
wait_healthy worker
client sync-finished
# The worker stored the raw messages and the api read one back: with no volume shared between them, through the
# bucket. `mailroom check` in the api container names it.
compose exec -T api mailroom check | grep -x "blob store: ok (s3://mailroom/blobs)"

step "send through the Postfix container"
client send

step "metrics"
client metrics
worker_metrics=$(compose exec -T worker python -c \
  'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9464/", timeout=5).read().decode())')
grep -q '^mailroom_sync_runs_total{outcome="idle"} [1-9]' <<<"$worker_metrics" \
  || { echo "smoke: the worker's metrics count no finished sync" >&2; exit 1; }
echo "smoke: the worker's metrics port counts the finished sync"

step "back up, wipe the database, restore"
before=$(client counts)
uv run just db-backup "$WORK"
dump=$(ls "$WORK"/mailroom-*.dump)
echo "smoke: backup $(du -h "$dump" | cut -f1)"
compose stop api worker scheduler
compose rm -f -s postgres
docker volume rm "${PROJECT}_postgres-data" >/dev/null
compose up -d --no-build postgres migrate
wait_healthy postgres migrate
uv run just db-restore "$dump"
wait_healthy api worker scheduler
after=$(client counts)
[ "$before" = "$after" ] || { echo "smoke: after the restore: $after, before: $before" >&2; exit 1; }
echo "smoke: the restored database has the same messages and body: ${after:0:120}..."
echo "not a dump" > "$WORK/bad.dump"
if uv run just db-restore "$WORK/bad.dump"; then echo "smoke: a bad dump was restored" >&2; exit 1; fi
wait_healthy api worker scheduler
[ "$(client counts)" = "$after" ] || { echo "smoke: a refused restore changed the data" >&2; exit 1; }
echo "smoke: a file that is no dump is refused, and the services ran on untouched"

step "passed"
