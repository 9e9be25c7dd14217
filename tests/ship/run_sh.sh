#!/usr/bin/env bash
# run.sh's promises, given the release binary (run.sh uses it via RUN_BIN):
#   - `--help` lists every mode run.sh accepts, and accepts every mode it lists;
#   - prod with a missing, default, unreadable or mismatched secret file, or
#     a secret in the env file, exits non-zero naming it, before touching
#     Docker; a good env file (.env.example too) with good secret files
#     passes `check`;
#   - a taken port: run.sh picks the next free one, says so, and the service
#     answers there (local), or shifts the published range (Compose, dry run);
#   - stage runs the service locally with production settings (migrate, serve).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT="$PWD"
BIN="$1"
PY="$ROOT/target/ship-venv/tools/bin/python"

passed=0
failed=0
ok() {
    passed=$((passed + 1))
    echo "  ok   $*"
}
bad() {
    failed=$((failed + 1))
    echo "  FAIL $*"
}

work="$(mktemp -d)"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2> /dev/null || true
        wait "$p" 2> /dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# The service must not see the test script's INSIGHT_TEST_* URLs (unknown
# settings) nor a developer's own INSIGHT_* settings. It execs, so the pid of
# `clean_env … &` is the process itself (and `kill` reaches the service);
# use it only in `$(…)` or in the background.
clean_env() {
    local unset=() name
    for name in $(compgen -e); do
        [[ "$name" == INSIGHT_* ]] && unset+=(-u "$name")
    done
    exec env "${unset[@]}" "$@"
}

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

hexsecret() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# The secret files of the Compose production stack, as OPERATIONS.md makes them.
good_secrets() { # dir
    rm -rf "$1"
    mkdir -m 700 "$1"
    hexsecret 32 > "$1/secret-key"
    hexsecret 32 > "$1/jwt-secret"
    hexsecret 24 > "$1/admin-password"
    hexsecret 24 > "$1/redis-password"
    hexsecret 24 > "$1/postgres-password"
    printf 'postgres://insight:%s@postgres:5432/insight\n' "$(cat "$1/postgres-password")" > "$1/database-url"
    : > "$1/llm-api-key"
    chmod 444 "$1"/*
}

good_env() { # file [secrets dir]
    cat > "$1" << EOF
# a complete production env file: settings only
IMAGE=insight-engine:0.1.0
API_REPLICAS=2
HTTP_PORTS=8080-8081
SECRETS_DIR=${2:-$work/secrets}
INSIGHT_DEMO__ENABLED=false
INSIGHT_BACKUP__SCHEDULE=0 3 * * *
EOF
}
good_secrets "$work/secrets"

# --- --help and the modes ------------------------------------------------------
help="$(./run.sh --help)"
# The modes run.sh's argument parser accepts (its `dev | stage | … )` arm).
modes="$(sed -n 's/^ *\(dev\( | [a-z]*\)*\))$/\1/p' run.sh | head -n 1 | tr -d ' ' | tr '|' ' ')"
if [ -z "$modes" ]; then
    bad "--help: cannot find the modes in run.sh's argument parser"
fi
listed="$(sed -n '/^Modes:/,/^Options:/p' <<< "$help" | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' | tr '\n' ' ')"
for m in $modes; do
    if [[ " $listed " == *" $m "* ]]; then ok "--help lists mode $m"; else bad "--help does not list mode $m (lists: $listed)"; fi
done
for m in $listed; do
    out="$(clean_env ./run.sh "$m" --dry-run --env-file /nonexistent 2>&1)"
    if grep -q 'unknown mode' <<< "$out"; then bad "--help lists $m but run.sh rejects it"; else ok "mode $m is accepted"; fi
done
if [ "$(wc -w <<< "$listed")" -ge 4 ]; then ok "--help lists $listed"; else bad "--help lists too few modes: $listed"; fi
out="$(./run.sh nonsense 2>&1)"
code=$?
if [ "$code" = 2 ] && grep -q -- '--help' <<< "$out"; then ok "an unknown mode exits 2 pointing at --help"; else bad "unknown mode: exit $code, $out"; fi

# --- env file checks (prod) ----------------------------------------------------
# A fake `docker` first on PATH: the checks must fail before any Docker call.
mkdir -p "$work/bin"
printf '#!/bin/sh\necho "docker was called: $*" >&2\nexit 99\n' > "$work/bin/docker"
cp "$work/bin/docker" "$work/bin/docker-compose"
chmod +x "$work/bin/docker" "$work/bin/docker-compose"
# prod_refuses NAME ENV-FILE WANT...: prod exits non-zero, names every WANT
# (fixed strings) and never calls Docker.
prod_refuses() {
    local name="$1" env="$2" out code want
    shift 2
    out="$(PATH="$work/bin:$PATH" clean_env ./run.sh prod --env-file "$env" 2>&1)"
    code=$?
    for want in "$@"; do
        if [ "$code" -ne 0 ] && grep -qF -- "$want" <<< "$out" && ! grep -q 'docker was called' <<< "$out"; then
            ok "$name: exits $code naming '$want'"
        else
            bad "$name: should name '$want': exit $code, output: $out"
        fi
    done
}
for name in secret-key jwt-secret admin-password redis-password postgres-password database-url llm-api-key; do
    good_secrets "$work/missing"
    rm -f "$work/missing/$name"
    good_env "$work/missing.env" "$work/missing"
    prod_refuses "prod without the $name file" "$work/missing.env" "$name (" "$work/missing/$name is missing"
done
# Default values in the files, as an operator who copied an example would have.
good_secrets "$work/defaults"
chmod 644 "$work/defaults"/*
echo change-me-generate-with-openssl-rand-hex-32 > "$work/defaults/secret-key"
echo change-me-postgres-password > "$work/defaults/postgres-password"
chmod 600 "$work/defaults/jwt-secret"
good_env "$work/defaults.env" "$work/defaults"
prod_refuses "prod with default secrets" "$work/defaults.env" \
    'secret-key (INSIGHT_SECRET_KEY): looks like a default' 'postgres-password (POSTGRES_PASSWORD): looks like a default' \
    'database-url (INSIGHT_DATABASE_URL): its password is not the bundled PostgreSQL' \
    "the containers cannot read $work/defaults/jwt-secret"
# A secret in the env file reaches every container's environment: refused.
good_env "$work/leaky.env"
printf 'INSIGHT_JWT_SECRET=%s\nPOSTGRES_PASSWORD=%s\nINSIGHT_SECRET_KEY_FILE=/run/secrets/secret-key\n' "$(hexsecret 32)" "$(hexsecret 24)" >> "$work/leaky.env"
prod_refuses "prod with secrets in the env file" "$work/leaky.env" \
    'INSIGHT_JWT_SECRET: a secret does not go in the env file' 'POSTGRES_PASSWORD: a secret does not go in the env file' \
    'INSIGHT_SECRET_KEY_FILE: set by docker-compose.prod.yml'
good_secrets "$work/open"
chmod 755 "$work/open"
good_env "$work/open.env" "$work/open"
prod_refuses "prod with a secrets directory others can read" "$work/open.env" "SECRETS_DIR: $work/open is open to other users"
good_secrets "$work/llm"
good_env "$work/llm.env" "$work/llm"
printf 'INSIGHT_LLM__PROVIDER=anthropic\n' >> "$work/llm.env"
prod_refuses "prod with anthropic and no key file" "$work/llm.env" 'INSIGHT_LLM__API_KEY_FILE: required for provider anthropic'
printf 'INSIGHT_LLM__API_KEY_FILE=/run/secrets/llm-api-key\n' >> "$work/llm.env"
prod_refuses "prod with an empty llm-api-key file in use" "$work/llm.env" "INSIGHT_LLM__API_KEY_FILE: $work/llm/llm-api-key is empty"
chmod 644 "$work/llm/llm-api-key"
hexsecret 24 > "$work/llm/llm-api-key"
out="$(clean_env ./run.sh check --env-file "$work/llm.env" 2>&1)"
code=$?
if [ "$code" = 0 ]; then ok "check passes anthropic with its key in llm-api-key"; else bad "check, anthropic with a key file: exit $code, $out"; fi
out="$(PATH="$work/bin:$PATH" clean_env ./run.sh prod --env-file .env.example 2>&1)"
code=$?
if [ -d secrets ]; then
    ok "prod with .env.example alone: skipped (this checkout has a ./secrets directory)"
elif [ "$code" -ne 0 ] && grep -q 'SECRETS_DIR: .*/secrets does not exist' <<< "$out" && ! grep -q 'a secret does not go' <<< "$out"; then
    ok "prod with .env.example alone asks for the secret files; the example holds no secret (exit $code)"
else
    bad "prod with .env.example: exit $code, output: $out"
fi
out="$(SECRETS_DIR="$work/secrets" clean_env ./run.sh check --env-file .env.example 2>&1)"
code=$?
if [ "$code" = 0 ]; then ok "check passes .env.example with good secret files (SECRETS_DIR from the shell)"; else bad "check .env.example + SECRETS_DIR: exit $code, $out"; fi
good_env "$work/short.env" "$work/short"
good_secrets "$work/short"
chmod 644 "$work/short/jwt-secret"
echo tooShort123 > "$work/short/jwt-secret"
printf 'INSIGHT_PROFILE=dev\nINSIGHT_SEVRER__PORT=1\nAPI_REPLICAS=3\nnot a setting\n' >> "$work/short.env"
line="$(grep -n '^not a setting$' "$work/short.env" | cut -d: -f1)"
prod_refuses "prod with bad settings" "$work/short.env" 'jwt-secret (INSIGHT_JWT_SECRET): must be at least 32' \
    'INSIGHT_PROFILE: dev is not allowed' 'INSIGHT_SEVRER__PORT: unknown setting section' 'HTTP_PORTS: 8080-8081 has 2 port' "line $line: not KEY=VALUE"
out="$(PATH="$work/bin:$PATH" clean_env ./run.sh prod --env-file "$work/absent.env" 2>&1)"
code=$?
if [ "$code" -ne 0 ] && grep -q 'does not exist' <<< "$out"; then ok "prod with no env file says so"; else bad "prod, missing env file: exit $code, $out"; fi
good_env "$work/good.env"
out="$(clean_env ./run.sh check --env-file "$work/good.env" 2>&1)"
code=$?
if [ "$code" = 0 ]; then ok "check passes a complete env file"; else bad "check, good env: exit $code, $out"; fi

# --- toolchain -------------------------------------------------------------------
# A PATH holding the usual tools but no cargo: dev must say how to get Rust.
mkdir -p "$work/nocargo"
for tool in bash env sed awk grep sort head tr fold wc seq cat ss timeout dirname; do
    src="$(command -v "$tool" 2> /dev/null)" && ln -sf "$src" "$work/nocargo/$tool"
done
out="$(PATH="$work/nocargo" clean_env "$work/nocargo/bash" ./run.sh dev --dry-run 2>&1)"
code=$?
if [ "$code" = 3 ] && grep -q 'cargo is not installed' <<< "$out"; then
    ok "dev without cargo exits 3 saying how to install Rust"
else
    bad "dev without cargo: exit $code, $out"
fi
out="$(clean_env RUN_BIN="$work/absent-binary" ./run.sh dev --dry-run 2>&1)"
code=$?
if [ "$code" = 3 ] && grep -q "RUN_BIN=$work/absent-binary is not an executable" <<< "$out"; then
    ok "a RUN_BIN that is not executable exits 3 naming it"
else
    bad "bad RUN_BIN: exit $code, $out"
fi

# --- ports -----------------------------------------------------------------------
# A listener on the wanted port; run.sh must move on and say so.
taken="$(free_port)"
"$PY" -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); s.settimeout(1)
end = time.time() + 120
while time.time() < end:
    try:
        s.accept()[0].close()
    except OSError:
        pass' "$taken" &
pids+=($!)
for _ in $(seq 1 40); do (exec 3<> "/dev/tcp/127.0.0.1/$taken") 2> /dev/null && break; sleep 0.1; done
clean_env RUN_BIN="$BIN" INSIGHT_DATA_DIR="$work/dev-data" INSIGHT_ADMIN_PASSWORD="runsh-Check-$$-x9" \
    ./run.sh dev --port "$taken" > "$work/dev.log" 2>&1 &
pids+=($!)
moved=""
for _ in $(seq 1 120); do
    moved="$(sed -n "s/^run.sh: port $taken is taken; using port \([0-9]*\) instead$/\1/p" "$work/dev.log" 2> /dev/null)"
    if [ -n "$moved" ] && curl -fs "http://127.0.0.1:$moved/health" > /dev/null 2>&1; then
        break
    fi
    sleep 0.25
done
if [ -n "$moved" ] && [ "$moved" != "$taken" ] && curl -fs "http://127.0.0.1:$moved/health" > /dev/null 2>&1; then
    ok "port $taken taken: run.sh reported it and the service answers on $moved"
else
    bad "port taken: run.sh did not move on (log: $(cat "$work/dev.log"))"
fi
out="$(clean_env ./run.sh prod --env-file "$work/good.env" --port "$taken" --dry-run 2>&1)"
if grep -q "ports $taken-$((taken + 1)) are not all free; using" <<< "$out" && grep -q 'docker-compose.prod.yml up -d' <<< "$out"; then
    ok "prod (dry run) shifts the published range off a taken port and layers base+prod"
else
    bad "prod dry run with a taken port: $out"
fi
# A release image is pulled, never built from this tree under its tag; only
# a non-release tag is built locally.
if grep -q 'docker-compose.prod.yml pull insight' <<< "$out" && ! grep -q ' build insight' <<< "$out"; then
    ok "prod (dry run) pulls the release image insight-engine:0.1.0 instead of building it"
else
    bad "prod dry run would build a release tag locally: $out"
fi
sed 's/^IMAGE=.*/IMAGE=insight-engine:local/' "$work/good.env" > "$work/local-image.env"
out="$(clean_env ./run.sh prod --env-file "$work/local-image.env" --dry-run 2>&1)"
if grep -q 'docker-compose.prod.yml build insight' <<< "$out" && ! grep -q ' pull insight' <<< "$out"; then
    ok "prod (dry run) builds a non-release tag (insight-engine:local) from this tree"
else
    bad "prod dry run with IMAGE=insight-engine:local: $out"
fi

# --- stage: production settings, locally -------------------------------------
good_env "$work/stage-bad.env"
printf 'INSIGHT_SECRET_KEY_FILE=%s\nINSIGHT_SECRET_KEY=%s\nINSIGHT_JWT_SECRET_FILE=%s\n' \
    "$work/secrets/secret-key" "$(hexsecret 32)" "$work/absent-jwt" >> "$work/stage-bad.env"
out="$(clean_env RUN_BIN="$BIN" ./run.sh stage --dry-run --env-file "$work/stage-bad.env" 2>&1)"
code=$?
if [ "$code" = 2 ] && grep -qF "INSIGHT_JWT_SECRET_FILE: cannot read $work/absent-jwt" <<< "$out" &&
    grep -qF 'INSIGHT_SECRET_KEY: set both as a value and as a file' <<< "$out"; then
    ok "stage names an unreadable secret file and a secret set twice (exit 2)"
else
    bad "stage with bad secret files: exit $code, $out"
fi
good_env "$work/stage.env"
# backup.* arrives with the worker; this run needs only what serve knows today.
sed -i '/^INSIGHT_BACKUP__/d' "$work/stage.env"
# A local run takes secrets as values or as files (INSIGHT_<KEY>_FILE).
printf 'INSIGHT_SECRET_KEY_FILE=%s\nINSIGHT_JWT_SECRET=%s\nINSIGHT_ADMIN_PASSWORD=%s\n' \
    "$work/secrets/secret-key" "$(hexsecret 32)" "$(hexsecret 16)" >> "$work/stage.env"
port="$(free_port)"
printf 'INSIGHT_DATA_DIR=%s\nINSIGHT_SERVER__PORT=%s\n' "$work/stage-data" "$port" >> "$work/stage.env"
clean_env RUN_BIN="$BIN" ./run.sh stage --env-file "$work/stage.env" > "$work/stage.log" 2>&1 &
pids+=($!)
ready=""
for _ in $(seq 1 120); do
    ready="$(curl -fs "http://127.0.0.1:$port/health/ready" 2> /dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2> /dev/null)"
    [ "$ready" = ok ] && break
    sleep 0.25
done
if [ "$ready" = ok ] && grep -q 'migration(s) applied' "$work/stage.log" && grep -q '"level"' "$work/stage.log"; then
    ok "stage migrates, then serves with production settings (JSON logs, ready)"
else
    bad "stage: ready=$ready, log: $(tail -n 20 "$work/stage.log")"
fi

echo "run.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
