#!/usr/bin/env bash
# A Docker engine with `docker compose` on a Debian machine without systemd, as CI runs it (root; Debian's docker.io).
#
#   deploy/local/docker.sh start    start dockerd (vfs storage: it runs inside any sandbox) unless one answers
#
# Debian 12 ships Compose only as the old Python tool (docker-compose 1.29), which cannot read compose.yaml (a
# top-level `name`, among others). Compose v2 is a single Go program that Debian 13 packages: the plugin binary is
# taken from that package, from Debian's own mirror, and put where the docker command looks for plugins.
set -euo pipefail

MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
COMPOSE_DEB=pool/main/d/docker-compose/docker-compose_2.26.1-4_amd64.deb
# Fetched outside apt, so outside its signature check: the file must be the one checked when this was written.
COMPOSE_SHA256=47681197cb2b1ab88206b42a1a92fc75f50d9530a6322d03494a473eed0408ea
PLUGINS=/usr/local/lib/docker/cli-plugins

log() { echo "docker: $*" >&2; }

start_engine() {
  if docker info >/dev/null 2>&1; then return; fi
  command -v dockerd >/dev/null || { log "install Debian's docker.io first"; exit 1; }
  mkdir -p /var/log/docker
  setsid dockerd --storage-driver=vfs >/var/log/docker/dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 1 100); do docker info >/dev/null 2>&1 && return; sleep 0.3; done
  log "dockerd did not start; see /var/log/docker/dockerd.log"; tail -20 /var/log/docker/dockerd.log >&2; exit 1
}

install_compose() {
  if docker compose version >/dev/null 2>&1; then return; fi
  local dir
  dir=$(mktemp -d)
  log "Compose v2 from Debian's docker-compose package ($COMPOSE_DEB)"
  curl -fsS -o "$dir/compose.deb" "$MIRROR/$COMPOSE_DEB"
  echo "$COMPOSE_SHA256  $dir/compose.deb" | sha256sum -c --quiet - || { log "unexpected $COMPOSE_DEB"; exit 1; }
  mkdir -p "$PLUGINS"
  dpkg-deb --fsys-tarfile "$dir/compose.deb" | tar -xO ./usr/libexec/docker/cli-plugins/docker-compose > "$PLUGINS/docker-compose"
  chmod 0755 "$PLUGINS/docker-compose"
  rm -rf "$dir"
  docker compose version
}

case ${1:-} in
  start) start_engine; install_compose ;;
  *) echo "usage: $0 start" >&2; exit 2 ;;
esac
