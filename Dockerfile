# syntax=docker/dockerfile:1
#
# Insight Engine container image.
#
#   docker build -t insight-engine:0.1.0 .
#   docker run --read-only -v insight-data:/data --tmpfs /tmp -p 8080:8080 \
#     -e INSIGHT_ADMIN_PASSWORD=… insight-engine:0.1.0
#
# Two stages: the release binary is built with the Rust toolchain, then copied
# alone onto a slim Debian base (same Debian release, so the same glibc) and run
# as an unprivileged user. The root filesystem can be read-only: the service
# writes only to the data dir (/data) and temp (/tmp), both meant as volumes.
# scripts/ship-check repeats these steps without Docker (release build, copy,
# non-root run with a separate writable data dir, probes, --version).

# RUST_VERSION is Cargo.toml's rust-version (tests/ship/versions.sh checks).
ARG RUST_VERSION=1.94
ARG DEBIAN_RELEASE=bookworm
# pg_dump refuses to dump a server of a newer major version, and managed
# PostgreSQL is often newer than Debian's client (15 on bookworm): the client
# tools come from the PostgreSQL project's Debian repository, at the newest
# major. `insight backup` still checks at run time and names both versions.
ARG PG_CLIENT_MAJOR=18

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
WORKDIR /src
# The manifest names the test and bench targets, so their sources come along
# (.dockerignore keeps target/, data and the VCS out of the context).
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY tests ./tests
COPY benches ./benches
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && install -D -m 0555 target/release/insight /out/insight

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
ARG PG_CLIENT_MAJOR
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
# The repository URL, passed by CI (`--build-arg SOURCE_URL=…`).
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="Insight Engine" \
      org.opencontainers.image.description="Ask your databases questions in plain language: checked SQL, rows and charts, learning from feedback." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE_URL}"

COPY --from=build /out/insight /usr/local/bin/insight

# TLS roots for outbound HTTPS (LLM providers, OTLP, Sentry): ca-certificates.
# pg_dump and pg_restore: `insight backup` / `insight restore` run them for a
# PostgreSQL app store; postgresql-client-${PG_CLIENT_MAJOR} from the
# PostgreSQL project's repository (its signing key ships in Debian's
# postgresql-common), and Debian's pg_wrapper runs the newest installed.
# Versions follow the repositories' security updates, not exact pins.
# An unprivileged numeric user (no login shell, no home); /data belongs to it
# so a fresh named volume mounted there is writable.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates postgresql-common \
    && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_CLIENT_MAJOR}" \
    && "/usr/lib/postgresql/${PG_CLIENT_MAJOR}/bin/pg_dump" --version \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 insight \
    && useradd --system --uid 10001 --gid insight --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin insight \
    && install -d -o 10001 -g 10001 -m 0750 /data

ENV INSIGHT_DATA_DIR=/data \
    INSIGHT_SERVER__HOST=0.0.0.0 \
    INSIGHT_SERVER__PORT=8080 \
    TMPDIR=/tmp
WORKDIR /data
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8080

# The slim base has no curl or wget, and adding one only for the probe would
# enlarge the attack surface: bash (part of the base) speaks just enough HTTP
# over /dev/tcp. Healthy means the liveness route answers 200.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${INSIGHT_SERVER__PORT:-8080} && printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]

ENTRYPOINT ["/usr/local/bin/insight"]
CMD ["serve"]
