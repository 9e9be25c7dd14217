-- Insight Engine app store, initial schema (PostgreSQL).
-- Forward-only: later releases add migrations, never edit this file.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer')),
    disabled      BIGINT NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- Connections created through the API (config-file connections are not stored).
CREATE TABLE connections (
    id              TEXT PRIMARY KEY,
    dialect         TEXT NOT NULL,
    description     TEXT,
    dsn_encrypted   BYTEA,
    settings        TEXT NOT NULL DEFAULT '{}',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- Question history: one row per ask, whatever its outcome.
CREATE TABLE queries (
    id                TEXT PRIMARY KEY,
    user_id           TEXT,
    connection        TEXT NOT NULL,
    question          TEXT NOT NULL,
    sql               TEXT,
    status            TEXT NOT NULL CHECK (status IN ('answered', 'rejected', 'failed', 'unanswerable')),
    error_code        TEXT,
    error_message     TEXT,
    row_count         BIGINT,
    truncated         BIGINT NOT NULL DEFAULT 0,
    tables_json       TEXT NOT NULL DEFAULT '[]',
    sources_json      TEXT NOT NULL DEFAULT '[]',
    timings_json      TEXT NOT NULL DEFAULT '{}',
    provider          TEXT,
    model             TEXT,
    strategy          TEXT,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    attempts          BIGINT NOT NULL DEFAULT 0,
    correlation_id    TEXT,
    created_at        TEXT NOT NULL
);
CREATE INDEX queries_created ON queries (created_at DESC, id DESC);
CREATE INDEX queries_user ON queries (user_id, created_at DESC);

CREATE TABLE training_items (
    id           TEXT PRIMARY KEY,
    connection   TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('ddl', 'documentation', 'question_sql')),
    content      TEXT NOT NULL,
    sql          TEXT,
    source       TEXT NOT NULL CHECK (source IN ('introspection', 'user', 'feedback')),
    status       TEXT NOT NULL CHECK (status IN ('active', 'pending')),
    content_hash TEXT NOT NULL,
    embedding    BYTEA,
    embedder     TEXT,
    created_by   TEXT,
    query_id     TEXT,
    created_at   TEXT NOT NULL,
    UNIQUE (connection, kind, content_hash)
);
CREATE INDEX training_connection ON training_items (connection, kind, status);

CREATE TABLE feedback (
    id               TEXT PRIMARY KEY,
    query_id         TEXT NOT NULL REFERENCES queries (id),
    user_id          TEXT,
    rating           TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    corrected_sql    TEXT,
    comment          TEXT,
    status           TEXT NOT NULL CHECK (status IN ('trained', 'pending', 'recorded', 'rejected')),
    training_item_id TEXT,
    created_at       TEXT NOT NULL
);
CREATE INDEX feedback_query ON feedback (query_id);

CREATE TABLE audit_events (
    id             TEXT PRIMARY KEY,
    at             TEXT NOT NULL,
    actor          TEXT,
    action         TEXT NOT NULL,
    target         TEXT,
    details_json   TEXT NOT NULL DEFAULT '{}',
    correlation_id TEXT
);
CREATE INDEX audit_at ON audit_events (at DESC);

-- Bumped on every training change per connection; part of cache keys so a
-- training change invalidates cached generated SQL.
CREATE TABLE training_versions (
    connection TEXT PRIMARY KEY,
    version    BIGINT NOT NULL
);
