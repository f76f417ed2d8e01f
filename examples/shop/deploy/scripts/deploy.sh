#!/usr/bin/env bash
# Usage: deploy/scripts/deploy.sh <staging|production> <api-image-version>
set -euo pipefail

env="${1:?environment required}"
version="${2:?api image version required}"
image="ghcr.io/acme/shop-api:${version}"

case "$env" in
  staging) kustomize_dir="deploy/k8s/overlays/staging" ;;
  production) kustomize_dir="deploy/k8s/overlays/production" ;;
  *) echo "unknown environment: $env" >&2; exit 2 ;;
esac

echo "==> Running database migrations with ${image}"
job=$(IMAGE="$image" yq '.spec.template.spec.containers[0].image = strenv(IMAGE)' deploy/migrations/api-migrate-job.yaml \
  | kubectl create -f - -o name)
if ! kubectl -n shop wait --for=condition=complete "$job" --timeout=10m; then
  kubectl -n shop logs "$job" --tail=200 || true
  exit 1
fi

echo "==> Applying ${kustomize_dir} with ${image}"
kubectl kustomize "$kustomize_dir" \
  | IMAGE="$image" yq '(select(.kind == "Deployment" and .metadata.name == "shop-api")
      | .spec.template.spec.containers[0].image) = strenv(IMAGE)' \
  | kubectl apply -f -
kubectl -n shop rollout status deployment/shop-api --timeout=10m

kubectl -n shop rollout restart deployment/shop-worker
kubectl -n shop rollout status deployment/shop-worker --timeout=5m
