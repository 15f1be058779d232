#!/usr/bin/env bash
# Sets up a fresh machine (Node 24 and pnpm from the npm registry if missing, dependencies from the lockfile)
# builds or reuses the real test world (scripts/test-world/build.sh), and runs every check: generated code up
# to date, formatting, typecheck, lint, and the tests with coverage.
# This is the README's test command and what .ci/run calls. It ends with one line that totals the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(bash scripts/bootstrap.sh)"
echo "test: node $(node --version), pnpm $(pnpm --version)"

pnpm install --frozen-lockfile --prefer-offline
pnpm run format:check

# The real test world (etcd, kube-apiserver, kube-controller-manager, kubelet, csi-sanity) is built from Go
# modules once and cached by version; later runs reuse it in seconds. The real node's runtime (containerd, runc)
# and image tools come from Debian's packages.
bash scripts/node-packages.sh
bash scripts/test-world/build.sh
# The driver's and providers' container images, from Debian packages and the npm registry (no Docker), and
# the end-to-end suite's sidecar stand-in image; seconds when their inputs did not change (images cache).
bash scripts/images.sh driver provider-azure provider-directory test-sidecars

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
pnpm exec turbo run generate:check typecheck lint test --output-logs=full --log-order=grouped 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# mocha prints "N passing", "N failing" and "N pending" per package; turbo replays them for cached runs too.
total() { { grep -Eo "[0-9]+ $1" "$log" || true; } | awk '{ s += $1 } END { print s + 0 }'; }
passed="$(total passing)"
failed="$(total failing)"
skipped="$(total pending)"
if [[ "$status" -ne 0 && "$failed" -eq 0 ]]; then failed=1; fi # a check other than a test failed
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
