#!/usr/bin/env bash
# Package the Helm charts of deploy/charts into a chart repository folder (the charts' .tgz files and
# index.yaml), ready to be served by any static web server:
#
#   bash scripts/chart-repo.sh [--url URL] [DIR]
#
# DIR defaults to dist/charts; URL is where DIR will be served (index.yaml's links; default: relative
# links, which helm resolves against the repository's address). Then, as the walkthroughs say:
#   helm repo add csi-secrets-store-provider-azure URL
#   helm install csi csi-secrets-store-provider-azure/csi-secrets-store-provider-azure --set ...
#
# Environment: HELM, the helm binary (default: helm on PATH, or the one scripts/test-world/build.sh built).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
URL=""
OUT="$ROOT/dist/charts"
while (($#)); do
  case "$1" in
    --url)
      URL="$2"
      shift
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "chart-repo: unknown option $1" >&2
      exit 2
      ;;
    *) OUT="$1" ;;
  esac
  shift
done

HELM="${HELM:-}"
if [[ -z "$HELM" ]]; then
  HELM="$(command -v helm || true)"
  if [[ -z "$HELM" ]]; then
    manifest="$(bash "$ROOT/scripts/test-world/build.sh" --print-manifest-path)"
    HELM="$(sed -n 's/^ *"helm": "\(.*\)",\{0,1\}$/\1/p' "$manifest" 2>/dev/null | tail -n1)"
  fi
fi
[[ -n "$HELM" && -x "$HELM" ]] || {
  echo "chart-repo: no helm: install it or run bash scripts/test-world/build.sh helm" >&2
  exit 1
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$ROOT/deploy/charts" "$work/charts"
mkdir -p "$OUT"
# The Azure chart vendors the driver chart (its file:// dependency) into its package.
"$HELM" dependency build "$work/charts/csi-secrets-store-provider-azure" >/dev/null
for chart in "$work"/charts/*/; do
  "$HELM" package "$chart" --destination "$OUT" >/dev/null
done
"$HELM" repo index "$OUT" ${URL:+--url "$URL"}
echo "chart-repo: $(cd "$OUT" && ls ./*.tgz | tr '\n' ' ')and index.yaml in $OUT" >&2
