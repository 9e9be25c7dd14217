#!/usr/bin/env bash
# The container image's steps without Docker. Given the release binary built
# as the Dockerfile builds it (`cargo build --release --locked`):
#   - copy it the way the Dockerfile does (install -m 0555 into a root-owned
#     /usr/local/bin of a scratch root);
#   - run it as the image's numeric user (10001, no groups) with the
#     Dockerfile's ENV, the working directory read-only to it, and the data
#     dir and TMPDIR writable directories elsewhere (the volumes);
#   - /health and /health/ready answer, in the image's default (dev) profile
#     and in production (migrate first, then serve with real secrets);
#   - the Dockerfile's HEALTHCHECK command passes against it and fails
#     against a closed port;
#   - the process wrote nothing outside the data dir and TMPDIR;
#   - `insight --version` is Cargo.toml's version.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
BIN="$1"
UID_GID=10001
# Changing users needs root; elsewhere (a CI runner) passwordless sudo.
SUDO=()
if [ "$(id -u)" != 0 ]; then
    SUDO=(sudo -n)
fi

fail() {
    echo "image steps: $*" >&2
    exit 1
}

version="$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)"
grep -q "^USER $UID_GID:$UID_GID\$" Dockerfile || fail "the Dockerfile no longer runs as $UID_GID:$UID_GID; update this test with it"
grep -q 'install -D -m 0555 target/release/insight /out/insight' Dockerfile || fail "the Dockerfile copies the binary differently; update this test with it"

scratch="$(mktemp -d /tmp/insight-image.XXXXXX)"
server=""
cleanup() {
    if [ -n "$server" ]; then
        "${SUDO[@]}" kill "$server" 2> /dev/null || true
        wait "$server" 2> /dev/null || true
    fi
    "${SUDO[@]}" rm -rf "$scratch"
}
trap cleanup EXIT
chmod 0755 "$scratch"
rootfs="$scratch/rootfs"
install -d -m 0755 "$rootfs/usr/local/bin" "$rootfs/app"
install -m 0555 "$BIN" "$rootfs/usr/local/bin/insight"
data="$scratch/data"
tmp="$scratch/tmp"
"${SUDO[@]}" install -d -o "$UID_GID" -g "$UID_GID" -m 0750 "$data" "$tmp"
marker="$scratch/marker"
touch "$marker"

got="$("${SUDO[@]}" setpriv --reuid="$UID_GID" --regid="$UID_GID" --clear-groups "$rootfs/usr/local/bin/insight" --version)"
[ "$got" = "insight $version" ] || fail "--version says '$got', Cargo.toml says $version"

free_port() {
    "$ROOT/target/ship-venv/tools/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The HEALTHCHECK's command, from the Dockerfile's exec form.
healthcheck="$(sed -n 's/^ *CMD \["bash", "-c", "\(.*\)"\]$/\1/p' Dockerfile | sed 's/\\\\/\\/g')"
[ -n "$healthcheck" ] || fail "no HEALTHCHECK CMD [\"bash\", \"-c\", …] in the Dockerfile"

# run_as_image LOG ENV...: the binary as the image runs it, in the background.
run_as_image() {
    local log="$1"
    shift
    (
        cd "$rootfs/app"
        exec "${SUDO[@]}" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/nonexistent \
            INSIGHT_DATA_DIR="$data" INSIGHT_SERVER__HOST=127.0.0.1 TMPDIR="$tmp" "$@" \
            setpriv --reuid="$UID_GID" --regid="$UID_GID" --clear-groups \
            "$rootfs/usr/local/bin/insight" serve
    ) > "$log" 2>&1 &
    server=$!
}

wait_healthy() { # port log
    for _ in $(seq 1 120); do
        if curl -fs "http://127.0.0.1:$1/health" > /dev/null 2>&1; then
            return 0
        fi
        kill -0 "$server" 2> /dev/null || {
            cat "$2" >&2
            fail "the service exited before it answered /health"
        }
        sleep 0.25
    done
    cat "$2" >&2
    fail "the service did not answer /health on port $1"
}

probe() { # port label
    local port="$1" label="$2" code body
    code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")"
    [ "$code" = 200 ] || fail "$label: /health answered $code"
    body="$(curl -s -w '\n%{http_code}' "http://127.0.0.1:$port/health/ready")"
    [ "$(tail -n 1 <<< "$body")" = 200 ] || fail "$label: /health/ready answered: $body"
    [ "$(head -n 1 <<< "$body" | jq -r .status)" = ok ] || fail "$label: /health/ready is not ok: $body"
    INSIGHT_SERVER__PORT="$port" bash -c "$healthcheck" || fail "$label: the Dockerfile's HEALTHCHECK failed against a healthy service"
}

stop_server() {
    "${SUDO[@]}" kill -TERM "$server"
    wait "$server" 2> /dev/null || true
    server=""
}

# 1. The image's defaults: dev profile, embedded everything.
port="$(free_port)"
run_as_image "$scratch/dev.log" INSIGHT_SERVER__PORT="$port" INSIGHT_ADMIN_PASSWORD="image-Check-$$-x9"
wait_healthy "$port" "$scratch/dev.log"
probe "$port" "dev profile"
stop_server
closed="$(free_port)"
if INSIGHT_SERVER__PORT="$closed" bash -c "$healthcheck" 2> /dev/null; then
    fail "the Dockerfile's HEALTHCHECK passed against a closed port"
fi

# 2. Production, as the k8s and Compose manifests run it: migrate, then serve.
secret_key="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
jwt_secret="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
prod_env=(INSIGHT_PROFILE=production INSIGHT_SECRET_KEY="$secret_key" INSIGHT_JWT_SECRET="$jwt_secret"
    INSIGHT_ADMIN_PASSWORD="image-Check-$$-x9" INSIGHT_DEMO__ENABLED=false)
(
    cd "$rootfs/app"
    "${SUDO[@]}" env -i PATH=/usr/local/bin:/usr/bin:/bin INSIGHT_DATA_DIR="$data" TMPDIR="$tmp" "${prod_env[@]}" \
        setpriv --reuid="$UID_GID" --regid="$UID_GID" --clear-groups "$rootfs/usr/local/bin/insight" migrate
) > "$scratch/migrate.log" 2>&1 || {
    cat "$scratch/migrate.log" >&2
    fail "insight migrate failed as the image user"
}
port="$(free_port)"
run_as_image "$scratch/prod.log" INSIGHT_SERVER__PORT="$port" "${prod_env[@]}"
wait_healthy "$port" "$scratch/prod.log"
probe "$port" "production profile"
head -n 1 "$scratch/prod.log" | jq -e . > /dev/null 2>&1 || fail "production does not log JSON: $(head -n 1 "$scratch/prod.log")"
stop_server

# 3. Nothing written outside the volumes: the read-only working dir and the
#    world-writable places a careless process would use stay untouched.
[ -z "$(ls -A "$rootfs/app")" ] || fail "the service wrote into its working directory: $(ls -A "$rootfs/app")"
stray="$(find /tmp /var/tmp /dev/shm -xdev -user "$UID_GID" -newer "$marker" -not -path "$scratch*" 2> /dev/null | head -n 5)"
[ -z "$stray" ] || fail "the service wrote outside its data dir and TMPDIR: $stray"
[ -n "$(ls -A "$data")" ] || fail "the service wrote nothing into its data dir"
echo "image steps ok: insight $version as uid $UID_GID, probes and HEALTHCHECK pass, dev and production"
