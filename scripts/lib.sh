# Helpers shared by the project's scripts. Sourced, never run.
# Every step is idempotent: it checks what is there and does only what is missing.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export FAAS_VAR_DIR="${FAAS_VAR_DIR:-$ROOT/var}"
VENV="${FAAS_VENV:-$ROOT/.venv}"

log() { printf '[faas] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

_apt_updated=""
# apt_install PKG...: install the Debian packages that are missing.
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get here: install them by hand"
  [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}: run as root, or install them first"
  log "installing ${missing[*]} with apt"
  if [ -z "$_apt_updated" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
    _apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

docker_ok() { docker info >/dev/null 2>&1; }

# ensure_docker: a Docker engine answers, starting Debian's dockerd in the background when needed.
ensure_docker() {
  docker_ok && return 0
  command -v dockerd >/dev/null || apt_install docker.io
  docker_ok && return 0   # the package's own init script may have started it
  [ "$(id -u)" -eq 0 ] || die "no Docker engine answers and only root can start dockerd"
  mkdir -p "$FAAS_VAR_DIR/log"
  log "starting dockerd in the background (log: $FAAS_VAR_DIR/log/dockerd.log)"
  setsid nohup dockerd >>"$FAAS_VAR_DIR/log/dockerd.log" 2>&1 </dev/null &
  local i
  for i in $(seq 1 240); do
    docker_ok && return 0
    sleep 0.5
  done
  tail -n 20 "$FAAS_VAR_DIR/log/dockerd.log" >&2
  die "dockerd did not answer within 120 s"
}

# ensure_venv: a virtual environment with the project installed (editable, with test extras).
ensure_venv() {
  start_venv
  finish_venv
}

# start_venv: make the virtual environment and, when the project's requirements changed, start installing them in
# the background (finish_venv waits), so that apt and the image builds need not wait for pip.
_venv_job=""
start_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating the virtual environment $VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      apt_install python3-venv
      python3 -m venv "$VENV" || die "python3 -m venv failed"
    fi
  fi
  [ "$(_venv_want)" != "$(cat "$VENV/.faas-installed" 2>/dev/null || true)" ] || return 0
  [ -z "$_venv_job" ] || return 0
  mkdir -p "$FAAS_VAR_DIR/log"
  log "installing the project into $VENV (log: $FAAS_VAR_DIR/log/pip.log)"
  { "$VENV/bin/python" -m pip install -q --upgrade pip || true
    "$VENV/bin/python" -m pip install -q -e "$ROOT[test]"; } >"$FAAS_VAR_DIR/log/pip.log" 2>&1 </dev/null &
  _venv_job=$!
}

# finish_venv: wait for the installation start_venv began, if any.
finish_venv() {
  [ -n "$_venv_job" ] || return 0
  local job=$_venv_job
  _venv_job=""
  wait "$job" || { tail -n 30 "$FAAS_VAR_DIR/log/pip.log" >&2; die "pip install failed"; }
  _venv_want >"$VENV/.faas-installed"
}

_venv_want() { sha256sum <"$ROOT/pyproject.toml" | cut -c1-64; }

# ensure_images: the base images (built locally where no registry answers) and the runtime images, one per Python
# runtime, built at the same time (so debootstrap is installed first, once, rather than by each build).
ensure_images() {
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then apt_install debootstrap; fi
  "$VENV/bin/faas-images" ensure || die "building the images failed"
}

# ensure_gvisor: gVisor's runsc (Debian's package) registered with the engine as the runtime `runsc`, for
# functions with "sandbox": "gvisor". Its own network stack fails on this kernel, so it runs with --network=host
# inside each container's own network namespace (DESIGN.md section 8). Best effort: where it cannot be had,
# a gVisor function is refused with a clear error and everything else works.
ensure_gvisor() {
  docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"' && return 0
  if ! command -v runsc >/dev/null; then
    (apt_install runsc) || { log "gVisor (runsc) not installed: functions with sandbox gvisor will be refused"; return 0; }
  fi
  [ -w /etc/docker ] || mkdir -p /etc/docker 2>/dev/null || { log "cannot register runsc: /etc/docker not writable"; return 0; }
  "$VENV/bin/python" - "$(command -v runsc)" <<'PY' || { log "cannot register runsc in /etc/docker/daemon.json"; return 0; }
import json, os, sys
path = "/etc/docker/daemon.json"
config = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else {}
config.setdefault("runtimes", {})["runsc"] = {"path": sys.argv[1], "runtimeArgs": ["--network=host"]}
tmp = path + ".faas-tmp"
with open(tmp, "w") as f:
    json.dump(config, f, indent=2)
os.replace(tmp, path)
PY
  local pid i
  pid=$(cat /var/run/docker.pid 2>/dev/null || true)
  [ -n "$pid" ] && kill -HUP "$pid" 2>/dev/null  # the engine reloads its runtimes
  for i in $(seq 1 40); do
    docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"' && { log "gVisor's runsc registered with the engine"; return 0; }
    sleep 0.25
  done
  log "the engine did not take the runsc runtime: functions with sandbox gvisor will be refused"
}

# ensure_platform [PKG...]: everything the platform needs before it can run, and the Debian packages named, which
# apt installs while pip installs the project.
ensure_platform() {
  start_venv
  ensure_docker
  local packages=("$@")
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then packages+=(debootstrap); fi  # for ensure_images
  if [ ${#packages[@]} -gt 0 ]; then apt_install "${packages[@]}"; fi
  finish_venv
  ensure_images
  ensure_gvisor
}

# ensure_secret_key: the key access-key secrets are encrypted under: FAAS_SECRET_KEY or FAAS_SECRET_KEY_FILE as
# given, else var/secret-key (made on first run, 0600). Losing it makes every access key unusable (new ones work).
ensure_secret_key() {
  if [ -n "${FAAS_SECRET_KEY:-}" ] || [ -n "${FAAS_SECRET_KEY_FILE:-}" ]; then
    return 0
  fi
  secret_file "$FAAS_VAR_DIR/secret-key" "" "the key that access-key secrets are encrypted under"
  export FAAS_SECRET_KEY_FILE="$FAAS_VAR_DIR/secret-key"
}

# secret_file FILE PREFIX WHAT: FILE holds PREFIX and 43 random characters, made on first use, mode 0600.
secret_file() {
  local file=$1 prefix=$2 what=$3
  if [ ! -s "$file" ]; then
    mkdir -p "$(dirname "$file")"
    (umask 077 && "$VENV/bin/python" -c 'import secrets, sys; print(sys.argv[1] + secrets.token_urlsafe(32))' \
      "$prefix" >"$file")
    log "created $what in $file (mode 0600)"
  fi
  chmod 600 "$file"
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ensure_api_token: FAAS_API_TOKEN as given, else the admin token in var/api-token (made on first run, 0600).
ensure_api_token() {
  if [ -n "${FAAS_API_TOKEN:-}" ]; then
    log "admin token: from FAAS_API_TOKEN"
    return 0
  fi
  local file="$FAAS_VAR_DIR/api-token"
  secret_file "$file" faas_admin_ "an admin API token"
  FAAS_API_TOKEN=$(cat "$file")
  export FAAS_API_TOKEN
  log "admin token: $file (send it as 'Authorization: Bearer <token>'; faasctl reads it from there)"
}

# prepare_redis: the configuration of a private redis-server (var/redis.conf, 0600): a free loopback port and a
# Unix socket (var/redis/redis.sock, 0600; the platform's own parts connect through it: a round trip costs both
# sides less than through the loopback's TCP), append-only data in var/redis (0700), a password made on first run
# (var/redis-password, 0600), so that no other local user can read or write the platform's data;
# FAAS_REDIS_MAXMEMORY_MB (2048) with noeviction, so that a full Redis refuses writes (503 to callers) rather than
# dropping keys. Sets REDIS_CONF, FAAS_REDIS_URL and FAAS_REDIS_PASSWORD_FILE; faas-up runs redis-server with it.
prepare_redis() {
  apt_install redis-server
  mkdir -p "$FAAS_VAR_DIR/redis" "$FAAS_VAR_DIR/log"
  chmod 700 "$FAAS_VAR_DIR" "$FAAS_VAR_DIR/redis"
  local secret="$FAAS_VAR_DIR/redis-password" port socket unix=""
  secret_file "$secret" "" "a Redis password"
  port=$(free_port)
  socket="$(cd "$FAAS_VAR_DIR/redis" && pwd)/redis.sock"
  # (a Unix socket's path has room for 107 bytes; one a URL would have to escape goes through TCP instead)
  if [ "${#socket}" -le 100 ] && [[ "$socket" =~ ^[A-Za-z0-9/._-]+$ ]]; then
    unix="unixsocket $socket
unixsocketperm 600"
  fi
  REDIS_CONF="$FAAS_VAR_DIR/redis.conf"
  (umask 077 && cat >"$REDIS_CONF" <<CONF
# Written by scripts/up on each start: the private Redis of the platform.
port $port
bind 127.0.0.1
protected-mode yes
$unix
appendonly yes
appendfsync everysec
save ""
maxmemory ${FAAS_REDIS_MAXMEMORY_MB:-2048}mb
maxmemory-policy noeviction
dir "$FAAS_VAR_DIR/redis"
logfile "$FAAS_VAR_DIR/log/redis.log"
daemonize no
requirepass $(cat "$secret")
CONF
  )
  if [ -n "$unix" ]; then
    export FAAS_REDIS_URL="unix://$socket?db=0"
  else
    export FAAS_REDIS_URL="redis://127.0.0.1:$port/0"
  fi
  export FAAS_REDIS_PASSWORD_FILE="$secret"
  log "redis-server on 127.0.0.1:$port${unix:+ and $socket} (appendonly, data in $FAAS_VAR_DIR/redis, password in $secret)"
}

# ensure_compose: sets COMPOSE to `docker compose` where that plugin exists, else Debian's docker-compose.
ensure_compose() {
  if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
    return 0
  fi
  command -v docker-compose >/dev/null || apt_install docker-compose
  COMPOSE=(docker-compose)
}
