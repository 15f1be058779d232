#!/usr/bin/env bash
# Verify the Dockerfiles users build with Docker (deploy/*/Dockerfile, with .dockerignore): build each with
# buildah from Debian's packages (vfs storage, chroot isolation: no daemon, no container runtime), then run
# the built image's entrypoint with --version as the image's user, and print each image's size.
#
#   bash scripts/verify-dockerfiles.sh [IMAGE...]    IMAGE: driver, provider-azure, provider-directory (default: all)
#
# No registry is reachable from this machine, so the Dockerfiles' public base (ARG NODE_IMAGE, default
# node:24-bookworm-slim) is replaced by a local stand-in with that image's layout: Debian bookworm's minbase
# (mmdebstrap, with apt and dpkg as in debian:bookworm-slim), Node from the npm registry's node@<version> at
# /usr/local/bin/node, npm under /usr/local/lib/node_modules. It is passed as --build-arg NODE_IMAGE=localhost/...;
# the Dockerfiles' default stays the public image. The build steps themselves reach the npm registry
# (pnpm install) and Debian's mirrors (apt-get) as a user's build does. When this machine trusts an extra CA
# (NODE_EXTRA_CA_CERTS or `npm config get cafile`, e.g. an egress proxy's), the build's RUN steps get it
# through a read-only /root/.npmrc mounted for the build only (buildah leaves its empty mount point behind).
# Opt-in, not part of CI: one image takes minutes cold (figures in docs/testing.md, "Dockerfiles").
# Needs root. Installs buildah and mmdebstrap from Debian when they are missing.
#
# Environment:
#   SSCSI_BUILDAH_ROOT  buildah's private storage (default ~/.cache/secrets-store-csi/buildah); the stand-in
#                       base is kept there, the verified images are removed after the check
#   SSCSI_NPM_VERSION   npm of the stand-in base (default 11, the major Node 24 ships)
#   SSCSI_KEEP_IMAGES   set to 1 to keep the built images (buildah --root <root>/storage images)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[verify-dockerfiles] %s\n' "$*" >&2; }
die() {
  printf '[verify-dockerfiles] error: %s\n' "$*" >&2
  exit 1
}

IMAGES=()
for arg in "$@"; do
  case "$arg" in
    driver | provider-azure | provider-directory) IMAGES+=("$arg") ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done
((${#IMAGES[@]})) || IMAGES=(driver provider-azure provider-directory)

((EUID == 0)) || die "run as root (buildah's vfs storage and mmdebstrap's root mode)"
missing=()
for package in buildah mmdebstrap; do
  [[ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)" == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
fi

eval "$(bash scripts/bootstrap.sh)"
NODE_VERSION="$(sed -n 's/^NODE_VERSION="\${SSCSI_NODE_VERSION:-\([0-9.]*\)}"$/\1/p' scripts/bootstrap.sh)"
[[ -n "$NODE_VERSION" ]] || die "could not read NODE_VERSION from scripts/bootstrap.sh"
NPM_VERSION="${SSCSI_NPM_VERSION:-11}"
VERSION="$(node -p 'require("./packages/driver/package.json").version')"
STORE="${SSCSI_BUILDAH_ROOT:-$HOME/.cache/secrets-store-csi/buildah}"
BUILDAH=(buildah --root "$STORE/storage" --runroot "$STORE/run" --storage-driver vfs)
STANDIN="localhost/sscsi-standin/node:$NODE_VERSION-npm$NPM_VERSION-bookworm-slim"

mkdir -p "$STORE"
exec 9>"$STORE/.lock"
flock 9 # one verification at a time per storage

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sscsi-verify-dockerfiles.XXXXXX")"
cleanup() {
  "${BUILDAH[@]}" rm --all >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The stand-in for node:24-bookworm-slim, built once into the private storage.
standin_base() {
  if "${BUILDAH[@]}" images --quiet "$STANDIN" >/dev/null 2>&1; then
    log "base: $STANDIN (kept from an earlier run)"
    return
  fi
  local started=$SECONDS ctr mnt
  log "base: mmdebstrap bookworm minbase, node@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
  mmdebstrap --variant=minbase --mode=root --format=tar \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$WORK/base.tar" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main" </dev/null >&2
  npm install --prefix "$WORK/node" --no-save --no-audit --no-fund --loglevel=error "node@$NODE_VERSION" >&2
  ctr="$("${BUILDAH[@]}" from scratch)"
  mnt="$("${BUILDAH[@]}" mount "$ctr")"
  tar -C "$mnt" -xf "$WORK/base.tar"
  install -D -m 0755 "$(readlink -f "$WORK/node/node_modules/node/bin/node")" "$mnt/usr/local/bin/node"
  npm install --global --prefix "$mnt/usr/local" --no-audit --no-fund --loglevel=error "npm@$NPM_VERSION" >&2
  # The official image's user; its /usr/local/bin/npm and npx are relative links into lib/node_modules.
  chroot "$mnt" groupadd --gid 1000 node
  chroot "$mnt" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  "${BUILDAH[@]}" umount "$ctr" >/dev/null
  "${BUILDAH[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd node "$ctr"
  "${BUILDAH[@]}" commit --quiet --rm "$ctr" "$STANDIN" >/dev/null
  "${BUILDAH[@]}" run --isolation chroot "$("${BUILDAH[@]}" from --pull=never "$STANDIN")" -- npm --version >/dev/null ||
    die "the stand-in base's npm does not run"
  log "base: $STANDIN built in $((SECONDS - started))s"
}

entrypoint_check() { # entrypoint_check IMAGE TAG -> runs the entrypoint with --version as the image's user
  local image="$1" tag="$2" ctr user version
  local -a entrypoint
  mapfile -t entrypoint < <("${BUILDAH[@]}" inspect --type image \
    --format '{{range .OCIv1.Config.Entrypoint}}{{println .}}{{end}}' "$tag")
  user="$("${BUILDAH[@]}" inspect --type image --format '{{.OCIv1.Config.User}}' "$tag")"
  ((${#entrypoint[@]})) || die "$image: the image has no entrypoint"
  ctr="$("${BUILDAH[@]}" from --pull=never "$tag")"
  # buildah run takes the image's user and working directory, not its entrypoint: the entrypoint is the command.
  version="$("${BUILDAH[@]}" run --isolation chroot "$ctr" -- "${entrypoint[@]}" --version)" ||
    die "$image: '${entrypoint[*]} --version' fails in the image"
  log "$image: '${entrypoint[*]} --version' as user '${user:-0}': $version"
  if [[ "$image" == driver ]]; then
    "${BUILDAH[@]}" run --isolation chroot "$ctr" -- node -e "require('/app/node_modules/koffi').load('libc.so.6')" ||
      die "driver: koffi does not load libc in the image"
    log "driver: koffi loads libc.so.6 (mount(2) through it)"
  fi
  "${BUILDAH[@]}" rm "$ctr" >/dev/null
}

standin_base
# This machine's npm trust (an egress proxy's CA), for the build's RUN steps only.
TRUST=()
host_cafile="${NODE_EXTRA_CA_CERTS:-$(npm config get cafile 2>/dev/null || true)}"
if [[ -n "$host_cafile" && "$host_cafile" != null && -s "$host_cafile" ]]; then
  printf 'cafile=/run/sscsi-host-ca.crt\n' >"$WORK/npmrc"
  TRUST=(-v "$WORK/npmrc:/root/.npmrc:ro" -v "$host_cafile:/run/sscsi-host-ca.crt:ro")
  log "the build's npm and pnpm trust this machine's extra CAs ($host_cafile)"
fi
reports=()
for image in "${IMAGES[@]}"; do
  tag="localhost/secrets-store-csi/$image:$VERSION-verify"
  started=$SECONDS
  log "$image: buildah build -f deploy/$image/Dockerfile (context: the repository root)"
  "${BUILDAH[@]}" build --isolation chroot --pull=never --layers=false --quiet "${TRUST[@]}" \
    --build-arg NODE_IMAGE="$STANDIN" \
    --build-arg GIT_COMMIT="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
    --build-arg BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -f "deploy/$image/Dockerfile" -t "$tag" . >&2
  built=$((SECONDS - started))
  entrypoint_check "$image" "$tag"
  # The size a registry push transfers: the layers gzip-compressed in an OCI archive (the base's included).
  "${BUILDAH[@]}" push --quiet "$tag" "oci-archive:$WORK/$image.oci.tar" >/dev/null
  reports+=("$image: Dockerfile built in ${built}s; $("${BUILDAH[@]}" images --format '{{.Size}}' "$tag") unpacked, $(du -m "$WORK/$image.oci.tar" | cut -f1) MB as an OCI archive (base stand-in included)")
  rm -f "$WORK/$image.oci.tar"
  [[ "${SSCSI_KEEP_IMAGES:-0}" == 1 ]] || "${BUILDAH[@]}" rmi "$tag" >/dev/null
done
printf '%s\n' "${reports[@]}"
