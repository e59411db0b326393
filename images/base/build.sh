#!/usr/bin/env bash
# Builds a Debian base image with Debian's Python and pip, with no registry: debootstrap makes the root
# filesystem and `docker import` turns it into an image. Usage: build.sh TAG [SUITE]
# SUITE: bookworm (Debian 12, Python 3.11; the default) or trixie (Debian 13, Python 3.13).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
tag=${1:?usage: build.sh TAG [SUITE]}
suite=${2:-bookworm}

apt_install debootstrap
work=$(mktemp -d "${TMPDIR:-/tmp}/faas-base.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "debootstrap $suite into $work (about a minute)"
debootstrap --variant=minbase --include=python3,python3-pip,ca-certificates "$suite" "$work/root" \
  >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
# Slim it: package caches and lists are not needed at run time.
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"* "$work/root/usr/share/doc" \
  "$work/root/usr/share/man" "$work/root/usr/share/locale"
tar -C "$work/root" -c . | docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV LANG=C.UTF-8' \
  -c 'CMD ["python3"]' \
  - "$tag" >/dev/null
log "built base image $tag"
