#!/usr/bin/env bash
# Installs the platform as systemd services from this checkout: a virtual environment in /opt/faas/venv,
# the runtime image's sources in /opt/faas/images, the base and runtime images, /etc/faas/{faas.env,
# redis.conf,api-token,redis-password} (the secrets kept when present), the units; then enables and starts them. Run as root; run
# again after `git pull` to upgrade (the services restart on the new code).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
[ "$(id -u)" -eq 0 ] || die "run as root"
here="$ROOT/deploy/systemd"
ensure_docker
apt_install redis-server python3 python3-venv
# Debian's Python, which every service user can run (not one under a user's home).
[ -x /opt/faas/venv/bin/python ] || /usr/bin/python3 -m venv /opt/faas/venv
/opt/faas/venv/bin/pip install --quiet --disable-pip-version-check --upgrade "$ROOT"
mkdir -p /opt/faas/images /etc/faas /var/lib/faas/redis
rm -rf /opt/faas/images/runtime-python
cp -r "$ROOT/images/runtime-python" /opt/faas/images/
FAAS_IMAGES_DIR="$ROOT/images" /opt/faas/venv/bin/faas-images ensure >/dev/null || die "building the images failed"
chown redis:redis /var/lib/faas/redis
chmod 700 /var/lib/faas/redis
install -m 0644 "$here/redis.conf" /etc/faas/redis.conf
if [ ! -s /etc/faas/redis-password ]; then
  (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >/etc/faas/redis-password)
  log "created the Redis password in /etc/faas/redis-password (mode 0600)"
fi
(umask 027 && printf 'requirepass %s\n' "$(cat /etc/faas/redis-password)" >/etc/faas/redis-auth.conf)
chown root:redis /etc/faas/redis-auth.conf
chmod 640 /etc/faas/redis-auth.conf
[ -e /etc/faas/faas.env ] || install -m 0644 "$here/faas.env" /etc/faas/faas.env
if [ ! -s /etc/faas/api-token ]; then
  (umask 077 && python3 -c 'import secrets; print("faas_admin_" + secrets.token_urlsafe(32))' >/etc/faas/api-token)
  log "created the admin API token in /etc/faas/api-token (mode 0600)"
fi
if [ ! -s /etc/faas/secret-key ]; then  # access keys' secrets are encrypted under it: losing it loses every key
  (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >/etc/faas/secret-key)
  log "created the key access-key secrets are encrypted under in /etc/faas/secret-key (mode 0600)"
fi
install -m 0644 "$here"/faas-*.service /etc/systemd/system/
systemctl daemon-reload
systemctl enable faas-redis.service faas-control-plane.service faas-worker.service
systemctl restart faas-redis.service faas-control-plane.service faas-worker.service
log "running: systemctl status faas-control-plane; logs: journalctl -u faas-control-plane -u faas-worker"
