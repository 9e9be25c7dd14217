-- Runtime settings changed through the admin API; they override the config
-- file and environment on the next start as well.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT
);
