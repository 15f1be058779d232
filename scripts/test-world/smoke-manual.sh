#!/usr/bin/env bash
# Manual smoke test of the test-world control plane, and the reference for the
# flags the TypeScript harness (issue 3, phase 2) will use. It:
#   1. generates a CA, serving/client certs and a service-account key pair (openssl),
#   2. starts etcd, kube-apiserver (RBAC, SA token signing, client-cert admin) and
#      kube-controller-manager on 127.0.0.1 with free ports in a temp dir,
#   3. checks /readyz, /version, a TokenRequest, OIDC discovery, the serviceaccount,
#      root-ca publisher, namespace and garbage-collector controllers and csi-sanity,
#   4. stops everything it started (by PID) and removes the temp dir.
#
#   bash scripts/test-world/smoke-manual.sh          # uses the binaries from build.sh
#   KEEP=1 bash scripts/test-world/smoke-manual.sh   # keep the temp dir (logs, certs)
#
# Needs: the artifacts from build.sh (default components), openssl, curl, jq, python3.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MANIFEST_DIR="$(dirname "$(bash "$HERE/build.sh" --print-manifest-path)")"
[[ -f "$MANIFEST_DIR/paths.env" ]] || {
  echo "no $MANIFEST_DIR/paths.env: run scripts/test-world/build.sh first" >&2
  exit 1
}
# shellcheck disable=SC1091
source "$MANIFEST_DIR/paths.env"
ETCD="${SSCSI_TEST_WORLD_ETCD:?etcd not built}"
APISERVER="${SSCSI_TEST_WORLD_KUBE_APISERVER:?kube-apiserver not built}"
KCM="${SSCSI_TEST_WORLD_KUBE_CONTROLLER_MANAGER:?kube-controller-manager not built}"
CSI_SANITY="${SSCSI_TEST_WORLD_CSI_SANITY:-}"

for tool in openssl curl jq python3; do
  command -v "$tool" >/dev/null || { echo "$tool not found" >&2; exit 1; }
done

D="$(mktemp -d /tmp/sscsi-smoke.XXXXXX)"
PIDS=()
cleanup() { # stop in reverse start order (controller-manager, apiserver, etcd)
  local i pid n
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid="${PIDS[i]}"
    kill "$pid" 2>/dev/null || continue
    for ((n = 0; n < 100; n++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $D"; else rm -rf "$D"; fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_for() { # wait_for PROCESS SECONDS PID cmd...: poll cmd while PROCESS (log $D/PROCESS.log) runs
  local what="$1" secs="$2" pid="$3" start=$SECONDS
  shift 3
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { echo "$what exited; log:" >&2; tail -n 30 "$D/$what.log" >&2; exit 1; }
    ((SECONDS - start < secs)) || { echo "timed out after ${secs}s: $*; $what log:" >&2; tail -n 30 "$D/$what.log" >&2; exit 1; }
    sleep 0.2
  done
  echo "ok after $((SECONDS - start))s: $*"
}

# ------------------------------------------------------------------ PKI
step "PKI (openssl)"
P="$D/pki"
mkdir -p "$P"
openssl_quiet() { openssl "$@" 2>/dev/null; }
openssl_quiet req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sscsi-test-world-ca" \
  -keyout "$P/ca.key" -out "$P/ca.crt"
issue() { # issue NAME SUBJECT EXT-LINES
  local name="$1" subj="$2"
  printf '%b\n' "$3" >"$P/$name.ext"
  openssl_quiet req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$P/$name.key" -out "$P/$name.csr"
  openssl_quiet x509 -req -in "$P/$name.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial \
    -days 2 -extfile "$P/$name.ext" -out "$P/$name.crt"
}
issue apiserver "/CN=kube-apiserver" \
  "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.0.0.1"
# Admin: O=system:masters is bound to cluster-admin by the bootstrap RBAC policy.
issue admin "/O=system:masters/CN=sscsi-admin" \
  "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth"
# kube-controller-manager: the bootstrap policy binds this user to system:kube-controller-manager.
issue kcm "/CN=system:kube-controller-manager" \
  "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth"
# Service-account token signing key pair.
openssl_quiet genrsa -out "$P/sa.key" 2048
openssl_quiet rsa -in "$P/sa.key" -pubout -out "$P/sa.pub"
ls "$P"

ETCD_CLIENT_PORT="$(free_port)"
ETCD_PEER_PORT="$(free_port)"
API_PORT="$(free_port)"
KCM_PORT="$(free_port)"
API="https://127.0.0.1:$API_PORT"
ISSUER="https://kubernetes.default.svc.cluster.local"
echo "ports: etcd client $ETCD_CLIENT_PORT, etcd peer $ETCD_PEER_PORT, apiserver $API_PORT, kcm $KCM_PORT"

kubeconfig() { # kubeconfig FILE USER
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: test-world
  cluster:
    server: $API
    certificate-authority: $P/ca.crt
users:
- name: $2
  user:
    client-certificate: $P/$2.crt
    client-key: $P/$2.key
contexts:
- name: test-world
  context: {cluster: test-world, user: $2}
current-context: test-world
EOF
}
kubeconfig "$D/admin.kubeconfig" admin
kubeconfig "$D/kcm.kubeconfig" kcm

kapi() { # kapi METHOD PATH [curl args...]: admin request to the API server
  local method="$1" path="$2"
  shift 2
  curl -sS --fail-with-body --cacert "$P/ca.crt" --cert "$P/admin.crt" --key "$P/admin.key" \
    -X "$method" -H 'Content-Type: application/json' "$@" "$API$path"
}

# ------------------------------------------------------------------ etcd
step "etcd ($("$ETCD" --version | head -n1))"
ETCD_ARGS=(
  --name=test-world
  --data-dir="$D/etcd"
  --listen-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT"
  --advertise-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT"
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT"
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT"
  --initial-cluster="test-world=http://127.0.0.1:$ETCD_PEER_PORT"
  --unsafe-no-fsync=true
  --log-level=warn
)
"$ETCD" "${ETCD_ARGS[@]}" >"$D/etcd.log" 2>&1 &
PIDS+=($!)
wait_for etcd 30 "${PIDS[-1]}" curl -sf "http://127.0.0.1:$ETCD_CLIENT_PORT/health"
curl -sS "http://127.0.0.1:$ETCD_CLIENT_PORT/health"
echo

# ------------------------------------------------------------------ kube-apiserver
step "kube-apiserver"
APISERVER_ARGS=(
  --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT"
  --bind-address=127.0.0.1
  --secure-port="$API_PORT"
  --advertise-address=127.0.0.1
  --tls-cert-file="$P/apiserver.crt"
  --tls-private-key-file="$P/apiserver.key"
  --client-ca-file="$P/ca.crt"
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction
  --service-account-issuer="$ISSUER"
  --api-audiences="$ISSUER"
  --service-account-key-file="$P/sa.pub"
  --service-account-signing-key-file="$P/sa.key"
  --service-cluster-ip-range=10.0.0.0/24
  --endpoint-reconciler-type=none
  --allow-privileged=true
  --cert-dir="$D/apiserver-certs"
  --profiling=false
)
"$APISERVER" "${APISERVER_ARGS[@]}" >"$D/kube-apiserver.log" 2>&1 &
PIDS+=($!)
wait_for kube-apiserver 120 "${PIDS[-1]}" kapi GET /readyz
kapi GET /readyz
echo
kapi GET /version | jq -c '{gitVersion, major, minor, goVersion}'

step "TokenRequest"
kapi POST /api/v1/namespaces/default/serviceaccounts \
  -d '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"smoke-sa"}}' >/dev/null
TOKEN_JSON="$(kapi POST /api/v1/namespaces/default/serviceaccounts/smoke-sa/token \
  -d '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"audiences":["api://AzureADTokenExchange"],"expirationSeconds":3600}}')"
TOKEN="$(jq -r .status.token <<<"$TOKEN_JSON")"
python3 - "$TOKEN" <<'EOF'
import base64, json, sys
payload = sys.argv[1].split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
print(json.dumps({k: claims[k] for k in ("iss", "aud", "sub", "exp")}))
EOF
echo "expirationTimestamp: $(jq -r .status.expirationTimestamp <<<"$TOKEN_JSON")"
# The token authenticates against the API server itself (SelfSubjectReview).
curl -sS --fail-with-body --cacert "$P/ca.crt" -H "Authorization: Bearer $(kapi POST \
  /api/v1/namespaces/default/serviceaccounts/smoke-sa/token \
  -d '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}}' | jq -r .status.token)" \
  -X POST -H 'Content-Type: application/json' \
  -d '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}' \
  "$API/apis/authentication.k8s.io/v1/selfsubjectreviews" | jq -c .status.userInfo.username
kapi GET /.well-known/openid-configuration | jq -c '{issuer, jwks_uri}'
kapi GET /openid/v1/jwks | jq -c '[.keys[] | {kty, alg, kid}]'

# ------------------------------------------------------------------ kube-controller-manager
step "kube-controller-manager"
# shellcheck disable=SC2054 # --controllers takes a comma-separated list
KCM_ARGS=(
  --kubeconfig="$D/kcm.kubeconfig"
  --authentication-kubeconfig="$D/kcm.kubeconfig"
  --authorization-kubeconfig="$D/kcm.kubeconfig"
  --client-ca-file="$P/ca.crt"
  --authentication-skip-lookup=true
  --bind-address=127.0.0.1
  --secure-port="$KCM_PORT"
  --cert-dir="$D/kcm-certs"
  --leader-elect=false
  --use-service-account-credentials=true
  --controllers=serviceaccount-token-controller,serviceaccount-controller,root-ca-certificate-publisher-controller,namespace-controller,garbage-collector-controller
  --service-account-private-key-file="$P/sa.key"
  --root-ca-file="$P/ca.crt"
  --profiling=false
)
"$KCM" "${KCM_ARGS[@]}" >"$D/kube-controller-manager.log" 2>&1 &
PIDS+=($!)
wait_for kube-controller-manager 120 "${PIDS[-1]}" curl -skf "https://127.0.0.1:$KCM_PORT/healthz"
# Each started controller adds a named health check once it runs.
kcm_controllers_healthy() {
  curl -skf "https://127.0.0.1:$KCM_PORT/healthz?verbose" | grep -q '^\[+\]garbage-collector-controller ok'
}
wait_for kube-controller-manager 60 "${PIDS[-1]}" kcm_controllers_healthy
curl -sk "https://127.0.0.1:$KCM_PORT/healthz?verbose"

step "serviceaccount + root-ca publisher controllers"
kapi POST /api/v1/namespaces -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"smoke"}}' >/dev/null
wait_for kube-controller-manager 60 "${PIDS[-1]}" kapi GET /api/v1/namespaces/smoke/serviceaccounts/default
wait_for kube-controller-manager 60 "${PIDS[-1]}" kapi GET /api/v1/namespaces/smoke/configmaps/kube-root-ca.crt
echo "namespace smoke has serviceaccount/default and configmap/kube-root-ca.crt"

step "garbage collector"
OWNER_UID="$(kapi POST /api/v1/namespaces/smoke/configmaps \
  -d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"owner"}}' | jq -r .metadata.uid)"
kapi POST /api/v1/namespaces/smoke/configmaps -d "$(jq -cn --arg uid "$OWNER_UID" \
  '{apiVersion:"v1",kind:"ConfigMap",metadata:{name:"dependent",ownerReferences:[{apiVersion:"v1",kind:"ConfigMap",name:"owner",uid:$uid}]}}')" >/dev/null
kapi DELETE /api/v1/namespaces/smoke/configmaps/owner >/dev/null
gone() { ! kapi GET "$1" >/dev/null 2>&1; }
wait_for kube-controller-manager 90 "${PIDS[-1]}" gone /api/v1/namespaces/smoke/configmaps/dependent
echo "dependent configmap was garbage-collected"

step "namespace controller"
kapi DELETE /api/v1/namespaces/smoke >/dev/null
wait_for kube-controller-manager 90 "${PIDS[-1]}" gone /api/v1/namespaces/smoke
echo "namespace smoke finalized and removed"

if [[ -n "$CSI_SANITY" ]]; then
  step "csi-sanity"
  "$CSI_SANITY" -version
  "$CSI_SANITY" -h 2>&1 | grep -E -- '-csi\.endpoint|-csi\.testvolumeaccesstype' || true
fi

step "OK: all checks passed"
