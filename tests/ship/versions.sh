#!/usr/bin/env bash
# The crate version in Cargo.toml is the one the deploy files name: the
# Dockerfile's VERSION label, the Compose image tags and build args, the k8s
# image tags (base, staging, production) and the prod env example.
set -euo pipefail
cd "$(dirname "$0")/../.."
version="$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)"
status=0
expect() { # file pattern
    if ! grep -qE -- "$2" "$1"; then
        echo "$1: expected /$2/ (crate version $version)"
        status=1
    fi
}
v="${version//./\\.}"
expect Dockerfile "^ARG VERSION=$v\$"
expect docker-compose.yml "VERSION: \"$v\""
expect docker-compose.yml "insight-engine:$v\}"
expect docker-compose.prod.yml "insight-engine:$v\}"
expect .env.example "^IMAGE=insight-engine:$v\$"
expect k8s/base/kustomization.yaml "newTag: $v\$"
expect k8s/overlays/staging/kustomization.yaml "newTag: $v\$"
expect k8s/overlays/production/kustomization.yaml "newTag: $v\$"
# Any other version-looking image tag of ours is stale.
if grep -nE 'insight-engine:[0-9]+\.[0-9]+\.[0-9]+' Dockerfile docker-compose*.yml .env.example run.sh | grep -v "insight-engine:$v"; then
    echo "stale insight-engine image tags above (crate version $version)"
    status=1
fi
exit "$status"
