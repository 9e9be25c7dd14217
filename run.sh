#!/usr/bin/env bash
# One entry point to run Insight Engine: locally from source, or as a Compose
# stack, for dev, stage and prod. `./run.sh --help` explains every mode.
# Tested by tests/ship/run_sh.sh (from scripts/ship-check).
set -euo pipefail

if [ "${BASH_VERSINFO[0]}" -lt 4 ]; then
    echo "run.sh: needs bash 4 or newer (this is $BASH_VERSION; on macOS: brew install bash)" >&2
    exit 3
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROG="run.sh"

usage() {
    cat <<'EOF'
Usage: ./run.sh [MODE] [OPTIONS]

Modes:
  dev     (default) Run the service locally from source with embedded
          defaults: `cargo run --release -- serve`, SQLite app store and the
          demo database in ./data, the offline SQL generator, dev secrets
          generated once into ./data/secrets.toml. Needs no env file.
          With --compose: the Compose dev stack (docker-compose.yml +
          docker-compose.dev.yml: PostgreSQL, Redis, Chroma, bind-mounted
          config deploy/compose/insight.dev.toml).
  stage   Run the service locally with the production profile and the
          settings of an env file (default .env.staging), after checking it
          like prod does. With --compose: the production stack (base + prod
          layer) with that env file, as project insight-staging.
  prod    Run the production Compose stack (docker-compose.yml +
          docker-compose.prod.yml: N API replicas, a worker, a one-shot
          migration, PostgreSQL, Redis, Chroma) with the settings of an env
          file (default .env.production; start from .env.example) and the
          secrets as files in SECRETS_DIR (default ./secrets; see
          docs/OPERATIONS.md, Install with Compose).
  check   Only check an env file (default .env.production) and the secret
          files the way prod does, print every problem, and exit.

Options:
  --compose         dev, stage: run the Compose stack instead of a local process.
  --env-file FILE   The env file (KEY=VALUE lines) for stage, prod and check.
  --port N          The HTTP port (default: INSIGHT_SERVER__PORT, or 8080; for
                    Compose the first published host port). When it is taken,
                    the next free port is used and run.sh says so.
  --dry-run         Check everything and print what would run, without running it.
  -h, --help        Show this help.

Environment:
  RUN_BIN           Run this prebuilt `insight` binary instead of `cargo run`
                    (local modes), e.g. target/release/insight.
  SECRETS_DIR       The directory of secret files (prod, check, stage --compose);
                    overrides the env file's SECRETS_DIR.
  INSIGHT_*         Service settings (see insight.example.toml); in local
                    modes they pass through to the service.

Exit status: 0 when the service ran and stopped cleanly (or --dry-run / check
passed), 2 for a bad env file, bad secret files or bad arguments, 3 for a missing toolchain,
4 when prod's release image cannot be pulled (a release is never built here).

Examples:
  ./run.sh                                  # dev, http://127.0.0.1:8080
  ./run.sh dev --compose                    # the dev Compose stack
  cp .env.example .env.production && $EDITOR .env.production
  mkdir -m 700 secrets && …                 # one file per secret (OPERATIONS.md)
  ./run.sh check && ./run.sh prod           # the production stack
EOF
}

say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
    local code="$1"
    shift
    say "$*"
    exit "$code"
}

# --- arguments ---------------------------------------------------------------
MODE=""
COMPOSE=0
ENV_FILE=""
PORT=""
DRY_RUN=0
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help)
            usage
            exit 0
            ;;
        dev | stage | prod | check)
            [ -z "$MODE" ] || die 2 "only one mode at a time (got $MODE and $1); see ./run.sh --help"
            MODE="$1"
            ;;
        --compose) COMPOSE=1 ;;
        --env-file)
            [ $# -ge 2 ] || die 2 "--env-file needs a file"
            ENV_FILE="$2"
            shift
            ;;
        --env-file=*) ENV_FILE="${1#*=}" ;;
        --port)
            [ $# -ge 2 ] || die 2 "--port needs a number"
            PORT="$2"
            shift
            ;;
        --port=*) PORT="${1#*=}" ;;
        --dry-run) DRY_RUN=1 ;;
        *) die 2 "unknown mode or option: $1 (modes: dev, stage, prod, check; see ./run.sh --help)" ;;
    esac
    shift
done
MODE="${MODE:-dev}"
if [ "$MODE" = prod ] || [ "$MODE" = check ]; then
    COMPOSE=1
fi
if [ -n "$ENV_FILE" ] && [[ "$ENV_FILE" != /* ]]; then
    ENV_FILE="$PWD/$ENV_FILE" # as given, from the caller's directory
elif [ -z "$ENV_FILE" ]; then
    case "$MODE" in
        stage) ENV_FILE="$ROOT/.env.staging" ;;
        prod | check) ENV_FILE="$ROOT/.env.production" ;;
    esac
fi
if [ -n "$PORT" ] && ! [[ "$PORT" =~ ^[0-9]+$ && "$PORT" -ge 1 && "$PORT" -le 65535 ]]; then
    die 2 "--port: must be a number from 1 to 65535 (got '$PORT')"
fi

# --- env file ------------------------------------------------------------------
# Parsed, never sourced: values may hold spaces and `*` (cron schedules).
declare -A ENVF=()
ENVF_KEYS=()
PROBLEMS=()
problem() { PROBLEMS+=("$*"); }

read_env_file() {
    local file="$1" line key value n=0
    [ -f "$file" ] || die 2 "env file $file does not exist (start from .env.example: cp .env.example $file)"
    [ -r "$file" ] || die 2 "env file $file is not readable"
    while IFS= read -r line || [ -n "$line" ]; do
        n=$((n + 1))
        line="${line%$'\r'}"
        [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
        line="${line#export }"
        if ! [[ "$line" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
            problem "$file line $n: not KEY=VALUE"
            continue
        fi
        key="${BASH_REMATCH[1]}"
        value="${BASH_REMATCH[2]}"
        if [[ "$value" =~ ^\"(.*)\"$ ]] || [[ "$value" =~ ^\'(.*)\'$ ]]; then
            value="${BASH_REMATCH[1]}"
        fi
        [ -n "${ENVF[$key]+x}" ] || ENVF_KEYS+=("$key")
        ENVF[$key]="$value"
    done < "$file"
}

# Known top-level settings and sections (src/config/mod.rs); anything else
# with the INSIGHT_ prefix stops the service, so it is caught here first.
KNOWN_TOP="PROFILE DATA_DIR DATABASE_URL SECRET_KEY JWT_SECRET ADMIN_PASSWORD LOG_FORMAT REDIS_URL REDIS_PASSWORD"
# Secret settings may name a file instead (INSIGHT_<KEY>_FILE).
KNOWN_TOP+=" DATABASE_URL_FILE SECRET_KEY_FILE JWT_SECRET_FILE ADMIN_PASSWORD_FILE REDIS_URL_FILE REDIS_PASSWORD_FILE"
KNOWN_SECTIONS="SERVER AUTH LLM QUERY RETRIEVAL TRAINING CACHE DEMO STORE JOBS BACKUP CONNECTIONS BUDGETS UPLOADS"
# Values the service itself refuses in production (src/config/secrets.rs).
KNOWN_DEFAULTS="changeme change-me change_me secret password default insecure example test dev please-change"

weak_reason() { # value min_len
    local value="$1" min="$2" lower word distinct
    if [ "${#value}" -lt "$min" ]; then
        echo "must be at least $min characters (got ${#value}); generate one with \`openssl rand -hex 32\`"
        return
    fi
    lower="$(printf '%s' "$value" | tr '[:upper:]' '[:lower:]')"
    for word in $KNOWN_DEFAULTS; do
        if [[ "$lower" == *"$word"* ]]; then
            echo "looks like a default or example value (contains '$word'); generate one with \`openssl rand -hex 32\`"
            return
        fi
    done
    distinct="$(printf '%s' "$value" | fold -w1 | sort -u | wc -l)"
    if [ "$distinct" -lt 10 ]; then
        echo "has too little variety to be a random secret"
    fi
}

# --- secret files (Compose) --------------------------------------------------------
# The Compose production stack reads every secret from a file in SECRETS_DIR
# (docker-compose.prod.yml's `secrets:`, mounted at /run/secrets/NAME), never
# from the env file, whose variables all reach the containers' environment.
# NAME:SETTING:MINIMUM-LENGTH (0: not a password, no strength check).
SECRET_FILES=(
    secret-key:INSIGHT_SECRET_KEY:32
    jwt-secret:INSIGHT_JWT_SECRET:32
    admin-password:INSIGHT_ADMIN_PASSWORD:16
    redis-password:INSIGHT_REDIS_PASSWORD:16
    postgres-password:POSTGRES_PASSWORD:16
    database-url:INSIGHT_DATABASE_URL:0
    llm-api-key:INSIGHT_LLM__API_KEY:0
)
# SECRETS_DIR from the shell wins over the env file's (as in Compose).
SECRETS_DIR="${SECRETS_DIR:-}"
declare -A SECRET_VALUE=()

# A secret file's value as the service reads it (trailing newlines trimmed).
read_secret() { # path
    local value
    value="$(cat -- "$1")" || return 1
    printf '%s' "${value%$'\r'}"
}

# A path's mode as ls shows it (drwx------); stat's options differ between
# GNU and BSD.
mode_of() {
    # shellcheck disable=SC2012 # one named path, not a listing to parse
    ls -ldL -- "$1" | cut -c1-10
}

secret_hint() { # name path
    case "$1" in
        secret-key | jwt-secret) echo "openssl rand -hex 32 > $2" ;;
        database-url) printf '%s\n' "printf 'postgres://insight:%s@postgres:5432/insight\\n' \"\$(cat ${2%/*}/postgres-password)\" > $2" ;;
        llm-api-key) echo ": > $2 (empty unless a remote LLM provider needs a key)" ;;
        *) echo "openssl rand -hex 24 > $2" ;;
    esac
}

check_secret_files() {
    local dir="${SECRETS_DIR:-${ENVF[SECRETS_DIR]:-./secrets}}" entry name key min path value reason mode
    [[ "$dir" == /* ]] || dir="$ROOT/${dir#./}"
    SECRETS_DIR="$dir"
    if [ ! -d "$dir" ]; then
        problem "SECRETS_DIR: $dir does not exist: create it (mkdir -m 700 $dir) with one file per secret (docs/OPERATIONS.md, Install with Compose)"
        return
    fi
    # Only the operator may list or open the directory; each file in it is
    # bind-mounted as it is, so the containers' users (insight 10001,
    # postgres 70) need to read the file itself.
    mode="$(mode_of "$dir")"
    if [ "${mode:4:6}" != "------" ]; then
        problem "SECRETS_DIR: $dir is open to other users ($mode): chmod 700 $dir"
    fi
    for entry in "${SECRET_FILES[@]}"; do
        IFS=: read -r name key min <<< "$entry"
        path="$dir/$name"
        if [ ! -f "$path" ]; then
            problem "$name ($key): $path is missing: $(secret_hint "$name" "$path")"
            continue
        fi
        if ! value="$(read_secret "$path" 2> /dev/null)"; then
            problem "$name ($key): $path is not readable by $(id -un)"
            continue
        fi
        mode="$(mode_of "$path")"
        if [ "${mode:7:1}" != r ]; then
            problem "$name ($key): the containers cannot read $path (it is mounted with its own mode): chmod 444 $path"
        fi
        SECRET_VALUE[$name]="$value"
        if [ -z "$value" ]; then
            [ "$name" = llm-api-key ] || problem "$name ($key): $path is empty: $(secret_hint "$name" "$path")"
            continue
        fi
        if [ "$min" -gt 0 ]; then
            reason="$(weak_reason "$value" "$min")"
            [ -z "$reason" ] || problem "$name ($key): $reason"
        fi
    done
    for name in redis-password postgres-password; do
        value="${SECRET_VALUE[$name]:-}"
        if [ -n "$value" ] && ! [[ "$value" =~ ^[A-Za-z0-9._~-]+$ ]]; then
            problem "$name: only letters, digits and . _ ~ - (it goes into a URL and Redis' configuration); \`openssl rand -hex 24\` gives one"
        fi
    done
    value="${SECRET_VALUE[database-url]:-}"
    if [ -n "$value" ]; then
        if ! [[ "$value" =~ ^postgres(ql)?://[^:@/]*(:([^@/]*))?@([^:/?]+) ]]; then
            problem "database-url (INSIGHT_DATABASE_URL): must be a postgres://USER:PASSWORD@HOST:PORT/DATABASE URL"
        elif [ "${BASH_REMATCH[4]}" = postgres ] && [ "${BASH_REMATCH[3]}" != "${SECRET_VALUE[postgres-password]:-}" ]; then
            problem "database-url (INSIGHT_DATABASE_URL): its password is not the bundled PostgreSQL's (postgres-password): $(secret_hint database-url "$dir/database-url")"
        fi
    fi
}

check_env() { # compose: 1 when the values feed the Compose stack
    local compose="$1" key rest section value reason
    for key in "${ENVF_KEYS[@]}"; do
        [[ "$key" == INSIGHT_* ]] || continue
        rest="${key#INSIGHT_}"
        section="${rest%%__*}"
        if [[ "$rest" == *__* ]]; then
            [[ " $KNOWN_SECTIONS " == *" $section "* ]] || problem "$key: unknown setting section '${section,,}' (see insight.example.toml)"
        else
            [[ " $KNOWN_TOP " == *" $rest "* ]] || problem "$key: unknown setting '${rest,,}' (see insight.example.toml)"
        fi
    done

    local entry name min file
    if [ "$compose" = 1 ]; then
        check_secret_files
        for entry in "${SECRET_FILES[@]}"; do
            IFS=: read -r name key min <<< "$entry"
            if [ -n "${ENVF[$key]+x}" ]; then
                problem "$key: a secret does not go in the env file (its variables reach the containers' environment): put it in $SECRETS_DIR/$name"
            fi
            # docker-compose.prod.yml names these files itself.
            if [[ "$key" == INSIGHT_* && "$name" != llm-api-key && -n "${ENVF[${key}_FILE]+x}" ]]; then
                problem "${key}_FILE: set by docker-compose.prod.yml (/run/secrets/$name, from $SECRETS_DIR/$name); remove it from the env file"
            fi
        done
        value="${ENVF[INSIGHT_LLM__API_KEY_FILE]:-}"
        if [ -n "$value" ]; then
            if [ "$value" != /run/secrets/llm-api-key ]; then
                problem "INSIGHT_LLM__API_KEY_FILE: must be /run/secrets/llm-api-key (the Compose secret from $SECRETS_DIR/llm-api-key)"
            elif [ -z "${SECRET_VALUE[llm-api-key]:-}" ]; then
                problem "INSIGHT_LLM__API_KEY_FILE: $SECRETS_DIR/llm-api-key is empty (or missing): write the provider's API key into it"
            fi
        fi
    else
        # A local run takes each secret as a value or as a file
        # (INSIGHT_<KEY>_FILE), as the service does; never both.
        for key in INSIGHT_SECRET_KEY INSIGHT_JWT_SECRET; do
            file="${ENVF[${key}_FILE]:-}"
            value="${ENVF[$key]:-}"
            if [ -n "$file" ] && [ -n "${ENVF[$key]+x}" ]; then
                problem "$key: set both as a value and as a file (${key}_FILE): keep one"
                continue
            elif [ -n "$file" ] && ! value="$(read_secret "$file" 2> /dev/null)"; then
                problem "${key}_FILE: cannot read $file"
                continue
            fi
            if [ -z "$value" ]; then
                problem "$key: required in $MODE mode (set it, or ${key}_FILE, in $ENV_FILE)"
                continue
            fi
            reason="$(weak_reason "$value" 32)"
            [ -z "$reason" ] || problem "$key: $reason"
        done
    fi

    value="${ENVF[INSIGHT_PROFILE]:-}"
    case "$value" in
        "" | production) ;;
        dev) problem "INSIGHT_PROFILE: dev is not allowed in $MODE mode (use production, or ./run.sh dev)" ;;
        *) problem "INSIGHT_PROFILE: must be production (got '$value')" ;;
    esac
    value="${ENVF[INSIGHT_LOG_FORMAT]:-}"
    case "$value" in
        "" | text | json) ;;
        *) problem "INSIGHT_LOG_FORMAT: must be text or json (got '$value')" ;;
    esac
    value="${ENVF[INSIGHT_LLM__PROVIDER]:-}"
    case "$value" in
        "" | builtin | openai) ;;
        anthropic)
            if [ "$compose" = 1 ]; then
                [ -n "${ENVF[INSIGHT_LLM__API_KEY_FILE]:-}" ] || problem "INSIGHT_LLM__API_KEY_FILE: required for provider anthropic (=/run/secrets/llm-api-key, the key in $SECRETS_DIR/llm-api-key)"
            else
                [ -n "${ENVF[INSIGHT_LLM__API_KEY]:-}${ENVF[INSIGHT_LLM__API_KEY_FILE]:-}" ] || problem "INSIGHT_LLM__API_KEY: required for provider anthropic (or INSIGHT_LLM__API_KEY_FILE)"
            fi
            ;;
        *) problem "INSIGHT_LLM__PROVIDER: must be builtin, openai or anthropic (got '$value')" ;;
    esac
    value="${ENVF[INSIGHT_SERVER__PORT]:-}"
    if [ -n "$value" ] && ! [[ "$value" =~ ^[0-9]+$ && "$value" -ge 1 && "$value" -le 65535 ]]; then
        problem "INSIGHT_SERVER__PORT: must be a number from 1 to 65535 (got '$value')"
    fi
    value="${ENVF[API_REPLICAS]:-}"
    if [ -n "$value" ] && ! [[ "$value" =~ ^[1-9][0-9]*$ ]]; then
        problem "API_REPLICAS: must be a whole number of at least 1 (got '$value')"
    fi
    value="${ENVF[HTTP_PORTS]:-}"
    if [ -n "$value" ]; then
        if [[ "$value" =~ ^([0-9]+)(-([0-9]+))?$ ]]; then
            local first="${BASH_REMATCH[1]}" last="${BASH_REMATCH[3]:-${BASH_REMATCH[1]}}"
            local width=$((last - first + 1)) replicas="${ENVF[API_REPLICAS]:-2}"
            if [ "$first" -lt 1 ] || [ "$last" -gt 65535 ] || [ "$width" -lt 1 ]; then
                problem "HTTP_PORTS: must be a port or a range FIRST-LAST within 1-65535 (got '$value')"
            elif [[ "$replicas" =~ ^[0-9]+$ ]] && [ "$width" -ne "$replicas" ]; then
                problem "HTTP_PORTS: $value has $width port(s) but API_REPLICAS is $replicas (one host port per replica)"
            fi
        else
            problem "HTTP_PORTS: must be a port or a range FIRST-LAST (got '$value')"
        fi
    fi
}

report_problems() {
    [ "${#PROBLEMS[@]}" -eq 0 ] && return 0
    say "$ENV_FILE has ${#PROBLEMS[@]} problem(s):"
    local p
    for p in "${PROBLEMS[@]}"; do
        printf '  - %s\n' "$p" >&2
    done
    exit 2
}

# --- ports ---------------------------------------------------------------------
port_taken() {
    local port="$1"
    if command -v ss > /dev/null 2>&1; then
        [ -n "$(ss -Htln "sport = :$port" 2> /dev/null)" ] && return 0
    fi
    # Without ss (or for a listener ss cannot see): does anything answer?
    local probe=(bash -c "exec 3<> /dev/tcp/127.0.0.1/$port")
    if command -v timeout > /dev/null 2>&1; then
        probe=(timeout 2 "${probe[@]}")
    fi
    "${probe[@]}" 2> /dev/null
}

# The first run of WIDTH free consecutive ports from START on (up to 100 tries).
free_ports_from() {
    local start="$1" width="$2" candidate i ok
    for candidate in $(seq "$start" $((start + 100))); do
        [ $((candidate + width - 1)) -le 65535 ] || break
        ok=1
        for i in $(seq 0 $((width - 1))); do
            if port_taken $((candidate + i)); then
                ok=0
                break
            fi
        done
        if [ "$ok" = 1 ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

# Sets CHOSEN_FIRST to a free start port for WIDTH ports from WANTED, saying so
# when WANTED was taken.
choose_ports() {
    local wanted="$1" width="$2"
    CHOSEN_FIRST="$(free_ports_from "$wanted" "$width")" ||
        die 2 "no free port found from $wanted to $((wanted + 100)); pass --port"
    if [ "$CHOSEN_FIRST" != "$wanted" ]; then
        if [ "$width" -eq 1 ]; then
            say "port $wanted is taken; using port $CHOSEN_FIRST instead"
        else
            say "ports $wanted-$((wanted + width - 1)) are not all free; using $CHOSEN_FIRST-$((CHOSEN_FIRST + width - 1)) instead"
        fi
    fi
}

# --- toolchain -----------------------------------------------------------------
version_ge() { # a b: a >= b (dotted numbers)
    [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

check_rust() {
    if [ -n "${RUN_BIN:-}" ]; then
        [ -x "$RUN_BIN" ] || die 3 "RUN_BIN=$RUN_BIN is not an executable file"
        return 0
    fi
    command -v cargo > /dev/null 2>&1 ||
        die 3 "cargo is not installed: install Rust from https://rustup.rs (or set RUN_BIN to a built binary)"
    local need have
    need="$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n 1)"
    have="$(rustc --version 2> /dev/null | awk '{print $2}')"
    if [ -n "$need" ] && [ -n "$have" ] && ! version_ge "$have" "$need"; then
        die 3 "rustc $have is older than the $need this crate needs: rustup update"
    fi
}

COMPOSE_CMD=()
check_compose() {
    if docker compose version > /dev/null 2>&1; then
        COMPOSE_CMD=(docker compose)
    elif command -v docker-compose > /dev/null 2>&1; then
        COMPOSE_CMD=(docker-compose)
    else
        COMPOSE_CMD=(docker compose)
        [ "$DRY_RUN" = 1 ] && return 0
        die 3 "Docker Compose is not installed (docker compose v2 plugin or docker-compose); see https://docs.docker.com/compose/install/"
    fi
    if [ "$DRY_RUN" = 0 ] && ! docker info > /dev/null 2>&1; then
        die 3 "the Docker engine is not reachable (is it running, and may this user use it?)"
    fi
}

run_or_print() {
    if [ "$DRY_RUN" = 1 ]; then
        printf '%s: would run:' "$PROG" >&2
        printf ' %q' "$@" >&2
        printf '\n' >&2
        return 0
    fi
    "$@"
}

# --- modes ---------------------------------------------------------------------
run_local() {
    local wanted="${PORT:-${INSIGHT_SERVER__PORT:-8080}}" cmd
    check_rust
    choose_ports "$wanted" 1
    export INSIGHT_SERVER__PORT="$CHOSEN_FIRST"
    if [ -n "${RUN_BIN:-}" ]; then
        cmd=("$RUN_BIN")
    else
        cmd=(cargo run --release --locked --)
    fi
    # Production settings never migrate implicitly: do it first (idempotent).
    if [ "$MODE" = stage ]; then
        run_or_print "${cmd[@]}" migrate
    fi
    say "Insight Engine ($MODE) on http://${INSIGHT_SERVER__HOST:-127.0.0.1}:$CHOSEN_FIRST (Ctrl-C stops it)"
    if [ "$DRY_RUN" = 1 ]; then
        run_or_print "${cmd[@]}" serve
        return 0
    fi
    exec "${cmd[@]}" serve
}

# Whether IMAGE names a release: a digest, or a tag that is a version.
is_release_image() {
    local ref="$1" tag
    [[ "$ref" == *@sha256:* ]] && return 0
    tag="${ref##*/}"
    [[ "$tag" == *:* ]] || return 1
    tag="${tag##*:}"
    [[ "$tag" =~ ^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]]
}

run_compose() { # project overlay-file [env-file]
    local project="$1" overlay="$2" env_file="${3:-}" width=1 first range
    check_compose
    local args=(-p "$project")
    if [ -n "$env_file" ]; then
        args+=(--env-file "$env_file")
        export INSIGHT_ENV_FILE="$env_file"
        # The checked directory, absolute (the shell's value wins over the
        # env file's in Compose's interpolation).
        export SECRETS_DIR
        width="${ENVF[API_REPLICAS]:-2}"
        range="${ENVF[HTTP_PORTS]:-8080-$((8080 + width - 1))}"
        first="${PORT:-${range%%-*}}"
    else
        first="${PORT:-8080}"
    fi
    args+=(-f "$ROOT/docker-compose.yml" -f "$ROOT/$overlay")
    choose_ports "$first" "$width"
    if [ "$width" -eq 1 ]; then
        export HTTP_PORTS="$CHOSEN_FIRST"
    else
        export HTTP_PORTS="$CHOSEN_FIRST-$((CHOSEN_FIRST + width - 1))"
    fi
    say "Insight Engine ($MODE, Compose project $project) publishing host port(s) $HTTP_PORTS"
    if [ -z "$env_file" ]; then
        run_or_print "${COMPOSE_CMD[@]}" "${args[@]}" up --build
        return 0
    fi
    # The production layer runs an image. A release (a version tag such as
    # :0.1.0, or a digest) is pulled, never built here: a local build tagged
    # as a release would pass for one. Only another tag (IMAGE=…:local) is
    # built from this tree when it is not there yet.
    local image="${ENVF[IMAGE]:-insight-engine:0.1.0}"
    if [ "$DRY_RUN" = 1 ] || ! docker image inspect "$image" > /dev/null 2>&1; then
        if is_release_image "$image"; then
            run_or_print "${COMPOSE_CMD[@]}" "${args[@]}" pull insight ||
                die 4 "cannot pull the release image $image; push it to a registry you can reach (or set IMAGE to a non-release tag such as insight-engine:local to build this tree)"
        else
            run_or_print "${COMPOSE_CMD[@]}" "${args[@]}" build insight
        fi
    fi
    run_or_print "${COMPOSE_CMD[@]}" "${args[@]}" up -d
    [ "$DRY_RUN" = 1 ] || run_or_print "${COMPOSE_CMD[@]}" "${args[@]}" ps
}

cd "$ROOT"
case "$MODE" in
    dev)
        [ -z "$ENV_FILE" ] || die 2 "dev mode takes no env file (it uses the embedded defaults); use stage or prod"
        if [ "$COMPOSE" = 1 ]; then
            run_compose insight-dev docker-compose.dev.yml
        else
            run_local
        fi
        ;;
    stage)
        read_env_file "$ENV_FILE"
        check_env "$COMPOSE"
        report_problems
        if [ "$COMPOSE" = 1 ]; then
            run_compose insight-staging docker-compose.prod.yml "$ENV_FILE"
        else
            local_key=""
            for local_key in "${ENVF_KEYS[@]}"; do
                export "$local_key=${ENVF[$local_key]}"
            done
            export INSIGHT_PROFILE="${ENVF[INSIGHT_PROFILE]:-production}"
            run_local
        fi
        ;;
    prod | check)
        read_env_file "$ENV_FILE"
        check_env 1
        report_problems
        if [ "$MODE" = check ]; then
            say "$ENV_FILE and the secret files in $SECRETS_DIR are fine for prod"
            exit 0
        fi
        run_compose insight docker-compose.prod.yml "$ENV_FILE"
        ;;
esac
