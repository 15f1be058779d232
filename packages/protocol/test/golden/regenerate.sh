#!/usr/bin/env bash
# Re-derives the golden bytes (*.hex) from the text messages (*.txtpb) with an independent encoder: protoc
# (from PyPI's grpcio-tools) reading the UPSTREAM .proto files, not ours. A field number we got wrong in
# proto/ then shows up as a test failure instead of being copied into the goldens.
#
# Usage: regenerate.sh <csi-spec checkout at v1.12.0> <secrets-store-csi-driver checkout at v1.6.0>
# Needs: python3 -m pip install grpcio-tools   (provides python3 -m grpc_tools.protoc and google/*.proto)
set -euo pipefail
csi_spec="$1"
driver="$2"
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3}"
well_known="$("$python" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')"
for txt in "$here"/*.txtpb; do
  name="$(basename "$txt" .txtpb)"
  type="${name%.error}"
  case "$type" in
    csi.v1.*) include="$csi_spec"; file="csi.proto" ;;
    v1alpha1.*) include="$driver/provider/v1alpha1"; file="service.proto" ;;
    *) echo "unknown package for $name" >&2; exit 1 ;;
  esac
  "$python" -m grpc_tools.protoc -I"$include" -I"$well_known" --deterministic_output \
    --encode="$type" "$file" <"$txt" | od -An -v -tx1 | tr -d ' \n' >"$here/$name.hex"
  echo "$name: $(wc -c <"$here/$name.hex") hex chars"
done
