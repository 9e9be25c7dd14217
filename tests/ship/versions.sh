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
# The minimum Rust is one number everywhere: Cargo.toml's rust-version (which
# run.sh's toolchain check reads), the Dockerfile's toolchain image, the CI
# workflow's toolchain and QUICK_STARTUP.
rust="$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)"
r="${rust//./\\.}"
expect Dockerfile "^ARG RUST_VERSION=$r\$"
expect .github/workflows/ci.yml "RUST_TOOLCHAIN: \"$r\""
expect QUICK_STARTUP.md "Rust \(\`rustup\`, $r or newer\)"
if grep -nE 'Rust[^.]*1\.[0-9]+ or newer|rust-version.*1\.[0-9]+' README.md QUICK_STARTUP.md docs/*.md run.sh | grep -v "$rust"; then
    echo "stale Rust version claims above (rust-version $rust)"
    status=1
fi
# Any other version-looking image tag of ours is stale.
if grep -nE 'insight-engine:[0-9]+\.[0-9]+\.[0-9]+' Dockerfile docker-compose*.yml .env.example run.sh | grep -v "insight-engine:$v"; then
    echo "stale insight-engine image tags above (crate version $version)"
    status=1
fi
exit "$status"
