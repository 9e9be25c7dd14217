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
          file (default .env.production; start from .env.example).
  check   Only check an env file (default .env.production) the way prod does,
          print every problem, and exit.

Options:
  --compose         dev, stage: run the Compose stack instead of a local process.
  --env-file FILE   The env file (KEY=VALUE lines) for stage, prod and check.
  --port N          The HTTP port (default: INSIGHT_SERVER__PORT, or 8080; for
                    Compose the first published host port). When it is taken,
                    the next free port is used and run.sh says so.
  --dry-run         Check everything and print what would run, without running it.
  -h, --help        Show this help.

Environment:
  RUN_BIN       Run this prebuilt `insight` binary instead of `cargo run`
                    (local modes), e.g. target/release/insight.
  INSIGHT_*         Service settings (see insight.example.toml); in local
                    modes they pass through to the service.

Exit status: 0 when the service ran and stopped cleanly (or --dry-run / check
passed), 2 for a bad env file or bad arguments, 3 for a missing toolchain,
4 when prod's release image cannot be pulled (a release is never built here).

Examples:
  ./run.sh                                  # dev, http://127.0.0.1:8080
  ./run.sh dev --compose                    # the dev Compose stack
  cp .env.example .env.production && $EDITOR .env.production
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
KNOWN_SECTIONS="SERVER AUTH LLM QUERY RETRIEVAL TRAINING CACHE DEMO STORE JOBS BACKUP CONNECTIONS"
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

    local required=(INSIGHT_SECRET_KEY INSIGHT_JWT_SECRET)
    if [ "$compose" = 1 ]; then
        required+=(INSIGHT_ADMIN_PASSWORD INSIGHT_REDIS_PASSWORD POSTGRES_PASSWORD)
    fi
    for key in "${required[@]}"; do
        if [ -z "${ENVF[$key]:-}" ]; then
            problem "$key: required in $MODE mode (set it in $ENV_FILE)"
        fi
    done
    for key in INSIGHT_SECRET_KEY INSIGHT_JWT_SECRET; do
        value="${ENVF[$key]:-}"
        [ -n "$value" ] || continue
        reason="$(weak_reason "$value" 32)"
        [ -z "$reason" ] || problem "$key: $reason"
    done
    for key in INSIGHT_ADMIN_PASSWORD INSIGHT_REDIS_PASSWORD POSTGRES_PASSWORD; do
        value="${ENVF[$key]:-}"
        [ -n "$value" ] || continue
        reason="$(weak_reason "$value" 16)"
        [ -z "$reason" ] || problem "$key: $reason"
    done
    value="${ENVF[POSTGRES_PASSWORD]:-}"
    if [ -n "$value" ] && ! [[ "$value" =~ ^[A-Za-z0-9._~-]+$ ]]; then
        problem "POSTGRES_PASSWORD: only letters, digits and . _ ~ - (it goes into a URL); \`openssl rand -hex 24\` gives one"
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
        anthropic) [ -n "${ENVF[INSIGHT_LLM__API_KEY]:-}" ] || problem "INSIGHT_LLM__API_KEY: required for provider anthropic" ;;
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
            say "$ENV_FILE is fine for prod"
            exit 0
        fi
        run_compose insight docker-compose.prod.yml "$ENV_FILE"
        ;;
esac
