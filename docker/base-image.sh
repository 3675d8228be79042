#!/usr/bin/env bash
# base-image.sh — build the Docker base image local/debian:bookworm
# without any container registry, from this machine's own apt configuration.
#
#   docker/base-image.sh            # build if missing
#   FORCE=1 docker/base-image.sh    # rebuild
#
# For machines that reach no container registry (BASE_IMAGE of
# docker/Dockerfile).  Taken from the workplace's shared tool of the same
# purpose, unchanged in what it does.
#
# What it does (each step is printed):
#   1. reads the Debian mirror for $SUITE from apt's enabled sources
#      (apt-get indextargets), and any apt proxy / Acquire settings (apt-config);
#   2. debootstraps a minbase rootfs from that mirror (same proxy, same keyring);
#   3. copies into the rootfs: the machine's apt sources + the keyrings they name,
#      the Acquire settings, and the extra CA certificates under
#      /usr/local/share/ca-certificates (needed if HTTPS egress is intercepted);
#   4. `docker import`s the rootfs as $IMAGE (with SSL_CERT_FILE, PIP_CERT,
#      REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, NODE_EXTRA_CA_CERTS pointing at the
#      system bundle when extra CAs were added).
# Needs: root, debootstrap, a running docker daemon.  Env: IMAGE, SUITE,
# DOCKER (client binary), FORCE=1, KEEP_ROOTFS=1, TMPDIR.
set -euo pipefail

IMAGE=${IMAGE:-local/debian:bookworm}
SUITE=${SUITE:-bookworm}
DOCKER=${DOCKER:-docker}
FORCE=${FORCE:-0}
INCLUDE=${INCLUDE:-ca-certificates}

say() { printf '[docker-base-image] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap needs it)"
command -v debootstrap >/dev/null || die "debootstrap missing: apt-get install -y debootstrap"
"$DOCKER" version >/dev/null 2>&1 || die "docker daemon not reachable with '$DOCKER' (start dockerd first)"

if [ "$FORCE" != 1 ] && "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
    say "$IMAGE already present ($("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE" | cut -c1-19)); FORCE=1 rebuilds"
    exit 0
fi

# 1. mirror + acquire settings, as apt itself resolves them
MIRROR=$(apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 'Identifier: Packages' \
         | awk -v s="$SUITE" '$1 == s { print $2; exit }')
[ -n "$MIRROR" ] || die "no enabled apt source for suite '$SUITE' (run apt-get update?)"
say "mirror for $SUITE: taken from the machine's apt sources"

ACQUIRE=$(apt-config dump | grep -E '^Acquire::(https?|ftp)::Proxy|^Acquire::Check-(Valid-Until|Date)' || true)
PROXY=$(apt-config dump | sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p' | head -1)
if [ -n "$PROXY" ] && [ "$PROXY" != DIRECT ]; then
    say "apt uses an HTTP proxy; debootstrap will use it too"
    export http_proxy="$PROXY"
else
    say "apt uses no proxy"
fi

KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$KEYRING" ] || die "$KEYRING missing: apt-get install -y debian-archive-keyring"

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/docker-base-image.XXXXXX")
ROOT="$WORK/rootfs"
cleanup() { if [ "${KEEP_ROOTFS:-0}" = 1 ]; then say "kept $ROOT"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT

# 2. debootstrap
say "debootstrap --variant=minbase --include=$INCLUDE $SUITE -> $ROOT (a few minutes)"
debootstrap --variant=minbase --include="$INCLUDE" --keyring="$KEYRING" \
    "$SUITE" "$ROOT" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }

# 3. apt configuration of this machine
say "copying the machine's apt sources, keyrings and Acquire settings into the image"
rm -f "$ROOT/etc/apt/sources.list"
mkdir -p "$ROOT/etc/apt/sources.list.d" "$ROOT/etc/apt/apt.conf.d"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    cp "$f" "$ROOT$f"
    # keyrings named by Signed-By (deb822 field or [signed-by=...] option)
    grep -oE '(Signed-By:[[:space:]]*|signed-by=)/[^] ]+' "$f" | sed -E 's/^(Signed-By:[[:space:]]*|signed-by=)//' \
    | while read -r k; do
        [ -f "$k" ] && { mkdir -p "$ROOT$(dirname "$k")"; cp "$k" "$ROOT$k"; }
    done
    say "  source file $(basename "$f")"
done
if [ -n "$ACQUIRE" ]; then
    printf '%s\n' "$ACQUIRE" > "$ROOT/etc/apt/apt.conf.d/99host-acquire"
    say "  Acquire settings: $(printf '%s' "$ACQUIRE" | sed 's/ ".*//' | tr '\n' ' ')"
fi
# keep images small, like the official Debian images do
cat > "$ROOT/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
echo 'APT::Install-Recommends "false";' > "$ROOT/etc/apt/apt.conf.d/docker-no-recommends"

shopt -s nullglob
CA_ENV=()
cas=(/usr/local/share/ca-certificates/*.crt)
if [ ${#cas[@]} -gt 0 ]; then
    say "adding ${#cas[@]} extra CA certificate(s) from /usr/local/share/ca-certificates"
    mkdir -p "$ROOT/usr/local/share/ca-certificates"
    cp "${cas[@]}" "$ROOT/usr/local/share/ca-certificates/"
    chroot "$ROOT" update-ca-certificates > /dev/null 2>&1
    # tools that ship their own CA bundle (pip, node, requests) are pointed at the system one,
    # as on this machine; Java picks the system store up via ca-certificates-java
    B=/etc/ssl/certs/ca-certificates.crt
    CA_ENV=(-c "ENV SSL_CERT_FILE=$B" -c "ENV PIP_CERT=$B" -c "ENV REQUESTS_CA_BUNDLE=$B"
            -c "ENV CURL_CA_BUNDLE=$B" -c "ENV NODE_EXTRA_CA_CERTS=$B")
fi

rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/log/*.log
printf '%s\n' "$SUITE-docker" > "$ROOT/etc/hostname"

# 4. import
say "importing rootfs as $IMAGE"
tar -C "$ROOT" --numeric-owner -c . \
  | "$DOCKER" import -c 'CMD ["bash"]' -c 'ENV LANG=C.UTF-8' "${CA_ENV[@]}" -m "debootstrap $SUITE minbase from the machine's apt mirror" - "$IMAGE" >/dev/null
say "done: $("$DOCKER" image ls --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}' "$IMAGE")"
