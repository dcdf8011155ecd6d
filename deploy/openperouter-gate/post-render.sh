#!/bin/sh
# Helm post-renderer: helm install ... --post-renderer deploy/openperouter-gate/post-render.sh
# Reads Helm's rendered manifests on stdin, writes them with the gate affinity.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/kustomization.yaml" "$here/gate-affinity.yaml" "$work/"
cat > "$work/rendered.yaml"
kubectl kustomize "$work"
