-- Authentication: rotating refresh tokens, API keys, connection grants.
-- Forward-only; `users` and `connections` come from 0001.

-- Refresh tokens are stored as SHA-256 hashes. Each login starts a family;
-- every refresh revokes the presented token and issues a successor in the
-- same family. Presenting a revoked token revokes the whole family.
CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    family_id   TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- API keys for programs: `ik_…`, shown once, stored as SHA-256 hashes.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    expires_at   TEXT,
    revoked_at   TEXT,
    last_used_at TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX api_keys_user ON api_keys (user_id, created_at DESC);

-- Which connections a (non-admin) user may reach, with an optional table
-- allowlist (JSON array of lower-case names) the validator enforces.
CREATE TABLE connection_grants (
    user_id        TEXT NOT NULL REFERENCES users (id),
    connection     TEXT NOT NULL,
    allowed_tables TEXT,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (user_id, connection)
);
CREATE INDEX connection_grants_connection ON connection_grants (connection);
