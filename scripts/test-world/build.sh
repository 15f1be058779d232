#!/usr/bin/env bash
# Build and cache the binaries of the real test world (issue 3, phase 1).
#
#   bash scripts/test-world/build.sh [options] [COMPONENT...]
#
# Components:
#   kube-apiserver, kube-controller-manager, kubelet   k8s.io/kubernetes (kube/go.mod)
#   etcd                                               go.etcd.io/etcd/server/v3 (etcd/go.mod)
#   csi-sanity                                         github.com/kubernetes-csi/csi-test/v5
#   lowkey-vault                                       Lowkey Vault jar from Maven Central
#   upstream-csi-driver                                sigs.k8s.io/secrets-store-csi-driver (upstream-csi-driver/go.mod)
#   upstream-provider-azure                            github.com/Azure/secrets-store-csi-driver-provider-azure
#                                                      (upstream-provider-azure/go.mod); both for the interop suite
#   helm                                               helm.sh/helm/v4/cmd/helm (go install)
#   promql-check                                       Prometheus's rulefmt and PromQL parser
#                                                      (promql-check/go.mod): the charts' alert rules
# Groups: "default" (kube-apiserver kube-controller-manager kubelet etcd csi-sanity helm
#         upstream-csi-driver upstream-provider-azure promql-check), "all" (every component).
#
# Options:
#   --force                 rebuild the named components even if cached
#   --print-manifest-path   print where the manifest for these pins lives; build nothing
#   -h, --help              this text
#
# Environment:
#   SSCSI_TEST_WORLD_CACHE  cache root (default: $HOME/.cache/secrets-store-csi/test-world)
#   LOWKEY_VAULT_JAVA       java binary to run Lowkey Vault with (default: first java
#                           on the machine whose major version is >= LOWKEY_VAULT_JAVA_MIN)
#
# Sources: only the Go module proxy and Maven Central (through `go` and `mvn`).
# Nothing else is downloaded; Go toolchain downloads are disabled.
#
# Output: each artifact lives under a directory keyed by its pinned version and the Go
# toolchain, so only the first run pays. At the end the script writes
#   <cache>/worlds/<key>/manifest.json   (read by the TypeScript harness)
#   <cache>/worlds/<key>/paths.env       (same, as shell variables)
# listing every artifact of these pins that is present in the cache, and prints
# SSCSI_TEST_WORLD_MANIFEST=<path> as its last line.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/test-world/versions.env
source "$HERE/versions.env"

CACHE="${SSCSI_TEST_WORLD_CACHE:-$HOME/.cache/secrets-store-csi/test-world}"

ALL_COMPONENTS=(kube-apiserver kube-controller-manager kubelet etcd csi-sanity lowkey-vault helm)
DEFAULT_COMPONENTS=(kube-apiserver kube-controller-manager kubelet etcd csi-sanity helm)
# Upstream's driver and Azure provider (interop suite): default, CI builds them cold (see docs/testing.md).
UPSTREAM_COMPONENTS=(upstream-csi-driver upstream-provider-azure)
ALL_COMPONENTS+=("${UPSTREAM_COMPONENTS[@]}")
DEFAULT_COMPONENTS+=("${UPSTREAM_COMPONENTS[@]}")
# The charts' PrometheusRule check (packages/charts-test); about 1.5 CPU-minutes cold.
ALL_COMPONENTS+=(promql-check)
DEFAULT_COMPONENTS+=(promql-check)

log() { printf '[test-world] %s\n' "$*" >&2; }
die() { printf '[test-world] error: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

# ---------------------------------------------------------------- arguments
FORCE=0
PRINT_MANIFEST_PATH=0
REQUESTED=()
while (($#)); do
  case "$1" in
    --force) FORCE=1 ;;
    --print-manifest-path) PRINT_MANIFEST_PATH=1 ;;
    -h | --help) usage; exit 0 ;;
    default) REQUESTED+=("${DEFAULT_COMPONENTS[@]}") ;;
    all) REQUESTED+=("${ALL_COMPONENTS[@]}") ;;
    -*) die "unknown option: $1 (see --help)" ;;
    *)
      found=0
      for c in "${ALL_COMPONENTS[@]}"; do [[ "$1" == "$c" ]] && found=1; done
      ((found)) || die "unknown component: $1 (known: ${ALL_COMPONENTS[*]}, default, all)"
      REQUESTED+=("$1")
      ;;
  esac
  shift
done
((${#REQUESTED[@]})) || REQUESTED=("${DEFAULT_COMPONENTS[@]}")

wants() {
  local c
  for c in "${REQUESTED[@]}"; do
    if [[ "$c" == "$1" ]]; then return 0; fi
  done
  return 1
}

# ---------------------------------------------------------------- toolchains
version_ge() { # version_ge A B: A >= B (dotted numbers)
  [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}

# Never let `go` fetch another toolchain, and ignore any go.work above us.
export GOTOOLCHAIN=local GOWORK=off

GO_VERSION=""
require_go() {
  [[ -n "$GO_VERSION" ]] && return 0
  command -v go >/dev/null 2>&1 ||
    die "Go toolchain not found: install Go ${GO_MIN_VERSION}+ (tried: go version)"
  local v
  v="$(go env GOVERSION 2>/dev/null)" ||
    die "Go toolchain not usable: install Go ${GO_MIN_VERSION}+ (tried: go env GOVERSION)"
  v="${v#go}"
  v="${v%%[-+ ]*}"
  version_ge "$v" "$GO_MIN_VERSION" ||
    die "Go ${v} is too old: install Go ${GO_MIN_VERSION}+ (tried: go version; toolchain downloads are disabled)"
  GO_VERSION="go${v}"
}

java_major() { # java_major /path/to/java -> 17, 25, ...
  local line
  line="$("$1" -version 2>&1 | head -n1)" || return 1
  line="${line#*version \"}"
  line="${line%%\"*}"
  line="${line#1.}" # 1.8.0_x -> 8.0_x
  printf '%s\n' "${line%%[.+_-]*}"
}

LOWKEY_JAVA=""
find_java() {
  [[ -n "$LOWKEY_JAVA" ]] && return 0
  local tried=() cand m
  local candidates=()
  if [[ -n "${LOWKEY_VAULT_JAVA:-}" ]]; then
    candidates=("$LOWKEY_VAULT_JAVA") # an explicit choice is the only candidate
  else
    [[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME/bin/java")
    command -v java >/dev/null 2>&1 && candidates+=("$(readlink -f "$(command -v java)")")
    for cand in /usr/lib/jvm/*/bin/java; do [[ -e "$cand" ]] && candidates+=("$cand"); done
  fi
  for cand in "${candidates[@]}"; do
    tried+=("$cand -version")
    [[ -x "$cand" ]] || continue
    m="$(java_major "$cand" 2>/dev/null)" || continue
    if [[ "$m" =~ ^[0-9]+$ ]] && ((m >= LOWKEY_VAULT_JAVA_MIN)); then
      LOWKEY_JAVA="$(readlink -f "$cand")"
      return 0
    fi
  done
  if ((${#tried[@]} == 0)); then
    die "Java not found: Lowkey Vault ${LOWKEY_VAULT_VERSION} needs Java ${LOWKEY_VAULT_JAVA_MIN}+ (tried: java -version)"
  fi
  die "no Java ${LOWKEY_VAULT_JAVA_MIN}+ found for Lowkey Vault ${LOWKEY_VAULT_VERSION}; set LOWKEY_VAULT_JAVA (tried: ${tried[*]})"
}

require_mvn() {
  command -v mvn >/dev/null 2>&1 ||
    die "Maven not found: install Maven (apt-get install maven) to fetch Lowkey Vault from Maven Central (tried: mvn -v)"
}

# ---------------------------------------------------------------- pins vs wrapper modules
gomod_require_version() { # gomod_require_version go.mod module -> version
  awk -v m="$2" '($1 == m && $2 ~ /^v/) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$1"
}

check_kube_pins() {
  local mod="$HERE/kube/go.mod" got staging want_staging bad=()
  got="$(gomod_require_version "$mod" k8s.io/kubernetes)"
  [[ "$got" == "$KUBE_VERSION" ]] ||
    die "kube/go.mod requires k8s.io/kubernetes ${got:-<none>} but versions.env pins KUBE_VERSION=$KUBE_VERSION"
  want_staging="v0.${KUBE_VERSION#v1.}"
  while read -r staging; do
    [[ "$staging" == "$want_staging" ]] || bad+=("$staging")
  done < <(awk '$1 ~ /^k8s\.io\// && $2 == "=>" { print $4 }' "$mod")
  ((${#bad[@]} == 0)) ||
    die "kube/go.mod replaces staging modules with ${bad[*]}; every one must be $want_staging for KUBE_VERSION=$KUBE_VERSION"
}

check_etcd_pins() {
  local got
  got="$(gomod_require_version "$HERE/etcd/go.mod" go.etcd.io/etcd/server/v3)"
  [[ "$got" == "$ETCD_VERSION" ]] ||
    die "etcd/go.mod requires go.etcd.io/etcd/server/v3 ${got:-<none>} but versions.env pins ETCD_VERSION=$ETCD_VERSION"
}

check_upstream_pins() {
  local got
  got="$(gomod_require_version "$HERE/upstream-csi-driver/go.mod" sigs.k8s.io/secrets-store-csi-driver)"
  [[ "$got" == "$UPSTREAM_CSI_DRIVER_VERSION" ]] ||
    die "upstream-csi-driver/go.mod requires sigs.k8s.io/secrets-store-csi-driver ${got:-<none>} but versions.env pins UPSTREAM_CSI_DRIVER_VERSION=$UPSTREAM_CSI_DRIVER_VERSION"
  got="$(gomod_require_version "$HERE/upstream-provider-azure/go.mod" github.com/Azure/secrets-store-csi-driver-provider-azure)"
  [[ "$got" == "$UPSTREAM_PROVIDER_AZURE_VERSION" ]] ||
    die "upstream-provider-azure/go.mod requires github.com/Azure/secrets-store-csi-driver-provider-azure ${got:-<none>} but versions.env pins UPSTREAM_PROVIDER_AZURE_VERSION=$UPSTREAM_PROVIDER_AZURE_VERSION"
}

short_hash() { cat "$@" | sha256sum | cut -c1-12; }

check_promql_pins() {
  local got
  got="$(gomod_require_version "$HERE/promql-check/go.mod" github.com/prometheus/prometheus)"
  [[ "$got" == "$PROMETHEUS_VERSION" ]] ||
    die "promql-check/go.mod requires github.com/prometheus/prometheus ${got:-<none>} but versions.env pins PROMETHEUS_VERSION=$PROMETHEUS_VERSION"
}
promql_check_inputs() { printf '%s\n' "$HERE/promql-check/go.mod" "$HERE/promql-check/go.sum" "$HERE/promql-check/main.go"; }

# The files that decide what an upstream component builds (wrapper module, and the mlog stand-in).
upstream_driver_inputs() { printf '%s\n' "$HERE/upstream-csi-driver/go.mod" "$HERE/upstream-csi-driver/go.sum" "$HERE"/mlog-standin/*; }
upstream_provider_inputs() { printf '%s\n' "$HERE/upstream-provider-azure/go.mod" "$HERE/upstream-provider-azure/go.sum"; }

# ---------------------------------------------------------------- layout
# Directory of each artifact group; keyed by pin, toolchain and wrapper go.sum.
kube_dir() { printf '%s/kube/%s_%s_%s\n' "$CACHE" "$KUBE_VERSION" "$GO_VERSION" "$(short_hash "$HERE/kube/go.mod" "$HERE/kube/go.sum")"; }
etcd_dir() { printf '%s/etcd/%s_%s_%s\n' "$CACHE" "$ETCD_VERSION" "$GO_VERSION" "$(short_hash "$HERE/etcd/go.mod" "$HERE/etcd/go.sum")"; }
csi_dir() { printf '%s/csi-sanity/%s_%s\n' "$CACHE" "$CSI_TEST_VERSION" "$GO_VERSION"; }
helm_dir() { printf '%s/helm/%s_%s\n' "$CACHE" "$HELM_VERSION" "$GO_VERSION"; }
lowkey_dir() { printf '%s/lowkey-vault/%s\n' "$CACHE" "$LOWKEY_VAULT_VERSION"; }
lowkey_jar() { printf '%s/%s-%s.jar\n' "$(lowkey_dir)" "$LOWKEY_VAULT_ARTIFACT" "$LOWKEY_VAULT_VERSION"; }
upstream_driver_dir() {
  local inputs
  mapfile -t inputs < <(upstream_driver_inputs)
  printf '%s/upstream-csi-driver/%s_%s_%s\n' "$CACHE" "$UPSTREAM_CSI_DRIVER_VERSION" "$GO_VERSION" "$(short_hash "${inputs[@]}")"
}
promql_check_dir() {
  local inputs
  mapfile -t inputs < <(promql_check_inputs)
  printf '%s/promql-check/%s_%s_%s\n' "$CACHE" "$PROMETHEUS_VERSION" "$GO_VERSION" "$(short_hash "${inputs[@]}")"
}
upstream_provider_dir() {
  local inputs
  mapfile -t inputs < <(upstream_provider_inputs)
  printf '%s/upstream-provider-azure/%s_%s_%s\n' "$CACHE" "$UPSTREAM_PROVIDER_AZURE_VERSION" "$GO_VERSION" "$(short_hash "${inputs[@]}")"
}

artifact_path() {
  case "$1" in
    kube-apiserver | kube-controller-manager | kubelet) printf '%s/bin/%s\n' "$(kube_dir)" "$1" ;;
    etcd) printf '%s/bin/etcd\n' "$(etcd_dir)" ;;
    csi-sanity) printf '%s/bin/csi-sanity\n' "$(csi_dir)" ;;
    lowkey-vault) lowkey_jar ;;
    upstream-csi-driver) printf '%s/bin/secrets-store-csi-driver\n' "$(upstream_driver_dir)" ;;
    upstream-provider-azure) printf '%s/bin/secrets-store-csi-driver-provider-azure\n' "$(upstream_provider_dir)" ;;
    helm) printf '%s/bin/helm\n' "$(helm_dir)" ;;
    promql-check) printf '%s/bin/promql-check\n' "$(promql_check_dir)" ;;
  esac
}

world_key() {
  local upstream
  mapfile -t upstream < <(upstream_driver_inputs; upstream_provider_inputs; promql_check_inputs)
  short_hash "$HERE/versions.env" "$HERE/kube/go.mod" "$HERE/kube/go.sum" \
    "$HERE/etcd/go.mod" "$HERE/etcd/go.sum" "${upstream[@]}" <(printf '%s\n' "$GO_VERSION")
}

# ---------------------------------------------------------------- builders
TMP_DIRS=()
cleanup() { local d; for d in "${TMP_DIRS[@]}"; do rm -rf "$d"; done; }
trap cleanup EXIT

TMP=""
new_tmp() { # sets TMP to a scratch dir inside the cache (same filesystem, so mv is atomic)
  mkdir -p "$CACHE/.tmp"
  TMP="$(mktemp -d "$CACHE/.tmp/build.XXXXXX")"
  TMP_DIRS+=("$TMP")
}

install_artifact() { # install_artifact built final
  mkdir -p "$(dirname "$2")"
  mv -f "$1" "$2"
}

TIMINGS=()
timed() { # timed NAME cmd...
  local name="$1" start end
  shift
  start=$SECONDS
  "$@"
  end=$SECONDS
  TIMINGS+=("$name: built in $((end - start))s")
  log "$name: built in $((end - start))s"
}

kube_ldflags() {
  local ver="$KUBE_VERSION" major minor build_date pkg flags=()
  major="${ver#v}"
  major="${major%%.*}"
  minor="${ver#v*.}"
  minor="${minor%%.*}"
  # Commit time of the release, as recorded by the module proxy (reproducible).
  build_date="$(cd "$HERE/kube" && go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=("-X" "$pkg.gitVersion=$ver"
      "-X" "$pkg.gitMajor=$major"
      "-X" "$pkg.gitMinor=$minor"
      "-X" "$pkg.gitTreeState=archive"
      "-X" "$pkg.buildDate=${build_date:-1970-01-01T00:00:00Z}")
  done
  printf '%s ' -s -w "${flags[@]}"
}

build_kube() { # build_kube COMPONENT
  local name="$1" out tmp cgo=0 tags="selinux,notest,grpcnotrace"
  out="$(artifact_path "$name")"
  # Upstream links these statically; kubelet is built with cgo like upstream.
  [[ "$name" == kubelet ]] && cgo=1
  new_tmp
  tmp="$TMP"
  log "$name: building k8s.io/kubernetes/cmd/$name@$KUBE_VERSION (CGO_ENABLED=$cgo)"
  (cd "$HERE/kube" && CGO_ENABLED=$cgo go build -mod=readonly -trimpath -tags "$tags" \
    -ldflags "$(kube_ldflags)" -o "$tmp/$name" "k8s.io/kubernetes/cmd/$name")
  install_artifact "$tmp/$name" "$out"
}

build_etcd() {
  local out tmp
  out="$(artifact_path etcd)"
  new_tmp
  tmp="$TMP"
  log "etcd: building go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  (cd "$HERE/etcd" && CGO_ENABLED=0 go build -mod=readonly -trimpath \
    -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-$ETCD_VERSION" \
    -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
  install_artifact "$tmp/etcd" "$out"
}

build_csi_sanity() {
  local out tmp
  out="$(artifact_path csi-sanity)"
  new_tmp
  tmp="$TMP"
  log "csi-sanity: installing github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity@$CSI_TEST_VERSION"
  (cd "$tmp" && GOBIN="$tmp/bin" CGO_ENABLED=0 GOFLAGS='' go install -trimpath \
    -ldflags "-s -w -X main.VERSION=$CSI_TEST_VERSION" \
    "github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity@$CSI_TEST_VERSION")
  install_artifact "$tmp/bin/csi-sanity" "$out"
}

build_helm() {
  local out tmp pkg=helm.sh/helm/v4/internal/version
  out="$(artifact_path helm)"
  new_tmp
  tmp="$TMP"
  log "helm: installing helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
  # The version variables are what upstream's Makefile sets; `helm version` then
  # reports the pin instead of "unreleased".
  (cd "$tmp" && GOBIN="$tmp/bin" CGO_ENABLED=0 GOFLAGS='' go install -trimpath \
    -ldflags "-s -w -X $pkg.version=$HELM_VERSION -X $pkg.metadata= -X $pkg.gitTreeState=archive" \
    "helm.sh/helm/v4/cmd/helm@$HELM_VERSION")
  install_artifact "$tmp/bin/helm" "$out"
}

fetch_lowkey_vault() {
  local out tmp coords mvnlog
  out="$(artifact_path lowkey-vault)"
  new_tmp
  tmp="$TMP"
  coords="$LOWKEY_VAULT_GROUP:$LOWKEY_VAULT_ARTIFACT:$LOWKEY_VAULT_VERSION:jar"
  mvnlog="$tmp/mvn.log"
  log "lowkey-vault: fetching $coords from Maven Central"
  if ! (cd "$tmp" && mvn -B -q -U -Dstyle.color=never \
    "org.apache.maven.plugins:maven-dependency-plugin:${MAVEN_DEPENDENCY_PLUGIN_VERSION}:copy" \
    "-Dartifact=$coords" "-DoutputDirectory=$tmp/out" -Dmdep.useBaseVersion=true) >"$mvnlog" 2>&1; then
    grep -m 1 -E '\[ERROR\] (Failed|Could not)' "$mvnlog" >&2 || tail -n 20 "$mvnlog" >&2
    die "could not fetch $coords from Maven Central (see the Maven errors above)"
  fi
  [[ -s "$tmp/out/$LOWKEY_VAULT_ARTIFACT-$LOWKEY_VAULT_VERSION.jar" ]] ||
    die "Maven reported success but $LOWKEY_VAULT_ARTIFACT-$LOWKEY_VAULT_VERSION.jar is missing"
  install_artifact "$tmp/out/$LOWKEY_VAULT_ARTIFACT-$LOWKEY_VAULT_VERSION.jar" "$out"
}

# Upstream's driver and Azure provider, unchanged, as their Makefiles build them (static, version stamped).
build_upstream_driver() {
  local out tmp
  out="$(artifact_path upstream-csi-driver)"
  new_tmp
  tmp="$TMP"
  log "upstream-csi-driver: building sigs.k8s.io/secrets-store-csi-driver/cmd/secrets-store-csi-driver@$UPSTREAM_CSI_DRIVER_VERSION (monis.app/mlog replaced by mlog-standin)"
  (cd "$HERE/upstream-csi-driver" && CGO_ENABLED=0 go build -mod=readonly -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/secrets-store-csi-driver/pkg/version.BuildVersion=$UPSTREAM_CSI_DRIVER_VERSION" \
    -o "$tmp/secrets-store-csi-driver" sigs.k8s.io/secrets-store-csi-driver/cmd/secrets-store-csi-driver)
  install_artifact "$tmp/secrets-store-csi-driver" "$out"
}

build_upstream_provider() {
  local out tmp
  out="$(artifact_path upstream-provider-azure)"
  new_tmp
  tmp="$TMP"
  log "upstream-provider-azure: building github.com/Azure/secrets-store-csi-driver-provider-azure/cmd@$UPSTREAM_PROVIDER_AZURE_VERSION"
  # Only the azidentity pseudo-version skips the checksum database; go.sum pins its hashes.
  (cd "$HERE/upstream-provider-azure" && GONOSUMDB="$UPSTREAM_PROVIDER_AZURE_NOSUMDB" CGO_ENABLED=0 \
    go build -mod=readonly -trimpath \
    -ldflags "-s -w -X github.com/Azure/secrets-store-csi-driver-provider-azure/pkg/version.BuildVersion=$UPSTREAM_PROVIDER_AZURE_VERSION" \
    -o "$tmp/secrets-store-csi-driver-provider-azure" github.com/Azure/secrets-store-csi-driver-provider-azure/cmd)
  install_artifact "$tmp/secrets-store-csi-driver-provider-azure" "$out"
}

build_promql_check() {
  local out tmp
  out="$(artifact_path promql-check)"
  new_tmp
  tmp="$TMP"
  log "promql-check: building with github.com/prometheus/prometheus@$PROMETHEUS_VERSION (rulefmt, promql/parser)"
  (cd "$HERE/promql-check" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" \
    -o "$tmp/promql-check" .)
  install_artifact "$tmp/promql-check" "$out"
}

# ---------------------------------------------------------------- manifest
json_str() { # minimal JSON string escaping (paths and versions only)
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '"%s"' "$s"
}

write_manifest() {
  local dir="$1" c p first=1 env_name lowkey_java=""
  mkdir -p "$dir"
  local json="$dir/manifest.json.tmp" envf="$dir/paths.env.tmp"
  {
    printf '{\n'
    printf '  "schema": 1,\n'
    printf '  "key": %s,\n' "$(json_str "$(basename "$dir")")"
    printf '  "cacheDir": %s,\n' "$(json_str "$CACHE")"
    printf '  "versions": {\n'
    printf '    "kubernetes": %s,\n' "$(json_str "$KUBE_VERSION")"
    printf '    "etcd": %s,\n' "$(json_str "$ETCD_VERSION")"
    printf '    "csiTest": %s,\n' "$(json_str "$CSI_TEST_VERSION")"
    printf '    "lowkeyVault": %s,\n' "$(json_str "$LOWKEY_VAULT_VERSION")"
    printf '    "upstreamCsiDriver": %s,\n' "$(json_str "$UPSTREAM_CSI_DRIVER_VERSION")"
    printf '    "upstreamProviderAzure": %s,\n' "$(json_str "$UPSTREAM_PROVIDER_AZURE_VERSION")"
    printf '    "helm": %s,\n' "$(json_str "$HELM_VERSION")"
    printf '    "prometheus": %s,\n' "$(json_str "$PROMETHEUS_VERSION")"
    printf '    "go": %s\n' "$(json_str "$GO_VERSION")"
    printf '  },\n'
    printf '  "artifacts": {'
    for c in "${ALL_COMPONENTS[@]}"; do
      p="$(artifact_path "$c")"
      [[ -s "$p" ]] || continue
      ((first)) || printf ','
      first=0
      printf '\n    %s: %s' "$(json_str "$c")" "$(json_str "$p")"
    done
    printf '\n  }'
    if [[ -s "$(lowkey_jar)" && -s "$(lowkey_dir)/java" ]]; then
      lowkey_java="$(cat "$(lowkey_dir)/java")"
      printf ',\n  "lowkeyVaultJava": %s' "$(json_str "$lowkey_java")"
    fi
    printf '\n}\n'
  } >"$json"
  {
    printf '# Generated by scripts/test-world/build.sh; do not edit.\n'
    printf 'SSCSI_TEST_WORLD_KUBE_VERSION=%q\n' "$KUBE_VERSION"
    printf 'SSCSI_TEST_WORLD_ETCD_VERSION=%q\n' "$ETCD_VERSION"
    for c in "${ALL_COMPONENTS[@]}"; do
      p="$(artifact_path "$c")"
      [[ -s "$p" ]] || continue
      env_name="SSCSI_TEST_WORLD_$(printf '%s' "$c" | tr 'a-z-' 'A-Z_')"
      printf '%s=%q\n' "$env_name" "$p"
    done
    if [[ -n "$lowkey_java" ]]; then
      printf 'SSCSI_TEST_WORLD_LOWKEY_VAULT_JAVA=%q\n' "$lowkey_java"
    fi
  } >"$envf"
  mv -f "$json" "$dir/manifest.json"
  mv -f "$envf" "$dir/paths.env"
}

# ---------------------------------------------------------------- main
require_go
check_kube_pins
check_etcd_pins
check_upstream_pins
check_promql_pins
WORLD_DIR="$CACHE/worlds/$(world_key)"

if ((PRINT_MANIFEST_PATH)); then
  printf '%s\n' "$WORLD_DIR/manifest.json"
  exit 0
fi

if wants lowkey-vault; then
  find_java
  require_mvn
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
  log "another build.sh holds $CACHE/.lock; waiting"
  flock 9
fi

log "cache: $CACHE"
log "pins: kubernetes $KUBE_VERSION, etcd $ETCD_VERSION, csi-test $CSI_TEST_VERSION, lowkey-vault $LOWKEY_VAULT_VERSION, helm $HELM_VERSION; $GO_VERSION"
log "pins (interop): secrets-store-csi-driver $UPSTREAM_CSI_DRIVER_VERSION, provider-azure $UPSTREAM_PROVIDER_AZURE_VERSION"
total_start=$SECONDS
for c in "${ALL_COMPONENTS[@]}"; do # fixed order, whatever the argument order
  wants "$c" || continue
  out="$(artifact_path "$c")"
  if [[ -s "$out" && "$FORCE" == 0 ]]; then
    log "$c: cached"
    continue
  fi
  case "$c" in
    kube-apiserver | kube-controller-manager | kubelet) timed "$c" build_kube "$c" ;;
    etcd) timed etcd build_etcd ;;
    csi-sanity) timed csi-sanity build_csi_sanity ;;
    lowkey-vault) timed lowkey-vault fetch_lowkey_vault ;;
    upstream-csi-driver) timed upstream-csi-driver build_upstream_driver ;;
    upstream-provider-azure) timed upstream-provider-azure build_upstream_provider ;;
    helm) timed helm build_helm ;;
    promql-check) timed promql-check build_promql_check ;;
  esac
done

if wants lowkey-vault && [[ -s "$(lowkey_jar)" ]]; then
  # Remember which java runs the jar (the manifest reports it as lowkeyVaultJava).
  printf '%s\n' "$LOWKEY_JAVA" >"$(lowkey_dir)/java"
fi

write_manifest "$WORLD_DIR"

log "done in $((SECONDS - total_start))s"
for t in "${TIMINGS[@]}"; do log "  $t"; done
for c in "${ALL_COMPONENTS[@]}"; do
  p="$(artifact_path "$c")"
  if [[ -s "$p" ]]; then printf '  %-24s %s\n' "$c" "$p" >&2; fi
done
if [[ -s "$(lowkey_dir)/java" && -s "$(lowkey_jar)" ]]; then
  printf '  %-24s %s\n' "lowkey-vault java" "$(cat "$(lowkey_dir)/java")" >&2
fi
printf '  %-24s %s\n' "manifest" "$WORLD_DIR/manifest.json" >&2
printf '  %-24s %s\n' "paths.env" "$WORLD_DIR/paths.env" >&2
printf 'SSCSI_TEST_WORLD_MANIFEST=%s\n' "$WORLD_DIR/manifest.json"
